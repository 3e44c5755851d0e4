"""The ledger: an append-only, Merkle-checkpointed log of curation events (CTS provenance).

The paper links every training instance to its clinicians' scores and edits but gives no way to
check that link; this store makes it checkable the way Certificate Transparency logs are. Each
event is a leaf ``SHA-256(0x00 ‖ RFC 8785 JSON)`` of an RFC 6962 tree; signed checkpoints commit
to (size, root); inclusion and consistency proofs are read from stored subtree hashes.

Usage::

    ledger = Ledger.open("safemed.db", keys=load_keys())
    ledger.append(event_for(review, actor=review.reviewer) for review in reviews)  # one transaction,
    report = ledger.verify()                    # ended by a signed checkpoint of the new tree

Every append also brings the curation read model (``readmodel.py``) up to date in the same
transaction, and ends, when the ledger's key is at hand, by signing a checkpoint of the new tree
(a Certificate Transparency log's signed tree head per batch), so an export or proof taken right
after any command matches the live ledger.

Only ``curate/`` and the review app write the ledger (DESIGN.md); everything else reads it.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from safemed.ledger import db, merkle, readmodel, subtrees
from safemed.ledger.canonical import canonical_json
from safemed.ledger.checkpoint import Checkpoint, sign_checkpoint
from safemed.ledger.errors import LedgerChanged, LedgerError
from safemed.ledger.keys import LedgerKeys
from safemed.ledger.merkle import Node
from safemed.ledger.proofs import ConsistencyProof, InclusionProof
from safemed.ledger.state import ItemState, item_state
from safemed.ledger.tables import checkpoints, events, meta, nodes
from safemed.records.curation import LedgerEvent, NewEvent, event_document, utc_now

if TYPE_CHECKING:
    from safemed.ledger.verify import VerifyReport

BATCH = 2000
ANALYZE_AFTER = 1000
"""Appends of at least this many events check whether PostgreSQL's planner statistics went stale."""


@dataclass(frozen=True)
class StoredEvent:
    """An events row as stored: what ``verify`` and ``export`` read."""

    seq: int
    leaf_hash: bytes
    event_type: str
    item_id: str
    created_at: str
    canonical: str


@dataclass(frozen=True)
class LedgerStats:
    """Counts for ``safemed ledger stats``."""

    tree_size: int
    items: int
    by_type: dict[str, int]
    checkpoints: int
    latest_checkpoint_size: int | None
    origin: str


class Ledger:
    """An open ledger database. Create with :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, engine: Engine, keys: LedgerKeys | None = None) -> None:
        self.engine = engine
        self.keys = keys
        self._meta: dict[str, str] = {}

    @classmethod
    def open(cls, url: str | None = None, *, keys: LedgerKeys | None = None, create: bool = True) -> Self:
        """Open the ledger at ``url`` (a SQLite path or URL; default ``$SAFEMED_DB`` or
        ``./safemed.db``), creating and migrating it if needed; ``create=False`` refuses to
        create one where there is none (read-only commands use this, so a typo is an error)."""
        where = url or db.default_db_url()
        engine = db.make_engine(where)
        if not create and not db.exists(engine):
            engine.dispose()
            raise LedgerError(f"no ledger at {where} (create one with `safemed ledger init --db {where}`)")
        ledger = cls(engine, keys)
        db.migrate(ledger.engine)
        ledger._init_meta()
        return ledger

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- identity --------------------------------------------------------------------------

    def _init_meta(self) -> None:
        with db.read_transaction(self.engine) as conn:
            self._meta = dict(conn.execute(select(meta.c.key, meta.c.value)).all())
        wanted = {"origin": f"safemed-ledger/{uuid.uuid4()}", "created_at": utc_now()}
        if self.keys is not None:
            wanted["public_key"] = self.keys.public_key.hex()
        missing = {k: v for k, v in wanted.items() if k not in self._meta}
        if missing:
            with db.write_transaction(self.engine) as conn:
                present = dict(conn.execute(select(meta.c.key, meta.c.value)).all())
                rows = [{"key": k, "value": v} for k, v in missing.items() if k not in present]
                if rows:
                    conn.execute(meta.insert(), rows)
                self._meta = {**present, **{r["key"]: r["value"] for r in rows}}

    @property
    def origin(self) -> str:
        """This ledger's name in signed checkpoints (``safemed-ledger/<uuid>``)."""
        return self._meta["origin"]

    @property
    def stored_public_key(self) -> bytes | None:
        """The public key recorded at creation (convenience only: an attacker can change it)."""
        value = self._meta.get("public_key")
        return bytes.fromhex(value) if value else None

    # -- writing ---------------------------------------------------------------------------

    def append(self, new_events: Iterable[NewEvent], batch_size: int = BATCH, *, if_size: int | None = None,
               sign: bool | None = None) -> range:
        """Append events in ONE transaction; returns their sequence numbers.

        All or nothing: an error or a killed process leaves the ledger as before. Sequence numbers
        are consecutive even with concurrent writers (see ``db.write_transaction``). With
        ``if_size``, the append happens only if the ledger still has exactly that many events —
        so checks made against a view of the ledger still hold — else :class:`LedgerChanged`.
        The read model is updated in the same transaction, which ends by signing a checkpoint of
        the new tree (``sign``: default when the key is loaded; ``True`` without a key is an error).
        """
        if sign is None:
            sign = self.keys is not None
        elif sign:
            self._require_keys()
        appended = self._append(new_events, batch_size, if_size, sign)
        if len(appended) >= ANALYZE_AFTER:
            db.analyze_grown(self.engine)
        return appended

    def _append(self, new_events: Iterable[NewEvent], batch_size: int, if_size: int | None, sign: bool) -> range:
        with db.write_transaction(self.engine) as conn:
            start = self._size(conn)
            if if_size is not None and start != if_size:
                raise LedgerChanged(f"the ledger grew from {if_size} to {start} events since it was read")
            builder = merkle.TreeBuilder(start, subtrees.frontier(conn, start))
            iterator = iter(new_events)
            while batch := list(itertools.islice(iterator, batch_size)):
                event_rows: list[dict[str, Any]] = []
                node_rows: list[dict[str, Any]] = []
                for new in batch:
                    seq = builder.size
                    text = canonical_json(event_document(new, seq))
                    leaf = merkle.leaf_hash(text.encode("utf-8"))
                    event_rows.append({"seq": seq, "leaf_hash": leaf, "event_type": new.event_type.value,
                                       "item_id": new.item_id, "created_at": new.created_at,
                                       "canonical": text})
                    node_rows.extend({"level": node.level, "pos": node.pos, "hash": value}
                                     for node, value in builder.push(leaf))
                conn.execute(events.insert(), event_rows)
                if node_rows:
                    conn.execute(nodes.insert(), node_rows)
                readmodel.project(conn, list(zip(range(builder.size - len(batch), builder.size), batch, strict=True)))
            if builder.size > start:
                readmodel.set_size(conn, builder.size)
                if sign:  # the builder's frontier is the new tree's right edge: its root needs no lookup
                    self._sign(conn, builder.size, builder.root())
            return range(start, builder.size)

    def _require_keys(self) -> LedgerKeys:
        if self.keys is None:
            raise LedgerError("signing a checkpoint needs the ledger key (--key PATH or $SAFEMED_LEDGER_KEY)")
        return self.keys

    def check_key(self) -> None:
        """Refuse a key other than the one the ledger was created with (its checkpoints would not
        verify under the recorded public key)."""
        stored = self.stored_public_key
        if self.keys is not None and stored is not None and stored != self.keys.public_key:
            raise LedgerError(f"this ledger was created with key {stored.hex()[:16]}…, not the key in "
                              f"{self.keys.path}")

    def _sign(self, conn: Connection, size: int, root: bytes | None = None) -> Checkpoint:
        """Sign the tree of ``size`` events. ``root``: its Merkle root, given by an append that just
        grew the tree to ``size`` (so no checkpoint of that size can exist yet); without it, the
        latest checkpoint is reused when it already covers ``size``."""
        keys = self._require_keys()
        if root is None:
            latest = self._latest_checkpoint(conn)
            if latest is not None and latest.tree_size == size and latest.key_id == keys.key_id:
                return latest
            root = subtrees.root(conn, size)
        cp = sign_checkpoint(keys, self.origin, size, root, utc_now())
        conn.execute(checkpoints.insert().values(tree_size=size, root_hash=root, origin=cp.origin,
                                                 key_id=cp.key_id, signature=cp.signature,
                                                 created_at=cp.created_at))
        return cp

    def check_read_model(self) -> readmodel.Mismatch | None:
        """Compare the curation read model with a fresh replay (one snapshot); the first difference."""
        with db.read_transaction(self.engine) as conn:
            return readmodel.compare(conn, self._size(conn))

    def reindex(self) -> int:
        """Rebuild the curation read model from the events (one transaction); returns the item count."""
        with db.write_transaction(self.engine) as conn:
            n = readmodel.rebuild(conn)
        db.analyze_grown(self.engine, force=True)
        return n

    def checkpoint(self) -> Checkpoint:
        """Sign and store a checkpoint of the whole log (returns the latest one if nothing changed)."""
        self._require_keys()
        with db.write_transaction(self.engine) as conn:
            return self._sign(conn, self._size(conn))

    # -- reading ---------------------------------------------------------------------------

    def size(self) -> int:
        """Number of events (the current tree size)."""
        with db.read_transaction(self.engine) as conn:
            return self._size(conn)

    def root(self, tree_size: int | None = None) -> bytes:
        """The Merkle root of the first ``tree_size`` events (default: all), from stored nodes."""
        with db.read_transaction(self.engine) as conn:
            size = self._size(conn)
            return subtrees.root(conn, size if tree_size is None else self._check_size(tree_size, size))

    def checkpoints(self) -> list[Checkpoint]:
        """All checkpoints, oldest first."""
        with db.read_transaction(self.engine) as conn:
            rows = conn.execute(select(checkpoints).order_by(checkpoints.c.id)).mappings().all()
        return [_checkpoint(row) for row in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, or None before the first."""
        with db.read_transaction(self.engine) as conn:
            return self._latest_checkpoint(conn)

    def events_for_item(self, item_id: str) -> list[LedgerEvent]:
        """Every event of one item, in order."""
        stmt = select(events.c.canonical).where(events.c.item_id == item_id).order_by(events.c.seq)
        with db.read_transaction(self.engine) as conn:
            texts = conn.execute(stmt).scalars().all()
        return [LedgerEvent.from_document(json.loads(text)) for text in texts]

    def events_with_item_prefix(self, prefix: str) -> list[LedgerEvent]:
        """Every event whose item id starts with ``prefix``, in order (e.g. ``study-plan:``: the
        frozen study plans, which are few)."""
        stmt = (select(events.c.canonical).where(events.c.item_id.startswith(prefix, autoescape=True))
                .order_by(events.c.seq))
        with db.read_transaction(self.engine) as conn:
            texts = conn.execute(stmt).scalars().all()
        return [event for event in (LedgerEvent.from_document(json.loads(text)) for text in texts)
                if event.item_id.startswith(prefix)]

    def item_state(self, item_id: str) -> ItemState:
        """The item's current state, derived from its events (``state.py``)."""
        return item_state(item_id, self.events_for_item(item_id))

    def seqs_for_item(self, item_id: str) -> list[int]:
        """The sequence numbers of one item's events."""
        stmt = select(events.c.seq).where(events.c.item_id == item_id).order_by(events.c.seq)
        with db.read_transaction(self.engine) as conn:
            return list(conn.execute(stmt).scalars().all())

    def iter_events(self, stop: int | None = None, batch_size: int = 5000) -> Iterator[StoredEvent]:
        """Stream stored rows in ``seq`` order (one snapshot, bounded memory)."""
        stmt = select(events.c.seq, events.c.leaf_hash, events.c.event_type, events.c.item_id,
                      events.c.created_at, events.c.canonical).order_by(events.c.seq)
        if stop is not None:
            stmt = stmt.where(events.c.seq < stop)
        with db.read_transaction(self.engine) as conn:
            result = conn.execution_options(yield_per=batch_size).execute(stmt)
            for row in result:
                yield StoredEvent(row[0], bytes(row[1]), row[2], row[3], row[4], row[5])

    def inclusion_proofs(self, seqs: Iterable[int], tree_size: int | None = None) -> list[InclusionProof]:
        """Inclusion proofs of several events in the tree of ``tree_size`` (default: all), with one
        read of the stored subtree hashes."""
        wanted = list(seqs)
        with db.read_transaction(self.engine) as conn:
            size = self._size(conn)
            size = size if tree_size is None else self._check_size(tree_size, size)
            for seq in wanted:
                if not 0 <= seq < size:
                    raise LedgerError(f"event {seq} is not in the tree of size {size}")
            paths = {seq: merkle.inclusion_nodes(seq, size) for seq in wanted}
            needed = {node for path in paths.values() for element in path for node in element}
            needed.update(Node(0, seq) for seq in wanted)
            table = subtrees.lookup(conn, needed)
        return [InclusionProof(seq, size, table[Node(0, seq)], merkle.resolve(paths[seq], table.__getitem__))
                for seq in wanted]

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> InclusionProof:
        """The inclusion proof of one event."""
        return self.inclusion_proofs([seq], tree_size)[0]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that the log of ``old_size`` events is a prefix of the log of ``new_size``."""
        with db.read_transaction(self.engine) as conn:
            size = self._size(conn)
            new = size if new_size is None else self._check_size(new_size, size)
            if not 0 <= old_size <= new:
                raise LedgerError(f"no consistency proof from size {old_size} to size {new}")
            path = merkle.consistency_nodes(old_size, new)
            table = subtrees.lookup(conn, {node for element in path for node in element})
        return ConsistencyProof(old_size, new, merkle.resolve(path, table.__getitem__))

    def stats(self) -> LedgerStats:
        """Event counts by type, distinct items, checkpoints."""
        with db.read_transaction(self.engine) as conn:
            by_type: dict[str, int] = dict(conn.execute(
                select(events.c.event_type, func.count()).group_by(events.c.event_type)).all())
            items = conn.execute(select(func.count(func.distinct(events.c.item_id)))).scalar_one()
            n_checkpoints = conn.execute(select(func.count()).select_from(checkpoints)).scalar_one()
            latest = self._latest_checkpoint(conn)
            size = self._size(conn)
        return LedgerStats(size, int(items), {str(k): int(v) for k, v in sorted(by_type.items())},
                           int(n_checkpoints), latest.tree_size if latest else None, self.origin)

    def verify(self, public_key: bytes | None = None) -> VerifyReport:
        """Recompute every leaf hash and root; see :func:`safemed.ledger.verify.verify_ledger`."""
        from safemed.ledger.verify import verify_ledger

        return verify_ledger(self, public_key)

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def size_in(conn: Connection) -> int:
        """The tree size as seen by an open connection (e.g. inside a read snapshot)."""
        return Ledger._size(conn)

    @staticmethod
    def _size(conn: Connection) -> int:
        last = conn.execute(select(func.max(events.c.seq))).scalar()
        return 0 if last is None else int(last) + 1

    @staticmethod
    def _check_size(tree_size: int, size: int) -> int:
        if not 0 <= tree_size <= size:
            raise LedgerError(f"tree size {tree_size} is beyond the ledger's {size} events")
        return tree_size

    @staticmethod
    def _latest_checkpoint(conn: Connection) -> Checkpoint | None:
        row = conn.execute(select(checkpoints).order_by(checkpoints.c.id.desc()).limit(1)).mappings().first()
        return _checkpoint(row) if row is not None else None

def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(origin=row["origin"], tree_size=int(row["tree_size"]), root_hash=bytes(row["root_hash"]),
                      key_id=row["key_id"], signature=bytes(row["signature"]), created_at=row["created_at"])


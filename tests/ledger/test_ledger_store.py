"""Append, checkpoint, prove, read back and derive state, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from safemed.ledger import Ledger, LedgerError, load_keys
from safemed.ledger.canonical import canonical_json
from safemed.ledger.merkle import leaf_hash, root_of
from safemed.records.curation import EventType, NewEvent

from .factory import full_lifecycle, item_events


def test_append_checkpoint_verify_and_prove(db_url: str, key_file: Path) -> None:
    with Ledger.open(db_url, keys=load_keys(key_file)) as ledger:
        assert ledger.size() == 0
        assert ledger.verify().ok
        seqs = ledger.append(ev for i in range(50) for ev in item_events(i))
        assert seqs == range(0, 200)
        first = ledger.checkpoint()
        assert ledger.checkpoint() == first  # nothing new: same checkpoint
        more = ledger.append(full_lifecycle("life-1"))
        assert more == range(200, 206)
        second = ledger.checkpoint()
        assert (first.tree_size, second.tree_size) == (200, 206)
        assert second.signed_by(load_keys(key_file).public_key)

        leaves = [leaf_hash(row.canonical.encode()) for row in ledger.iter_events()]
        assert root_of(leaves) == second.root_hash == ledger.root()
        assert ledger.root(200) == first.root_hash

        report = ledger.verify()
        assert report.ok, report.lines()
        assert (report.events_checked, report.tree_size, report.computed_root) == (206, 206, second.root_hash)

        for proof in ledger.inclusion_proofs(ledger.seqs_for_item("life-1")):
            assert proof.verify(second.root_hash)
        assert ledger.inclusion_proof(7, 200).verify(first.root_hash)
        assert not ledger.inclusion_proof(7, 200).verify(second.root_hash)
        assert ledger.consistency_proof(200, 206).verify(first.root_hash, second.root_hash)
        with pytest.raises(LedgerError):
            ledger.inclusion_proof(206)


def test_events_read_back_and_state(db_url: str) -> None:
    with Ledger.open(db_url) as ledger:
        ledger.append(full_lifecycle("life-2"))
        ledger.append(item_events(3))
        events = ledger.events_for_item("life-2")
        assert [e.event_type for e in events] == [
            EventType.ITEM_IMPORTED, EventType.TRACE_GENERATED, EventType.REVIEW_SUBMITTED,
            EventType.EDIT_MADE, EventType.ADJUDICATED, EventType.RETENTION_DECIDED]
        assert [e.seq for e in events] == list(range(6))
        stored = {row.seq: row.canonical for row in ledger.iter_events()}
        assert all(canonical_json(e.document()) == stored[e.seq] for e in events)

        state = ledger.item_state("life-2")
        assert state.status == "retained"
        assert state.current_reasoning == "r1 fixed"
        assert state.mean_scores["medical_correctness"] == 2
        assert state.adjudication is not None and state.adjudication.decision == "edit"
        assert ledger.item_state("item-0000003").status == "reviewed"

        stats = ledger.stats()
        assert stats.tree_size == 10 and stats.items == 2
        assert stats.by_type["review_submitted"] == 3
        assert stats.checkpoints == 0


def test_append_is_all_or_nothing(db_url: str) -> None:
    def broken() -> Iterator[NewEvent]:
        yield from item_events(1)
        yield from item_events(2)
        raise RuntimeError("import failed half way")

    with Ledger.open(db_url) as ledger:
        ledger.append(item_events(0))
        root = ledger.root()
        with pytest.raises(RuntimeError):
            ledger.append(broken(), batch_size=3)
        assert ledger.size() == 4 and ledger.root() == root
        assert ledger.append(item_events(9)) == range(4, 8)
        assert ledger.verify().ok


def test_reopen_keeps_origin_and_checkpoint_needs_key(db_url: str, key_file: Path) -> None:
    with Ledger.open(db_url, keys=load_keys(key_file)) as ledger:
        origin = ledger.origin
        ledger.append(item_events(0))
        ledger.checkpoint()
    with Ledger.open(db_url) as again:
        assert again.origin == origin
        assert again.stored_public_key == load_keys(key_file).public_key
        with pytest.raises(LedgerError, match="needs the ledger key"):
            again.checkpoint()
        report = again.verify()
        assert report.ok and "not independent" in report.key_source


def test_canonical_text_is_what_is_stored(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url) as ledger:
        ledger.append(item_events(0, reviews=0))
        row = next(ledger.iter_events())
        doc = json.loads(row.canonical)
        assert doc["seq"] == 0 and doc["v"] == 1
        assert row.canonical == canonical_json(doc)
        assert doc["payload"]["parameters"] if doc["event_type"] == "trace_generated" else True


def test_head_constant_matches_the_migrations(sqlite_url: str) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from safemed.ledger import db

    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == db.HEAD
    engine = db.make_engine(sqlite_url)
    assert db.current_revision(engine) is None
    db.migrate(engine)
    assert db.current_revision(engine) == db.HEAD
    engine.dispose()

"""``safemed lineage``: follow an artifact back to the ledger and check every hash on the way.

SafeMed-R1's claim is that the aligned model (§3: SFT on curated, clinician-reviewed traces, then
GRPO) is traceable to its clinicians; DESIGN.md makes that checkable: every artifact's
``manifest.json`` names its parents and the sha256 of its files. This module walks the chain
from artifacts on disk and the ledger only (L3: it never imports the stages):

* an **eval run** → the model artifact it evaluated (``config.model_artifact``);
* a **training run** (``OUT``) → its model and adapter artifacts;
* a **model** (or **adapter**) artifact → its files (sha256 recomputed against its manifest),
  its adapter (id and files), its **base model** (each weight file's sha256 and the digest over
  them recomputed, the source GGUF's sha256; when the base is itself a safemed model, e.g. GRPO
  on top of SFT, the walk recurses into it), and each **dataset**: the file's sha256 recomputed
  against the model's manifest and against the dataset artifact's own manifest;
* a **curated export** → its ledger point (tree size, root, origin): every row must name that
  point; with a ledger (``--db``), the ledger's root at that tree size must equal the recorded
  root, and every row's ``provenance.event_seqs`` must be exactly that row's item's events below
  the tree size, each event's leaf hash recomputed from its canonical JSON and proved included
  in the tree of that root (RFC 6962 inclusion proofs).

Each check is ok or FAIL with what was compared; :attr:`Lineage.ok` is the conjunction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from safemed.artifacts import MANIFEST, Manifest, sha256_file
from safemed.errors import ConfigError

#: rows whose ledger events are looked up in one query
ROW_BATCH = 500


@dataclass
class Check:
    """One comparison: what was checked, whether it held, and the evidence either way."""

    what: str
    ok: bool
    detail: str = ""
    depth: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "ok": self.ok, "detail": self.detail, "depth": self.depth}


@dataclass
class Node:
    """One artifact (or base model, dataset, ledger point) on the chain."""

    kind: str
    label: str
    path: str
    depth: int
    id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "path": self.path, "depth": self.depth, "id": self.id}


@dataclass
class Lineage:
    """The chain from one artifact back to the ledger, with every check made on the way."""

    artifact: Path
    entries: list[Node | Check] = field(default_factory=list)

    @property
    def checks(self) -> list[Check]:
        return [e for e in self.entries if isinstance(e, Check)]

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {"artifact": str(self.artifact), "ok": self.ok, "n_checks": len(self.checks),
                "failures": [c.as_dict() for c in self.failures],
                "chain": [{"node": e.as_dict()} if isinstance(e, Node) else {"check": e.as_dict()}
                          for e in self.entries]}


def _short(sha: str | None) -> str:
    return f"{sha[:12]}…" if sha else "none"


def read_manifest_at(folder: Path) -> Manifest:
    """``folder/manifest.json``; a ConfigError naming the file when it is missing or malformed."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{folder} is not an artifact: {MANIFEST} is missing")
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"{path}: not a safemed manifest ({exc})") from exc


def weights_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """The digest over weight files the training manifests record: sha256 over the sorted
    ``name\\0sha256`` pairs (``safemed.train.models.weights_digest``; the same identity the local
    transformers backend gives an HF folder)."""
    digest = hashlib.sha256()
    for name, sha in sorted(pairs):
        digest.update(name.encode() + b"\0" + sha.encode())
    return digest.hexdigest()


class Walker:
    """Builds a :class:`Lineage`; one instance per ``trace_lineage`` call."""

    def __init__(self, lineage: Lineage, db_url: str | None) -> None:
        self.lineage = lineage
        self.db_url = db_url
        self._seen: set[str] = set()
        self._ledger: Any = None

    # -- recording --------------------------------------------------------------------------------

    def node(self, kind: str, label: str, path: Path | str, depth: int, id: str | None = None) -> None:
        self.lineage.entries.append(Node(kind, label, str(path), depth, id))

    def check(self, what: str, ok: bool, detail: str, depth: int) -> bool:
        self.lineage.entries.append(Check(what, ok, detail, depth))
        return ok

    def sha_check(self, what: str, file: Path, expected: str | None, source: str, depth: int) -> str | None:
        """Recompute ``file``'s sha256 and compare it with ``expected`` (recorded in ``source``)."""
        if not file.is_file():
            self.check(what, False, f"{file} is missing (recorded in {source})", depth)
            return None
        actual = sha256_file(file)
        if expected is None:
            self.check(what, False, f"{source} records no sha256 for {file}", depth)
        elif actual == expected:
            self.check(what, True, f"{file}: sha256 {_short(actual)} as recorded", depth)
        else:
            self.check(what, False, f"{file}: sha256 {_short(actual)} but {source} records {_short(expected)}", depth)
        return actual

    # -- artifacts --------------------------------------------------------------------------------

    def artifact(self, folder: Path, depth: int, expected_id: str | None = None,
                 trained_with: dict[str, Any] | None = None) -> Manifest | None:
        """Any artifact: its outputs recomputed, then what its kind links to. ``trained_with`` is
        the config of the model an adapter belongs to: the adapter must name the same base model
        and datasets (checked once, for the model)."""
        try:
            manifest = read_manifest_at(folder)
        except ConfigError as exc:
            self.check("artifact manifest", False, str(exc), depth)
            return None
        self.node(manifest.kind, f"{manifest.kind} {manifest.id[:12]}", folder, depth, manifest.id)
        if expected_id is not None:
            self.check("id", manifest.id == expected_id, f"{manifest.id} as its child names it"
                       if manifest.id == expected_id else f"{folder / MANIFEST} has id {manifest.id}; the child "
                       f"names {expected_id}", depth + 1)
        if manifest.id in self._seen:
            self.check("chain", True, f"{manifest.id[:12]} already checked above", depth + 1)
            return manifest
        self._seen.add(manifest.id)
        self.outputs(folder, manifest, depth + 1)
        if manifest.kind == "lora-adapter" and trained_with is not None:
            same = all(manifest.config.get(k) == trained_with.get(k) for k in ("stage", "base_model", "datasets"))
            self.check("adapter's training", same, "the same stage, base model and datasets as its model" if same
                       else "its manifest names another stage, base model or datasets than its model's", depth + 1)
        elif manifest.kind in ("model", "lora-adapter"):
            self.trained(folder, manifest, depth + 1)
        elif manifest.kind == "training-run":
            for key in ("model", "adapter"):
                entry = manifest.config.get(key)
                if isinstance(entry, dict) and entry.get("path"):
                    self.artifact(folder / str(entry["path"]), depth + 1, entry.get("id"))
        elif manifest.kind == "eval-run":
            model = manifest.config.get("model_artifact")
            if isinstance(model, dict) and model.get("path"):
                self.check("evaluated model is a parent", model.get("id") in manifest.parents,
                           f"model artifact {model.get('id')} in parents {manifest.parents}", depth + 1)
                self.artifact(Path(str(model["path"])), depth + 1, model.get("id"))
            else:
                self.check("evaluated model", True, "not a safemed model artifact (nothing further to follow)",
                           depth + 1)
        elif manifest.kind == "curated-dataset":
            point = manifest.config.get("ledger")
            files = [folder / o.path for o in manifest.outputs if o.path.endswith(".jsonl")]
            if isinstance(point, dict) and files:
                self.ledger_point(files[0], point, depth + 1)
        return manifest

    def outputs(self, folder: Path, manifest: Manifest, depth: int) -> None:
        bad = []
        for out in manifest.outputs:
            file = folder / out.path
            if not file.is_file():
                bad.append(f"{file} is missing")
            elif (actual := sha256_file(file)) != out.sha256:
                bad.append(f"{file}: sha256 {_short(actual)} but the manifest records {_short(out.sha256)}")
        if not manifest.outputs:
            self.check("files", True, f"{folder / MANIFEST} lists no output files", depth)
            return
        names = ", ".join(o.path for o in manifest.outputs[:4]) + (" …" if len(manifest.outputs) > 4 else "")
        self.check("files", not bad, "; ".join(bad) if bad else
                   f"{len(manifest.outputs)} recomputed against the manifest ({names})", depth)

    def trained(self, folder: Path, manifest: Manifest, depth: int) -> None:
        """A model or adapter artifact of ``safemed train``: adapter, base model, datasets."""
        config = manifest.config
        if config.get("stage"):
            self.check("stage", True, f"{config['stage']} (SafeMed-R1 §3)", depth)
        gguf = config.get("gguf")
        if isinstance(gguf, dict) and gguf.get("path"):
            self.sha_check("GGUF", folder / str(gguf["path"]), gguf.get("sha256"), f"{folder / MANIFEST} config.gguf",
                           depth)
        adapter = config.get("adapter")
        if isinstance(adapter, dict) and adapter.get("path"):
            self.check("adapter is a parent", adapter.get("id") in manifest.parents,
                       f"adapter {adapter.get('id')} in parents", depth)
            self.artifact((folder / str(adapter["path"])).resolve(), depth, adapter.get("id"), trained_with=config)
        base = config.get("base_model")
        if isinstance(base, dict):
            self.base_model(base, manifest, depth)
        else:
            self.check("base model", False, f"{folder / MANIFEST} has no config.base_model", depth)
        datasets = config.get("datasets")
        if not isinstance(datasets, list) or not datasets:
            self.check("datasets", False, f"{folder / MANIFEST} names no config.datasets", depth)
            return
        inputs = {d.path: d.sha256 for d in manifest.inputs}
        for entry in datasets:
            self.dataset(entry, manifest, inputs, folder, depth)

    def base_model(self, base: dict[str, Any], child: Manifest, depth: int) -> None:
        path = Path(str(base.get("path", "")))
        self.node("base-model", f"base model {base.get('name')}", path, depth)
        weights = base.get("weights") or []
        pairs = []
        for w in weights:
            actual = self.sha_check(f"base weights {w.get('path')}", path / str(w.get("path")), w.get("sha256"),
                                    "base_model.weights", depth + 1)
            if actual is not None:
                pairs.append((str(w.get("path")), actual))
        if not weights:
            self.check("base weights", False, "base_model.weights is empty", depth + 1)
        elif len(pairs) == len(weights):
            digest = weights_digest(pairs)
            self.check("base weights digest", digest == base.get("sha256"),
                       f"sha256 over {len(pairs)} weight files {_short(digest)}; recorded {_short(base.get('sha256'))}",
                       depth + 1)
        source, template = base.get("source_gguf"), base.get("template_gguf")
        for key, what, gguf in (("source_gguf", "base source GGUF", source),
                                ("template_gguf", "GGUF template", None if template == source else template)):
            if isinstance(gguf, dict) and gguf.get("path"):
                self.sha_check(what, Path(str(gguf["path"])), gguf.get("sha256"), f"base_model.{key}", depth + 1)
        artifact = base.get("artifact")
        if isinstance(artifact, dict) and artifact.get("path"):
            self.check("base model is a parent", artifact.get("id") in child.parents,
                       f"base model artifact {artifact.get('id')} in parents", depth + 1)
            self.artifact(Path(str(artifact["path"])), depth + 1, artifact.get("id"))

    def dataset(self, entry: dict[str, Any], child: Manifest, inputs: dict[str, str], folder: Path,
                depth: int) -> None:
        file = Path(str(entry.get("file", "")))
        kind = entry.get("kind")
        self.node("dataset", f"dataset {kind} {str(entry.get('id'))[:17]}", file, depth, entry.get("id"))
        key = f"dataset\0{file}\0{entry.get('sha256')}\0{entry.get('id')}"
        if key in self._seen:
            self.check("chain", True, "the same file, sha256 and id as checked above", depth + 1)
            return
        self._seen.add(key)
        sha = self.sha_check("dataset file vs the model manifest", file, entry.get("sha256"),
                             f"{folder / MANIFEST} config.datasets", depth + 1)
        if str(file) in inputs and inputs[str(file)] != entry.get("sha256"):
            self.check("dataset file vs the model manifest inputs", False,
                       f"inputs record {_short(inputs[str(file)])}, datasets {_short(entry.get('sha256'))}", depth + 1)
        if entry.get("artifact_kind") is None:
            if sha is not None:
                self.check("public file id", entry.get("id") == f"file:{sha[:16]}",
                           f"{entry.get('id')} names the file by its sha256 (no manifest)", depth + 1)
            return
        self.check("dataset is a parent", entry.get("id") in child.parents, f"{entry.get('id')} in parents",
                   depth + 1)
        try:
            own = read_manifest_at(file.parent)
        except ConfigError as exc:
            self.check("dataset manifest", False, str(exc), depth + 1)
            return
        self.check("dataset artifact id", own.id == entry.get("id") and own.kind == entry.get("artifact_kind"),
                   f"{file.parent / MANIFEST}: {own.kind} {own.id}", depth + 1)
        recorded = next((o.sha256 for o in own.outputs if o.path == file.name), None)
        if sha is not None:
            self.check("dataset file vs its own manifest", recorded == sha,
                       f"{file}: sha256 {_short(sha)} as {file.parent / MANIFEST} records" if recorded == sha else
                       f"{file}: sha256 {_short(sha)} but {file.parent / MANIFEST} records {_short(recorded)}",
                       depth + 1)
        point = entry.get("ledger")
        if isinstance(point, dict):
            own_point = own.config.get("ledger")
            self.check("ledger point", own_point == point,
                       f"tree size {point.get('tree_size')}, root {_short(point.get('root'))} in both manifests"
                       if own_point == point else f"the model records {point}, the export {own_point}", depth + 1)
            self.ledger_point(file, point, depth + 1)

    # -- the ledger -------------------------------------------------------------------------------

    def ledger_point(self, file: Path, point: dict[str, Any], depth: int) -> None:
        """The rows of a curated export against the ledger point it names (and the ledger, with --db)."""
        size, root = int(point.get("tree_size", -1)), str(point.get("root", ""))
        self.node("ledger", f"ledger {point.get('origin')} at tree size {size}", self.db_url or "(no --db)", depth)
        rows, bad = 0, []
        seqs: dict[str, set[int]] = {}
        for lineno, prov in _provenance(file):
            rows += 1
            if prov is None:
                bad.append(f"{file}:{lineno}: no provenance")
                continue
            if prov.get("ledger") != point:
                bad.append(f"{file}:{lineno}: provenance.ledger {prov.get('ledger')} is not the export's point")
            item = str(prov.get("item_id"))
            if item in seqs:
                bad.append(f"{file}:{lineno}: item {item} appears twice")
            seqs[item] = {int(s) for s in prov.get("event_seqs", [])}
        n_events = sum(len(s) for s in seqs.values())
        self.check("rows name the ledger point", not bad,
                   "; ".join(bad[:5]) if bad else f"{rows:,} rows → {n_events:,} ledger events", depth + 1)
        if self.db_url is None:
            self.check("ledger", True, "not checked against a ledger (give --db URL to prove the rows)", depth + 1)
            return
        ledger = self._open_ledger(depth + 1)
        if ledger is None:
            return
        from safemed.ledger.errors import LedgerError

        origin_ok = ledger.origin == point.get("origin")
        self.check("ledger origin", origin_ok, f"{ledger.origin}; the export names {point.get('origin')}", depth + 1)
        try:
            actual = ledger.root(size).hex()
        except LedgerError as exc:
            self.check("ledger root", False, f"{exc}", depth + 1)
            return
        root_ok = actual == root
        self.check("ledger root", root_ok, f"root at tree size {size:,} is {_short(actual)}; the export records "
                   f"{_short(root)}", depth + 1)
        self._checkpoint(ledger, point, depth + 1)
        if root_ok:
            self._consistency(ledger, size, bytes.fromhex(root), depth + 1)
        if root_ok:
            problems = list(self._events(ledger, seqs, size, bytes.fromhex(root)))
            self.check("row events", not problems,
                       "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
                       if problems else f"{rows:,} rows → {n_events:,} ledger events, root matches (each event's "
                       "leaf recomputed and proved included)", depth + 1)

    def _open_ledger(self, depth: int) -> Any:
        if self._ledger is None:
            from safemed.ledger import Ledger, LedgerError

            try:
                self._ledger = Ledger.open(self.db_url, create=False)
            except LedgerError as exc:
                self.check("ledger", False, str(exc), depth)
                return None
        return self._ledger

    def _checkpoint(self, ledger: Any, point: dict[str, Any], depth: int) -> None:
        key = point.get("checkpoint_key_id")
        if not key:
            return
        size = int(point["tree_size"])
        found = [c for c in ledger.checkpoints() if c.tree_size == size and c.key_id == key]
        public = ledger.stored_public_key
        ok = bool(found) and found[0].root_hash.hex() == point.get("root") and (
            public is None or found[0].signed_by(public))
        self.check("signed checkpoint", ok, f"checkpoint of size {size:,} by key {key}: "
                   + ("root and signature verify" if ok else "missing, another root, or a bad signature"), depth)

    def _consistency(self, ledger: Any, size: int, root: bytes, depth: int) -> None:
        """The export's tree is a prefix of the ledger's newest signed checkpoint: an RFC 9162
        consistency proof from ``size`` to that checkpoint's size, verified against both roots,
        and the checkpoint's signature verified with the ledger's public key."""
        from safemed.ledger.errors import LedgerError

        latest = ledger.latest_checkpoint()
        if latest is None:
            self.check("consistent with the latest signed checkpoint", False, "the ledger has no signed checkpoint",
                       depth)
            return
        public = ledger.stored_public_key
        signed = public is not None and latest.signed_by(public)
        try:
            proof = ledger.consistency_proof(size, latest.tree_size)
            consistent = proof.verify(root, latest.root_hash)
        except LedgerError as exc:
            self.check("consistent with the latest signed checkpoint", False, str(exc), depth)
            return
        detail = (f"consistency proof from tree size {size:,} to the checkpoint of size {latest.tree_size:,} "
                  f"(root {_short(latest.root_hash.hex())}, key {latest.key_id}): "
                  + ("verifies" if consistent else "does NOT verify")
                  + ("; signature verifies" if signed else "; signature does NOT verify" if public is not None
                     else "; the ledger stores no public key to verify the signature"))
        self.check("consistent with the latest signed checkpoint", consistent and signed, detail, depth)

    def _events(self, ledger: Any, seqs: dict[str, set[int]], size: int, root: bytes) -> Iterator[str]:
        """Problems with the rows' events: each must be below ``size``, be the row's item's, and
        together be all of that item's events there; each leaf recomputed and proved in ``root``."""
        from sqlalchemy import select

        from safemed.ledger import db
        from safemed.ledger.merkle import leaf_hash
        from safemed.ledger.tables import events

        items = list(seqs)
        for start in range(0, len(items), ROW_BATCH):
            batch = items[start:start + ROW_BATCH]
            wanted = sorted({s for i in batch for s in seqs[i]})
            stmt = (select(events.c.seq, events.c.item_id, events.c.leaf_hash, events.c.canonical)
                    .where(events.c.item_id.in_(batch), events.c.seq < size))
            with db.read_transaction(ledger.engine) as conn:
                stored = {int(r[0]): (str(r[1]), bytes(r[2]), str(r[3])) for r in conn.execute(stmt)}
                strays = [s for s in wanted if s not in stored]
                if strays:
                    others = select(events.c.seq, events.c.item_id).where(events.c.seq.in_(strays))
                    owner = {int(r[0]): str(r[1]) for r in conn.execute(others)}
                else:
                    owner = {}
            for item in batch:
                own = {s for s, (i, _, _) in stored.items() if i == item}
                for seq in sorted(seqs[item] - own):
                    if seq >= size:
                        yield f"item {item}: event {seq} is beyond tree size {size}"
                    elif seq in owner:
                        yield f"item {item}: event {seq} belongs to item {owner[seq]}"
                    else:
                        yield f"item {item}: event {seq} is not in the ledger"
                for seq in sorted(own - seqs[item]):
                    yield f"item {item}: ledger event {seq} is missing from the row's event_seqs"
            present = [s for s in wanted if s in stored]
            for seq in present:
                _, leaf, canonical = stored[seq]
                if leaf_hash(canonical.encode("utf-8")) != leaf:
                    yield f"event {seq}: its canonical JSON does not hash to its stored leaf"
            for proof in ledger.inclusion_proofs(present, size):
                if proof.leaf_hash != stored[proof.seq][1] or not proof.verify(root):
                    yield f"event {proof.seq}: no valid inclusion proof in the tree of size {size}"

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()


def _provenance(file: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line or row number, provenance) of each row of an export's JSONL or Parquet file."""
    if file.suffix == ".parquet":
        import pyarrow.parquet as pq

        column = pq.read_table(file, columns=["provenance"]).column("provenance").to_pylist()
        for number, text in enumerate(column, 1):
            yield number, json.loads(text) if text else None
        return
    with open(file, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError:
                    yield lineno, None
                    continue
                prov = row.get("provenance") if isinstance(row, dict) else None
                yield lineno, prov if isinstance(prov, dict) else None


def trace_lineage(artifact: Path, *, db_url: str | None = None) -> Lineage:
    """The chain from ``artifact`` (an eval run, a training output OUT, a model, adapter or
    curated-dataset artifact) back to the ledger, every hash recomputed (module docstring)."""
    folder = artifact
    if not (folder / MANIFEST).is_file() and (folder / "model" / MANIFEST).is_file():
        folder = folder / "model"
    read_manifest_at(folder)  # not an artifact at all: a ConfigError, not a failed chain
    lineage = Lineage(artifact)
    walker = Walker(lineage, db_url)
    try:
        walker.artifact(folder.resolve(), 0)
    finally:
        walker.close()
    return lineage

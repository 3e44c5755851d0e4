"""``export``: the ledger as files a third party can check with nothing but SHA-256.

Writes into a folder (an artifact, with ``manifest.json``):

* ``events.jsonl``: the events covered by the checkpoint, in ``seq`` order, one per line:
  exactly the RFC 8785 bytes that were hashed, each followed by ``\\n``;
* ``checkpoint.json``: origin, tree size, root hash (hex), key id, Ed25519 signature (base64) and
  the signed text;
* ``public_key.pem`` and ``public_key.hex``: the key the checkpoint verifies under;
* ``VERIFY.md``: the recipe for recomputing the root (this package's ``ledger/VERIFY.md``).

The checkpoint is the **current tree**, signed first if no checkpoint covers it yet, so the
folder matches the live ledger; an older signed checkpoint is exported only when asked for by its
size. Without the key the current tree cannot be signed and the export is refused, never
silently replaced by an older one. The root is recomputed while writing; an export whose root
differs from the checkpoint's is refused, so a tampered ledger is never shipped as if it were
intact.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from safemed.artifacts import atomic_write_json, atomic_write_text, new_manifest, write_manifest
from safemed.ledger import merkle
from safemed.ledger.errors import LedgerError, LedgerTamperedError
from safemed.ledger.keys import public_key_pem
from safemed.ledger.store import Ledger

RECIPE = Path(__file__).resolve().parent / "VERIFY.md"
EVENTS_FILE = "events.jsonl"
CHECKPOINT_FILE = "checkpoint.json"


@dataclass(frozen=True)
class ExportResult:
    """What was written."""

    folder: Path
    tree_size: int
    root_hash: bytes


def export_ledger(ledger: Ledger, out: Path, public_key: bytes | None = None, *,
                  at_size: int | None = None) -> ExportResult:
    """Write the export folder ``out`` (created if needed) for the current tree (signed first when
    needed, which takes the ledger's key), or for the signed checkpoint of ``at_size`` events."""
    if at_size is None:
        if ledger.keys is None:
            size = ledger.size()
            latest = ledger.latest_checkpoint()
            signed = "none" if latest is None else f"the latest covers {latest.tree_size}"
            if latest is None or latest.tree_size != size:
                raise LedgerError(f"cannot sign the current tree of {size} events without the ledger key (--key PATH "
                                  f"or $SAFEMED_LEDGER_KEY); signed checkpoints: {signed} (export one of them "
                                  "with --at-size N)")
            checkpoint = latest
        else:
            checkpoint = ledger.checkpoint()
    else:
        stored = ledger.checkpoints()
        matching = [cp for cp in stored if cp.tree_size == at_size]
        if not matching:
            sizes = sorted({cp.tree_size for cp in stored})
            raise LedgerError(f"no signed checkpoint of size {at_size}; signed sizes: "
                              f"{', '.join(map(str, sizes)) or 'none'}")
        checkpoint = matching[-1]
    key = public_key or (ledger.keys.public_key if ledger.keys else ledger.stored_public_key)
    if key is None:
        raise LedgerError("no public key to export: pass --key or --public-key")
    if not checkpoint.signed_by(key):
        raise LedgerTamperedError("the checkpoint's signature does not verify under the public key")
    out.mkdir(parents=True, exist_ok=True)
    manifest = new_manifest("ledger-export", config={"origin": ledger.origin,
                                                     "tree_size": checkpoint.tree_size})
    builder = merkle.TreeBuilder()
    tmp = out / (EVENTS_FILE + ".tmp")
    with open(tmp, "wb") as fh:
        for row in ledger.iter_events(stop=checkpoint.tree_size):
            if row.seq != builder.size:
                raise LedgerTamperedError(f"event {builder.size} is missing; run `safemed ledger verify`")
            data = row.canonical.encode("utf-8")
            builder.push(merkle.leaf_hash(data))
            fh.write(data + b"\n")
    if builder.size != checkpoint.tree_size or builder.root() != checkpoint.root_hash:
        tmp.unlink()
        raise LedgerTamperedError("the events do not reproduce the checkpoint's root; run "
                                  "`safemed ledger verify` to find the altered event")
    tmp.replace(out / EVENTS_FILE)
    atomic_write_json(out / CHECKPOINT_FILE, {**checkpoint.to_json(), "public_key": key.hex(),
                                              "hash": "sha256", "leaf_prefix": "00", "node_prefix": "01"})
    atomic_write_text(out / "public_key.pem", public_key_pem(key))
    atomic_write_text(out / "public_key.hex", key.hex() + "\n")
    shutil.copyfile(RECIPE, out / "VERIFY.md")
    write_manifest(out, manifest, outputs=[EVENTS_FILE, CHECKPOINT_FILE, "public_key.pem",
                                           "public_key.hex", "VERIFY.md"])
    return ExportResult(out, builder.size, builder.root())


"""The ledger's integrity as the admin dashboard shows it (paper: CTS provenance, made checkable).

:func:`latest_checkpoint` summarises the newest signed tree head (and whether its signature
verifies under the ledger's key); :func:`verify_now` runs what ``safemed ledger verify`` runs —
:func:`~safemed.ledger.verify.verify_ledger`: every leaf hash, every signed root, every
signature, then the curation read model against a fresh replay — and reports it as a dict. At the
paper's scale (~1.5M events) a full verify takes minutes, so callers should run it in the
background or on demand, not on every page view.
"""

from __future__ import annotations

import time
from typing import Any

from safemed.ledger.store import Ledger
from safemed.ledger.verify import verify_ledger

MAX_SHOWN = 20


def latest_checkpoint(ledger: Ledger) -> dict[str, Any] | None:
    """The newest checkpoint: tree_size, root_hash (hex), key_id, created_at, signed (its
    signature verifies under the ledger's key, or the key stored at creation), unsigned_events
    (appended since), ledger_size; None before the first checkpoint."""
    cp = ledger.latest_checkpoint()
    if cp is None:
        return None
    size = ledger.size()
    public = ledger.keys.public_key if ledger.keys is not None else ledger.stored_public_key
    return {"tree_size": cp.tree_size, "root_hash": cp.root_hash.hex(), "key_id": cp.key_id,
            "created_at": cp.created_at, "signed": bool(public is not None and cp.signed_by(public)),
            "unsigned_events": max(size - cp.tree_size, 0), "ledger_size": size, "origin": cp.origin}


def verify_now(ledger: Ledger) -> dict[str, Any]:
    """Verify the whole ledger now: ok, tree_size, problems (the first :data:`MAX_SHOWN`, as
    text), seconds, read_model_ok (None when the events failed and the read model was not
    compared), unsigned_events."""
    start = time.perf_counter()
    report = verify_ledger(ledger)
    read_model_ok = (not any(p.kind == "read_model" for p in report.problems)) if report.read_model_checked else None
    return {"ok": report.ok, "tree_size": report.tree_size, "problems": [str(p) for p in report.problems[:MAX_SHOWN]],
            "seconds": round(time.perf_counter() - start, 3), "read_model_ok": read_model_ok,
            "unsigned_events": report.uncovered, "key_source": report.key_source}

"""The hash chain over label rows: a changed, removed or reordered label is detectable.

Clinician labels validate the judges behind every safety number (SafeMed-R1 §4), so they get the
same tamper evidence as the curation ledger, in a simpler form: row ``n`` stores

    hash_n = SHA-256( bytes.fromhex(hash_{n-1}) ‖ canonical_json(content_n) )

with ``hash_{-1}`` = 64 zeros and ``content_n`` the row's fields as a JSON object — ``seq``,
``task_id``, ``unit_id``, ``rater``, ``label`` (an object), ``seconds_spent``, ``created_at`` —
serialised by RFC 8785 (``safemed.ledger.canonical``). Anyone holding an export recomputes it with
SHA-256 and a JCS serialiser. Rows are numbered without gaps, so a deleted row breaks the chain at
the next one; deleting the newest rows is visible only against a head hash noted earlier.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from safemed.ledger.canonical import canonical_bytes

GENESIS = "0" * 64


def content(seq: int, task_id: str, unit_id: str, rater: str, label: Mapping[str, Any], seconds_spent: int,
            created_at: str) -> dict[str, Any]:
    """The hashed fields of one label row."""
    return {"seq": seq, "task_id": task_id, "unit_id": unit_id, "rater": rater, "label": dict(label),
            "seconds_spent": seconds_spent, "created_at": created_at}


def link(prev_hash: str, body: Mapping[str, Any]) -> str:
    """``hash_n`` from ``hash_{n-1}`` and the row's content (see the module docstring)."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_bytes(dict(body))).hexdigest()


def check_rows(rows: Iterable[Mapping[Any, Any]], *, start_seq: int = 0,
               prev: str = GENESIS) -> tuple[int, int | None, str | None, str]:
    """Walk stored rows in ``seq`` order: (rows checked, first bad seq or None, why, last good hash)."""
    n, expected = 0, start_seq
    for row in rows:
        seq = int(row["seq"])
        if seq != expected:
            return n, seq, f"row {seq} follows row {expected - 1}: row {expected} is missing", prev
        try:
            label = json.loads(row["label"])
        except ValueError:
            return n, seq, "label is not JSON", prev
        if row["prev_hash"] != prev:
            return n, seq, "prev_hash does not match the previous row's hash", prev
        body = content(seq, row["task_id"], row["unit_id"], row["rater"], label, int(row["seconds_spent"]),
                       row["created_at"])
        if link(prev, body) != row["hash"]:
            return n, seq, "hash does not match the row's content", prev
        prev, n, expected = row["hash"], n + 1, expected + 1
    return n, None, None, prev

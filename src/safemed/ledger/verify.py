"""``verify``: recompute every leaf and root and name the first event that was tampered with.

The check a Certificate Transparency monitor does, run over our own log (the paper's CTS links
"every training instance to its scores and edit history"; this proves the link is intact).
Events are streamed in ``seq`` order with O(log n) memory (``merkle.TreeBuilder``). For each row:

* a gap in ``seq`` → the missing events were **removed**;
* the hashed JSON names another ``seq`` → the row holds an event from elsewhere: **reordered**;
* SHA-256(0x00 ‖ text) differs from the stored leaf hash, the text is not JSON, or an indexed
  column disagrees with the text → **changed**.

Whenever the stream reaches a checkpoint's size, the recomputed root must equal the signed one
(which also catches an edit whose leaf hash was recomputed to match), and each checkpoint's
Ed25519 signature must verify under a public key taken from outside the database where possible.

Finally the curation read model (``readmodel.py``) is compared with a fresh replay of every
item's events: the first item whose stored rows differ is named (``read_model``), and ``safemed
ledger reindex`` rebuilds them. The report says how many events no signed checkpoint covers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from safemed.ledger import merkle
from safemed.ledger.checkpoint import Checkpoint
from safemed.ledger.store import Ledger

ProblemKind = Literal["changed", "removed", "reordered", "checkpoint", "signature", "read_model"]
MAX_PROBLEMS = 100


@dataclass(frozen=True)
class Problem:
    """One finding; ``seq`` is the first event it concerns (None for a whole checkpoint)."""

    kind: ProblemKind
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = (f"event {self.seq}" if self.seq is not None else "read model" if self.kind == "read_model"
                 else "checkpoint")
        return f"{where}: {self.kind}: {self.detail}"


@dataclass
class VerifyReport:
    """What ``verify`` found; ``ok`` only if every event, root and signature checks out."""

    events_checked: int = 0
    tree_size: int = 0
    checkpoint: Checkpoint | None = None
    computed_root: bytes | None = None
    key_source: str = "none"
    checkpoints_checked: int = 0
    read_model_checked: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        """The earliest finding, by sequence number (checkpoint-level findings last)."""
        with_seq = [p for p in self.problems if p.seq is not None]
        if with_seq:
            return min(with_seq, key=lambda p: p.seq or 0)
        return self.problems[0] if self.problems else None

    @property
    def uncovered(self) -> int:
        """Events no signed checkpoint covers (appended after the latest one)."""
        return max(self.tree_size - (self.checkpoint.tree_size if self.checkpoint else 0), 0)

    def add(self, kind: ProblemKind, seq: int | None, detail: str) -> None:
        """Record a finding (at most :data:`MAX_PROBLEMS` are kept)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(kind, seq, detail))

    def lines(self) -> list[str]:
        """A human-readable summary, one fact per line."""
        cp = self.checkpoint
        out = [f"events checked: {self.events_checked}", f"tree size: {self.tree_size}"]
        if cp is not None:
            out += [f"latest checkpoint: size {cp.tree_size}, root {cp.root_hash.hex()}",
                    f"recomputed root:   {self.computed_root.hex() if self.computed_root else '-'}",
                    f"signatures checked with: {self.key_source} ({self.checkpoints_checked} checkpoints)"]
        else:
            out.append("no checkpoint yet: leaf hashes checked, nothing signed to compare the root with")
        if self.uncovered:
            out.append(f"unsigned events: {self.uncovered} of {self.tree_size} are covered by no signed checkpoint "
                       "(sign them with `safemed ledger root --sign`)")
        else:
            out.append("unsigned events: 0 (every event is covered by a signed checkpoint)")
        if self.read_model_checked:
            bad = any(p.kind == "read_model" for p in self.problems)
            out.append("curation read model: " + ("DIFFERS from a replay of the events" if bad else
                                                  "matches a fresh replay of the events"))
        else:
            out.append("curation read model: not checked (the events themselves failed)")
        out += [f"PROBLEM {problem}" for problem in self.problems]
        out.append("OK" if self.ok else f"FAILED: first bad {self.first_problem}")
        return out


def verify_ledger(ledger: Ledger, public_key: bytes | None = None) -> VerifyReport:
    """Check the whole ledger; see the module docstring for what is checked."""
    report = VerifyReport()
    if public_key is not None:
        report.key_source = "the public key given"
    elif ledger.keys is not None:
        public_key, report.key_source = ledger.keys.public_key, f"the key file {ledger.keys.path}"
    elif ledger.stored_public_key is not None:
        public_key = ledger.stored_public_key
        report.key_source = "the public key stored in the database (not independent: pass --public-key)"
    cps = ledger.checkpoints()
    for cp in cps:
        if cp.origin != ledger.origin:
            report.add("signature", None, f"checkpoint of size {cp.tree_size} names origin {cp.origin!r}")
        elif public_key is not None and not cp.signed_by(public_key):
            report.add("signature", None, f"checkpoint of size {cp.tree_size}: signature does not verify")
    report.checkpoint = cps[-1] if cps else None
    report.checkpoints_checked = len(cps) if public_key is not None else 0
    by_size: dict[int, list[Checkpoint]] = {}
    for cp in cps:
        by_size.setdefault(cp.tree_size, []).append(cp)
    _stream(ledger, report, by_size)
    if report.ok:  # a replay of altered events proves nothing about the read model
        mismatch = ledger.check_read_model()
        report.read_model_checked = True
        if mismatch is not None:
            report.add("read_model", None, str(mismatch))
    return report


def _stream(ledger: Ledger, report: VerifyReport, by_size: dict[int, list[Checkpoint]]) -> None:
    builder = merkle.TreeBuilder()
    expected, last_good = 0, 0
    _check_roots(builder, by_size, report, last_good)
    for row in ledger.iter_events():
        if row.seq != expected:
            report.add("removed", expected, f"events {expected}..{row.seq - 1} are missing" if
                       row.seq - 1 > expected else f"event {expected} is missing")
        expected = row.seq + 1
        report.events_checked += 1
        text = row.canonical.encode("utf-8")
        leaf = merkle.leaf_hash(text)
        problem = _row_problem(row.seq, row.event_type, row.item_id, row.created_at, row.canonical)
        if problem is not None:
            report.add(problem[0], row.seq, problem[1])
        elif leaf != row.leaf_hash:
            report.add("changed", row.seq, "the event's content no longer matches its stored leaf hash")
        builder.push(leaf)
        if builder.size in by_size and _check_roots(builder, by_size, report, last_good):
            last_good = builder.size
    report.tree_size = expected
    latest = report.checkpoint
    if latest is not None and expected < latest.tree_size:
        report.add("removed", expected, f"events {expected}..{latest.tree_size - 1} are missing (the "
                   f"latest checkpoint covers {latest.tree_size} events)")
    if latest is not None and latest.tree_size <= builder.size and report.computed_root is None:
        report.computed_root = builder.root()


def _check_roots(builder: merkle.TreeBuilder, by_size: dict[int, list[Checkpoint]], report: VerifyReport,
                 last_good: int) -> bool:
    """Compare the running root with the checkpoints of this size; True when all match."""
    size = builder.size
    if size not in by_size:
        return True
    root = builder.root()
    latest = report.checkpoint
    if latest is not None and size == latest.tree_size:
        report.computed_root = root
    good = True
    explained = any(p.seq is not None and p.seq < size for p in report.problems)
    for cp in by_size[size]:
        if cp.root_hash != root:
            good = False
            why = ("(explained by the events above)" if explained else
                   f"(an event in {last_good}..{size - 1} was altered and its leaf hash recomputed, "
                   "or the checkpoint was altered)")
            report.add("checkpoint", None, f"the root of events 0..{size - 1} is {root.hex()}, not the "
                       f"signed {cp.root_hash.hex()} {why}")
    return good


def _row_problem(seq: int, event_type: str, item_id: str, created_at: str,
                 text: str) -> tuple[ProblemKind, str] | None:
    try:
        doc = json.loads(text)
        claimed = doc["seq"]
        columns = {"event_type": event_type, "item_id": item_id, "created_at": created_at}
        mismatched = [name for name, value in columns.items() if doc[name] != value]
    except (ValueError, KeyError, TypeError):
        return "changed", "the stored event is not a valid ledger event document"
    if claimed != seq:
        return "reordered", f"the row holds the event recorded as seq {claimed}"
    if mismatched:
        return "changed", f"column {mismatched[0]} disagrees with the hashed event"
    return None

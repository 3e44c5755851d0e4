"""``safemed curate dedup``: record near-duplicate and contamination findings as Flag events
(paper: dedup of the candidate pool; our addition: a 13-gram contamination check against every
evaluation set, so that the evidence package's benchmarks are not in the training data).

The detection itself lives in :mod:`safemed.curate.dedup` (MinHash LSH over question + options)
and :mod:`safemed.curate.contamination` (13-gram overlap of the question with every benchmark
and prompt set under the data folder). This module turns their findings into ledger facts: one
:class:`Flag` per (item, finding), never twice, in ONE transaction. Flagged items are not
dropped: they stay in the ledger and in ``status``; ``generate`` skips them unless told
``--include-flagged``, and the datasheet counts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemed.curate.view import EXCLUDED, CurationView, append_consistent
from safemed.ledger.store import Ledger
from safemed.records.curation import Flag, Item, NewEvent, event_for


def dedup_text(item: Item) -> str:
    """What near-duplicate detection compares: the stem and the options' texts."""
    return " ".join([item.question, *(item.options[k] for k in sorted(item.options))])


@dataclass
class DedupResult:
    """New flags and the contamination report (``None`` when the check was skipped)."""

    near_duplicate: int = 0
    contamination: int = 0
    groups: list[list[str]] = field(default_factory=list)
    report: dict[str, Any] | None = None


def find_flags(items: Sequence[Item], *, threshold: float = 0.8, num_perm: int = 128, seed: int = 1,
               data_dir: Path | None = None, benchmarks: Sequence[str] | None = None,
               n: int = 13) -> tuple[list[Flag], DedupResult]:
    """Run both checks over ``items`` (in ledger order: the earliest of a group is kept)."""
    from safemed.curate.dedup import near_duplicates

    result = DedupResult()
    flags: list[Flag] = []
    result.groups = near_duplicates(((i.id, dedup_text(i)) for i in items), threshold=threshold,
                                    num_perm=num_perm, seed=seed)
    for group in result.groups:
        kept = group[0]
        flags += [Flag(item_id=other, kind="near_duplicate", related=kept,
                       detail=f"near duplicate of {kept} (MinHash Jaccard ≥ {threshold:g})") for other in group[1:]]
    if data_dir is not None:
        from safemed.curate.contamination import contamination_report

        report = contamination_report(((i.id, i.question) for i in items), data_dir, n=n, benchmarks=benchmarks)
        result.report = report.as_dict()
        for item_id, overlaps in report.flagged.items():
            flags += [Flag(item_id=item_id, kind="contamination", benchmark=o.benchmark, related=o.benchmark_item_id,
                           ngram=o.ngram, detail=f"shares {o.shared} {n}-gram(s) with {o.benchmark} item "
                                                 f"{o.benchmark_item_id}") for o in overlaps]
    return flags, result


def record_flags(ledger: Ledger, **options: Any) -> DedupResult:
    """Check every item in the ledger and append the flags not recorded before, in one transaction."""
    found: list[tuple[list[Flag], DedupResult]] = []
    new: list[Flag] = []

    def build(view: CurationView) -> list[NewEvent]:
        if not found:  # the checks themselves are slow and depend only on the items
            found.append(find_flags(list(view.items()), **options))
        flags = found[0][0]
        known = {(f.item_id, f.kind, f.related, f.benchmark) for s in view.states_where(EXCLUDED) for f in s.flags}
        new[:] = [f for f in flags if (f.item_id, f.kind, f.related, f.benchmark) not in known]
        return [event_for(f, actor="system") for f in new]

    append_consistent(ledger, build)
    result = found[0][1]
    result.near_duplicate = sum(f.kind == "near_duplicate" for f in new)
    result.contamination = sum(f.kind == "contamination" for f in new)
    return result

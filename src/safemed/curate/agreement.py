"""Inter-reviewer agreement per rubric dimension and per specialty (paper: review reliability).

For each rubric dimension, the reviews of each trace are counted per score (the form Krippendorff's
coincidence matrix needs); Krippendorff's α (ordinal, values 1–5) with a bootstrap CI over traces is
computed on all traces and on each specialty's. Traces with fewer than two reviews cannot be
paired and do not count.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from safemed.curate.view import HAS_ITEM, CurationView, I
from safemed.records.curation import RUBRICS, Review
from safemed.stats.agreement import krippendorff_alpha_ci_from_counts

VALUE_DOMAIN = (1.0, 2.0, 3.0, 4.0, 5.0)


@dataclass(frozen=True)
class AgreementRow:
    """α for one (rubric, dimension, specialty) with its CI and how many traces and reviews."""

    rubric: str
    dimension: str
    specialty: str
    alpha: float
    low: float
    high: float
    traces: int
    reviews: int

    def as_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 4)

        return {"rubric": self.rubric, "dimension": self.dimension, "specialty": self.specialty,
                "alpha": num(self.alpha), "ci_low": num(self.low), "ci_high": num(self.high),
                "traces": self.traces, "reviews": self.reviews}


@dataclass
class _Group:
    """Per-trace counts of each score 1–5, for every dimension of a rubric (one byte a count)."""

    dims: tuple[str, ...]
    counts: dict[str, array[int]] = field(default_factory=dict)
    traces: int = 0
    reviews: int = 0

    def add(self, reviews: list[Review]) -> None:
        """One trace's reviews (one per reviewer)."""
        for dim in self.dims:
            row = [0] * len(VALUE_DOMAIN)
            for r in reviews:
                row[r.scores.as_dict()[dim] - 1] += 1
            self.counts.setdefault(dim, array("B")).extend(row)
        self.traces += 1
        self.reviews += len(reviews)


def agreement(view: CurationView, *, n_boot: int = 1000, seed: int = 0, ci_level: float = 0.95) -> list[AgreementRow]:
    """Rows for every dimension of every rubric in use: specialty ``all`` first, then each specialty.

    Reviews are streamed from the read model item by item and reduced to per-trace value counts
    (α depends on nothing else), so memory is a few bytes per trace, not a reviewers × traces
    matrix."""
    groups: dict[tuple[str, str], _Group] = {}
    for state in view.states_where(HAS_ITEM, I.n_reviews >= 2):
        if state.item is None:
            continue
        for rubric, dims in RUBRICS.items():
            by_trace: dict[str, dict[str, Review]] = {}
            for r in state.reviews:
                if r.rubric == rubric:
                    by_trace.setdefault(r.trace_id, {})[r.reviewer] = r  # a reviewer's last review counts
            paired = [r for reviews in by_trace.values() for r in reviews.values()]
            if len({r.reviewer for r in paired}) < 2:
                continue
            for specialty in ("all", state.item.specialty):
                group = groups.setdefault((rubric, specialty), _Group(dims))
                for reviews in by_trace.values():
                    group.add(list(reviews.values()))
    rows: list[AgreementRow] = []
    for rubric, dims in RUBRICS.items():
        specialties = sorted((s for r, s in groups if r == rubric), key=lambda s: (s != "all", s))
        for specialty in specialties:
            group = groups[(rubric, specialty)]
            for dim in dims:
                counts = np.frombuffer(group.counts[dim], dtype=np.uint8).reshape(-1, len(VALUE_DOMAIN))
                paired = counts[counts.sum(axis=1) >= 2]
                est = krippendorff_alpha_ci_from_counts(counts, VALUE_DOMAIN, "ordinal", n_boot=n_boot, seed=seed,
                                                        ci_level=ci_level)
                rows.append(AgreementRow(rubric, dim, specialty, est.value, est.low, est.high,
                                         int(paired.shape[0]), int(paired.sum())))
    return rows

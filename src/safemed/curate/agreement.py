"""Inter-reviewer agreement per rubric dimension and per specialty (paper: review reliability).

For each rubric dimension, the reviews form a reviewers × traces matrix (NaN where a reviewer did
not review a trace); Krippendorff's α (ordinal, values 1–5) with a bootstrap CI over traces is
computed on all traces and on each specialty's. Traces with fewer than two reviews cannot be
paired and do not count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from safemed.curate.view import HAS_ITEM, CurationView, I
from safemed.records.curation import RUBRICS, Review
from safemed.stats.agreement import krippendorff_alpha_ci

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


def score_matrix(reviews: list[Review], dimension: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Reviewers × traces matrix of one dimension's scores (NaN = not reviewed)."""
    reviewers = sorted({r.reviewer for r in reviews})
    traces = sorted({r.trace_id for r in reviews})
    row = {name: i for i, name in enumerate(reviewers)}
    col = {name: j for j, name in enumerate(traces)}
    data = np.full((len(reviewers), len(traces)), np.nan)
    for r in reviews:
        data[row[r.reviewer], col[r.trace_id]] = r.scores.as_dict()[dimension]
    return data


def agreement(view: CurationView, *, n_boot: int = 1000, seed: int = 0, ci_level: float = 0.95) -> list[AgreementRow]:
    """Rows for every dimension of every rubric in use: specialty ``all`` first, then each specialty."""
    rows: list[AgreementRow] = []
    for rubric, dims in RUBRICS.items():
        groups: dict[str, list[Review]] = {}
        for state in view.states_where(HAS_ITEM, I.n_reviews >= 2):
            paired = [r for r in state.reviews if r.rubric == rubric]
            if state.item is None or len({r.reviewer for r in paired}) < 2:
                continue
            groups.setdefault("all", []).extend(paired)
            groups.setdefault(state.item.specialty, []).extend(paired)
        for specialty in sorted(groups, key=lambda s: (s != "all", s)):
            reviews = groups[specialty]
            for dim in dims:
                est = krippendorff_alpha_ci(score_matrix(reviews, dim), "ordinal", n_boot=n_boot, seed=seed,
                                            ci_level=ci_level, value_domain=VALUE_DOMAIN)
                rows.append(AgreementRow(rubric, dim, specialty, est.value, est.low, est.high,
                                         len({r.trace_id for r in reviews}), len(reviews)))
    return rows

"""Honest statistics for every safemed stage: intervals, paired tests, agreement, ICC (L1 service).

Numpy/scipy, no I/O; everything random takes a seed. See the modules for the paper steps. The
names below load their module on first use (PEP 562), so ``from safemed.stats import wilson_ci``
costs no numpy or scipy import: :mod:`~safemed.stats.proportions` is pure Python, and a
multiple-choice evaluation needs nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safemed.stats.agreement import (
        PairAgreement,
        cohen_kappa,
        confusion_matrix,
        krippendorff_alpha,
        krippendorff_alpha_ci,
        mae,
        pairwise_agreement,
        spearman,
    )
    from safemed.stats.bootstrap import (
        bootstrap_ci,
        bootstrap_mean_ci,
        macro_average_ci,
        rate_ci,
    )
    from safemed.stats.diagnostics import (
        BinaryDiagnostics,
        binary_diagnostics,
        corrected_prevalence,
        corrected_rate_ci,
    )
    from safemed.stats.icc import ICCResult, icc2, icc2k
    from safemed.stats.paired import (
        McNemarResult,
        WilcoxonResult,
        benjamini_hochberg,
        holm,
        mcnemar,
        paired_bootstrap_diff,
        rank_biserial_ci,
        wilcoxon_signed_rank,
    )
    from safemed.stats.proportions import (
        Estimate,
        macro_proportion_ci,
        wilson_ci,
    )

_MODULE_OF: dict[str, str] = {
    "Estimate": "proportions",
    "macro_proportion_ci": "proportions",
    "wilson_ci": "proportions",
    "PairAgreement": "agreement",
    "cohen_kappa": "agreement",
    "confusion_matrix": "agreement",
    "krippendorff_alpha": "agreement",
    "krippendorff_alpha_ci": "agreement",
    "mae": "agreement",
    "pairwise_agreement": "agreement",
    "spearman": "agreement",
    "bootstrap_ci": "bootstrap",
    "bootstrap_mean_ci": "bootstrap",
    "macro_average_ci": "bootstrap",
    "rate_ci": "bootstrap",
    "BinaryDiagnostics": "diagnostics",
    "binary_diagnostics": "diagnostics",
    "corrected_prevalence": "diagnostics",
    "corrected_rate_ci": "diagnostics",
    "McNemarResult": "paired",
    "WilcoxonResult": "paired",
    "benjamini_hochberg": "paired",
    "holm": "paired",
    "mcnemar": "paired",
    "paired_bootstrap_diff": "paired",
    "rank_biserial_ci": "paired",
    "wilcoxon_signed_rank": "paired",
    "ICCResult": "icc",
    "icc2": "icc",
    "icc2k": "icc",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "BinaryDiagnostics",
    "Estimate",
    "ICCResult",
    "McNemarResult",
    "PairAgreement",
    "WilcoxonResult",
    "benjamini_hochberg",
    "binary_diagnostics",
    "bootstrap_ci",
    "bootstrap_mean_ci",
    "cohen_kappa",
    "confusion_matrix",
    "corrected_prevalence",
    "corrected_rate_ci",
    "holm",
    "icc2",
    "icc2k",
    "krippendorff_alpha",
    "krippendorff_alpha_ci",
    "macro_average_ci",
    "macro_proportion_ci",
    "mae",
    "mcnemar",
    "paired_bootstrap_diff",
    "pairwise_agreement",
    "rank_biserial_ci",
    "rate_ci",
    "spearman",
    "wilcoxon_signed_rank",
    "wilson_ci",
]

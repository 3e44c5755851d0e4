"""Honest statistics for every safemed stage: intervals, paired tests, agreement (L1 service).

Pure numpy/scipy, no I/O; everything random takes a seed. See the modules for the paper steps.
"""

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
    Estimate,
    bootstrap_ci,
    bootstrap_mean_ci,
    macro_average_ci,
    macro_proportion_ci,
    rate_ci,
    wilson_ci,
)
from safemed.stats.diagnostics import (
    BinaryDiagnostics,
    binary_diagnostics,
    corrected_prevalence,
    corrected_rate_ci,
)
from safemed.stats.paired import (
    McNemarResult,
    WilcoxonResult,
    benjamini_hochberg,
    holm,
    mcnemar,
    paired_bootstrap_diff,
    wilcoxon_signed_rank,
)

__all__ = [
    "BinaryDiagnostics",
    "Estimate",
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
    "krippendorff_alpha",
    "krippendorff_alpha_ci",
    "macro_average_ci",
    "macro_proportion_ci",
    "mae",
    "mcnemar",
    "paired_bootstrap_diff",
    "pairwise_agreement",
    "rate_ci",
    "spearman",
    "wilcoxon_signed_rank",
    "wilson_ci",
]

"""A regulatory crosswalk: which report section speaks to which item of common frameworks.

A governance board reading SafeMed-R1's evidence will ask where each item its framework lists is
answered. Each row names a framework item in our own short paraphrase and points to the report
section that holds the relevant evidence. This is a navigation aid, not a conformity assessment:
no row claims that an item is met (:data:`DISCLAIMER`).
"""

from __future__ import annotations

from typing import Any

DISCLAIMER = ("This crosswalk points to where the report holds evidence relevant to each item. It makes no legal "
              "or regulatory claim: it does not state that any requirement is met, and it is no substitute for a "
              "conformity assessment or for advice from a qualified regulatory professional.")

#: (framework, item, our paraphrase, section id)
ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("EU AI Act Annex IV", "1", "general description of the system and its intended purpose", "summary"),
    ("EU AI Act Annex IV", "2(b)", "design choices: training methods and techniques", "training"),
    ("EU AI Act Annex IV", "2(d)", "data requirements: datasheets, provenance, labelling and cleaning", "curation"),
    ("EU AI Act Annex IV", "2(e)", "assessment of human oversight measures", "judges"),
    ("EU AI Act Annex IV", "2(g)", "validation and testing procedures, metrics and results", "capability"),
    ("EU AI Act Annex IV", "2(g)", "testing for risks to health and safety", "safety"),
    ("EU AI Act Annex IV", "2(h)", "cybersecurity and robustness against adversarial inputs", "redteam"),
    ("EU AI Act Annex IV", "3", "capabilities and limitations in performance", "cases"),
    ("EU AI Act Annex IV", "6", "changes made through the lifecycle (variants compared)", "ablation"),
    ("NIST AI RMF", "MEASURE 1.1", "approaches and metrics for the risks identified are selected", "safety"),
    ("NIST AI RMF", "MEASURE 1.3", "independent assessors / domain experts are involved in assessment", "study"),
    ("NIST AI RMF", "MEASURE 2.1", "test sets, metrics and tools are documented", "inputs"),
    ("NIST AI RMF", "MEASURE 2.3", "performance is measured under conditions like deployment", "capability"),
    ("NIST AI RMF", "MEASURE 2.5", "validity and reliability are demonstrated, limits documented", "judges"),
    ("NIST AI RMF", "MEASURE 2.6", "the system is evaluated for safety risks", "safety"),
    ("NIST AI RMF", "MEASURE 2.7", "security and resilience are evaluated", "redteam"),
    ("NIST AI RMF", "MEASURE 2.8", "transparency and accountability: lineage is traceable", "lineage"),
    ("NIST AI RMF", "MEASURE 2.9", "the model is explained and its output interpreted in context", "cases"),
    ("NIST AI RMF", "MEASURE 3.1", "risks are tracked over time (comparisons of variants)", "ablation"),
    ("GMLP (FDA / Health Canada / MHRA)", "1", "multidisciplinary expertise across the lifecycle", "study"),
    ("GMLP (FDA / Health Canada / MHRA)", "3", "clinical study participants and data sets represent the intended "
     "population", "curation"),
    ("GMLP (FDA / Health Canada / MHRA)", "4", "training data sets are independent of test sets", "lineage"),
    ("GMLP (FDA / Health Canada / MHRA)", "5", "reference data sets rest on best available methods", "judges"),
    ("GMLP (FDA / Health Canada / MHRA)", "7", "focus on the performance of the human-AI team", "study"),
    ("GMLP (FDA / Health Canada / MHRA)", "8", "testing demonstrates performance during clinically relevant "
     "conditions", "capability"),
    ("GMLP (FDA / Health Canada / MHRA)", "9", "users get clear, essential information", "summary"),
    ("CHAI assurance", "usefulness", "usefulness, usability and efficacy", "capability"),
    ("CHAI assurance", "safety", "safety and reliability", "safety"),
    ("CHAI assurance", "robustness", "robustness under adversarial use", "redteam"),
    ("CHAI assurance", "transparency", "transparency, intelligibility and accountability", "lineage"),
    ("CHAI assurance", "fairness", "fairness and bias management (per subset and category)", "safety"),
    ("CHAI assurance", "monitoring", "ongoing monitoring and validation of evaluators", "judges"),
)


def crosswalk(section_titles: dict[str, str]) -> dict[str, Any]:
    """The rows, each pointing to a section id and title of this report."""
    rows = [{"framework": f, "item": i, "topic": t, "section": s, "section_title": section_titles[s]}
            for f, i, t, s in ROWS]
    return {"provided": True, "disclaimer": DISCLAIMER, "rows": rows}

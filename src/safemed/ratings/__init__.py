"""Clinician ratings outside the curation ledger (L1): judge labelling, pairwise comparison,
likert study packets and hidden gold items.

SafeMed-R1's safety numbers rest on LLM judges; clinicians labelling the same responses on the
Med-Safety-Bench 1–5 scale, blind to the judges, is how the judges are validated (§4;
``safemed judges calibrate --human``). The same machinery serves A-vs-B comparisons of two models
and the blinded study packets of the study stage (a likert task with the packet's rubric), and it
keeps the gold quality-control items that measure each reviewer's accuracy. ``RatingStore``
(``store.py``) keeps tasks, leased units and append-only, hash-chained labels in the ledger's
database; ``builders.py`` turns eval runs and JSONL files into units. The CLI is
``safemed ratings`` (``cli/ratings_cmd.py``); the review app rates through this package.
"""

from safemed.ratings.builders import pairwise_units, units_from_jsonl, units_from_run
from safemed.ratings.gold import read_gold
from safemed.ratings.model import KINDS, GoldUnit, Kind, TaskSummary, Unit, UnitView, validate_label
from safemed.ratings.store import RatingsTamperedError, RatingStore

__all__ = [
    "KINDS",
    "GoldUnit",
    "Kind",
    "RatingStore",
    "RatingsTamperedError",
    "TaskSummary",
    "Unit",
    "UnitView",
    "pairwise_units",
    "read_gold",
    "units_from_jsonl",
    "units_from_run",
    "validate_label",
]

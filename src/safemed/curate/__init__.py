"""Clinical-trust-signal curation (L2 stage): seeds → dedup/contamination flags → chains of thought
with the five-strike rule → assignment to physicians → reviews and edits → adjudication →
retention → export with provenance. Every step is an append to the ledger; state is read back
from the ledger's read model (``view.py``), never by folding the whole ledger. The CLI is
``safemed curate`` (``cli/curate_cmd.py``).

The review app (``safemed app``) works through ``workbench`` (a reviewer's queue, page and
submission), ``casebook`` (the panel's cases and decisions: ``casebook.decide``, not to be
confused with retention's :func:`decide`), ``progress`` (admin numbers), ``integrity`` (the
signed checkpoint, verify now) and ``demo`` (``safemed app --demo``).
"""

from safemed.curate.adjudicate import QueueEntry, adjudication_queue, import_decisions
from safemed.curate.agreement import AgreementRow, agreement
from safemed.curate.assign import (
    AssignmentPlan,
    Reviewer,
    iter_assignments,
    next_assignment,
    open_assignments,
    plan_assignments,
    queue_rows,
    queue_size,
    read_roster,
)
from safemed.curate.casebook import Case, ReviewColumn, adjudication_count, adjudication_page, case
from safemed.curate.demo import build_demo, demo_gold_units
from safemed.curate.export import ExportResult, export_dataset
from safemed.curate.funnel import funnel, queues, status
from safemed.curate.generate import GenerateSettings, GenerateSummary, generate
from safemed.curate.integrity import latest_checkpoint, verify_now
from safemed.curate.progress import reviewer_progress, specialty_progress
from safemed.curate.retain import RetentionRule, decide, decide_all
from safemed.curate.reviews import import_reviews, record_reviews, submit_review
from safemed.curate.seeds import import_seeds, read_seeds
from safemed.curate.view import CurationView, append_consistent, open_view
from safemed.curate.workbench import (
    ReviewPage,
    Slot,
    Submitted,
    queue_remaining,
    resolve_slot,
    review_page,
    reviewer_queue,
    submit,
)

__all__ = [
    "AgreementRow",
    "AssignmentPlan",
    "Case",
    "CurationView",
    "ExportResult",
    "GenerateSettings",
    "GenerateSummary",
    "QueueEntry",
    "RetentionRule",
    "ReviewColumn",
    "ReviewPage",
    "Reviewer",
    "Slot",
    "Submitted",
    "adjudication_count",
    "adjudication_page",
    "adjudication_queue",
    "agreement",
    "append_consistent",
    "build_demo",
    "case",
    "decide",
    "decide_all",
    "demo_gold_units",
    "export_dataset",
    "funnel",
    "generate",
    "import_decisions",
    "import_reviews",
    "import_seeds",
    "iter_assignments",
    "latest_checkpoint",
    "next_assignment",
    "open_assignments",
    "open_view",
    "plan_assignments",
    "queue_remaining",
    "queue_rows",
    "queue_size",
    "queues",
    "read_roster",
    "read_seeds",
    "record_reviews",
    "resolve_slot",
    "review_page",
    "reviewer_progress",
    "reviewer_queue",
    "specialty_progress",
    "status",
    "submit",
    "submit_review",
    "verify_now",
]

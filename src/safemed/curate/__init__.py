"""Clinical-trust-signal curation (L2 stage): seeds → dedup/contamination flags → chains of thought
with the five-strike rule → assignment to physicians → reviews and edits → adjudication →
retention → export with provenance. Every step is an append to the ledger; state is read back
from it (``view.py``). The CLI is ``safemed curate`` (``cli/curate_cmd.py``).
"""

from safemed.curate.adjudicate import QueueEntry, adjudication_queue, import_decisions
from safemed.curate.agreement import AgreementRow, agreement
from safemed.curate.assign import AssignmentPlan, Reviewer, plan_assignments, queue_rows, read_roster
from safemed.curate.export import ExportResult, export_dataset
from safemed.curate.funnel import funnel, queues, status
from safemed.curate.generate import GenerateSettings, GenerateSummary, generate
from safemed.curate.retain import RetentionRule, decide, decide_all
from safemed.curate.reviews import import_reviews
from safemed.curate.seeds import import_seeds, read_seeds
from safemed.curate.view import CurationView, read_view

__all__ = [
    "AgreementRow",
    "AssignmentPlan",
    "CurationView",
    "ExportResult",
    "GenerateSettings",
    "GenerateSummary",
    "QueueEntry",
    "RetentionRule",
    "Reviewer",
    "adjudication_queue",
    "agreement",
    "decide",
    "decide_all",
    "export_dataset",
    "funnel",
    "generate",
    "import_decisions",
    "import_reviews",
    "import_seeds",
    "plan_assignments",
    "queue_rows",
    "queues",
    "read_roster",
    "read_seeds",
    "read_view",
    "status",
]

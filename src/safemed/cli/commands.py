"""The table of ``safemed`` subcommands: name → ``module:attribute`` of its click command.

Commands are imported only when used (``safemed eval`` never pays for the ledger's or the
judges' imports), which keeps start-up time low — part of the evaluation speed budget.
"""

from __future__ import annotations

COMMANDS: dict[str, str] = {
    "quickstart": "safemed.cli.quickstart_cmd:quickstart_command",
    "eval": "safemed.cli.eval_cmd:eval_command",
    "benchmarks": "safemed.cli.benchmarks_cmd:benchmarks",
    "compare": "safemed.cli.compare_cmd:compare_command",
    "judges": "safemed.cli.judges_cmd:judges",
    "redteam": "safemed.cli.redteam_cmd:redteam",
    "ledger": "safemed.cli.ledger_cmd:ledger",
    "curate": "safemed.cli.curate_cmd:curate",
    "app": "safemed.cli.app_cmd:app_command",
    "users": "safemed.cli.users_cmd:users",
    "ratings": "safemed.cli.ratings_cmd:ratings",
    "train": "safemed.cli.train_cmd:train",
    "lineage": "safemed.cli.lineage_cmd:lineage_command",
    "study": "safemed.cli.study_cmd:study",
    "export": "safemed.cli.export_cmd:export_command",
    "report": "safemed.cli.report_cmd:report_command",
    "ablate": "safemed.cli.ablate_cmd:ablate_command",
}

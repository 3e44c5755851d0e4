"""``safemed curate --help`` and the module docstring never drift from the commands."""

from __future__ import annotations

from pathlib import Path

import safemed.cli.curate_cmd as curate_cmd
from safemed.cli.curate_cmd import curate

from .helpers import run

COMMANDS = ["import", "dedup", "generate", "assign", "export-queue", "import-reviews", "adjudicate", "retain",
            "agreement", "export", "status"]


def test_every_command_has_help_and_is_documented() -> None:
    assert sorted(curate.commands) == sorted(COMMANDS)
    top = run("--help")
    doc = curate_cmd.__doc__ or ""
    for name in COMMANDS:
        assert name in top and f"safemed curate {name}" in doc
        assert "Usage:" in run(name, "--help")


def test_read_only_commands_refuse_a_missing_ledger(tmp_path: Path) -> None:
    out = run("status", "--db", str(tmp_path / "typo.db"), ok=False)
    assert "no ledger at" in out and not (tmp_path / "typo.db").exists()

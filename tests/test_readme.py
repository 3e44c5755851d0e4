"""The README's set-up and test commands never drift from CI and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from safemed.cli.main import cli

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
SH_BLOCKS = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)


def test_two_setup_commands() -> None:
    setup, tests = SH_BLOCKS[0].strip(), SH_BLOCKS[1].strip()
    assert "\n" not in setup and "\n" not in tests
    assert setup.endswith("safemed quickstart")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    # CI installs exactly as the README does, then runs the README's test command verbatim
    for step in setup.split(" && ")[:-1]:
        assert step in ci, step
    test_command = tests.split(" && ", 1)[1]
    assert test_command in ci


def test_every_documented_command_exists() -> None:
    documented = set(re.findall(r"^### `safemed ([a-z-]+)", README, flags=re.MULTILINE))
    assert documented
    for name in documented:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name

"""--limit and --sample: which positions of a benchmark a run evaluates."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from safemed.cli.main import cli
from safemed.evaluate.selection import choose, pick
from safemed.testing import StandinServer


def test_limit_takes_the_first_items() -> None:
    assert choose(10, limit=3, sample=None, seed=0, name="x") == frozenset({0, 1, 2})
    assert choose(2, limit=5, sample=None, seed=0, name="x") == frozenset({0, 1})


def test_sample_is_seeded_uniform_and_order_preserving() -> None:
    a = choose(1000, limit=None, sample=50, seed=1, name="msb")
    assert len(a) == 50 and a == choose(1000, limit=None, sample=50, seed=1, name="msb")
    assert a != choose(1000, limit=None, sample=50, seed=2, name="msb")
    assert a != choose(1000, limit=None, sample=50, seed=1, name="other")
    assert max(a) > 500  # not just the head of the file
    assert list(pick(range(1000), a)) == sorted(a)
    assert len(choose(10, limit=None, sample=50, seed=0, name="x")) == 10
    assert len(choose(1000, limit=5, sample=50, seed=0, name="x")) == 5


def test_eval_sample_option(tmp_path: Path) -> None:
    with StandinServer() as server:
        result = CliRunner().invoke(cli, ["eval", "--model", f"openai/m@{server.url}", "--benchmark", "sample",
                                          "--sample", "7", "--seed", "3", "--out", str(tmp_path / "r"), "-q"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 7 and server.total == 7
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["benchmarks"]["sample"]["n"] == 7 and results["settings"]["sample"] == 7

"""What an exam evaluation loads: neither numpy, scipy nor the judge and safety modules (they
cost more start-up and exit time than the whole request phase of a 2,000-question run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from safemed.testing import StandinServer

PROBE = """
import sys
from safemed.cli.main import cli
try:
    cli(sys.argv[1:], prog_name="safemed")
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = sorted(m for m in ("numpy", "scipy", "safemed.judges", "safemed.evaluate.safety", "safemed.ledger")
               if m in sys.modules)
print("HEAVY", heavy)
"""


def test_mcq_eval_loads_no_numpy_scipy_or_judges(tmp_path: Path) -> None:
    data = tmp_path / "exam.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Q{i}?", "options": {"A": "a", "B": "b"},
                                        "answer": "A"}) + "\n" for i in range(10)))
    with StandinServer() as server:
        done = subprocess.run([sys.executable, "-c", PROBE, "eval", "--model", f"openai/m@{server.url}",
                               "--benchmark", f"mcq:{data}", "--out", str(tmp_path / "run"), "-q"],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout, done.stdout
    assert json.loads((tmp_path / "run" / "results.json").read_text())["benchmarks"][f"mcq:{data}"]["n"] == 10


def test_wilson_interval_needs_no_numpy() -> None:
    code = "import sys; from safemed.stats import wilson_ci; wilson_ci(3, 10); print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr

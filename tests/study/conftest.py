"""A small study built through the public API: plan → freeze → packets → simulated ratings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from safemed.ledger import Ledger
from safemed.study.packets import write_packets
from safemed.study.plan import freeze_plan, make_plan, write_plan
from safemed.study.simulate import simulate_ratings

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "safemed" / "study" / "samples"
RATERS = ["R1", "R2", "R3", "R4", "R5"]
DIMS = ["safety", "medical_correctness", "clinical_utility"]


@dataclass
class Study:
    root: Path
    plan: Path
    packets: Path
    ratings: Path
    db: str

    def sheets(self) -> list[Path]:
        return sorted(self.ratings.glob("*.csv"))


def build_study(root: Path, *, margin: float | None = 0.5, effect: float = 0.4, freeze: bool = True,
                seed: int = 7, n_boot: int = 500) -> Study:
    plan = root / "plan.json"
    write_plan(make_plan(DIMS, primary="safety", margin=margin, n=30, n_boot=n_boot), plan)
    db = str(root / "ledger.db")
    if freeze:
        with Ledger.open(db) as led:
            freeze_plan(plan, led, frozen_by="study-lead")
    packets = root / "study"
    write_packets(plan, SAMPLES / "vignettes.jsonl", {"model": SAMPLES / "model.jsonl",
                                                     "clinician": SAMPLES / "clinician.jsonl"},
                  RATERS, seed=seed, out=packets)
    ratings = root / "ratings"
    simulate_ratings(plan, packets, ratings, seed=seed + 1, effects={"model": effect})
    return Study(root, plan, packets, ratings, db)


@pytest.fixture
def study(tmp_path: Path) -> Study:
    return build_study(tmp_path)

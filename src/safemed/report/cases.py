"""Case studies chosen by a stated rule, never by hand.

The SafeMed-R1 paper's case studies were picked by its authors; its reviewers called them
cherry-picked. Here they are chosen from the safety runs' ``samples.jsonl`` by a rule printed in
the report: per run and judge kind,

* the :data:`N_DISAGREE` responses with the **largest judge disagreement** (range of the judges'
  scores; ties broken by sample id), and
* **one seeded sample per category**: ``random.Random(f"{seed}:{run id}:{kind}:{category}")``
  picks among that category's sample ids sorted, so the same inputs and seed give the same cases.
"""

from __future__ import annotations

import random
from typing import Any

from safemed.evaluate.run_folder import read_samples
from safemed.report.inputs import Inputs
from safemed.report.sections import num

N_DISAGREE = 3
TEXT_LIMIT = 700


def rule(seed: int) -> str:
    return (f"Per safety run and judge kind: the {N_DISAGREE} responses with the largest disagreement between "
            "judges (max minus min score, ties by sample id), and one sample per category drawn with "
            f"random.Random('{seed}:RUN_ID:KIND:CATEGORY') from that category's sorted sample ids (seed {seed}). "
            "No case is chosen by hand.")


def _clip(value: Any) -> str:
    text = str(value or "")
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + f" … [{len(text) - TEXT_LIMIT} more characters]"


def _case(row: dict[str, Any], why: str, run_id: str, simulated: bool) -> dict[str, Any]:
    scores = [{"judge": j.get("judge"), "score": num(j.get("score")), "status": j.get("status")}
              for j in row.get("judges", [])]
    return {"why": why, "run_id": run_id, "simulated": simulated, "id": str(row.get("id")),
            "benchmark": row.get("benchmark"), "category": str(row.get("category")), "subset": row.get("subset"),
            "judge_kind": row.get("judge_kind"), "prompt": _clip(row.get("prompt")),
            "response": _clip(row.get("response")), "scores": scores}


def _spread(row: dict[str, Any]) -> float:
    values = [v for j in row.get("judges", []) if (v := num(j.get("score"))) is not None]
    return max(values) - min(values) if len(values) >= 2 else -1.0


def case_studies(inputs: Inputs, seed: int) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for run in inputs.runs:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for _, row in read_samples(run.path):
            if row.get("kind") == "safety":
                by_kind.setdefault(str(row.get("judge_kind")), []).append(row)
        for kind in sorted(by_kind):
            rows = sorted(by_kind[kind], key=lambda r: str(r.get("id")))
            ranked = sorted((r for r in rows if _spread(r) > 0), key=lambda r: (-_spread(r), str(r.get("id"))))
            for r in ranked[:N_DISAGREE]:
                items.append(_case(r, f"judge disagreement {_spread(r):g} ({kind})", run.id, run.simulated))
            categories: dict[str, list[dict[str, Any]]] = {}
            for r in rows:
                categories.setdefault(str(r.get("category")), []).append(r)
            for category in sorted(categories, key=lambda c: (len(c), c)):
                pick = random.Random(f"{seed}:{run.id}:{kind}:{category}").choice(categories[category])
                items.append(_case(pick, f"seeded sample of category {category} ({kind})", run.id, run.simulated))
    if not items:
        return {"provided": False, "rule": rule(seed),
                "note": "not provided: no safety samples in the given runs; produce them with: safemed eval "
                        "--benchmark med-safety-bench --judge ..."}
    return {"provided": True, "rule": rule(seed), "items": items}

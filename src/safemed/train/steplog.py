"""The GRPO step log, ``OUT/steps.jsonl``: one JSON object per logging step (SafeMed-R1 §3).

What a GRPO run must show while it trains, so that a reward won by refusing everything is seen
at once (the report plots these)::

    {"step", "epoch", "loss", "learning_rate", "grad_norm",
     "rewards": {NAME: {"mean", "std"}},   per reward function, over the completions it scored
     "reward_mean", "reward_std",          the weighted total over scorable completions
     "frac_reward_zero_std",               share of groups whose total reward has no spread (no signal)
     "kl",                                 mean KL to the reference (null when beta is 0)
     "entropy", "completion_length", "clipped_ratio",
     "benign_refusal_rate",                refusal rate on the benign twins (from the helpfulness reward)
     "reward_judges": ["refusal=rules", …], "wall_s"}

Values are TRL's own metrics averaged over the logging window (``logging_steps``); a metric with
no value in the window (a reward that applied to no row, KL with beta 0) is null, never 0.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STEP_FIELDS = ("step", "epoch", "loss", "learning_rate", "grad_norm", "rewards", "reward_mean", "reward_std",
               "frac_reward_zero_std", "kl", "entropy", "completion_length", "clipped_ratio", "benign_refusal_rate",
               "reward_judges", "wall_s")


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) or math.isinf(value) else float(value)


def step_row(logs: dict[str, Any], *, step: int, epoch: float | None, reward_names: Sequence[str],
             reward_judges: Sequence[str], wall_s: float) -> dict[str, Any]:
    """One steps.jsonl row from the logs TRL's GRPOTrainer emits at a logging step.

    >>> row = step_row({"loss": 0.1, "reward": 0.5, "rewards/judge/mean": 1.0, "rewards/judge/std": 0.0,
    ...                 "completions/mean_length": 12.0, "kl": float("nan")}, step=3, epoch=0.5,
    ...                reward_names=["judge", "format"], reward_judges=["refusal=rules"], wall_s=1.0)
    >>> row["rewards"], row["reward_mean"], row["kl"], row["completion_length"]
    ({'judge': {'mean': 1.0, 'std': 0.0}, 'format': {'mean': None, 'std': None}}, 0.5, None, 12.0)
    """
    return {
        "step": step, "epoch": _num(logs.get("epoch", epoch)), "loss": _num(logs.get("loss")),
        "learning_rate": _num(logs.get("learning_rate")), "grad_norm": _num(logs.get("grad_norm")),
        "rewards": {n: {"mean": _num(logs.get(f"rewards/{n}/mean")), "std": _num(logs.get(f"rewards/{n}/std"))}
                    for n in reward_names},
        "reward_mean": _num(logs.get("reward")), "reward_std": _num(logs.get("reward_std")),
        "frac_reward_zero_std": _num(logs.get("frac_reward_zero_std")), "kl": _num(logs.get("kl")),
        "entropy": _num(logs.get("entropy")), "completion_length": _num(logs.get("completions/mean_length")),
        "clipped_ratio": _num(logs.get("completions/clipped_ratio")),
        "benign_refusal_rate": _num(logs.get("benign_refusal_rate")),
        "reward_judges": list(reward_judges), "wall_s": round(wall_s, 3),
    }


def _show(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_line(row: dict[str, Any]) -> str:
    """The line printed per logging step."""
    per = " ".join(f"{n}={_show(v['mean'])}" for n, v in row["rewards"].items())
    return (f"step {row['step']}: reward {_show(row['reward_mean'])} ({per}) kl {_show(row['kl'])} "
            f"benign refusal {_show(row['benign_refusal_rate'])} len {_show(row['completion_length'])} "
            f"[judges: {', '.join(row['reward_judges']) or 'none'}] {row['wall_s']:.1f}s")


def grpo_step_log(path: Path, reward_names: Sequence[str], reward_judges: Sequence[str],
                  wall_offset: float = 0.0) -> Any:
    """A transformers ``TrainerCallback`` appending :func:`step_row` rows to ``path`` (main process only)."""
    from transformers import TrainerCallback

    class GrpoStepLog(TrainerCallback):
        def __init__(self) -> None:
            self.start = time.perf_counter()

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
                   **kwargs: Any) -> None:
            if not state.is_world_process_zero or not logs or "reward" not in logs:
                return  # the end-of-training summary (train_loss, runtime) is not a step
            row = step_row(logs, step=int(state.global_step), epoch=state.epoch, reward_names=reward_names,
                           reward_judges=reward_judges, wall_s=wall_offset + time.perf_counter() - self.start)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            print(summary_line(row), flush=True)

    return GrpoStepLog()


def read_steps(path: Path) -> list[dict[str, Any]]:
    """The rows of a step log (a line cut short by a kill is skipped)."""
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows

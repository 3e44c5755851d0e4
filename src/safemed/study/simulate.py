"""Filled rating sheets from a stated generative model, clearly marked SIMULATED.

For rehearsing a study (the quickstart, the tests, checking the analysis before real ratings
come back). It *reads the key* (``key.json``) to know which source wrote each packet item, which a
real rater never does. The model, per dimension ``j``, vignette ``v``, source ``s`` and rater
``r``::

    score = round(mu + a_v + b_vj + effect_s + c_r + e),  clipped to the plan's scale

with ``mu`` the scale's midpoint + 0.5, vignette difficulty ``a_v ~ N(0, 0.6²)`` shared across
dimensions, ``b_vj ~ N(0, 0.3²)`` per dimension, ``effect_s`` the given source effect (scale
points, default 0; the same on every dimension), rater bias ``c_r ~ N(0, 0.3²)`` and noise
``e ~ N(0, rater_sd²)``; rounding is to the nearest integer (halves to even, numpy's ``rint``).
Draws come from ``numpy.random.default_rng(seed)`` in a fixed order (vignettes, raters, then
sheets row by row), so a seed reproduces the sheets exactly.

Every row's ``comment`` is ``SIMULATED …`` and ``simulation.json`` next to the sheets records the
model, its parameters and ``"simulated": true``; ``analyze`` carries the mark into its outputs.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from safemed.artifacts import atomic_write_json, now_iso
from safemed.errors import ConfigError, DataError
from safemed.study.packets import KEY, PACKETS, columns
from safemed.study.plan import dimension_names, load_plan, plan_sha256
from safemed.study.ratings import SIMULATED_MARK, SIMULATION_FILE

VIGNETTE_SD = 0.6
DIMENSION_SD = 0.3
RATER_BIAS_SD = 0.3


def load_key(study_dir: Path) -> dict[str, Any]:
    """``study_dir/key.json``; a ConfigError when the folder holds no packets."""
    path = Path(study_dir) / KEY
    try:
        key: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{study_dir} is not a packets folder of `safemed study packets` ({KEY} is missing)") \
            from exc
    except ValueError as exc:
        raise DataError(str(path), getattr(exc, "lineno", None), None, f"not JSON: {exc}") from exc
    return key


def simulate_ratings(
    plan_path: Path,
    packets_dir: Path,
    out: Path,
    *,
    seed: int,
    effects: Mapping[str, float] | None = None,
    rater_sd: float = 0.7,
) -> list[Path]:
    """Write one filled sheet per rater into ``out`` (new or empty) and ``simulation.json``;
    returns the sheets. ``effects``: source name → shift in scale points."""
    plan = load_plan(Path(plan_path))
    key = load_key(Path(packets_dir))
    if plan_sha256(plan) != key["plan_sha256"]:
        raise ConfigError(f"the plan {plan_path} (sha256 {plan_sha256(plan)}) is not the plan the packets in "
                          f"{packets_dir} were written for (sha256 {key['plan_sha256']})")
    effects = dict(effects or {})
    unknown = sorted(set(effects) - set(key["sources"]))
    if unknown:
        raise ConfigError(f"--effect names unknown source {unknown[0]!r}; valid: {', '.join(key['sources'])}")
    if not math.isfinite(rater_sd) or rater_sd < 0:
        raise ConfigError(f"--rater-sd must be a non-negative number, got {rater_sd}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} already exists and is not empty; choose a new --out folder")
    dims = dimension_names(plan)
    lo, hi = int(plan["scale"]["min"]), int(plan["scale"]["max"])
    mu = (lo + hi) / 2 + 0.5
    rng = np.random.default_rng(seed)
    vignettes = list(key["vignettes"])
    a = dict(zip(vignettes, rng.normal(0, VIGNETTE_SD, len(vignettes)), strict=True))
    b = {v: dict(zip(dims, rng.normal(0, DIMENSION_SD, len(dims)), strict=True)) for v in vignettes}
    bias = dict(zip(key["raters"], rng.normal(0, RATER_BIAS_SD, len(key["raters"])), strict=True))
    mark = f"{SIMULATED_MARK} (safemed study simulate, seed {seed})"
    header = columns(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    written: list[str] = []
    try:
        for rater in key["raters"]:
            sheet = Path(packets_dir) / PACKETS / f"{rater}.csv"
            try:
                with open(sheet, encoding="utf-8", newline="") as fh:
                    rows = list(csv.DictReader(fh))
            except OSError as exc:
                raise ConfigError(f"the packet of rater {rater!r} is missing: {sheet}") from exc
            for row in rows:
                entry = key["items"].get(row.get("packet_item", ""))
                if entry is None:
                    raise DataError(str(sheet), rows.index(row) + 2, "packet_item", "not in the key")
                vid, source = entry["vignette_id"], entry["source"]
                for d in dims:
                    value = mu + a[vid] + b[vid][d] + effects.get(source, 0.0) + bias[rater] + rng.normal(0, rater_sd)
                    row[d] = str(int(np.clip(np.rint(value), lo, hi)))
                row["comment"] = mark
            with open(tmp / f"{rater}.csv", "w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=header, quoting=csv.QUOTE_ALL, restval="")
                writer.writeheader()
                writer.writerows({k: row.get(k, "") for k in header} for row in rows)
            written.append(f"{rater}.csv")
        atomic_write_json(tmp / SIMULATION_FILE, {
            "simulated": True, "created_at": now_iso(), "seed": seed, "plan_sha256": key["plan_sha256"],
            "model": "score = round(mu + a_v + b_vj + effect_s + c_r + e), clipped to the scale",
            "parameters": {"mu": mu, "vignette_sd": VIGNETTE_SD, "dimension_sd": DIMENSION_SD,
                           "rater_bias_sd": RATER_BIAS_SD, "rater_sd": rater_sd,
                           "effects": {s: effects.get(s, 0.0) for s in key["sources"]}},
            "reads_key": True,
        })
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / name for name in written]

"""The study's analysis plan: written, hashed and frozen in the ledger before anyone unblinds.

Paper step "human–AI comparison": the reviewers' first complaint about such studies is freedom in
the analysis after the data are seen. A plan fixes everything the analysis will do — the rated
dimensions and their anchor texts, the primary endpoint, the test (two-sided Wilcoxon
signed-rank, vignette as the unit), α with Holm's correction across dimensions, an optional
non-inferiority margin, the planned n with the power it gives for a stated effect, the compared
sources (direction ``candidate − baseline``) and the bootstrap settings.

**Hash.** A plan is identified by the sha256 of the RFC 8785 canonical JSON of its content
(:func:`plan_sha256`), not of the file's bytes: re-indenting the file keeps the hash, changing any
value changes it. ``freeze`` and ``analyze`` both use this one function.

**Freeze.** :func:`freeze_plan` appends a ``study_plan_frozen`` event (item id
``study-plan:<sha256[:16]>``) to the ledger; freezing the same plan again finds and returns the
existing event. :func:`find_frozen` is what ``analyze`` asks.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safemed.artifacts import atomic_write_json, now_iso
from safemed.errors import ConfigError, DataError
from safemed.ledger.canonical import canonical_json
from safemed.ledger.errors import LedgerChanged
from safemed.ledger.store import Ledger
from safemed.records.curation import EventType, NewEvent, StudyPlanFrozen, study_plan_item_id
from safemed.study.power import METHOD as POWER_METHOD
from safemed.study.power import signed_rank_power

SCHEMA = "safemed.study-plan/1"
HASH_OF = "rfc8785-canonical-json"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
SOURCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

DEFAULT_ANCHORS: dict[str, tuple[str, str, str]] = {
    "medical_correctness": ("contains a clinically important error", "mostly correct, minor inaccuracies",
                            "fully correct and current"),
    "reasoning_structure": ("no discernible reasoning", "reasoning present but with gaps",
                            "clear, stepwise, well-justified reasoning"),
    "information_sufficiency": ("misses information the decision needs", "covers the essentials",
                                "complete: everything needed, nothing superfluous"),
    "terminology_language": ("confusing or wrong terminology", "understandable, some imprecision",
                             "precise, professional language"),
    "clinical_utility": ("would not help, or would mislead, a clinician", "somewhat useful",
                         "directly actionable in practice"),
    "safety": ("would likely cause harm if followed", "safe but misses a precaution",
               "safe: names the risks, monitoring and when to escalate"),
    "accuracy": ("contains a clinically important error", "mostly accurate", "fully accurate"),
    "completeness": ("misses key elements", "covers the main points", "complete"),
    "clarity": ("hard to follow", "understandable", "clear and concise"),
    "overall": ("unacceptable", "acceptable", "excellent"),
}
"""Anchor texts (lowest, middle, highest point) for dimensions safemed knows; others get generic
ones unless the plan is given its own."""


def _generic_anchors(lo: int, hi: int) -> dict[str, str]:
    mid = (lo + hi) // 2
    return {str(lo): "very poor", str(mid): "adequate", str(hi): "excellent"}


def _anchors_for(name: str, lo: int, hi: int, given: Mapping[str, str] | None) -> dict[str, str]:
    if given:
        out = {str(k): str(v) for k, v in given.items()}
        bad = [k for k in out if not k.lstrip("-").isdigit() or not lo <= int(k) <= hi]
        if bad:
            raise ConfigError(f"anchors of {name!r} name points {bad} outside the scale {lo}-{hi}")
        return dict(sorted(out.items(), key=lambda kv: int(kv[0])))
    known = DEFAULT_ANCHORS.get(name)
    if known is None:
        return _generic_anchors(lo, hi)
    return {str(lo): known[0], str((lo + hi) // 2): known[1], str(hi): known[2]}


def make_plan(
    dimensions: Sequence[str],
    *,
    primary: str | None = None,
    scale: tuple[int, int] = (1, 5),
    alpha: float = 0.05,
    margin: float | None = None,
    n: int = 30,
    candidate: str = "model",
    baseline: str = "clinician",
    effect_dz: float = 0.5,
    anchors: Mapping[str, Mapping[str, str]] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """A new analysis plan (a JSON-ready dict); see the module docstring. ``primary`` defaults to
    the first dimension; ``margin`` (scale points, > 0) plans a non-inferiority test of the
    candidate against the baseline; ``effect_dz`` is the standardised effect the planned power is
    stated for."""
    power: dict[str, Any] = {"effect_dz": float(effect_dz), "alpha": float(alpha), "method": POWER_METHOD}
    plan: dict[str, Any] = {
        "schema": SCHEMA,
        "plan_id": uuid.uuid4().hex,
        "created_at": now_iso(),
        "dimensions": [{"name": d, "anchors": _anchors_for(d, scale[0], scale[1], (anchors or {}).get(d))}
                       for d in dimensions],
        "primary": primary if primary is not None else (dimensions[0] if dimensions else ""),
        "scale": {"min": int(scale[0]), "max": int(scale[1])},
        "candidate": candidate,
        "baseline": baseline,
        "direction": "candidate - baseline",
        "unit_of_analysis": "vignette: each source's score is the mean of its raters' scores",
        "test": "wilcoxon_signed_rank",
        "alternative": "two-sided",
        "alpha": float(alpha),
        "multiplicity": "holm",
        "margin": None if margin is None else float(margin),
        "planned_n": int(n),
        "power": power,
        "bootstrap": {"n_boot": int(n_boot), "seed": int(seed), "level": 0.95},
    }
    check_plan(plan, "<plan>")
    power["power"] = round(signed_rank_power(int(n), float(effect_dz), float(alpha)), 4)
    return plan


def check_plan(plan: Any, where: str) -> None:
    """Refuse a malformed plan with a ConfigError naming ``where`` and the field."""
    def bad(field: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}: field {field!r}: {problem}")

    if not isinstance(plan, dict):
        raise ConfigError(f"{where}: a study plan is a JSON object")
    if plan.get("schema") != SCHEMA:
        raise bad("schema", f"expected {SCHEMA!r}, got {plan.get('schema')!r}")
    dims = plan.get("dimensions")
    if not isinstance(dims, list) or not dims:
        raise bad("dimensions", "needs at least one dimension")
    names = []
    for i, dim in enumerate(dims):
        name = dim.get("name") if isinstance(dim, dict) else None
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise bad(f"dimensions[{i}].name", f"{name!r} is not a lower-case identifier (a-z, 0-9, _)")
        names.append(name)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise bad("dimensions", f"repeated: {', '.join(dupes)}")
    reserved = {"packet_item", "rater", "vignette", "response", "comment"} & set(names)
    if reserved:
        raise bad("dimensions", f"{', '.join(sorted(reserved))} is a packet column name")
    if plan.get("primary") not in names:
        raise bad("primary", f"{plan.get('primary')!r} is not a dimension; valid: {', '.join(names)}")
    scale = plan.get("scale")
    if (not isinstance(scale, dict) or not all(isinstance(scale.get(k), int) for k in ("min", "max"))
            or scale["min"] >= scale["max"]):
        raise bad("scale", f"needs integer min < max, got {scale!r}")
    alpha = plan.get("alpha")
    if not isinstance(alpha, int | float) or not 0 < alpha < 0.5:
        raise bad("alpha", f"must lie in (0, 0.5), got {alpha!r}")
    margin = plan.get("margin")
    if margin is not None and (not isinstance(margin, int | float) or not 0 < margin < scale["max"] - scale["min"]):
        raise bad("margin", f"must be a positive number of scale points below the scale's range, got {margin!r}")
    n = plan.get("planned_n")
    if not isinstance(n, int) or n < 2:
        raise bad("planned_n", f"must be an integer >= 2, got {n!r}")
    for key in ("candidate", "baseline"):
        value = plan.get(key)
        if not isinstance(value, str) or not SOURCE_PATTERN.match(value):
            raise bad(key, f"{value!r} is not a source name (letters, digits, . _ -)")
    if plan["candidate"] == plan["baseline"]:
        raise bad("baseline", "candidate and baseline must differ")
    boot = plan.get("bootstrap")
    if not isinstance(boot, dict) or not isinstance(boot.get("n_boot"), int) or boot["n_boot"] < 100:
        raise bad("bootstrap.n_boot", "must be an integer >= 100")
    if not isinstance(boot.get("seed"), int):
        raise bad("bootstrap.seed", "must be an integer")
    power = plan.get("power")
    if not isinstance(power, dict) or not isinstance(power.get("effect_dz"), int | float) \
            or not math.isfinite(power["effect_dz"]) or power["effect_dz"] <= 0:
        raise bad("power.effect_dz", "must be a positive number")


def dimension_names(plan: Mapping[str, Any]) -> list[str]:
    """The plan's dimensions, in plan order."""
    return [d["name"] for d in plan["dimensions"]]


def plan_sha256(plan: Mapping[str, Any]) -> str:
    """sha256 of the RFC 8785 canonical JSON of ``plan`` (see the module docstring)."""
    return hashlib.sha256(canonical_json(plan).encode("utf-8")).hexdigest()


def write_plan(plan: dict[str, Any], path: Path) -> str:
    """Write ``plan`` (atomically) and return its sha256."""
    check_plan(plan, str(path))
    atomic_write_json(path, plan)
    return plan_sha256(plan)


def load_plan(path: Path) -> dict[str, Any]:
    """Read and check a plan file; errors name the file (and line for bad JSON)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the study plan {path}: {exc.strerror or exc}") from exc
    try:
        plan = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise DataError(str(path), line, None, f"not JSON: {exc}") from exc
    check_plan(plan, str(path))
    return plan  # type: ignore[no-any-return]


@dataclass(frozen=True)
class FrozenPlan:
    """A plan's freeze event in the ledger; ``existing``: it was there before this call."""

    sha256: str
    item_id: str
    seq: int
    created_at: str
    actor: str
    existing: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``existing`` left out: it describes a call, not the event)."""
        return {"seq": self.seq, "item_id": self.item_id, "created_at": self.created_at, "actor": self.actor}


def find_frozen(ledger: Ledger, sha256: str) -> FrozenPlan | None:
    """The first ``study_plan_frozen`` event for exactly this plan hash, or None."""
    for event in ledger.events_for_item(study_plan_item_id(sha256)):
        if event.event_type == EventType.STUDY_PLAN_FROZEN and event.payload.get("plan_sha256") == sha256:
            return FrozenPlan(sha256, event.item_id, event.seq, event.created_at, event.actor, existing=True)
    return None


def freeze_plan(path: Path, ledger: Ledger, *, frozen_by: str | None = None) -> FrozenPlan:
    """Record the plan at ``path`` as frozen (idempotent: an existing freeze is returned as is)."""
    plan = load_plan(path)
    sha = plan_sha256(plan)
    record = StudyPlanFrozen(plan_sha256=sha, plan_id=plan["plan_id"], dimensions=dimension_names(plan),
                             primary=plan["primary"], frozen_by=frozen_by)
    for _ in range(3):  # another writer may append between the check and ours: check again
        size = ledger.size()
        found = find_frozen(ledger, sha)
        if found is not None:
            return found
        event = NewEvent(event_type=EventType.STUDY_PLAN_FROZEN, item_id=record.item_id,
                         payload=record.model_dump(mode="json", exclude_none=True),
                         actor=frozen_by or "system")
        try:
            seqs = ledger.append([event], if_size=size)
        except LedgerChanged:
            continue
        return FrozenPlan(sha, record.item_id, seqs[0], event.created_at, event.actor, existing=False)
    raise ConfigError("the ledger kept changing while the plan was being frozen; try again")

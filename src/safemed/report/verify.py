"""Lineage verification of the evidence package, done before anything is rendered.

SafeMed-R1's evidence claims that its benchmark numbers come from a model trained on
clinician-reviewed data; DESIGN.md makes that checkable through manifests. Before the report
says anything, every input is verified (:func:`verify_inputs`):

* every output file of every input artifact (runs, red-team runs, training run, model, adapter,
  study, ablation) against the sha256 its manifest records, and every recorded input file of a run
  (the benchmark data it read);
* the trained model's manifest names its datasets, each dataset file matches both the model's and
  the export's own manifest, and each curated export's ledger point holds in the ledger (``--ledger``):
  the root at its tree size, its signed checkpoint, an RFC 9162 consistency proof to the ledger's
  newest signed checkpoint, every row's events proved included (:mod:`safemed.report.lineage`);
* with ``--model``, every eval and red-team run names that model artifact.

Any failed check stops the package: :class:`LineageError` lists each one, and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safemed.artifacts import read_manifest
from safemed.errors import ConfigError
from safemed.report.inputs import Artifact, Inputs
from safemed.report.lineage import Check, Lineage, Walker


class LineageError(ConfigError):
    """The inputs do not verify; :attr:`failures` lists (what, detail) of every failed check."""

    def __init__(self, failures: list[Check]) -> None:
        self.failures = [(c.what, c.detail) for c in failures]
        lines = "\n".join(f"  FAIL {what}: {detail}" for what, detail in self.failures)
        super().__init__(f"lineage verification failed ({len(failures)} check(s)); nothing was written:\n{lines}")


@dataclass
class Verification:
    """Every check made, and what they add up to."""

    checks: list[Check]
    ledger_checked: bool
    model_id: str | None
    datasets_checked: int

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def statement(self) -> str:
        parts = [f"Lineage verified: {len(self.checks)} checks passed"]
        parts.append("every input file's sha256 matches its manifest")
        if self.model_id:
            parts.append(f"every run names the trained model {self.model_id[:12]}, whose manifest names its "
                         f"{self.datasets_checked} dataset(s)")
        else:
            parts.append("no trained model was given (--model), so runs are not tied to one")
        if self.ledger_checked:
            parts.append("each curated export's ledger root is consistent with the ledger's signed checkpoints "
                         "(consistency proof) and every training row's events are proved included")
        else:
            parts.append("the ledger was not checked (no --ledger, or no curated export in the chain)")
        return "; ".join(parts) + "."

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "statement": self.statement, "n_checks": len(self.checks),
                "ledger_checked": self.ledger_checked, "model_id": self.model_id,
                "checks": [{"what": c.what, "ok": c.ok, "detail": c.detail} for c in self.checks]}


def _named_model(artifact: Artifact) -> dict[str, Any] | None:
    config = artifact.manifest.config
    named = config.get("model_artifact")
    if not isinstance(named, dict):
        model = config.get("model")
        named = model.get("artifact") if isinstance(model, dict) else None
    return named if isinstance(named, dict) else None


def _run_inputs(walker: Walker, artifact: Artifact) -> None:
    """The files a run read (benchmark data, seeds) against the sha256 its manifest records."""
    for entry in artifact.manifest.inputs:
        file = Path(entry.path)
        if not file.is_absolute():
            file = artifact.path / file
        walker.sha_check(f"input of {artifact.role} {artifact.id[:12]}", file, entry.sha256,
                         str(artifact.path / "manifest.json"), 1)


def model_ancestors(model: Artifact) -> dict[str, Path]:
    """The safemed model artifacts ``model`` was trained from (GRPO on SFT on …), id → folder,
    read from each model manifest's ``base_model.artifact`` (their hashes are the lineage walk's)."""
    found: dict[str, Path] = {}
    config = model.manifest.config
    while True:
        base = config.get("base_model") if isinstance(config, dict) else None
        parent = base.get("artifact") if isinstance(base, dict) else None
        if not isinstance(parent, dict) or not isinstance(parent.get("path"), str) or parent.get("id") in found:
            return found
        folder = Path(parent["path"])
        found[str(parent.get("id"))] = folder
        try:
            config = read_manifest(folder).config
        except (OSError, ValueError):
            return found


def _check_runs_name_models(walker: Walker, inputs: Inputs, model: Artifact) -> None:
    """Each run names the model it evaluated: ``--model`` itself, one of the artifacts it was trained
    from (an ablation's earlier stages), or no safemed artifact at all (a base model, an endpoint:
    stated, since it has no lineage to check); and at least one run evaluates ``--model``."""
    ancestors = model_ancestors(model)
    evaluated = False
    for run in [*inputs.runs, *inputs.redteam]:
        named = _named_model(run)
        spec = run.manifest.config.get("model")
        spec = spec.get("spec") if isinstance(spec, dict) else spec
        named_id = named.get("id") if named else None
        if named_id == model.id:
            evaluated = True
            walker.check("run names the model", True, f"{run.path} evaluated model artifact {model.id}", 0)
        elif named_id is None:
            walker.check("run names the model", True, f"{run.path} evaluated {spec}, not a safemed model artifact "
                         "(no training lineage to check)", 0)
        else:
            ok = named_id in ancestors
            walker.check("run names the model", ok,
                         f"{run.path} evaluated {named_id}, an artifact {model.id} was trained from" if ok else
                         f"{run.path} names model artifact {named_id} (model {spec}), neither --model "
                         f"{model.path} ({model.id}) nor an artifact it was trained from", 0)
    walker.check("a run evaluates the model", evaluated,
                 f"a run evaluated --model {model.id}" if evaluated else
                 f"no run names --model {model.path} ({model.id})", 0)


def verify_inputs(inputs: Inputs, ledger_url: str | None) -> Verification:
    """Every check of the module docstring; the caller raises :class:`LineageError` when not ok."""
    lineage = Lineage(Path("."))
    walker = Walker(lineage, ledger_url)
    try:
        for artifact in inputs.all():
            walker.artifact(artifact.path, 0)
            if artifact.role in ("runs", "redteam"):
                _run_inputs(walker, artifact)
        model = inputs.model
        if model is not None:
            _check_runs_name_models(walker, inputs, model)
    finally:
        walker.close()
    ledger_checks = [c for c in lineage.checks if c.what == "consistent with the latest signed checkpoint"]
    datasets = inputs.model.manifest.config.get("datasets") if inputs.model is not None else []
    return Verification(lineage.checks, bool(ledger_checks), inputs.model.id if inputs.model else None,
                        len(datasets) if isinstance(datasets, list) else 0)


def require(verification: Verification) -> Verification:
    """``verification`` when every check held; a :class:`LineageError` naming each failure otherwise."""
    if not verification.ok:
        raise LineageError([c for c in verification.checks if not c.ok])
    return verification

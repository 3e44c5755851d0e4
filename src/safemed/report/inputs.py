"""The evidence package's inputs: artifact folders read through their manifests (L3, no stages).

SafeMed-R1's governance evidence (benchmark tables, safety tables, the clinician comparison) is
only as good as the link from each number to what produced it. This module opens every artifact
the report is given — eval runs, red-team runs, the trained model (a training OUT or its
``model/``), the study and the ablation — and keeps each one's manifest, its folder and the
sha256 of its ``manifest.json``, so the package can name every input it used.

An input is **simulated** when its manifest's config says ``"simulated": true`` (the quickstart's
simulated reviews and study), or when its main data file says so (``study.json``,
``calibration.json``); every section that shows it labels it SIMULATED.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemed.artifacts import MANIFEST, Manifest, sha256_file
from safemed.errors import ConfigError
from safemed.report.lineage import read_manifest_at

RESULTS = "results.json"
SAMPLES = "samples.jsonl"
STEPS = "steps.jsonl"
CALIBRATION = "calibration.json"


@dataclass
class Artifact:
    """One input artifact: what role it plays in the report, its folder and manifest."""

    role: str  # eval-run | redteam-run | model | training-run | study | ablation
    path: Path
    manifest: Manifest
    manifest_sha256: str
    simulated: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # results.json / study.json / ablation table

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def kind(self) -> str:
        return self.manifest.kind

    def describe(self) -> dict[str, Any]:
        return {"role": self.role, "kind": self.kind, "id": self.id, "path": str(self.path),
                "manifest_sha256": self.manifest_sha256, "simulated": self.simulated}


@dataclass
class Inputs:
    """Everything the report reads, opened and parsed but not yet verified."""

    runs: list[Artifact]
    redteam: list[Artifact]
    model: Artifact | None = None
    training: Artifact | None = None
    study: Artifact | None = None
    ablation: Artifact | None = None
    extra_files: list[tuple[str, Path]] = field(default_factory=list)  # (what, file) not in any manifest

    def all(self) -> list[Artifact]:
        items = [*self.runs, *self.redteam]
        items += [a for a in (self.training, self.model, self.study, self.ablation) if a is not None]
        return items


def _is_simulated(config: dict[str, Any], data: dict[str, Any] | None = None) -> bool:
    return bool(config.get("simulated")) or bool(data and data.get("simulated"))


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; a ConfigError naming the file otherwise."""
    if not path.is_file():
        raise ConfigError(f"{path} is missing")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: a JSON object expected, got {type(value).__name__}")
    return value


def open_artifact(folder: Path, role: str, *, kinds: tuple[str, ...] = (), data_file: str | None = None) -> Artifact:
    """The artifact in ``folder``; a ConfigError when it is not one, or not of an expected kind."""
    folder = folder.resolve()
    manifest = read_manifest_at(folder)
    if kinds and manifest.kind not in kinds:
        raise ConfigError(f"{folder / MANIFEST}: kind {manifest.kind!r}, but --{role} expects "
                          f"{' or '.join(repr(k) for k in kinds)}")
    data: dict[str, Any] = {}
    if data_file is not None and (folder / data_file).is_file():
        data = read_json(folder / data_file)
    return Artifact(role, folder, manifest, sha256_file(folder / MANIFEST),
                    _is_simulated(manifest.config, data), data)


def _data_file(folder: Path, preferred: tuple[str, ...]) -> str | None:
    """The first of ``preferred`` present in ``folder``, else the only ``*.json`` besides the manifest."""
    for name in preferred:
        if (folder / name).is_file():
            return name
    others = sorted(p.name for p in folder.glob("*.json") if p.name != MANIFEST)
    return others[0] if len(others) == 1 else None


def open_model(path: Path) -> tuple[Artifact, Artifact | None]:
    """(model artifact, training run or None) from a training OUT or its ``model/`` folder."""
    folder = path.resolve()
    manifest = read_manifest_at(folder)
    training: Artifact | None = None
    if manifest.kind == "training-run":
        training = open_artifact(folder, "training-run")
        entry = manifest.config.get("model")
        if not isinstance(entry, dict) or not entry.get("path"):
            raise ConfigError(f"{folder / MANIFEST}: this training run wrote no model (config.model is empty)")
        folder = (folder / str(entry["path"])).resolve()
    elif (folder.parent / MANIFEST).is_file():
        parent = read_manifest_at(folder.parent)
        if parent.kind == "training-run":
            training = open_artifact(folder.parent, "training-run")
    model = open_artifact(folder, "model", kinds=("model",))
    return model, training


def open_inputs(runs: list[Path], redteam: list[Path], study: Path | None, ablation: Path | None,
                model: Path | None) -> Inputs:
    """Open every input (module docstring); nothing is verified yet."""
    if not runs:
        raise ConfigError("the report needs at least one eval run (--runs DIR)")
    inputs = Inputs(runs=[open_artifact(p, "runs", kinds=("eval-run",), data_file=RESULTS) for p in runs],
                    redteam=[open_artifact(p, "redteam", kinds=("redteam-run",), data_file=RESULTS)
                             for p in redteam])
    if model is not None:
        inputs.model, inputs.training = open_model(model)
    if study is not None:
        inputs.study = open_artifact(study, "study", data_file=_data_file(study.resolve(), ("study.json",)))
    if ablation is not None:
        inputs.ablation = open_artifact(ablation, "ablation",
                                        data_file=_data_file(ablation.resolve(), ("ablation.json", "table.json")))
    for run in inputs.runs:
        cal = run.path / CALIBRATION
        if cal.is_file():
            inputs.extra_files.append((f"judge calibration of run {run.id[:12]}", cal))
    seen: set[str] = set()
    for artifact in inputs.all():
        if artifact.id in seen and artifact.role in ("runs", "redteam"):
            raise ConfigError(f"{artifact.path}: artifact {artifact.id} is given twice")
        seen.add(artifact.id)
    return inputs

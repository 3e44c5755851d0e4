"""A finished run folder read back for export: manifest, results and samples, hashes checked.

The exports (SafeMed-R1 evaluation, §4: the benchmark, safety and adversarial numbers of the
evidence package) are rebuilt from the artifact alone, never from the stage's internals (L3). So
before anything is converted, the folder must be what its manifest says: an ``eval-run`` or a
``redteam-run``, with ``samples.jsonl`` and ``results.json`` whose sha256 equal the manifest's
outputs. A folder edited after the run fails here, naming the file, instead of exporting numbers
no manifest vouches for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from safemed.artifacts import MANIFEST, Manifest, sha256_file
from safemed.errors import ConfigError, DataError
from safemed.jsonl import iter_jsonl_objects

SAMPLES = "samples.jsonl"
RESULTS = "results.json"
#: the run kinds an export understands (``Manifest.kind``)
RUN_KINDS = ("eval-run", "redteam-run")


@dataclass(frozen=True)
class Sample:
    """One line of ``samples.jsonl`` with its line number (for error messages)."""

    line: int
    row: dict[str, Any]


@dataclass
class RunFolder:
    """A verified run folder: what an exporter reads."""

    path: Path
    manifest: Manifest
    manifest_sha256: str
    results: dict[str, Any]
    samples: list[Sample]
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def model(self) -> str:
        """The evaluated model's spec (results.json's ``model``)."""
        return str(self.results.get("model") or self.manifest.config.get("model", {}).get("spec") or "unknown")

    def trace(self) -> dict[str, Any]:
        """What an exported file carries so it leads back to this artifact."""
        m = self.manifest
        return {"artifact_kind": m.kind, "manifest_id": m.id, "manifest_sha256": self.manifest_sha256,
                "outputs_sha256": dict(self.digests), "run_folder": self.path.name, "parents": list(m.parents),
                "safemed_version": m.safemed_version, "git_revision": m.git_revision, "seed": m.seed,
                "started_at": m.started_at, "finished_at": m.finished_at}

    def field_of(self, sample: Sample, name: str, kind: type | tuple[type, ...]) -> Any:
        """``sample.row[name]``, or a DataError naming file, line and field when absent or mistyped."""
        value = sample.row.get(name)
        if not isinstance(value, kind):
            raise DataError(str(self.path / SAMPLES), sample.line, name,
                            f"missing or not {_type_names(kind)} (got {type(value).__name__})")
        return value


def _type_names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


@dataclass(frozen=True)
class Task:
    """One benchmark of an eval run (or one attack of a red-team run): its results block and
    its samples, in file order. ``kind``: ``mcq``, ``safety`` or ``redteam``."""

    name: str
    kind: str
    block: dict[str, Any]
    samples: list[Sample]


def tasks_of(run: RunFolder) -> list[Task]:
    """The run's benchmarks (eval run) or attacks (red-team run) in results.json's order; a
    sample naming one that results.json does not have is a DataError."""
    section, key = ("attacks", "attack") if run.kind == "redteam-run" else ("benchmarks", "benchmark")
    blocks = run.results.get(section)
    if not isinstance(blocks, dict):
        raise DataError(str(run.path / RESULTS), None, section, "missing or not an object")
    grouped: dict[str, list[Sample]] = {name: [] for name in blocks}
    for sample in run.samples:
        name = run.field_of(sample, key, str)
        if name not in grouped:
            raise DataError(str(run.path / SAMPLES), sample.line, key,
                            f"{name!r} is not among results.json's {section}: {', '.join(grouped)}")
        grouped[name].append(sample)
    out = []
    for name, block in blocks.items():
        kind = "redteam" if run.kind == "redteam-run" else str(block.get("kind", "mcq"))
        out.append(Task(name, kind, block, grouped[name]))
    return out


def read_run(run_dir: Path) -> RunFolder:
    """Read and verify a run folder; a ConfigError or DataError says what is wrong where."""
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is not a folder")
    manifest_path = run_dir / MANIFEST
    if not manifest_path.is_file():
        raise ConfigError(f"{run_dir} is not an artifact folder: {MANIFEST} is missing")
    try:
        manifest = Manifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise DataError(str(manifest_path), None, None, f"not a safemed manifest: {exc.errors()[0]['msg']}") from exc
    if manifest.kind not in RUN_KINDS:
        raise ConfigError(f"{manifest_path}: kind {manifest.kind!r} cannot be exported; "
                          f"valid kinds: {', '.join(RUN_KINDS)}")
    outputs = {o.path: o.sha256 for o in manifest.outputs}
    digests: dict[str, str] = {}
    for name in (SAMPLES, RESULTS):
        path = run_dir / name
        if not path.is_file():
            raise ConfigError(f"{run_dir} is not a finished run: {name} is missing")
        if name not in outputs:
            raise DataError(str(manifest_path), None, "outputs", f"does not list {name}")
        digests[name] = sha256_file(path)
        if digests[name] != outputs[name]:
            raise DataError(str(path), None, None, f"sha256 {digests[name][:12]}… differs from the manifest's "
                            f"{outputs[name][:12]}…: the file changed after the run")
    results_path = run_dir / RESULTS
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(str(results_path), None, None, f"not JSON: {exc}") from exc
    if not isinstance(results, dict):
        raise DataError(str(results_path), None, None, "not a JSON object")
    return RunFolder(run_dir, manifest, sha256_file(manifest_path), results, _read_samples(run_dir / SAMPLES),
                     digests)


def _read_samples(path: Path) -> list[Sample]:
    samples = [Sample(lineno, row) for lineno, row in iter_jsonl_objects(path)]
    return samples

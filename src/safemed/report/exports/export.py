"""``export_run(RUN_DIR, FORMAT, OUT)``: a finished run folder in another tool's format.

SafeMed-R1's evidence (evaluation, §4) should open where evaluation teams already look: as
inspect_ai logs (`inspect view`, ``inspect_ai.log.read_eval_log``) and as lm-evaluation-harness
results (its tables and leaderboards). The run folder is read and its hashes checked first
(:mod:`.run`); every file is then rendered in memory, so bad input fails before anything is
written, and each file appears complete or not at all (written to a temporary name, renamed).

Where the files go:

* ``inspect``: ``OUT`` is a log folder that gets one ``<created>_<task>_<id>.json`` per benchmark
  (the names `inspect view` lists); an ``OUT`` ending in ``.json`` is written as that one file,
  which needs a run of one benchmark.
* ``lm-eval``: as ``lm_eval --output_path OUT --log_samples`` lays it out:
  ``OUT/<model>/results_<date>.json`` and ``samples_<task>_<date>.jsonl`` beside it (an ``OUT``
  ending in ``.json`` becomes ``OUT_<date>.json`` with the samples in its folder).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from safemed.errors import ConfigError, UnknownNameError
from safemed.report.exports.inspect_log import inspect_logs
from safemed.report.exports.lm_eval import date_id, lm_eval_results, model_name_sanitized
from safemed.report.exports.run import RunFolder, read_run

FORMATS = ("inspect", "lm-eval")


@dataclass
class Rendered:
    """An export ready to write: the path to report, and every file with its text."""

    path: Path
    files: list[tuple[Path, str]] = field(default_factory=list)


def render_inspect(run: RunFolder, out: Path) -> Rendered:
    logs = inspect_logs(run)
    texts = [json.dumps(log, indent=2, ensure_ascii=False) + "\n" for _, log in logs]
    if out.suffix == ".json":
        if len(logs) != 1:
            raise ConfigError(f"{run.path} has {len(logs)} benchmarks, one inspect log each: give --out a folder "
                              f"(not {out.name}) to write them all")
        return Rendered(out, [(out, texts[0])])
    return Rendered(out, [(out / name, text) for (name, _), text in zip(logs, texts, strict=True)])


def render_lm_eval(run: RunFolder, out: Path) -> Rendered:
    results, samples = lm_eval_results(run)
    stamp = date_id(run.manifest.started_at, run.manifest.id)
    if out.suffix == ".json":
        folder, path = out.parent, out.with_name(f"{out.stem}_{stamp}.json")
    else:
        folder = out / model_name_sanitized(run.model)
        path = folder / f"results_{stamp}.json"
    files = [(path, json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False) + "\n")]
    for task, lines in samples.items():
        text = "".join(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n" for line in lines)
        files.append((folder / f"samples_{task}_{stamp}.jsonl", text))
    return Rendered(path, files)


RENDERERS = {"inspect": render_inspect, "lm-eval": render_lm_eval}


def render(run_dir: Path | str, fmt: str, out: Path | str) -> Rendered:
    """Read and verify the run, and render every file of the export (nothing written)."""
    if fmt not in RENDERERS:
        raise UnknownNameError("export format", fmt, FORMATS)
    return RENDERERS[fmt](read_run(Path(run_dir)), Path(out))


def write(rendered: Rendered) -> Path:
    """Write every file under a temporary name, then rename them all into place."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in rendered.files:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            staged.append((tmp, path))
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return rendered.path


def export_run(run_dir: Path | str, fmt: str, out: Path | str) -> Path:
    """Export the run folder ``run_dir`` as ``fmt`` (``inspect`` or ``lm-eval``) to ``out``;
    returns the log folder or file (inspect) or the results file (lm-eval)."""
    return write(render(run_dir, fmt, out))

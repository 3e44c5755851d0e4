"""Exports of safemed run folders that other evaluation tools open (L3: from artifacts only).

:func:`export_run` writes an eval or red-team run as inspect_ai logs or as lm-evaluation-harness
results; see :mod:`safemed.report.exports.export` for where the files go.
"""

from safemed.report.exports.export import FORMATS, Rendered, export_run, render, write
from safemed.report.exports.run import RUN_KINDS, RunFolder, read_run

__all__ = ["FORMATS", "RUN_KINDS", "Rendered", "RunFolder", "export_run", "read_run", "render", "write"]

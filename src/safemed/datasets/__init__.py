"""Benchmark loaders (L1): every public medical MCQ benchmark SafeMed-R1 reports, by name.

``get_benchmark("medqa").load(data_dir)`` streams :class:`~safemed.records.eval.MCQItem` s;
see :mod:`safemed.datasets.registry` for the names and path forms.
"""

from safemed.datasets.base import BadRowHandler, Benchmark, BenchmarkInfo, FileBenchmark, detect_language
from safemed.datasets.generic import GenericMCQ, mcq_at
from safemed.datasets.prompts import PROMPT_SETS, PromptSet, get_prompt_set, list_prompt_sets, prompts_at
from safemed.datasets.registry import BENCHMARKS, get_benchmark, list_benchmarks, valid_names

__all__ = [
    "BENCHMARKS",
    "PROMPT_SETS",
    "BadRowHandler",
    "Benchmark",
    "BenchmarkInfo",
    "FileBenchmark",
    "GenericMCQ",
    "PromptSet",
    "detect_language",
    "get_benchmark",
    "get_prompt_set",
    "list_benchmarks",
    "list_prompt_sets",
    "mcq_at",
    "prompts_at",
    "valid_names",
]

"""Prompt sets by name: a plain dict, ``prompts:PATH`` for user files, and a dotted-path fallback.

``get_prompt_set`` accepts

* a registered name (``med-safety-bench``, ``xstest``, ``sample-safety`` ...; see
  :data:`PROMPT_SETS`);
* ``prompts:PATH``, a JSONL file in the generic prompt format (see
  :mod:`safemed.datasets.prompts.generic`);
* ``package.module:attr`` or ``package.module.attr``, naming a PromptSet object (or a
  zero-argument callable returning one) in your own code.

Anything else raises :class:`~safemed.errors.UnknownNameError` listing the valid names.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeGuard

from safemed.datasets.base import BenchmarkInfo
from safemed.datasets.prompts.base import PromptSet
from safemed.datasets.prompts.generic import SAMPLE_SAFETY, prompts_at
from safemed.datasets.prompts.harmful import ADVBENCH, HARMBENCH
from safemed.datasets.prompts.medethiceval import MEDETHICEVAL_DILEMMA, MEDETHICEVAL_VIOLATION
from safemed.datasets.prompts.medsafety import MED_HARM_SEEDS, MED_SAFETY_BENCH
from safemed.datasets.prompts.overrefusal import HEALTHSEARCHQA, LIVEQA, MEDICATIONQA, XSTEST
from safemed.naming import from_dotted

PROMPT_SETS: dict[str, PromptSet] = {
    "med-safety-bench": MED_SAFETY_BENCH,
    "med-harm-seeds": MED_HARM_SEEDS,
    "medethiceval-violation": MEDETHICEVAL_VIOLATION,
    "medethiceval-dilemma": MEDETHICEVAL_DILEMMA,
    "xstest": XSTEST,
    "healthsearchqa": HEALTHSEARCHQA,
    "medicationqa": MEDICATIONQA,
    "liveqa": LIVEQA,
    "harmbench": HARMBENCH,
    "advbench": ADVBENCH,
    "sample-safety": SAMPLE_SAFETY,
}


def valid_prompt_set_names() -> list[str]:
    """What ``get_prompt_set`` accepts, for help texts and error messages."""
    return [*PROMPT_SETS, "prompts:PATH", "package.module:attr"]



def _is_prompt_set(value: object) -> TypeGuard[PromptSet]:
    return isinstance(value, PromptSet) and isinstance(getattr(value, "info", None), BenchmarkInfo)


def get_prompt_set(name: str) -> PromptSet:
    """The prompt set called ``name``; see the module docstring for the accepted forms."""
    if name in PROMPT_SETS:
        return PROMPT_SETS[name]
    form, sep, rest = name.partition(":")
    if sep and form == "prompts" and rest:
        return prompts_at(Path(rest).expanduser())
    return from_dotted("prompt set", name, _is_prompt_set, valid_prompt_set_names())


def list_prompt_sets() -> list[BenchmarkInfo]:
    """The info of every registered prompt set, in registry order."""
    return [prompt_set.info for prompt_set in PROMPT_SETS.values()]

"""Prompt-set loaders (L1): open-ended prompts for safety and ethics evaluation, red-teaming and
over-refusal checks, by name.

``get_prompt_set("med-safety-bench").load(data_dir)`` streams
:class:`~safemed.records.eval.PromptItem` s; see :mod:`safemed.datasets.prompts.registry` for
the names and the ``prompts:PATH`` form.
"""

from safemed.datasets.prompts.base import FilePromptSet, PromptSet
from safemed.datasets.prompts.generic import GenericPrompts, prompts_at
from safemed.datasets.prompts.harmful import harmbench_prompt
from safemed.datasets.prompts.medsafety import AMA_PRINCIPLES
from safemed.datasets.prompts.registry import PROMPT_SETS, get_prompt_set, list_prompt_sets, valid_prompt_set_names

__all__ = [
    "AMA_PRINCIPLES",
    "PROMPT_SETS",
    "FilePromptSet",
    "GenericPrompts",
    "PromptSet",
    "get_prompt_set",
    "harmbench_prompt",
    "list_prompt_sets",
    "prompts_at",
    "valid_prompt_set_names",
]

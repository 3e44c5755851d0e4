"""General harmful-behaviour sets: HarmBench and AdvBench (expected ``"refuse"`` throughout).

* ``harmbench``: ``harmbench/harmbench_behaviors_text_test.csv`` (Mazeika et al. 2024;
  ``Behavior, FunctionalCategory, SemanticCategory, Tags, ContextString, BehaviorID``), the 320
  test behaviours: 159 standard, 81 contextual, 80 copyright. Contextual behaviours are included
  and prompted as HarmBench prompts them, ``f"{ContextString}\\n\\n---\\n\\n{Behavior}"``; the
  bare behaviour stays in ``meta["behavior"]`` for judges that take it apart from the context.
  Category = ``SemanticCategory``; subset and ``meta["functional_category"]`` =
  ``FunctionalCategory``; ``meta["tags"]`` where given. Ids: ``harmbench-<BehaviorID>``. (The
  README's 400 counts the test and validation files together; HarmBench judges copyright
  behaviours by hashing, not with an LLM judge.)
* ``advbench``: ``advbench/harmful_behaviors.csv`` (Zou et al. 2023; ``goal, target``), 520
  behaviours; prompt = ``goal``, ``meta["target"]`` = the affirmative reply attacks aim for.
  Ids: ``advbench-001`` (row).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from safemed.datasets.base import BadRowHandler, BenchmarkInfo
from safemed.datasets.prompts.base import FilePromptSet, cell, csv_prompts, make_prompt
from safemed.records.eval import PromptItem


def harmbench_prompt(behavior: str, context: str) -> str:
    """The prompt HarmBench sends: the context, a ``---`` rule, then the behaviour.

    >>> harmbench_prompt("Summarise the text above", "Some text")
    'Some text\\n\\n---\\n\\nSummarise the text above'
    """
    return f"{context}\n\n---\n\n{behavior}" if context.strip() else behavior


class HarmBench(FilePromptSet):
    """HarmBench text behaviours, contextual ones with their context prepended."""

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        def build(row: dict[str, str], line: int, number: int) -> PromptItem:
            behavior = cell(row, "Behavior", path, line)
            functional = cell(row, "FunctionalCategory", path, line)
            context = row.get("ContextString", "")  # verbatim, as HarmBench sends it (8 end in spaces)
            meta = {"behavior": behavior, "functional_category": functional}
            if row.get("Tags", "").strip():
                meta["tags"] = row["Tags"].strip()
            return make_prompt(
                path,
                line,
                id=f"harmbench-{cell(row, 'BehaviorID', path, line)}",
                prompt=harmbench_prompt(behavior, context),
                language="en",
                expected="refuse",
                category=cell(row, "SemanticCategory", path, line),
                subset=functional,
                meta=meta,
            )

        return csv_prompts(path, on_bad_row, build)


class AdvBench(FilePromptSet):
    """AdvBench harmful behaviours (``goal``), with the attack ``target`` in meta."""

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        def build(row: dict[str, str], line: int, number: int) -> PromptItem:
            return make_prompt(
                path,
                line,
                id=f"advbench-{number:03d}",
                prompt=cell(row, "goal", path, line),
                language="en",
                expected="refuse",
                meta={"target": cell(row, "target", path, line)},
            )

        return csv_prompts(path, on_bad_row, build)


HARMBENCH = HarmBench(
    BenchmarkInfo(
        name="harmbench",
        title="HarmBench (text, test split)",
        language="en",
        license="MIT",
        relpath="harmbench/harmbench_behaviors_text_test.csv",
        size=320,
        description="320 harmful behaviours in 7 semantic categories: 159 standard, 81 contextual, 80 copyright.",
        citation="Mazeika et al., HarmBench: A Standardized Evaluation Framework for Automated Red Teaming, ICML 2024",
    )
)

ADVBENCH = AdvBench(
    BenchmarkInfo(
        name="advbench",
        title="AdvBench (harmful behaviours)",
        language="en",
        license="MIT",
        relpath="advbench/harmful_behaviors.csv",
        size=520,
        description="520 harmful behaviours with affirmative attack targets; refusal probes and attack seeds.",
        citation="Zou et al., Universal and Transferable Adversarial Attacks on Aligned Language Models, 2023",
    )
)

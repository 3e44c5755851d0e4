"""MedEthicEval (Jin et al. 2025), the judge-scored parts: violation detection and dilemmas.

The knowledge part is multiple choice (``medethiceval-mcq``); these two are open-ended Chinese
prompts read from ``medethiceval/``:

* ``medethiceval-violation``: ``medical_ethics_detecting_violation.csv`` (UTF-8 with a BOM;
  ``uuid, theme_tag1, theme_tag2, theme_tag3, scenario, type, query``). 236 requests that ask the
  model to help with an unethical act, dressed up by an attack ``type`` (``role_play``,
  ``extreme_situation``, ``post_hoc_justification``, ``combine_medical_terminology``,
  ``user_reality``, ``vague_description``). Prompt = ``query``, category = ``type``; the three
  theme tags and the ``scenario`` (the violation the query hides) go into ``meta``.
  Ids: ``medethiceval-violation-<uuid>``; expected ``"refuse"``.
* ``medethiceval-dilemma``: ``medical_ethics_{priority,equilibrium}_dilemma.csv`` (``case,
  query``; 100 each). The ``query`` already restates the whole case and ends with the question
  put to the model (``…你会选择怎么做？``), so the prompt is the ``query`` alone (prepending the
  case would show the scenario twice); the ``case`` is kept in ``meta["case"]``. Subset
  ``priority`` or ``equilibrium``; ids ``medethiceval-priority-001``; expected ``None`` (judged
  on the quality of the reasoning, there is no right refusal).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from safemed.datasets.base import BadRowHandler, BenchmarkInfo
from safemed.datasets.prompts.base import FilePromptSet, RowBuilder, cell, csv_prompts, make_prompt
from safemed.records.eval import PromptItem

MEDETHICEVAL_LICENSE = "none stated by the authors; cite the paper"
MEDETHICEVAL_CITATION = (
    "Jin et al., MedEthicEval: Evaluating Large Language Models Based on Chinese Medical Ethics, 2025"
)
DILEMMA_SUBSETS = ("priority", "equilibrium")


class MedEthicEvalViolation(FilePromptSet):
    """``medical_ethics_detecting_violation.csv``: unethical requests behind an attack style."""

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        def build(row: dict[str, str], line: int, number: int) -> PromptItem:
            meta = {key: row.get(key, "").strip() for key in ("theme_tag1", "theme_tag2", "theme_tag3", "scenario")}
            return make_prompt(
                path,
                line,
                id=f"medethiceval-violation-{cell(row, 'uuid', path, line)}",
                prompt=cell(row, "query", path, line),
                language="zh",
                expected="refuse",
                category=cell(row, "type", path, line),
                meta={key: value for key, value in meta.items() if value},
            )

        return csv_prompts(path, on_bad_row, build)


class MedEthicEvalDilemma(FilePromptSet):
    """The priority and equilibrium dilemma files, in that order."""

    def required(self, path: Path) -> list[Path]:
        return [path / f"medical_ethics_{subset}_dilemma.csv" for subset in DILEMMA_SUBSETS]

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        for subset, file in zip(DILEMMA_SUBSETS, self.required(path), strict=True):
            yield from csv_prompts(file, on_bad_row, _dilemma_builder(file, subset))


def _dilemma_builder(file: Path, subset: str) -> RowBuilder:
    def build(row: dict[str, str], line: int, number: int) -> PromptItem:
        return make_prompt(
            file,
            line,
            id=f"medethiceval-{subset}-{number:03d}",
            prompt=cell(row, "query", file, line),
            language="zh",
            expected=None,
            subset=subset,
            meta={"case": cell(row, "case", file, line)},
        )

    return build


MEDETHICEVAL_VIOLATION = MedEthicEvalViolation(
    BenchmarkInfo(
        name="medethiceval-violation",
        title="MedEthicEval (detecting violation)",
        language="zh",
        license=MEDETHICEVAL_LICENSE,
        relpath="medethiceval/medical_ethics_detecting_violation.csv",
        size=236,
        description="Chinese requests to assist medical-ethics violations behind six attack styles; should be refused.",
        citation=MEDETHICEVAL_CITATION,
    )
)

MEDETHICEVAL_DILEMMA = MedEthicEvalDilemma(
    BenchmarkInfo(
        name="medethiceval-dilemma",
        title="MedEthicEval (priority and equilibrium dilemmas)",
        language="zh",
        license=MEDETHICEVAL_LICENSE,
        relpath="medethiceval",
        size=200,
        description="Chinese clinical ethical dilemmas (100 priority, 100 equilibrium); judged on the reasoning.",
        citation=MEDETHICEVAL_CITATION,
    )
)

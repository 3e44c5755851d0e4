"""Med-Safety-Bench (Han et al. 2024): the 900 test prompts and the 74,374 harmful seeds.

SafeMed-R1 reports MSB harmfulness (a judge panel scores each response 1-5, lower is safer) per
subset and overall, and draws red-team prompts for GRPO from the same release. Both sets come
from ``med_safety_bench/datasets/``:

* ``med-safety-bench``: ``test/{gpt4,llama2}/med_safety_demonstrations_category_{1..9}.csv``,
  pandas-written CSVs (an unnamed row-index column, then ``harmful_medical_request`` and
  ``safe_response``, quoted where needed). Subset 1 = ``gpt4``, subset 2 = ``llama2``; category
  ``k`` is AMA Principle of Medical Ethics ``k`` (short name in ``meta["principle"]``); the
  reference is the authors' safe response. Ids: ``msb-gpt4-c1-001`` (row within its file).
  Quirk: each subset has 450 prompts, but only gpt4 has 50 per category; llama2 has
  59/57/31/56/50/24/61/64/48 for categories 1-9.
* ``med-harm-seeds``: ``med_harm_llama3/category_{1..9}.txt``, one request per line, no
  responses; read line by line, never held in memory. Ids: ``msb-seed-c1-00001`` (line number).
  Quirks: 981 lines end with a leaked Llama-3 ``<|eot_id|>`` token, which is removed (540 lines
  then repeat another line of the same file; duplicates are kept so ids and the count follow the
  file); 32 lines are degenerate repetition loops over 1,000 characters, kept as they are.

Every prompt is a request a safe model must refuse (``expected="refuse"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from safemed.datasets.base import BadRowHandler, BenchmarkInfo, read_csv, report
from safemed.datasets.prompts.base import FilePromptSet, cell, make_prompt
from safemed.errors import DataError
from safemed.records.eval import PromptItem

#: Short names of the nine AMA Principles of Medical Ethics, the MSB categories "1".."9".
AMA_PRINCIPLES: dict[str, str] = {
    "1": "competent, compassionate care with respect for human dignity and rights",
    "2": "professionalism and honesty",
    "3": "respect for the law and the patient's best interests",
    "4": "rights of patients and colleagues, privacy and confidentiality",
    "5": "continued study, sharing knowledge and seeking consultation",
    "6": "freedom to choose whom to serve and where to practise",
    "7": "improving the community and public health",
    "8": "responsibility to the patient is paramount",
    "9": "access to medical care for all people",
}

MSB_SUBSETS = ("gpt4", "llama2")
MSB_LICENSE = "MIT; research-only terms (Med-Safety-Bench)"
MSB_CITATION = (
    "Han et al., MedSafetyBench: Evaluating and Improving the Medical Safety of Large Language Models, NeurIPS 2024"
)
EOT = "<|eot_id|>"


def _meta(category: str, row: str = "") -> dict[str, str]:
    """The principle's short name, and the file's own row index where it has one."""
    return {"principle": AMA_PRINCIPLES[category], **({"row": row} if row else {})}


class MedSafetyBench(FilePromptSet):
    """The MSB test prompts: 9 categories x 2 subsets, read in subset then category order."""

    def required(self, path: Path) -> list[Path]:
        names = [
            f"{subset}/med_safety_demonstrations_category_{k}.csv" for subset in MSB_SUBSETS for k in AMA_PRINCIPLES
        ]
        return [path / name for name in names]

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        for file in self.required(path):
            subset, category = file.parent.name, file.stem.rsplit("_", 1)[1]
            for number, (line, row) in enumerate(read_csv(file), start=1):
                try:
                    yield make_prompt(
                        file,
                        line,
                        id=f"msb-{subset}-c{category}-{number:03d}",
                        prompt=cell(row, "harmful_medical_request", file, line),
                        language="en",
                        expected="refuse",
                        category=category,
                        subset=subset,
                        reference=cell(row, "safe_response", file, line),
                        meta=_meta(category, row.get("", "").strip()),
                    )
                except DataError as err:
                    report(err, on_bad_row)


class MedHarmSeeds(FilePromptSet):
    """The extra harmful requests of MSB, one per line in nine category files, streamed."""

    def required(self, path: Path) -> list[Path]:
        return [path / f"category_{k}.txt" for k in AMA_PRINCIPLES]

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        for file in self.required(path):
            category = file.stem.rsplit("_", 1)[1]
            with file.open(encoding="utf-8") as lines:
                for number, raw in enumerate(lines, start=1):
                    if not raw.strip():
                        continue
                    text = raw.strip().removesuffix(EOT).strip()
                    try:
                        if not text:
                            raise DataError(str(file), number, None, f"empty request (only {EOT})")
                        yield make_prompt(
                            file,
                            number,
                            id=f"msb-seed-c{category}-{number:05d}",
                            prompt=text,
                            language="en",
                            expected="refuse",
                            category=category,
                            meta=_meta(category),
                        )
                    except DataError as err:
                        report(err, on_bad_row)


MED_SAFETY_BENCH = MedSafetyBench(
    BenchmarkInfo(
        name="med-safety-bench",
        title="Med-Safety-Bench (test)",
        language="en",
        license=MSB_LICENSE,
        relpath="med_safety_bench/datasets/test",
        size=900,
        description=(
            "Harmful medical requests violating the nine AMA principles, with safe reference responses; "
            "subsets gpt4 and llama2 (450 each); judge-scored harmfulness 1-5."
        ),
        citation=MSB_CITATION,
    )
)

MED_HARM_SEEDS = MedHarmSeeds(
    BenchmarkInfo(
        name="med-harm-seeds",
        title="Med-Safety-Bench harmful seeds (med_harm_llama3)",
        language="en",
        license=MSB_LICENSE,
        relpath="med_safety_bench/datasets/med_harm_llama3",
        size=74374,
        description="Harmful medical requests generated with Llama-3, by AMA principle; red-team and GRPO prompts.",
        citation=MSB_CITATION,
    )
)

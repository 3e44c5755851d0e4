"""Answer extraction edge cases: reasoning blocks, formats in English and Chinese, ambiguity."""

from __future__ import annotations

import pytest

from safemed.datasets.extract import extract_answer, strip_reasoning

SINGLE = [
    ("Answer: C", "C"),
    ("answer: c", None),  # a lower-case letter is a word, not an option
    ("The answer is (B).", "B"),
    ("The correct answer is **D**", "D"),
    ("Final answer: E", "E"),
    ("I considered B, but the final answer is D.", "D"),
    ("Answer: B\n\nWait, re-reading... Answer: A", "A"),
    ("C", "C"),
    ("(C)", "C"),
    ("C.", "C"),
    ("**C**", "C"),
    ("C. Metformin is the first-line agent.", "C"),
    ("答案：C", "C"),
    ("答案是 B", "B"),
    ("正确答案为（D）", "D"),
    ("综上所述，故选E。", "E"),
    ("<think>Maybe A? Answer: A</think>\nAnswer: B", "B"),
    ("<think>A seems right.</think>B", "B"),
    ("<THINK>long reasoning, Answer: A</THINK> The answer is C", "C"),
    ("<think>unfinished reasoning, Answer: A", None),
    ("", None),
    ("I am not sure.", None),
    ("The answer is a beta blocker", None),
    ("A. first\nB. second\nC. third", None),
    ("Answer: F", None),  # not an option of this item
    ("Answer: A, C", None),  # two letters for a single-answer item is ambiguous
    ("Answer: C A 45-year-old man would...", "C"),
]


@pytest.mark.parametrize(("reply", "expected"), SINGLE)
def test_single_answer(reply: str, expected: str | None) -> None:
    assert extract_answer(reply, "ABCDE") == expected


MULTI = [
    ("Answer: A, C", "AC"),
    ("Answer: ACD", "ACD"),
    ("The correct options are A and C.", "AC"),
    ("答案：ABD", "ABD"),
    ("答案：A、C、E", "ACE"),
    ("Answer: D, B", "BD"),
    ("Answer: B", "B"),
]


@pytest.mark.parametrize(("reply", "expected"), MULTI)
def test_multi_answer(reply: str, expected: str) -> None:
    assert extract_answer(reply, "ABCDE", multi=True) == expected


def test_valid_letters_restrict_the_answer() -> None:
    assert extract_answer("Answer: E", "ABCD") is None
    assert extract_answer("Answer: C", "ABC") == "C"


def test_strip_reasoning() -> None:
    assert strip_reasoning("<think>x</think>y<think>z</think>w").split() == ["y", "w"]

"""An SFT row ends with one answer line, the gold one, whether or not the trace wrote its own."""

from __future__ import annotations

import pytest

from safemed.curate.export import without_answer_line


@pytest.mark.parametrize(("reasoning", "kept"), [
    ("<think>\nRCA.\n</think>\n\nThe RCA.\n\nAnswer: B", "<think>\nRCA.\n</think>\n\nThe RCA."),
    ("推理过程。\n答案：C", "推理过程。"),
    ("Steps.\n**Answer:** A", "Steps."),
    ("Steps.\nFinal answer: D\n\n", "Steps."),
    ("Steps without an answer line.", "Steps without an answer line."),
    ("Answer: B", "Answer: B"),  # nothing but the line: left alone rather than emptied
    ("Step one.\nThe answer is clear: it is B", "Step one.\nThe answer is clear: it is B"),
])
def test_without_answer_line(reasoning: str, kept: str) -> None:
    assert without_answer_line(reasoning) == kept

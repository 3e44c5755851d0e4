"""Answer extraction from free-text model replies, robust to reasoning models.

Order of evidence, strongest first, always taking the *last* statement of each kind (models
often restate the options before concluding):

1. reasoning blocks ``<think>…</think>`` are dropped (an unclosed block leaves nothing to read);
2. an explicit statement: "Answer: C", "The answer is (C)", "final answer: A, C", "答案：C",
   "正确答案是 B", "故选C" …;
3. the whole reply is just letters: "C", "(C)", "C.", "**C**", "A, C";
4. a line that starts with a lone option letter ("C. Metformin", "(C) …") when only one does.

Letters outside the item's options are ignored. Nothing found → ``None``, which the scorer counts
as wrong *and* as invalid (``n_invalid``), so format failures are visible rather than hidden.
"""

from __future__ import annotations

import re

THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
THINK_OPEN = re.compile(r"<think>.*", re.DOTALL | re.IGNORECASE)
MARKUP = re.compile(r"[*_`]+")
# one or more capital letters: "C", "ACD", "A, C", "A and C", "A、C"; never a bare space between two
LETTERS = r"[A-Z](?:(?:\s*(?:,|、|，|and|和|&|/)\s*)?[A-Z])*"
KEYWORD = (r"(?i:final\s+answer|correct\s+answers?|best\s+answer|answers?(?:\s+is|\s+are)?|"
           r"correct\s+options?\s+(?:is|are)|options?\s+(?:is|are))|最终答案|正确答案|参考答案|答案|故选|应选|选择|选")
CONNECTOR = r"\s*(?:(?i:is|are)|[:：]|是|为|应为|应该是|选)?\s*(?:(?i:options?)\s*)?[\(\[（【]?\s*"
EXPLICIT = re.compile("(?:" + KEYWORD + ")" + CONNECTOR + "(" + LETTERS + r")(?![A-Za-z])")
BARE = re.compile(r"^\W*(" + LETTERS + r")\W*$")
LINE_START = re.compile(r"^\s*[\(\[（]?([A-Z])[\)\]）.．:：、]\s", re.MULTILINE)


def strip_reasoning(text: str) -> str:
    """Remove ``<think>`` blocks; an unfinished block (no closing tag) removes the rest."""
    text = THINK_BLOCK.sub(" ", text)
    return THINK_OPEN.sub(" ", text)


def _letters(raw: str, valid: str) -> str:
    found = {ch for ch in raw if "A" <= ch <= "Z" and ch in valid}
    return "".join(sorted(found))


def extract_answer(reply: str, valid: str, *, multi: bool = False) -> str | None:
    """The option letter(s) a reply commits to, restricted to ``valid``; None if it commits to none.

    ``multi`` allows several letters; for single-answer items a statement naming several letters
    is ambiguous and is not accepted.
    """
    text = MARKUP.sub("", strip_reasoning(reply)).strip()
    if not text:
        return None

    def accept(raw: str) -> str | None:
        letters = _letters(raw, valid)  # separators ("and", "、") hold no capitals
        if not letters or (len(letters) > 1 and not multi):
            return None
        return letters

    for match in reversed(list(EXPLICIT.finditer(text))):
        got = accept(match.group(1))
        if got:
            return got
    bare = BARE.match(text)
    if bare:
        got = accept(bare.group(1))
        if got:
            return got
    starts = {m.group(1) for m in LINE_START.finditer(text) if m.group(1) in valid}
    if len(starts) == 1:
        return starts.pop()
    return None

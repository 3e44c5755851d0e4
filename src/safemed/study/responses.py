"""Vignettes and each source's responses, read and normalised to one indistinguishable format.

Blinding fails as easily through formatting as through names: one source writes markdown
headings and bold, another plain sentences; a reasoning model leaves ``<think>…</think>`` in its
answer. Every response from every source goes through the same :func:`normalise_response`:

1. reasoning blocks ``<think>…</think>`` (and ``<thinking>…</thinking>``, or an unclosed one at
   the start) are removed;
2. markdown is reduced to plain text: headings, emphasis (``**``, ``__``, ``*``, ``_``), inline
   code ticks and fences, block quotes and horizontal rules go; bullets (``*``, ``+``, ``•``, ``-``)
   become ``- ``; numbered items become ``1. `` style with the number kept;
3. layout: Unicode spaces become plain spaces and runs of spaces collapse; hard-wrapped lines of
   a paragraph are joined; paragraphs (a heading is one) are separated by one blank line, list
   items by a line break, a list from its neighbouring paragraphs by one blank line.

A response that is empty after this is an error (nothing to rate). Vignettes are ``{"id",
"vignette"}`` JSONL rows; responses are ``{"vignette_id", "response"}`` JSONL rows or a
``safemed eval`` run folder (its ``samples.jsonl``: ``id`` → vignette, ``response`` → response;
rows with an error and no response are skipped and counted).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemed.errors import ConfigError, DataError
from safemed.jsonl import read_jsonl_objects

_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_OPEN_THINK = re.compile(r"^\s*<(think|thinking|reasoning)>.*", re.DOTALL | re.IGNORECASE)
_STRAY_TAG = re.compile(r"</?(think|thinking|reasoning)>", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~).*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s*([-*_]\s*){3,}$")
_QUOTE = re.compile(r"^\s*>\s?")
_BULLET = re.compile(r"^\s*[*+•‣◦·-]\s+")
_NUMBERED = re.compile(r"^\s*(\d{1,3})[.)]\s+")
_BOLD = re.compile(r"(\*\*|__)(.+?)\1")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_ITALIC_UNDER = re.compile(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])")
_CODE = re.compile(r"`([^`]*)`")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


def strip_reasoning(text: str) -> str:
    """``text`` without ``<think>…</think>`` blocks (an unclosed block at the start is all reasoning)."""
    text = _THINK.sub("", text)
    if _OPEN_THINK.match(text) and not re.search(r"</(think|thinking|reasoning)>", text, re.IGNORECASE):
        return ""
    return _STRAY_TAG.sub("", text)


def _inline(line: str) -> str:
    line = _CODE.sub(r"\1", line)
    for _ in range(2):
        line = _BOLD.sub(r"\2", line)
    line = _ITALIC_STAR.sub(r"\1", line)
    return _ITALIC_UNDER.sub(r"\1", line)


def normalise_response(text: str) -> str:
    """The one plain-text form every source's response is shown in (see the module docstring)."""
    text = strip_reasoning(text.replace("\r\n", "\n").replace("\r", "\n"))
    blocks: list[tuple[str, str]] = []  # ("p", paragraph) or ("li", list item)
    paragraph: list[str] = []

    def close() -> None:
        if paragraph:
            blocks.append(("p", " ".join(paragraph)))
            paragraph.clear()

    for raw in text.split("\n"):
        if _FENCE.match(raw) or _RULE.match(raw):
            close()
            continue
        line = _QUOTE.sub("", raw)
        heading = _HEADING.match(line)
        if heading:
            line = heading.group(1)
        bullet = ""
        if _BULLET.match(line):
            line, bullet = _BULLET.sub("", line), "- "
        elif (numbered := _NUMBERED.match(line)) is not None:
            line, bullet = line[numbered.end():], f"{int(numbered.group(1))}. "
        line = _SPACES.sub(" ", _inline(line)).strip()
        if not line:
            close()
        elif bullet:
            close()
            blocks.append(("li", bullet + line))
        elif heading:
            close()
            blocks.append(("p", line))
        else:
            paragraph.append(line)
    close()
    out = []
    for i, (kind, block) in enumerate(blocks):
        if i:
            out.append("\n" if kind == "li" and blocks[i - 1][0] == "li" else "\n\n")
        out.append(block)
    return "".join(out)


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    return read_jsonl_objects(Path(path))


def _text(path: Path, lineno: int, row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None and key not in row:
        raise DataError(str(path), lineno, key, "missing")
    if isinstance(value, int | float) and key.endswith("id"):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise DataError(str(path), lineno, key, "must be a non-empty string")
    return value.strip() if key.endswith("id") else value


def read_vignettes(path: Path) -> dict[str, str]:
    """Vignette id → text, in file order; duplicate ids are errors naming both lines."""
    found: dict[str, str] = {}
    lines: dict[str, int] = {}
    for lineno, row in _read_jsonl(path):
        vid = _text(path, lineno, row, "id")
        if vid in found:
            raise DataError(str(path), lineno, "id", f"vignette {vid!r} repeats line {lines[vid]}")
        found[vid] = _text(path, lineno, row, "vignette").strip()
        lines[vid] = lineno
    if not found:
        raise DataError(str(path), None, None, "no vignettes")
    return found


@dataclass
class Responses:
    """One source's normalised responses, and where they came from."""

    name: str
    path: Path
    files: list[Path]
    by_vignette: dict[str, str]
    run_manifest_id: str | None = None
    skipped: list[str] = field(default_factory=list)


def read_responses(name: str, path: Path, vignettes: dict[str, str]) -> Responses:
    """A source's responses from a JSONL file or a ``safemed eval`` run folder, normalised.

    A response for an unknown vignette, a repeated vignette, or a response empty after
    normalisation is an error naming the file, line and field.
    """
    path = Path(path)
    manifest_id = None
    if path.is_dir():
        samples = path / "samples.jsonl"
        if not samples.is_file():
            raise ConfigError(f"{path} is neither a JSONL file nor a finished `safemed eval` run folder "
                              "(samples.jsonl is missing)")
        file, id_key = samples, "id"
        try:
            manifest_id = json.loads((path / "manifest.json").read_text(encoding="utf-8")).get("id")
        except (OSError, ValueError):
            manifest_id = None
    elif path.is_file():
        file, id_key = path, "vignette_id"
    else:
        raise ConfigError(f"responses of {name!r}: {path} does not exist")
    out = Responses(name, path, [file], {}, manifest_id)
    lines: dict[str, int] = {}
    for lineno, row in _read_jsonl(file):
        vid = _text(file, lineno, row, id_key)
        if id_key == "id" and row.get("response") is None:
            out.skipped.append(vid)  # a failed request in an eval run: counted, not rated
            continue
        if vid not in vignettes:
            raise DataError(str(file), lineno, id_key, f"unknown vignette {vid!r} (not in the vignettes file)")
        if vid in out.by_vignette:
            raise DataError(str(file), lineno, id_key, f"a second response for vignette {vid!r} "
                            f"(first on line {lines[vid]})")
        text = normalise_response(_text(file, lineno, row, "response"))
        if not text:
            raise DataError(str(file), lineno, "response", "empty once reasoning and markup are removed")
        out.by_vignette[vid] = text
        lines[vid] = lineno
    return out

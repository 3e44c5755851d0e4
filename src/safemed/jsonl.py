"""Reading JSON Lines files whose every line is one object, with errors that name file and line.

Every artifact safemed reads or writes row by row (seed questions, review files, run samples,
recorded responses, study ratings) is JSONL. One reader keeps the house rule for bad input in one
place: a line that is not JSON, or not an object, is a :class:`~safemed.errors.DataError` naming the
file and the line; blank lines are skipped; a UTF-8 byte-order mark is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safemed.errors import DataError


def iter_jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line, streamed (memory does not grow with the file)."""
    try:
        fh = open(path, encoding="utf-8-sig")  # noqa: SIM115  # closed below, also when the caller stops early
    except OSError as exc:
        raise DataError(str(path), None, None, f"cannot read: {exc.strerror or exc}") from exc
    with fh:
        number = 0
        try:
            for number, line in enumerate(fh, start=1):  # the number is named in the errors
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(str(path), number, None, f"invalid JSON: {exc.msg}") from exc
                if not isinstance(row, dict):
                    raise DataError(str(path), number, None, "each line must be a JSON object")
                yield number, row
        except UnicodeDecodeError as exc:
            raise DataError(str(path), number + 1, None, f"not UTF-8: {exc}") from exc


def read_jsonl_objects(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Every ``(line number, object)`` of the file (see :func:`iter_jsonl_objects`)."""
    return list(iter_jsonl_objects(path))

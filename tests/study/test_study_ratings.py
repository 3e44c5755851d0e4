"""Bad rating sheets: each error names the file, row and column, and nothing is analysed from it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from safemed.errors import DataError
from safemed.ledger import Ledger
from safemed.study.analyze import analyze_study

from .conftest import Study


def _edit(sheet: Path, row: int, column: str, value: str) -> None:
    """Set one cell (``row`` in spreadsheet numbering: the header is row 1)."""
    with open(sheet, newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    rows[row - 2][column] = value
    with open(sheet, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def _refused(study: Study, match: str, sheets: list[Path] | None = None) -> None:
    out = study.root / "out"
    with Ledger.open(study.db) as led, pytest.raises(DataError, match=match):
        analyze_study(study.packets, sheets or study.sheets(), out, led)
    assert not out.exists()
    assert not [p for p in study.root.iterdir() if p.name.startswith(".out")]


@pytest.mark.parametrize(("value", "problem"), [("6", "outside the scale 1-5"), ("0", "outside the scale 1-5"),
                                                 ("3.5", "not a whole number"), ("good", "not a number"),
                                                 ("", "missing rating")])
def test_a_bad_cell_names_file_row_and_column(study: Study, value: str, problem: str) -> None:
    sheet = study.sheets()[2]
    _edit(sheet, 7, "clinical_utility", value)
    _refused(study, rf"{sheet.name}:7: field 'clinical_utility': .*{problem}")


def test_unknown_item_unknown_rater_duplicates_and_gaps(study: Study) -> None:
    sheet = study.sheets()[0]
    original = sheet.read_text()
    _edit(sheet, 4, "packet_item", "I-0000")
    _refused(study, rf"{sheet.name}:4: field 'packet_item': unknown packet item 'I-0000'")
    sheet.write_text(original)
    _edit(sheet, 3, "rater", "R9")
    _refused(study, rf"{sheet.name}:3: field 'rater': unknown rater 'R9'; valid: R1, R2, R3, R4, R5")
    sheet.write_text(original)
    with open(sheet, newline="") as fh:
        first = next(iter(csv.DictReader(fh)))["packet_item"]
    _edit(sheet, 5, "packet_item", first)
    _refused(study, rf"{sheet.name}:5: field 'packet_item': rater 'R1' rated {first} twice "
             rf"\(also at .*{sheet.name}:2\)")
    sheet.write_text(original)
    # the same sheet given twice: every row a duplicate, named in the second copy
    _refused(study, r"R1.csv:2: field 'packet_item': rater 'R1' rated .* twice", [sheet, sheet])
    lines = original.splitlines(keepends=True)
    sheet.write_text("".join(lines[:1] + lines[1:-1]))  # the last row deleted
    _refused(study, r"R1.csv: field 'packet_item': rater 'R1' left 1 of 60 packet items unrated")
    sheet.write_text(original.replace('"safety",', '"safety_x",', 1))
    _refused(study, rf"{sheet.name}:1: field 'safety': column missing from the header")

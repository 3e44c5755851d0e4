"""The generic prompt format (``prompts:PATH``) and the bundled ``sample-safety`` set.

Any team can run the safety evaluation on its own prompts (the paper's private MedSafety and
MedEthics sets, a hospital's red-team log) by writing one JSON object per line::

    {"id": "p1", "prompt": "...", "category": "privacy", "expected": "refuse", "language": "en"}

Only ``id`` and ``prompt`` are required. ``expected`` is ``"refuse"``, ``"comply"`` or ``null``
(judged on quality alone); ``language`` is ``"en"`` or ``"zh"`` (detected from the text when
absent); ``category``, ``subset`` and ``reference`` (a model answer for the judge) are optional
strings. Other keys are allowed and ignored. Each problem is a
:class:`~safemed.errors.DataError` naming the line and field: invalid JSON, a missing or empty
``id`` or ``prompt``, an ``expected`` or ``language`` outside those values, an optional field that
is not a string, an id seen before.

``sample-safety`` is 18 harmful medical requests (two per AMA principle, expected ``"refuse"``,
subset ``"harmful"``) and 12 benign questions that only sound risky (expected ``"comply"``,
subset ``"benign"``), written for this package (not taken from any dataset) and shipped inside
the wheel, so the offline quickstart needs no data folder. The harmful ones ask for unethical
acts (falsifying records, breaching confidentiality, prescribing without examination), never for
operational detail that could hurt anyone.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from safemed.datasets.base import BadRowHandler, BenchmarkInfo, detect_language, read_jsonl, report, text_field
from safemed.datasets.prompts.base import FilePromptSet, make_prompt
from safemed.errors import DataError
from safemed.records.eval import PromptItem

EXPECTED_VALUES = ("refuse", "comply")
OPTIONAL_TEXT = ("category", "subset", "reference")


def prompt_item(row: dict[str, Any], path: Path, line: int) -> PromptItem:
    """One generic-format row as a PromptItem."""
    raw_id = row.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise DataError(str(path), line, "id", "missing or empty")
    prompt = text_field(row, "prompt", path, line)
    expected = row.get("expected")
    if expected is not None and expected not in EXPECTED_VALUES:
        raise DataError(str(path), line, "expected", f"{expected!r} is not 'refuse', 'comply' or null")
    language = row.get("language") or detect_language(prompt)
    if language not in ("en", "zh"):
        raise DataError(str(path), line, "language", f"{language!r} is not 'en' or 'zh'")
    optional: dict[str, str | None] = {}
    for key in OPTIONAL_TEXT:
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            raise DataError(str(path), line, key, "must be a string")
        optional[key] = (value.strip() or None) if isinstance(value, str) else None
    return make_prompt(path, line, id=raw_id.strip(), prompt=prompt, language=language, expected=expected, **optional)


def generic_prompts(path: Path, on_bad_row: BadRowHandler | None, seen: dict[str, str]) -> Iterator[PromptItem]:
    """Stream a generic-format file; ``seen`` maps ids to where they were first read."""
    for line, row in read_jsonl(path, on_bad_row):
        try:
            item = prompt_item(row, path, line)
            if item.id in seen:
                raise DataError(str(path), line, "id", f"duplicate id {item.id!r} (first at {seen[item.id]})")
        except DataError as err:
            report(err, on_bad_row)
            continue
        seen[item.id] = f"{path.name}:{line}"
        yield item


class GenericPrompts(FilePromptSet):
    """Prompts in the generic JSONL format, from an explicit path."""

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        return generic_prompts(path, on_bad_row, {})


def prompts_at(path: Path) -> GenericPrompts:
    """The generic loader on a user file (``prompts:PATH``)."""
    info = BenchmarkInfo(
        name=f"prompts:{path}",
        title="Generic prompt file",
        language="en",
        license="as the file's source states",
        relpath=str(path),
        size=None,
        description="User-supplied prompts in the generic prompt JSONL format.",
    )
    return GenericPrompts(info, path)


class BundledPrompts(FilePromptSet):
    """Generic-format files shipped inside the package; they need no data directory."""

    def __init__(self, info: BenchmarkInfo, files: tuple[str, ...]) -> None:
        super().__init__(info)
        self.files = files

    def path(self, data_dir: Path | None = None) -> Path:
        """The folder of the bundled files (``data_dir`` is ignored)."""
        return Path(str(resources.files("safemed.datasets.prompts").joinpath("samples")))

    def load(self, data_dir: Path | None = None, *, on_bad_row: BadRowHandler | None = None) -> Iterator[PromptItem]:
        """Stream the bundled prompts (``data_dir`` is ignored)."""
        return self._stream(on_bad_row)

    def required(self, path: Path) -> list[Path]:
        return [path / name for name in self.files]

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        seen: dict[str, str] = {}
        for file in self.required(path):
            yield from generic_prompts(file, on_bad_row, seen)

    def _stream(self, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        with resources.as_file(resources.files("safemed.datasets.prompts").joinpath("samples")) as real:
            yield from self.items(real, on_bad_row)


SAMPLE_SAFETY = BundledPrompts(
    BenchmarkInfo(
        name="sample-safety",
        title="safemed safety sample",
        language="en",
        license="Apache-2.0 (written for safemed)",
        relpath="sample_safety.jsonl, sample_benign.jsonl",
        size=30,
        description=(
            "18 original harmful medical requests (2 per AMA principle, should refuse) and 12 benign "
            "questions that sound risky (should comply); bundled, no data folder needed."
        ),
    ),
    ("sample_safety.jsonl", "sample_benign.jsonl"),
)

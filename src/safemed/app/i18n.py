"""Interface text in English and Chinese, chosen per user (SafeMed-R1's reviewers worked in both).

Each part of the app keeps its strings in its own pair of files, ``locales/<part>.en.json`` and
``locales/<part>.zh.json`` (flat ``{"key": "text"}``; ``{name}`` placeholders filled by
:func:`t`). All pairs are merged at first use. A key present in one language and not the other is
a bug that a test catches; at run time such a key falls back to English, then to the key itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("en", "zh")
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


def locale_files(folder: Path = LOCALES) -> dict[str, list[Path]]:
    """Language → its locale files, sorted."""
    return {lang: sorted(folder.glob(f"*.{lang}.json")) for lang in LANGUAGES}


@lru_cache(maxsize=1)
def catalogs() -> dict[str, dict[str, str]]:
    """Language → key → text, every locale file of that language merged (a duplicate key is an error)."""
    merged: dict[str, dict[str, str]] = {}
    for lang, paths in locale_files().items():
        table: dict[str, str] = {}
        for path in paths:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"{path}: a locale file is one JSON object of key → text")
            for key, text in data.items():
                if key in table:
                    raise ValueError(f"{path}: key {key!r} is already defined in another {lang} locale file")
                table[key] = str(text)
        merged[lang] = table
    return merged


def normalise_language(lang: str | None) -> str:
    """A supported language code (``zh-CN`` → ``zh``; unknown → ``en``)."""
    code = (lang or "en").split("-")[0].split("_")[0].lower()
    return code if code in LANGUAGES else "en"


def t(key: str, lang: str = "en", **kw: Any) -> str:
    """The text of ``key`` in ``lang`` with ``{placeholders}`` filled (English, then the key, as fallback)."""
    tables = catalogs()
    text = tables.get(normalise_language(lang), {}).get(key) or tables["en"].get(key) or key
    if kw:
        try:
            return text.format(**kw)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def translator(lang: str) -> Callable[..., str]:
    """``t`` bound to one language (what templates call as ``t("key", n=3)``)."""
    code = normalise_language(lang)

    def bound(key: str, **kw: Any) -> str:
        return t(key, code, **kw)

    return bound


def preferred_language(accept_language: str | None, default: str = "en") -> str:
    """The first supported language of an ``Accept-Language`` header, else ``default``."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip()
        if code and normalise_language(code) == code.split("-")[0].lower():
            return normalise_language(code)
    return default

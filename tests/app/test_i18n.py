"""Interface text in English and Chinese: every key in both languages, in every locale file pair,
with the same placeholders; every key a template asks for exists."""

from __future__ import annotations

import json
import re
import string

import pytest

from safemed.app.i18n import LOCALES, catalogs, locale_files, normalise_language, preferred_language, t, translator
from safemed.app.render import TEMPLATES


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_locale_files_come_in_pairs() -> None:
    files = locale_files()
    en = {p.name.removesuffix(".en.json") for p in files["en"]}
    zh = {p.name.removesuffix(".zh.json") for p in files["zh"]}
    assert en == zh and "core" in en


@pytest.mark.parametrize("part", sorted(p.name.removesuffix(".en.json") for p in LOCALES.glob("*.en.json")))
def test_every_key_in_both_languages_with_the_same_placeholders(part: str) -> None:
    en = json.loads((LOCALES / f"{part}.en.json").read_text(encoding="utf-8"))
    zh = json.loads((LOCALES / f"{part}.zh.json").read_text(encoding="utf-8"))
    assert sorted(set(en) - set(zh)) == [], "keys missing in Chinese"
    assert sorted(set(zh) - set(en)) == [], "keys missing in English"
    for key in en:
        assert _placeholders(en[key]) == _placeholders(zh[key]), key
        assert en[key].strip() and zh[key].strip(), key


def test_merged_catalogues_agree() -> None:
    tables = catalogs()
    assert set(tables["en"]) == set(tables["zh"])


def test_every_literal_key_used_in_templates_exists() -> None:
    known = set(catalogs()["en"])
    missing = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for key, tilde in re.findall(r"""\bt\(\s*['"]([a-z][\w.]*)['"]\s*(~?)""", path.read_text(encoding="utf-8")):
            dynamic = bool(tilde)  # t('prefix.' ~ value): some key must start with the prefix
            if (dynamic and not any(k.startswith(key) for k in known)) or (not dynamic and key not in known):
                missing.append(f"{path.relative_to(TEMPLATES)}: {key}")
    assert missing == []


def test_translation_and_fallbacks() -> None:
    assert t("core.login.title", "en") == "Sign in"
    assert t("core.login.title", "zh") == "登录"
    assert t("core.login.title", "zh-CN") == "登录"
    assert t("core.users.confirm_disable", "en", name="rev1").startswith("Disable rev1?")
    assert t("no.such.key", "zh") == "no.such.key"
    assert translator("zh")("core.logout") == "退出登录"
    assert normalise_language("fr") == "en"
    assert preferred_language("fr-FR,zh-CN;q=0.8,en;q=0.5") == "zh"
    assert preferred_language(None, "zh") == "zh"


def test_user_language_drives_the_page(client_for: object) -> None:
    client = client_for("admin")  # type: ignore[operator]
    client.post("/language", data={"lang": "zh", "csrf_token": client.csrf})
    page = client.get("/admin/users")
    assert '<html lang="zh-Hans">' in page.text and "用户" in page.text
    client.post("/language", data={"lang": "en", "csrf_token": client.csrf})
    assert "Users" in client.get("/admin/users").text


def test_language_before_sign_in_uses_a_cookie(anon_client: object) -> None:
    client = anon_client
    response = client.post("/language", data={"lang": "zh", "next": "/login", "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 200 and "登录" in response.text

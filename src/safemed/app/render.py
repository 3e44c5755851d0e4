"""Server-side rendering: Jinja2 pages with escaping on, and the safe text helpers they use.

Everything a clinician or a model wrote is shown as text: Jinja2 autoescaping is on for every
template, Markdown is rendered with raw HTML disabled (markdown-it-py, ``html: False``; links with
``javascript:`` and similar schemes are refused by its link validator), and diffs are built from
escaped lines. So a ``<script>`` typed into an edit, a comment or a user name shows as text
(ASVS 5.3.3), and the Content-Security-Policy (no inline script) is a second line of defence.

The chain of thought under review (SafeMed-R1: physicians scoring model-written reasoning) often
wraps its reasoning in ``<think>…</think>``; :func:`think_blocks` splits it so the page can show
those parts as collapsible ``<details>``.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from safemed.app.auth import User, optional_user
from safemed.app.context import get_ctx
from safemed.app.i18n import LANGUAGE_NAMES, LANGUAGES, normalise_language, preferred_language, translator

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LANG_COOKIE = "safemed_lang"

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_THINK = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)


def markdown(text: str | None) -> Markup:
    """Markdown → HTML with any raw HTML in ``text`` shown as text."""
    return Markup(_md.render(text or ""))


@dataclass(frozen=True)
class Block:
    """A piece of a chain of thought: ``think`` (inside ``<think>…</think>``) or ``text``."""

    kind: str
    text: str

    @property
    def html(self) -> Markup:
        """The piece rendered as safe Markdown."""
        return markdown(self.text)


def think_blocks(text: str | None) -> list[Block]:
    """Split ``text`` at ``<think>…</think>`` (an unclosed ``<think>`` runs to the end); empty
    pieces are dropped. Without any think tag the whole text is one ``text`` block."""
    source = text or ""
    blocks: list[Block] = []
    at = 0
    for match in _THINK.finditer(source):
        before = source[at:match.start()]
        if before.strip():
            blocks.append(Block("text", before.strip("\n")))
        if match.group(1).strip():
            blocks.append(Block("think", match.group(1).strip("\n")))
        at = match.end()
    rest = source[at:]
    if rest.strip():
        blocks.append(Block("text", rest.strip("\n")))
    return blocks


def diff_lines(before: str, after: str, *, context: int = 3) -> list[tuple[str, str]]:
    """A unified diff of ``before`` → ``after`` as (kind, line) with kind ``add``, ``del``,
    ``hunk`` or ``ctx`` (file headers left out)."""
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff((before or "").splitlines(), (after or "").splitlines(),
                                     lineterm="", n=context):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            out.append(("hunk", line))
        elif line.startswith("+"):
            out.append(("add", line))
        elif line.startswith("-"):
            out.append(("del", line))
        else:
            out.append(("ctx", line))
    return out


def diff_html(before: str | None, after: str | None) -> Markup:
    """The diff as ``<pre class="diff">`` with one escaped ``<span class="diff-…">`` per line
    (green additions, red deletions: colour plus the +/− sign, so it reads without colour too)."""
    rows = diff_lines(before or "", after or "")
    if not rows:
        return Markup('<pre class="diff diff-empty"></pre>')
    body = "\n".join(f'<span class="diff-{kind}">{escape(line)}</span>' for kind, line in rows)
    return Markup(f'<pre class="diff">{body}</pre>')


@lru_cache(maxsize=64)
def _asset_version(name: str) -> str:
    path = STATIC / name
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def asset(name: str) -> str:
    """The URL of a static file with a content hash, so browsers may cache it and still see changes."""
    return f"/static/{name}?v={_asset_version(name)}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment (autoescape on for every template)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["markdown"] = markdown
    env.filters["think_blocks"] = think_blocks
    env.globals["diff_html"] = diff_html
    env.filters["diff_html"] = diff_html
    env.globals["asset"] = asset
    env.globals["languages"] = [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES]
    return env


NAV: dict[str, tuple[tuple[str, str], ...]] = {
    "reviewer": (("/queue", "core.nav.queue"), ("/rate", "core.nav.rate")),
    "adjudicator": (("/adjudicate", "core.nav.adjudicate"), ("/queue", "core.nav.queue"), ("/rate", "core.nav.rate")),
    "admin": (("/admin", "core.nav.dashboard"), ("/admin/users", "core.nav.users")),
}
"""The navigation links each role sees (the routes themselves check roles again)."""


def request_language(request: Request, user: User | None) -> str:
    """The user's language; before sign-in the language cookie, the browser's preference, the default."""
    if user is not None:
        return normalise_language(user.language)
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return str(cookie)
    return preferred_language(request.headers.get("accept-language"), get_ctx(request).settings.default_language)


def nav_for(user: User | None, path: str) -> list[dict[str, Any]]:
    """The navigation entries of ``user``'s role, the current one marked."""
    if user is None:
        return []
    return [{"href": href, "key": key, "current": path == href or path.startswith(href + "/")}
            for href, key in NAV.get(user.role, ())]


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status: int = 200) -> HTMLResponse:
    """Render ``template`` with ``context`` plus ``request``, ``user``, ``csrf_token``, ``t``,
    ``lang``, ``nav`` and ``messages`` (a list of (level, text) from the context, if any)."""
    user = optional_user(request)
    lang = request_language(request, user)
    values: dict[str, Any] = {
        "request": request, "user": user, "csrf_token": getattr(request.state, "csrf", ""),
        "t": translator(lang), "lang": lang, "nav": nav_for(user, request.url.path), "messages": [],
        "path": request.url.path,
    }
    values.update(context or {})
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status)

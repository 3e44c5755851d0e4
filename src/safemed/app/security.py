"""The app's security mechanisms (OWASP ASVS level 2 as the yardstick).

The clinicians' reviews are the clinical trust signal of SafeMed-R1's curation; a forged or
hijacked review poisons training data, so the tool guarding them is built to ASVS L2:

* passwords hashed with argon2id (``argon2-cffi``; V2.4), a 12-character minimum (V2.1.1);
* session ids of 256 random bits, stored only as SHA-256, a new id at every sign-in (V3.2.1),
  idle and absolute time-outs (V3.3), cookies HttpOnly + SameSite=Lax + Secure over HTTPS (V3.4);
* a per-session CSRF token required on every state-changing request (V4.2.2), as form field
  ``csrf_token`` or header ``X-CSRF-Token``; before sign-in a double-submit cookie plays that role;
* sign-in rate limits per address and per account name, lock-out after repeated failures (V2.2.1);
* response headers: a Content-Security-Policy with no inline script or style and
  ``frame-ancestors 'none'`` (V14.4), nosniff, no referrer, no caching of pages.

:class:`SessionMiddleware` is plain ASGI: it resolves the session cookie into ``request.state``
(``session``, ``csrf``) and refuses a POST/PUT/PATCH/DELETE whose token is missing or wrong with
403 and an audit row ``csrf_failed`` before any route runs — so routes written by anyone are covered.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

if TYPE_CHECKING:
    from safemed.app.context import AppContext
    from safemed.app.store import SessionRecord

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "safemed_session"
PRE_CSRF_COOKIE = "safemed_csrf"
"""Double-submit cookie protecting the forms shown before sign-in (login, language)."""
CSRF_FIELD = "csrf_token"
CSRF_HEADER = b"x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BODY = 4 * 1024 * 1024
"""Largest request body accepted (an edited chain of thought is a few tens of KB)."""
CSRF_PAGE = ('<!doctype html><html><head><meta charset="utf-8"><title>403</title></head><body><h1>403</h1>'
             "<p>The form has expired or did not come from this site. Go back, reload the page and try again.</p>"
             '<p lang="zh">表单已过期或并非来自本站。请返回、刷新页面后重试。</p><p><a href="/">safemed</a></p>'
             "</body></html>")
MIN_PASSWORD = 12
MAX_PASSWORD = 256

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
"""argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 0.1–0.3 s per check
on a laptop core, so a burst of clinicians signing in at 8 am does not stall the workers."""
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


# -- passwords -------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (random salt, OWASP's minimum parameters)."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; with None a dummy hash is checked so that an
    unknown account name takes as long as a known one (no user enumeration by timing)."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def password_problem(password: str) -> str | None:
    """The i18n key of what is wrong with a new password, or None (ASVS 2.1.1/2.1.2: length only,
    no composition rules)."""
    if len(password) < MIN_PASSWORD:
        return "core.password.too_short"
    if len(password) > MAX_PASSWORD:
        return "core.password.too_long"
    return None


def random_password() -> str:
    """A fresh password for a new or reset account (about 120 random bits, readable)."""
    return secrets.token_urlsafe(15)


# -- sessions and tokens -----------------------------------------------------------------------

def new_token() -> str:
    """256 random bits, URL-safe (session ids and CSRF tokens)."""
    return secrets.token_urlsafe(32)


def session_hash(session_id: str) -> str:
    """What the sessions table stores of a session id."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of two tokens (False when either is missing)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def is_https(scope: Scope) -> bool:
    """Whether the request came over HTTPS (uvicorn applies trusted X-Forwarded-Proto to the scheme)."""
    return str(scope.get("scheme", "http")) in ("https", "wss")


def cookie_secure(ctx: AppContext, scope: Scope) -> bool:
    """The Secure flag: forced by settings, else set exactly when the request is HTTPS."""
    forced = ctx.settings.cookie_secure
    return is_https(scope) if forced is None else forced


def safe_next(target: str | None) -> str:
    """A local path to continue to after sign-in (never another site: no scheme, no ``//``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def client_ip(scope: Scope) -> str | None:
    """The peer address (uvicorn replaces it with X-Forwarded-For only behind a trusted proxy)."""
    client = scope.get("client")
    return str(client[0]) if client else None


# -- login throttling --------------------------------------------------------------------------

def login_throttled(ctx: AppContext, ip: str | None, name: str) -> bool:
    """Whether this sign-in attempt exceeds the per-minute rate for its address or account name;
    every attempt is counted in the database, so all workers share the count."""
    since = time.time() - 60.0
    limit = ctx.settings.login_rate_per_minute
    keys = [f"name:{name.strip().lower()}"] + ([f"ip:{ip}"] if ip else [])
    over = any(ctx.store.attempts_since(key, since) >= limit for key in keys)
    ctx.store.note_attempt(keys)
    return over


# -- middlewares ---------------------------------------------------------------------------------

def _cookies(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, sep, val = part.strip().partition("=")
                if sep and key not in found:
                    found[key] = val
    return found


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


_log = logging.getLogger("safemed.app")

ERROR_PAGE = ("<!doctype html><html lang=\"en\"><title>safemed: error</title><h1>Something went wrong</h1>"
              "<p>The error has been logged. Nothing you submitted was half-written: go back and try again.</p>"
              "<p lang=\"zh-Hans\">出现错误，已记录。提交的内容不会只写入一半：请返回重试。</p></html>")


async def _plain(send: Send, status: int, body: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = body.encode("utf-8")
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(payload)).encode()),
               (b"cache-control", b"no-store"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, and ``Cache-Control: no-store`` to everything
    but static files (pages hold patient-case text and per-session tokens)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control" or static]
                headers += list(SECURITY_HEADERS)
                headers.append((b"cache-control", b"public, max-age=3600" if static else b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            if started:
                raise
            # An unhandled error still gets a plain page WITH the security headers (the server's own
            # error page, outside this middleware, would lack them); the traceback goes to the log only.
            _log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await _plain(with_headers, 500, ERROR_PAGE)


class SessionMiddleware:
    """Resolves the session cookie and enforces CSRF on state-changing requests.

    Sets ``scope["state"]``: ``session`` (a :class:`~safemed.app.store.SessionRecord` or None),
    ``csrf`` (the token forms must carry: the session's, or before sign-in the double-submit
    cookie's, freshly issued when absent) and ``set_pre_csrf`` (whether to set that cookie).
    A bad or missing token on POST/PUT/PATCH/DELETE → 403 + audit ``csrf_failed``; the request
    body is read once here and replayed to the route.
    """

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith("/static/"):
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        record: SessionRecord | None = None
        raw = cookies.get(SESSION_COOKIE)
        if raw:
            idle_s = self.ctx.settings.idle_minutes * 60.0
            record = await anyio.to_thread.run_sync(lambda: self.ctx.store.session(session_hash(raw), idle_s=idle_s))
        pre = cookies.get(PRE_CSRF_COOKIE) or ""
        issue_pre = record is None and len(pre) < 32
        state = scope.setdefault("state", {})
        state["session"] = record
        state["session_cookie_stale"] = bool(raw) and record is None
        state["csrf"] = record.csrf if record is not None else (new_token() if issue_pre else pre)
        state["set_pre_csrf"] = issue_pre
        if scope.get("method", "GET") not in UNSAFE_METHODS:
            await self.app(scope, receive, self._cookie_sender(scope, send))
            return
        body, too_big = await _read_body(receive)
        if too_big:
            await _plain(send, 413, "<h1>413</h1><p>Request too large.</p>")
            return
        given = _header(scope, CSRF_HEADER) or _form_token(scope, body)
        expected = record.csrf if record is not None else (pre or None)
        if not tokens_match(expected, given):
            who = record.user.name if record else None
            what = f"{scope.get('method')} {str(scope.get('path', ''))[:200]}"
            await anyio.to_thread.run_sync(lambda: self.ctx.store.audit(who, "csrf_failed", what, client_ip(scope)))
            await _plain(send, 403, CSRF_PAGE)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, self._cookie_sender(scope, send))

    def _cookie_sender(self, scope: Scope, send: Send) -> Send:
        state = scope["state"]

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                secure = "; Secure" if cookie_secure(self.ctx, scope) else ""
                if state.get("set_pre_csrf"):
                    headers.append((b"set-cookie", f"{PRE_CSRF_COOKIE}={state['csrf']}; Path=/; HttpOnly; "
                                                   f"SameSite=Strict{secure}".encode()))
                if state.get("session_cookie_stale") and not any(
                        k == b"set-cookie" and v.startswith(SESSION_COOKIE.encode()) for k, v in headers):
                    headers.append((b"set-cookie", f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; "
                                                   f"SameSite=Lax{secure}".encode()))
                message["headers"] = headers
            await send(message)

        return sender


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _form_token(scope: Scope, body: bytes) -> str | None:
    """The ``csrf_token`` field of a urlencoded or multipart body."""
    ctype = (_header(scope, b"content-type") or "").lower()
    if ctype.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get(CSRF_FIELD)
        return values[0] if values else None
    if ctype.startswith("multipart/form-data"):
        return _multipart_field(ctype, body, CSRF_FIELD)
    return None


def _multipart_field(ctype: str, body: bytes, field: str) -> str | None:
    boundary = None
    for part in ctype.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "boundary":
            boundary = value.strip('"')
    if not boundary:
        return None
    marker = f'name="{field}"'.encode()
    for chunk in body.split(b"--" + boundary.encode()):
        head, sep, rest = chunk.partition(b"\r\n\r\n")
        if sep and marker in head and b"filename=" not in head:
            return rest.removesuffix(b"\r\n").decode("utf-8", "replace")
    return None


def session_cookie(ctx: AppContext, scope: Scope, session_id: str) -> tuple[str, dict[str, Any]]:
    """Name and ``Response.set_cookie`` keyword arguments of a new session cookie."""
    return SESSION_COOKIE, {"value": session_id, "httponly": True, "samesite": "lax", "path": "/",
                            "secure": cookie_secure(ctx, scope)}

"""Sign-in, sign-out, language choice, the landing redirect and the health check.

Sign-in follows ASVS V2/V3: one generic failure message whatever went wrong (unknown name, wrong
password, disabled or locked account — no user enumeration), argon2 verification that takes as
long for an unknown name as for a known one, attempts rate-limited per address and per account
name, lock-out after ``max_failures`` failures in a row, and a brand-new session id at every
sign-in (the old session, if any, is deleted: no session fixation). Every outcome is audited.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from safemed.app.auth import home_for, optional_user
from safemed.app.context import get_ctx
from safemed.app.i18n import LANGUAGES
from safemed.app.render import LANG_COOKIE, render
from safemed.app.security import (
    SESSION_COOKIE,
    client_ip,
    cookie_secure,
    hash_password,
    login_throttled,
    needs_rehash,
    new_token,
    safe_next,
    session_cookie,
    session_hash,
    verify_password,
)

router = APIRouter()

MAX_NAME = 200
MAX_PASSWORD_INPUT = 1024


@router.get("/healthz")
def healthz() -> Response:
    """Liveness for load balancers (no session, no database work)."""
    return PlainTextResponse("ok")


@router.get("/")
def home(request: Request) -> Response:
    """Send a signed-in user to their role's start page, anyone else to sign-in."""
    user = optional_user(request)
    return RedirectResponse(home_for(user.role) if user else "/login", status_code=303)


def _login_page(request: Request, *, status: int = 200, error: str | None = None, name: str = "",
                next_path: str = "/") -> Response:
    return render(request, "login.html", {"error": error, "name": name, "next": safe_next(next_path)},
                  status=status)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form (a signed-in user goes straight on)."""
    user = optional_user(request)
    if user is not None:
        return RedirectResponse(safe_next(next) if next != "/" else home_for(user.role), status_code=303)
    return _login_page(request, next_path=next)


@router.post("/login")
def login(request: Request, name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/") -> Response:
    """Check the credentials; on success rotate the session and continue to ``next``."""
    ctx = get_ctx(request)
    settings = ctx.settings
    ip = client_ip(request.scope)
    name = name.strip()[:MAX_NAME]
    if login_throttled(ctx, ip, name):
        ctx.store.audit(name or None, "login_failed", "rate limited", ip)
        return _login_page(request, status=429, error="core.login.throttled", name=name, next_path=next)
    record = ctx.store.get_user(name) if name else None
    ok = verify_password(record.password_hash if record else None, password[:MAX_PASSWORD_INPUT])
    if record is None or record.disabled or record.locked_until > time.time() or not ok:
        why = ("unknown name" if record is None else "disabled" if record.disabled
               else "locked" if record.locked_until > time.time() else "wrong password")
        if record is not None and why == "wrong password":
            locked = ctx.store.record_failure(record.id, max_failures=settings.max_failures,
                                              lockout_s=settings.lockout_minutes * 60.0)
            if locked:
                ctx.store.audit(record.name, "locked_out", f"after {settings.max_failures} failures", ip)
        ctx.store.audit(name or None, "login_failed", why, ip)
        return _login_page(request, status=401, error="core.login.failed", name=name, next_path=next)
    ctx.store.clear_failures(record.id)
    if needs_rehash(record.password_hash):
        ctx.store.rehash(record.id, hash_password(password))
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        ctx.store.drop_session(session_hash(old))
    session_id = new_token()
    ctx.store.create_session(session_hash(session_id), record.id, new_token(),
                             lifetime_s=settings.session_minutes * 60.0)
    ctx.store.audit(record.name, "login_ok", "", ip)
    target = safe_next(next)
    response = RedirectResponse(home_for(record.role) if target == "/" else target, status_code=303)
    cookie, options = session_cookie(ctx, request.scope, session_id)
    response.set_cookie(cookie, **options)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session (server side too) and go to the sign-in page."""
    ctx = get_ctx(request)
    user = optional_user(request)
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        ctx.store.drop_session(session_hash(raw))
    if user is not None:
        ctx.store.audit(user.name, "logout", "", client_ip(request.scope))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=cookie_secure(ctx, request.scope))
    return response


@router.post("/language")
def language(request: Request, lang: Annotated[str, Form()] = "en", next: Annotated[str, Form()] = "/") -> Response:
    """Switch the interface language: stored on the user, or in a cookie before sign-in."""
    ctx = get_ctx(request)
    code = lang if lang in LANGUAGES else "en"
    user = optional_user(request)
    response = RedirectResponse(safe_next(next), status_code=303)
    if user is not None:
        ctx.store.set_language(user.id, code)
    else:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, path="/", httponly=True, samesite="lax",
                            secure=cookie_secure(ctx, request.scope))
    return response

"""User management for admins: list, add, disable / enable, reset a password.

The study's organisers enrol physicians with their specialties (SafeMed-R1: 160 physicians in
14 specialties) and remove access when someone leaves. Every change is a POST carrying the CSRF
token, admin-only (403 + audit otherwise) and audited (``user_added``, ``user_disabled``,
``user_enabled``, ``password_reset``). A new or reset password is generated here and shown once
on the response page — never put in a URL, a log or the audit detail; the user's open sessions end.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from safemed.app.auth import User, require_roles
from safemed.app.context import get_ctx
from safemed.app.i18n import LANGUAGES
from safemed.app.render import render
from safemed.app.security import client_ip, hash_password, random_password
from safemed.app.store import ROLES

router = APIRouter()

ADMIN = require_roles("admin")
NOTICES = frozenset({"added", "disabled", "enabled", "reset"})
MAX_NAME = 200


def parse_specialties(raw: str) -> list[str]:
    """Specialties typed as a comma- or newline-separated list (blank entries dropped)."""
    parts = [p.strip() for chunk in raw.splitlines() for p in chunk.split(",")]
    return sorted({p for p in parts if p})


def check_name(name: str) -> str | None:
    """The i18n key of what is wrong with a new user name, or None."""
    if not name:
        return "core.users.error.name_required"
    if len(name) > MAX_NAME or any(ch.isspace() for ch in name) or not name.isprintable():
        return "core.users.error.name_invalid"
    return None


def _page(request: Request, *, status: int = 200, errors: dict[str, str] | None = None,
          form: dict[str, str] | None = None, notice: str | None = None) -> Response:
    ctx = get_ctx(request)
    return render(request, "users.html", {
        "users": ctx.store.list_users(), "now": time.time(), "roles": ROLES, "languages": LANGUAGES,
        "errors": errors or {}, "form": form or {}, "notice": notice if notice in NOTICES else None}, status=status)


@router.get("/admin/users")
def list_users(request: Request, user: Annotated[User, ADMIN], notice: str | None = None) -> Response:
    """Every account with its role, specialties, language and state, and the form to add one."""
    return _page(request, notice=notice)


@router.post("/admin/users")
def add_user(request: Request, user: Annotated[User, ADMIN], name: Annotated[str, Form()] = "",
             role: Annotated[str, Form()] = "reviewer", specialties: Annotated[str, Form()] = "",
             language: Annotated[str, Form()] = "en") -> Response:
    """Create an account with a generated password, shown once."""
    ctx = get_ctx(request)
    name = name.strip()
    form = {"name": name, "role": role, "specialties": specialties, "language": language}
    errors: dict[str, str] = {}
    if problem := check_name(name):
        errors["name"] = problem
    if role not in ROLES:
        errors["role"] = "core.users.error.role"
    if language not in LANGUAGES:
        errors["language"] = "core.users.error.language"
    specs = parse_specialties(specialties)
    if role == "reviewer" and not specs:
        errors["specialties"] = "core.users.error.specialty_required"
    if not errors and ctx.store.get_user(name) is not None:
        errors["name"] = "core.users.error.name_taken"
    if errors:
        return _page(request, status=422, errors=errors, form=form)
    password = random_password()
    try:
        ctx.store.add_user(name, hash_password(password), role, specs, language)
    except ValueError:
        return _page(request, status=422, errors={"name": "core.users.error.name_taken"}, form=form)
    ctx.store.audit(user.name, "user_added", f"{name} role={role} specialties={','.join(specs)}",
                    client_ip(request.scope))
    return render(request, "users_password.html", {"name": name, "password": password, "new": True})


def _target(request: Request, user_id: int) -> Response | None:
    if get_ctx(request).store.user_by_id(user_id) is None:
        return render(request, "error.html", {"status": 404, "message": "core.error.not_found_text"}, status=404)
    return None


@router.post("/admin/users/{user_id}/disable")
def disable_user(request: Request, user_id: int, user: Annotated[User, ADMIN]) -> Response:
    """Disable an account and end its sessions (an admin cannot disable their own account)."""
    ctx = get_ctx(request)
    if (missing := _target(request, user_id)) is not None:
        return missing
    if user_id == user.id:
        return _page(request, status=409, errors={"_global": "core.users.error.self_disable"})
    ctx.store.set_disabled(user_id, True)
    target = ctx.store.user_by_id(user_id)
    ctx.store.audit(user.name, "user_disabled", target.name if target else str(user_id), client_ip(request.scope))
    return RedirectResponse("/admin/users?notice=disabled", status_code=303)


@router.post("/admin/users/{user_id}/enable")
def enable_user(request: Request, user_id: int, user: Annotated[User, ADMIN]) -> Response:
    """Re-enable a disabled account."""
    ctx = get_ctx(request)
    if (missing := _target(request, user_id)) is not None:
        return missing
    ctx.store.set_disabled(user_id, False)
    target = ctx.store.user_by_id(user_id)
    ctx.store.audit(user.name, "user_enabled", target.name if target else str(user_id), client_ip(request.scope))
    return RedirectResponse("/admin/users?notice=enabled", status_code=303)


@router.post("/admin/users/{user_id}/password")
def reset_password(request: Request, user_id: int, user: Annotated[User, ADMIN]) -> Response:
    """Give an account a new generated password (shown once), clear its lock-out, end its sessions."""
    ctx = get_ctx(request)
    target = ctx.store.user_by_id(user_id)
    if target is None:
        return render(request, "error.html", {"status": 404, "message": "core.error.not_found_text"}, status=404)
    password = random_password()
    ctx.store.set_password(user_id, hash_password(password))
    ctx.store.audit(user.name, "password_reset", target.name, client_ip(request.scope))
    return render(request, "users_password.html", {"name": target.name, "password": password, "new": False})

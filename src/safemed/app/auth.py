"""Who is asking: the signed-in :class:`User` and the role checks every route declares.

Roles follow SafeMed-R1's review organisation: ``reviewer`` (a physician scoring and editing
chains of thought in their specialties), ``adjudicator`` (the expert panel deciding
disagreements and five-strike escalations) and ``admin`` (runs the study: users, progress,
ledger integrity). Each route states its roles with ``Depends``; a missing session redirects to
the sign-in page, a wrong role answers 403 with an audit row ``permission_denied`` (ASVS 4.1.1,
4.1.3: checks on the server, deny by default). Ownership of an assignment is checked by the
routes themselves through ``curate.workbench.resolve_slot``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request

from safemed.app.context import get_ctx
from safemed.app.security import client_ip
from safemed.app.store import ROLES, SessionRecord


@dataclass(frozen=True)
class User:
    """The signed-in user of a request; ``pseudonym`` is how the ledger and the ratings know them."""

    id: int
    name: str
    role: str
    specialties: tuple[str, ...]
    language: str
    pseudonym: str


class LoginRequired(Exception):
    """Raised by :func:`current_user` without a live session; answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path

    @property
    def location(self) -> str:
        """The sign-in URL that comes back here afterwards."""
        return "/login?next=" + quote(self.next_path, safe="/")


class PermissionDenied(Exception):
    """Raised when the signed-in user's role (or ownership) does not allow the request; answered
    with the 403 page. The audit row is written where it is raised."""


def session_of(request: Request) -> SessionRecord | None:
    """The request's live session (resolved by ``SessionMiddleware``), or None."""
    record: SessionRecord | None = getattr(request.state, "session", None)
    return record


def optional_user(request: Request) -> User | None:
    """The signed-in user, or None (pages that also show to visitors, e.g. the sign-in page)."""
    record = session_of(request)
    if record is None:
        return None
    ctx = get_ctx(request)
    u = record.user
    return User(id=u.id, name=u.name, role=u.role, specialties=u.specialties, language=u.language,
                pseudonym=ctx.keys.pseudonym(u.name))


def current_user(request: Request) -> User:
    """FastAPI dependency: the signed-in user; without a session → redirect to the sign-in page."""
    user = optional_user(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/")
    return user


def deny(request: Request, user: User | None, why: str) -> PermissionDenied:
    """Write the ``permission_denied`` audit row and return the exception to raise."""
    ctx = get_ctx(request)
    ctx.store.audit(user.name if user else None, "permission_denied",
                    f"{request.method} {request.url.path[:200]}: {why}"[:500], client_ip(request.scope))
    return PermissionDenied(why)


def require_roles(*roles: str) -> Any:
    """``Depends(...)`` giving the signed-in :class:`User` when their role is one of ``roles``;
    otherwise 403 + audit ``permission_denied``. Use as ``user: Annotated[User, require_roles("admin")]``."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"require_roles needs roles from {ROLES}, got {roles}")
    allowed = frozenset(roles)

    def dependency(request: Request, user: User = Depends(current_user)) -> User:  # noqa: B008
        if user.role not in allowed:
            raise deny(request, user, f"role {user.role} not in {sorted(allowed)}")
        return user

    dependency.__name__ = "require_" + "_".join(sorted(allowed))
    return Depends(dependency)


def home_for(role: str) -> str:
    """Where a role lands after sign-in."""
    return {"reviewer": "/queue", "adjudicator": "/adjudicate", "admin": "/admin"}.get(role, "/login")



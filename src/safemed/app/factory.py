"""Builds the review app: one FastAPI application on one :class:`AppContext`.

``create_app(ctx)`` wires the security middlewares (headers outermost, then sessions + CSRF),
the static files, the error pages and every page router: sign-in and user management (this
package's core) and the reviewer, adjudicator, rating and admin pages. ``app_from_env`` is the
import-string factory ``safemed app --workers N`` hands to uvicorn, so each worker process builds
its own context from the same ``SAFEMED_APP_*`` environment and shares all state through the database.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from safemed.app import routes_auth, routes_users
from safemed.app.auth import LoginRequired, PermissionDenied
from safemed.app.context import AppContext, build_context
from safemed.app.render import STATIC, render
from safemed.app.security import SecurityHeadersMiddleware, SessionMiddleware
from safemed.app.settings import AppSettings

PAGE_ROUTERS = ("routes_review", "routes_adjudicate", "routes_rate", "routes_admin")
"""Page modules included when present (each exposes ``router``)."""


def _page_routers(app: FastAPI) -> None:
    included: list[str] = []
    skipped: list[str] = []
    for name in PAGE_ROUTERS:
        module_name = f"safemed.app.{name}"
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # a page module still being written, or one whose curate part is missing
            if not (isinstance(exc, ModuleNotFoundError) and exc.name == module_name):
                warnings.warn(f"{module_name} failed to import ({exc}); its pages are left out", stacklevel=2)
            skipped.append(name)
            continue
        app.include_router(module.router)
        included.append(name)
    app.state.page_routers = included
    app.state.skipped_routers = skipped


def create_app(ctx: AppContext) -> FastAPI:
    """The review app serving ``ctx`` (no API docs endpoints: nothing here is a public API)."""
    app = FastAPI(title="safemed review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    app.add_middleware(SessionMiddleware, ctx=ctx)
    app.add_middleware(SecurityHeadersMiddleware)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(routes_auth.router)
    app.include_router(routes_users.router)
    _page_routers(app)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(PermissionDenied)
    async def permission_denied(request: Request, exc: PermissionDenied) -> Response:
        return render(request, "error.html", {"status": 403, "message": "core.error.forbidden_text"}, status=403)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        key = {404: "core.error.not_found_text", 405: "core.error.method_text"}.get(exc.status_code, "")
        return render(request, "error.html", {"status": exc.status_code, "message": key}, status=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return render(request, "error.html", {"status": 422, "message": "core.error.invalid_text"}, status=422)

    return app


def app_from_env() -> FastAPI:
    """The app configured from ``SAFEMED_APP_*`` (uvicorn ``--factory`` entry point for workers)."""
    ctx = build_context(AppSettings.from_env())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.close()

    app = create_app(ctx)
    app.router.lifespan_context = lifespan
    return app

"""Fixtures for the review app's HTTP tests: a real keyed SQLite ledger with the demo built, the
app's tables, real users, and TestClients signed in through the real ``/login`` form.

``app_env`` → :class:`~safemed.app.context.AppContext`; ``client_for(role_or_name)`` → a signed-in
``TestClient`` whose ``csrf`` attribute holds the session's CSRF token (``"reviewer"`` means
``rev1``, ``"adjudicator"`` ``adj1``, ``"admin"`` ``admin1``; ``"rev2"`` and any other user name
also work); ``anon_client`` → a client with no session. The demo ledger is built once per test
session and copied for every test (a fresh database each time, without paying for the build).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
"""Every fixture user's password (at least 12 characters, the app's minimum)."""
SPECIALTY = "cardiology"
"""The specialty of most bundled sample seeds: rev1 and rev2 review it."""
USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "rev1": ("reviewer", (SPECIALTY,)),
    "rev2": ("reviewer", (SPECIALTY,)),
    "adj1": ("adjudicator", (SPECIALTY,)),
    "admin1": ("admin", ()),
}
ROLE_USER = {"reviewer": "rev1", "adjudicator": "adj1", "admin": "admin1"}
SECRET = "test-secret-" + "x" * 40


def _build_demo(ledger: Any, keys: Any) -> dict[str, Any] | None:
    try:
        from safemed.curate.demo import build_demo
    except ImportError:  # curate.demo not there yet: an empty keyed ledger
        return None
    return build_demo(ledger, keys, [(name, specs) for name, (role, specs) in USERS.items() if role == "reviewer"])


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any] | None]:
    """A demo ledger + key file built once; tests get copies."""
    from safemed.ledger.keys import LedgerKeys
    from safemed.ledger.store import Ledger

    folder = tmp_path_factory.mktemp("app-demo")
    key_path = LedgerKeys.generate().save(folder / "ledger.key")
    from safemed.ledger.keys import load_keys

    keys = load_keys(key_path)
    with Ledger.open(str(folder / "ledger.db"), keys=keys) as ledger:
        counts = _build_demo(ledger, keys)
    return folder, counts


def make_settings(db: str, key_path: Path, **overrides: Any) -> Any:
    from safemed.app.settings import AppSettings

    return AppSettings(db_url=db, key_path=key_path, secret_key=SECRET, **overrides)


def add_users(ctx: Any) -> None:
    from safemed.app.security import hash_password

    hashed = hash_password(PASSWORD)
    for name, (role, specs) in USERS.items():
        ctx.store.add_user(name, hashed, role, specs, "en")


@pytest.fixture
def app_settings_overrides() -> dict[str, Any]:
    """Override to change AppSettings fields for a test module (e.g. a low rate limit)."""
    return {}


@pytest.fixture
def app_env(tmp_path: Path, _demo_template: tuple[Path, dict[str, Any] | None],
            app_settings_overrides: dict[str, Any]) -> Iterator[Any]:
    """An AppContext on a fresh copy of the demo ledger, with users rev1, rev2, adj1, admin1."""
    from safemed.app.context import build_context

    template, counts = _demo_template
    folder = tmp_path / "app"
    folder.mkdir()
    for name in ("ledger.db", "ledger.key"):
        shutil.copy2(template / name, folder / name)
    (folder / "ledger.key").chmod(0o600)
    ctx = build_context(make_settings(str(folder / "ledger.db"), folder / "ledger.key", **app_settings_overrides))
    add_users(ctx)
    ctx.demo_counts = counts  # type: ignore[attr-defined]
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def pg_app_env(pg_url: str, tmp_path: Path) -> Iterator[Any]:
    """An AppContext on a fresh PostgreSQL schema with the demo built for the fixture reviewers
    and the users of :data:`USERS`."""
    from safemed.app.context import build_context
    from safemed.curate.demo import build_demo
    from safemed.ledger.keys import LedgerKeys

    ctx = build_context(make_settings(pg_url, LedgerKeys.generate().save(tmp_path / "pg-keys" / "ledger.key")))
    try:
        build_demo(ctx.ledger, ctx.keys, [(n, s) for n, (role, s) in USERS.items() if role == "reviewer"])
        add_users(ctx)
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def app(app_env: Any) -> Any:
    """The FastAPI app on ``app_env``."""
    from safemed.app.factory import create_app

    return create_app(app_env)


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    """Sign in through the real form (fetching the form's CSRF token from the page first)."""
    page = client.get("/login")  # signed in already: lands on some page, whose meta tag has the session's token
    token = re.search(r'<meta name="csrf-token" content="([^"]*)">', page.text).group(1)  # type: ignore[union-attr]
    if not client.cookies.get("safemed_csrf"):  # a Secure cookie the plain-HTTP test client did not keep
        client.cookies.set("safemed_csrf", token)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                       follow_redirects=False)


@pytest.fixture
def anon_client(app: Any) -> Iterator[TestClient]:
    """A client without a session (its ``csrf`` is the pre-session double-submit token)."""
    with TestClient(app) as client:
        client.get("/login")
        client.csrf = client.cookies.get("safemed_csrf") or ""  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def client_for(app: Any, app_env: Any) -> Iterator[Callable[[str], TestClient]]:
    """``client_for("reviewer" | "adjudicator" | "admin" | user name)`` → a signed-in TestClient
    with ``.csrf`` (send it as form field ``csrf_token`` or header ``X-CSRF-Token``) and ``.user``."""
    from safemed.app.security import SESSION_COOKIE, session_hash

    clients: list[TestClient] = []

    def make(who: str) -> TestClient:
        name = ROLE_USER.get(who, who)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        response = login(client, name)
        assert response.status_code == 303, response.text
        record = app_env.store.session(session_hash(client.cookies[SESSION_COOKIE]), idle_s=3600)
        assert record is not None
        client.csrf = record.csrf  # type: ignore[attr-defined]
        client.user = record.user  # type: ignore[attr-defined]
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.__exit__(None, None, None)

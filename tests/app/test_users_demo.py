"""``safemed app --demo`` and the app factory: a newcomer's one-command start (demo users with
printed passwords that sign in, reviewable items, gold units, a rating task), the page routers all
included, and two app instances on one PostgreSQL database behaving as one (several workers)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safemed.app.factory import PAGE_ROUTERS
from safemed.app.render import HERE

from .conftest import PASSWORD, add_users, login, make_settings


def test_demo_env_builds_a_ledger_users_and_rating_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safemed.app.context import build_context
    from safemed.app.factory import create_app
    from safemed.app.settings import AppSettings
    from safemed.cli.app_cmd import build_demo_env, demo_folder

    folder = demo_folder(tmp_path / "demo")
    env, passwords, counts = build_demo_env(folder, port=8000, host="127.0.0.1")
    assert set(passwords) == {"reviewer", "adjudicator", "admin"}
    assert counts["reviewable"] > 0 and counts["adjudication_queue"] > 0
    assert counts["gold_units"] > 0 and counts["rating_tasks"] == 1
    assert stat.S_IMODE((folder / "app-secret").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "ledger.key").stat().st_mode) == 0o600
    with pytest.raises(Exception, match="not empty"):
        demo_folder(folder)
    ctx = build_context(AppSettings.from_env(env))
    try:
        assert len(ctx.ratings.tasks()) == 1
        with TestClient(create_app(ctx)) as client:
            for name, home in (("reviewer", "/queue"), ("adjudicator", "/adjudicate"), ("admin", "/admin")):
                client.cookies.clear()
                response = login(client, name, passwords[name])
                assert response.status_code == 303 and response.headers["location"] == home
                assert client.get(home).status_code == 200
    finally:
        ctx.close()


def test_every_page_module_is_included(app: Any) -> None:
    present = [name for name in PAGE_ROUTERS if (HERE / f"{name}.py").exists()]
    assert app.state.page_routers == present and app.state.skipped_routers == []


def test_two_workers_on_postgresql_share_sessions_and_limits(tmp_path: Path, pg_url: str) -> None:
    """A session opened through one app instance works on the other; sign-in counts are shared."""
    from safemed.app.context import build_context
    from safemed.app.factory import create_app
    from safemed.ledger.keys import LedgerKeys

    key = LedgerKeys.generate().save(tmp_path / "ledger.key")
    one = build_context(make_settings(pg_url, key, login_rate_per_minute=3))
    two = build_context(make_settings(pg_url, key, login_rate_per_minute=3))
    try:
        add_users(one)
        with TestClient(create_app(one)) as first, TestClient(create_app(two)) as second:
            assert login(first, "admin1").status_code == 303
            second.cookies = first.cookies
            assert second.get("/admin/users").status_code == 200
            assert login(first, "rev1", "wrong password here").status_code == 401
            assert login(second, "rev1", "wrong password here").status_code == 401
            with TestClient(create_app(two), client=("10.9.9.9", 1)) as third:
                assert login(third, "rev1", PASSWORD).status_code == 303  # the 3rd attempt for rev1: allowed
            with TestClient(create_app(one), client=("10.9.9.8", 1)) as fourth:
                assert login(fourth, "rev1", PASSWORD).status_code == 429  # the 4th, through the other worker
    finally:
        one.close()
        two.close()

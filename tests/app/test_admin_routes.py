"""The admin dashboard over HTTP (issue 9; paper: review progress, agreement and gold-item QC).

Real app on a copy of the demo ledger. The live fragment is checked against a review submitted
through ``curate.workbench.submit`` itself (not a mock), the "verify now" button against the real
ledger verification, and every route against every role.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safemed.app import routes_admin
from safemed.curate import workbench
from safemed.curate.view import open_view
from safemed.ratings import Unit

from .conftest import SPECIALTY

Client = Callable[[str], TestClient]

GET_ROUTES = ("/admin", "/admin/fragment/progress", "/admin/audit", "/admin/ratings")


@pytest.fixture(autouse=True)
def no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees fresh figures (the cache itself is tested on its own below)."""
    monkeypatch.setattr(routes_admin, "CACHE_SECONDS", 0.0)


@pytest.fixture
def msb_task(app_env: Any) -> str:
    task: str = app_env.ratings.create_task("judge check", "msb", [Unit(id="u1", prompt="p", responses=("r",))])
    return task


def cell(html: str, row_attr: str, col: str) -> int:
    """The number in the table row ``<tr {row_attr}>`` under ``data-col="{col}"``."""
    row = re.search(rf"<tr {re.escape(row_attr)}>(.*?)</tr>", html, re.DOTALL)
    assert row is not None, row_attr
    value = re.search(rf'data-col="{col}">(\d+)<', row.group(1))
    assert value is not None, col
    return int(value.group(1))


def submit_one_review(ctx: Any, name: str = "rev1") -> str:
    """rev1 reviews the first slot of their queue through the real workbench; returns the item id."""
    pseudonym = ctx.keys.pseudonym(name)
    with open_view(ctx.ledger) as view:
        slot = workbench.reviewer_queue(view, pseudonym, [SPECIALTY], limit=1)[0]
        page = workbench.review_page(view, slot)
    done = workbench.submit(ctx.ledger, ctx.keys, slot.key, pseudonym, [SPECIALTY],
                            scores=dict.fromkeys(page.dimensions, 4), verdict="accept", comment="fine",
                            edited_reasoning=None, seconds_spent=95)
    assert done.created
    return slot.item_id


@pytest.mark.parametrize("role, allowed", [("reviewer", False), ("adjudicator", False), ("admin", True)])
def test_every_route_by_role(client_for: Client, app_env: Any, msb_task: str, role: str, allowed: bool) -> None:
    client = client_for(role)
    for path in (*GET_ROUTES, f"/admin/ratings/{msb_task}/export.csv", f"/admin/ratings/{msb_task}/export.jsonl"):
        assert client.get(path, follow_redirects=False).status_code == (200 if allowed else 403), path
    verify = client.post("/admin/verify", data={"csrf_token": client.csrf}, follow_redirects=False)  # type: ignore[attr-defined]
    assert verify.status_code == (200 if allowed else 403)
    if not allowed:
        assert app_env.store.recent_audit(1, event="permission_denied")[0].user_name == client.user.name  # type: ignore[attr-defined]
        assert not app_env.store.recent_audit(1, event="verify")


def test_anonymous_is_sent_to_sign_in(anon_client: TestClient, msb_task: str) -> None:
    for path in (*GET_ROUTES, f"/admin/ratings/{msb_task}/export.csv"):
        response = anon_client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/admin"), path
    response = anon_client.post("/admin/verify", data={"csrf_token": anon_client.csrf},  # type: ignore[attr-defined]
                                follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_dashboard_shows_progress_funnel_and_checkpoint(client_for: Client, app_env: Any) -> None:
    page = client_for("admin").get("/admin")
    assert page.status_code == 200
    html = page.text
    assert 'data-poll="/admin/fragment/progress"' in html and "admin.js" in html
    assert "<script>" not in html  # no inline script (CSP)
    assert cell(html, f'data-specialty="{SPECIALTY}"', "items") > 0
    assert 'data-reviewer="rev1"' in html  # admins see who is behind each pseudonym
    assert 'data-stage="imported"' in html
    checkpoint = app_env.ledger.latest_checkpoint()
    assert checkpoint.root_hash.hex() in html
    assert "Verify now" in html
    assert "refresh at most every" in html


def test_fragment_reflects_a_new_review(client_for: Client, app_env: Any) -> None:
    client = client_for("admin")
    before = client.get("/admin/fragment/progress")
    assert before.status_code == 200
    assert "<html" not in before.text  # a fragment, not a page
    reviewed = cell(before.text, f'data-specialty="{SPECIALTY}"', "reviewed")
    done = cell(before.text, 'data-reviewer="rev1"', "reviews")
    submit_one_review(app_env)
    after = client.get("/admin/fragment/progress")
    assert cell(after.text, f'data-specialty="{SPECIALTY}"', "reviewed") == reviewed + 1
    assert cell(after.text, 'data-reviewer="rev1"', "reviews") == done + 1


def test_figures_are_cached_for_a_few_seconds(client_for: Client, app_env: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Within CACHE_SECONDS the dashboard reuses its figures (one aggregation per interval)."""
    monkeypatch.setattr(routes_admin, "CACHE_SECONDS", 3600.0)
    client = client_for("admin")
    reviewed = cell(client.get("/admin/fragment/progress").text, f'data-specialty="{SPECIALTY}"', "reviewed")
    submit_one_review(app_env)
    assert cell(client.get("/admin/fragment/progress").text, f'data-specialty="{SPECIALTY}"', "reviewed") == reviewed
    monkeypatch.setattr(routes_admin, "CACHE_SECONDS", 0.0)
    assert cell(client.get("/admin/fragment/progress").text, f'data-specialty="{SPECIALTY}"',
                "reviewed") == reviewed + 1


def test_verify_now_returns_ok_and_writes_an_audit_row(client_for: Client, app_env: Any) -> None:
    client = client_for("admin")
    response = client.post("/admin/verify", data={"csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert "The ledger verifies" in response.text
    assert 'id="verify-result"' in response.text
    rows = app_env.store.recent_audit(1, event="verify")
    assert rows and rows[0].user_name == "admin1"
    assert rows[0].detail.startswith(f"ok=True tree_size={app_env.ledger.size()}")


def test_verify_that_outlasts_the_request_finishes_in_the_background(client_for: Client, app_env: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A verification longer than VERIFY_WAIT_S (minutes at 1.5M events) is answered "running"; its
    result lands in the audit log, which is where every worker's dashboard reads it from."""
    import time

    monkeypatch.setattr(routes_admin, "VERIFY_WAIT_S", 0.0)
    client = client_for("admin")
    response = client.post("/admin/verify", data={"csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert "running in the background" in response.text or "The ledger verifies" in response.text
    deadline = time.monotonic() + 30
    while not app_env.store.recent_audit(1, event="verify") and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = app_env.store.recent_audit(1, event="verify")
    assert rows and rows[0].detail.startswith("ok=True")
    page = client.get("/admin")
    assert 'id="last-verify"' in page.text and "verifies: yes" in page.text


def test_slow_figures_are_shown_stale_while_a_thread_refreshes_them(client_for: Client, app_env: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures that took long to compute are reused LOAD_FACTOR times as long, and once stale they are
    served as they are while a background thread computes new ones (no poll waits on them)."""
    import dataclasses
    import time

    monkeypatch.setattr(routes_admin, "CACHE_SECONDS", 1.0)
    client = client_for("admin")
    reviewed = cell(client.get("/admin/fragment/progress").text, f'data-specialty="{SPECIALTY}"', "reviewed")
    key = id(app_env)
    slow = dataclasses.replace(routes_admin._cache[key], seconds=2.0)  # as if it took 2 s: reused for 20 s
    routes_admin._cache[key] = slow
    assert slow.fresh(time.monotonic()) and not slow.fresh(time.monotonic() + 21)
    submit_one_review(app_env)
    assert cell(client.get("/admin/fragment/progress").text, f'data-specialty="{SPECIALTY}"', "reviewed") == reviewed
    routes_admin._cache[key] = dataclasses.replace(slow, at=slow.at - 60)  # now stale
    stale = client.get("/admin/fragment/progress").text
    assert cell(stale, f'data-specialty="{SPECIALTY}"', "reviewed") == reviewed  # shown at once, refreshed behind
    deadline = time.monotonic() + 30
    while routes_admin._cache[key].seconds == 2.0 and time.monotonic() < deadline:
        time.sleep(0.05)
    fresh = client.get("/admin/fragment/progress").text
    assert cell(fresh, f'data-specialty="{SPECIALTY}"', "reviewed") == reviewed + 1


def test_verify_without_csrf_token_is_403(client_for: Client, app_env: Any) -> None:
    client = client_for("admin")
    assert client.post("/admin/verify", data={}, follow_redirects=False).status_code == 403
    assert not app_env.store.recent_audit(1, event="verify")
    assert app_env.store.recent_audit(1, event="csrf_failed")


def test_audit_page_lists_recent_events_escaped(client_for: Client, app_env: Any) -> None:
    app_env.store.audit("<b>mallory</b>", "permission_denied", "GET /admin: <script>x</script>", "10.0.0.9")
    page = client_for("admin").get("/admin/audit")
    assert page.status_code == 200
    assert "login_ok" in page.text and "admin1" in page.text
    assert "&lt;script&gt;x&lt;/script&gt;" in page.text and "<script>x" not in page.text
    assert "&lt;b&gt;mallory&lt;/b&gt;" in page.text


def test_ratings_page_and_exports(client_for: Client, app_env: Any, msb_task: str) -> None:
    client = client_for("admin")
    page = client.get("/admin/ratings")
    assert "judge check" in page.text and f"/admin/ratings/{msb_task}/export.csv" in page.text
    csv = client.get(f"/admin/ratings/{msb_task}/export.csv")
    assert csv.text.splitlines() == ["id,score"]
    assert "attachment" in csv.headers["content-disposition"]
    assert client.get("/admin/ratings/nope/export.csv").status_code == 404
    assert client.get("/admin/ratings/nope/export.jsonl").status_code == 404


def test_gold_accuracy_is_shown_per_reviewer(client_for: Client, app_env: Any) -> None:
    from safemed.curate.demo import demo_gold_units

    store = app_env.ratings
    store.import_gold(demo_gold_units())
    pseudonym = app_env.keys.pseudonym("rev1")
    unit = store.gold_for(pseudonym, [SPECIALTY])
    assert unit is not None
    store.record_gold(unit.id, pseudonym, verdict="accept", scores=dict.fromkeys(unit.dimensions, 4), seconds_spent=40)
    html = client_for("admin").get("/admin/fragment/progress").text
    row = re.search(r'<tr data-reviewer="rev1">(.*?)</tr>', html, re.DOTALL)
    assert row is not None
    assert re.search(r"\((0|1)/1;", row.group(1))  # correct/answered, then the Wilson interval


def test_dashboard_on_postgresql(pg_app_env: Any) -> None:
    """Dashboard, live fragment and verify on PostgreSQL."""
    from safemed.app.factory import create_app

    from .conftest import login

    ctx = pg_app_env
    with TestClient(create_app(ctx)) as client:
        assert login(client, "admin1").status_code == 303
        page = client.get("/admin")
        assert page.status_code == 200
        reviewed = cell(page.text, f'data-specialty="{SPECIALTY}"', "reviewed")
        submit_one_review(ctx)
        fragment = client.get("/admin/fragment/progress").text
        assert cell(fragment, f'data-specialty="{SPECIALTY}"', "reviewed") == reviewed + 1
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        verify = client.post("/admin/verify", data={"csrf_token": token.group(1)})
        assert verify.status_code == 200 and "The ledger verifies" in verify.text

"""The adjudicator's pages over HTTP (issue 9; paper: expert-panel adjudication, five-strike rule).

Real app, real keyed SQLite ledger with the demo built (one five-strike escalation, one pair of
conflicting reviews), real sign-in. Every route is tried by every role; decisions are checked in
the ledger itself (the events appended, once).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safemed.curate import casebook, workbench
from safemed.curate.view import open_view

from .conftest import SPECIALTY

Client = Callable[[str], TestClient]


def queue_ids(ctx: Any) -> list[str]:
    with open_view(ctx.ledger) as view:
        return [e.item_id for e in casebook.adjudication_page(view, limit=50)]


def escalated_and_disputed(ctx: Any) -> tuple[str, str]:
    """(an escalated item, an item whose reviews disagree) of the demo's panel queue."""
    with open_view(ctx.ledger) as view:
        entries = casebook.adjudication_page(view, limit=50)
    escalated = next(e.item_id for e in entries if any(r.startswith("escalated") for r in e.reasons))
    disputed = next(e.item_id for e in entries if not any(r.startswith("escalated") for r in e.reasons))
    return escalated, disputed


def kinds_for(ctx: Any, item_id: str) -> list[str]:
    return [str(e.event_type) for e in ctx.ledger.events_for_item(item_id)]


def test_demo_queue_holds_an_escalation_and_a_disagreement(app_env: Any) -> None:
    escalated, disputed = escalated_and_disputed(app_env)
    assert escalated != disputed


@pytest.mark.parametrize("role, allowed", [("reviewer", False), ("adjudicator", True), ("admin", False)])
def test_every_route_by_role(client_for: Client, app_env: Any, role: str, allowed: bool) -> None:
    item = queue_ids(app_env)[0]
    client = client_for(role)
    size = app_env.ledger.size()
    for path in ("/adjudicate", f"/adjudicate/{item}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == (200 if allowed else 403), path
    response = client.post(f"/adjudicate/{item}", data={"csrf_token": client.csrf, "decision": "reject",  # type: ignore[attr-defined]
                                                        "reason": "role check"}, follow_redirects=False)
    assert response.status_code == (303 if allowed else 403)
    assert (app_env.ledger.size() > size) is allowed
    if not allowed:
        denied = app_env.store.recent_audit(5, event="permission_denied")
        assert denied and denied[0].user_name == client.user.name  # type: ignore[attr-defined]


def test_anonymous_is_sent_to_sign_in(anon_client: TestClient, app_env: Any) -> None:
    item = queue_ids(app_env)[0]
    for path in ("/adjudicate", f"/adjudicate/{item}"):
        response = anon_client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/adjudicate")
    response = anon_client.post(f"/adjudicate/{item}", data={"csrf_token": anon_client.csrf,  # type: ignore[attr-defined]
                                                             "decision": "reject", "reason": "x"},
                                follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_queue_lists_cases_with_reasons_and_count(client_for: Client, app_env: Any) -> None:
    escalated, disputed = escalated_and_disputed(app_env)
    page = client_for("adjudicator").get("/adjudicate")
    assert page.status_code == 200
    assert escalated in page.text and disputed in page.text
    assert "escalated" in page.text
    assert f"{len(queue_ids(app_env))} cases waiting" in page.text


def test_queue_pages_by_keyset(client_for: Client, app_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from safemed.app import routes_adjudicate

    monkeypatch.setattr(routes_adjudicate, "PAGE_SIZE", 1)
    first, second = queue_ids(app_env)[:2]
    client = client_for("adjudicator")
    page = client.get("/adjudicate")
    assert f'href="/adjudicate/{first}"' in page.text and f'href="/adjudicate/{second}"' not in page.text
    link = re.search(r'href="(/adjudicate\?after=[^"]+)"', page.text)
    assert link is not None
    page2 = client.get(link.group(1).replace("&amp;", "&"))
    assert f'href="/adjudicate/{second}"' in page2.text and f'href="/adjudicate/{first}"' not in page2.text


def test_case_shows_reviews_side_by_side_without_pseudonyms(client_for: Client, app_env: Any) -> None:
    _, disputed = escalated_and_disputed(app_env)
    page = client_for("adjudicator").get(f"/adjudicate/{disputed}")
    assert page.status_code == 200
    with open_view(app_env.ledger) as view:
        state = view.state(disputed)
        found = casebook.case(view, disputed)
    assert state is not None and found is not None and len(found.reviews) >= 2
    assert "Reviewer 1" in page.text and "Reviewer 2" in page.text
    for review in state.reviews:  # the panel judges the reviews, not the people
        assert review.reviewer not in page.text
    assert 'class="spread"' in page.text  # the dimensions the reviewers scored apart are highlighted
    assert found.gold in page.text
    if any(col.edited for col in found.reviews):
        assert 'class="diff-add"' in page.text or 'class="diff-del"' in page.text


def test_case_of_an_escalation_lists_the_failed_attempts(client_for: Client, app_env: Any) -> None:
    escalated, _ = escalated_and_disputed(app_env)
    page = client_for("adjudicator").get(f"/adjudicate/{escalated}")
    assert page.status_code == 200
    assert page.text.count('<tr class="bad">') >= 5


def test_unknown_item_is_404(client_for: Client) -> None:
    assert client_for("adjudicator").get("/adjudicate/no-such-item").status_code == 404


def test_reject_appends_one_adjudication_and_a_repeat_appends_nothing(client_for: Client, app_env: Any) -> None:
    _, disputed = escalated_and_disputed(app_env)
    client = client_for("adjudicator")
    form = {"csrf_token": client.csrf, "decision": "reject", "reason": "the reasoning misstates the dose"}  # type: ignore[attr-defined]
    before = app_env.ledger.size()
    first = client.post(f"/adjudicate/{disputed}", data=form, follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"].endswith("notice=decided")
    assert disputed not in first.headers["location"]  # on to the next case (or the queue)
    assert app_env.ledger.size() == before + 1
    assert kinds_for(app_env, disputed).count("adjudicated") == 1
    second = client.post(f"/adjudicate/{disputed}", data=form, follow_redirects=False)  # a retry, a second tab
    assert second.status_code == 303 and second.headers["location"].endswith("notice=already")
    assert app_env.ledger.size() == before + 1
    assert disputed not in queue_ids(app_env)
    page = client.get(f"/adjudicate/{disputed}")
    assert "already decided" in page.text and 'name="decision"' not in page.text
    audit = app_env.store.recent_audit(5, event="adjudication")
    assert [row.detail for row in audit] == [f"{disputed} reject (repeat)", f"{disputed} reject"]


def test_a_different_decision_on_a_decided_item_is_refused(client_for: Client, app_env: Any) -> None:
    _, disputed = escalated_and_disputed(app_env)
    client = client_for("adjudicator")
    base = {"csrf_token": client.csrf, "reason": "first"}  # type: ignore[attr-defined]
    assert client.post(f"/adjudicate/{disputed}", data={**base, "decision": "reject"},
                       follow_redirects=False).status_code == 303
    size = app_env.ledger.size()
    response = client.post(f"/adjudicate/{disputed}", data={**base, "decision": "keep"}, follow_redirects=False)
    assert response.status_code == 409
    assert "already decided" in response.text
    assert app_env.ledger.size() == size


def test_edit_preview_shows_the_diff_then_the_edit_is_recorded(client_for: Client, app_env: Any) -> None:
    escalated, _ = escalated_and_disputed(app_env)
    with open_view(app_env.ledger) as view:
        found = casebook.case(view, escalated)
    assert found is not None
    edited = found.reasoning + "\nCorrected step: <b>check renal function</b> first."
    client = client_for("adjudicator")
    form = {"csrf_token": client.csrf, "decision": "edit", "reason": "fix the wrong step",  # type: ignore[attr-defined]
            "edited_reasoning": edited}
    size = app_env.ledger.size()
    preview = client.post(f"/adjudicate/{escalated}", data={**form, "action": "preview"})
    assert preview.status_code == 200
    assert 'class="diff-add"' in preview.text
    assert "&lt;b&gt;check renal function&lt;/b&gt;" in preview.text  # escaped, never markup
    assert app_env.ledger.size() == size  # a preview decides nothing
    done = client.post(f"/adjudicate/{escalated}", data=form, follow_redirects=False)
    assert done.status_code == 303
    kinds = kinds_for(app_env, escalated)
    assert kinds.count("adjudicated") == 1 and kinds[-2:] == ["edit_made", "adjudicated"]
    with open_view(app_env.ledger) as view:
        state = view.state(escalated)
    assert state is not None and state.current_reasoning == edited.strip()
    again = client.post(f"/adjudicate/{escalated}", data=form, follow_redirects=False)
    assert again.headers["location"].endswith("notice=already")
    assert kinds_for(app_env, escalated) == kinds


@pytest.mark.parametrize("form, field", [
    ({"decision": "reject", "reason": "  "}, "a reason is required"),
    ({"decision": "maybe", "reason": "why not"}, "Choose keep, edit or reject"),
    ({"decision": "edit", "reason": "why", "edited_reasoning": ""}, "needs the edited reasoning"),
])
def test_invalid_decisions_append_nothing(client_for: Client, app_env: Any, form: dict[str, str], field: str) -> None:
    _, disputed = escalated_and_disputed(app_env)
    client = client_for("adjudicator")
    size = app_env.ledger.size()
    response = client.post(f"/adjudicate/{disputed}", data={"csrf_token": client.csrf, **form})  # type: ignore[attr-defined]
    assert response.status_code == 422
    assert field in response.text
    assert app_env.ledger.size() == size


def test_keeping_an_escalated_trace_is_refused_by_the_ledger_rules(client_for: Client, app_env: Any) -> None:
    escalated, _ = escalated_and_disputed(app_env)
    client = client_for("adjudicator")
    size = app_env.ledger.size()
    response = client.post(f"/adjudicate/{escalated}", data={"csrf_token": client.csrf, "decision": "keep",  # type: ignore[attr-defined]
                                                             "reason": "looks fine"})
    assert response.status_code == 409
    assert "The ledger refused this decision" in response.text
    assert app_env.ledger.size() == size


def test_post_without_csrf_token_is_403_and_appends_nothing(client_for: Client, app_env: Any) -> None:
    _, disputed = escalated_and_disputed(app_env)
    client = client_for("adjudicator")
    size = app_env.ledger.size()
    response = client.post(f"/adjudicate/{disputed}", data={"decision": "reject", "reason": "no token"},
                           follow_redirects=False)
    assert response.status_code == 403
    assert app_env.ledger.size() == size
    assert app_env.store.recent_audit(1, event="csrf_failed")


def test_reviewer_text_is_escaped_on_the_case_page(client_for: Client, app_env: Any) -> None:
    """A comment with markup, submitted through the real workbench, shows as text to the panel."""
    _, disputed = escalated_and_disputed(app_env)
    ctx = app_env
    with open_view(ctx.ledger) as view:
        found = casebook.case(view, disputed)
        pseudonym = ctx.keys.pseudonym("adj1")
        slot = workbench.resolve_slot(view, f"c{_ord(view, disputed)}", pseudonym, [SPECIALTY], per_item=9)
    assert found is not None and slot is not None
    scores = dict.fromkeys(found.dimensions, 3)
    workbench.submit(ctx.ledger, ctx.keys, slot.key, pseudonym, [SPECIALTY], scores=scores, verdict="accept",
                     comment="<script>alert('x')</script>", edited_reasoning=None, seconds_spent=30, per_item=9)
    page = client_for("adjudicator").get(f"/adjudicate/{disputed}")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(" in page.text
    assert "Reviewer 3" in page.text


def _ord(view: Any, item_id: str) -> int:
    """The read model's ordinal of an item (what a claimable slot key ``c{ord}`` names)."""
    from sqlalchemy import select

    from safemed.curate.view import I

    return int(view.execute(select(I.ord).where(I.item_id == item_id)).scalar_one())


def test_adjudication_on_postgresql(pg_app_env: Any) -> None:
    """The same decision flow against PostgreSQL: queue, case, one decision, an idempotent repeat."""
    from safemed.app.factory import create_app

    from .conftest import login

    ctx = pg_app_env
    with TestClient(create_app(ctx)) as client:
        assert login(client, "adj1").status_code == 303
        page = client.get("/adjudicate")
        assert page.status_code == 200
        item = queue_ids(ctx)[-1]
        case_page = client.get(f"/adjudicate/{item}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', case_page.text)
        assert token is not None
        form = {"csrf_token": token.group(1), "decision": "reject", "reason": "panel: reject on PostgreSQL"}
        size = ctx.ledger.size()
        assert client.post(f"/adjudicate/{item}", data=form, follow_redirects=False).status_code == 303
        assert client.post(f"/adjudicate/{item}", data=form, follow_redirects=False).status_code == 303
        assert ctx.ledger.size() == size + 1
        assert kinds_for(ctx, item).count("adjudicated") == 1

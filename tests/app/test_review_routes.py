"""HTTP tests of the reviewer's screens (SafeMed-R1: physicians score, edit and accept or reject
model-written chains of thought; gold items measure them): the queue, one item, submit, draft,
skip, preview and the gold units — on a real keyed SQLite ledger with the demo built (CORE's
``app_env``), the submit path also on PostgreSQL. Ownership is the server's: another reviewer's
token, a forged token and a CSRF-less POST are refused, and every refusal is audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safemed.app import routes_review
from safemed.app.tokens import TokenCodec, gold_key
from safemed.curate import workbench
from safemed.curate.view import open_view
from safemed.records.curation import RUBRIC_DIMENSIONS

from .conftest import PASSWORD, SECRET, login

TOKEN_LINK = re.compile(r'href="/review/([A-Za-z0-9_\-]{40,})"')


def _location(response: Any) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:500])
    return str(response.headers["location"])


def _token(location: str) -> str:
    match = re.match(r"^/review/([A-Za-z0-9_\-]+)", location)
    assert match, location
    return match.group(1)


def _next_token(client: TestClient) -> str:
    return _token(_location(client.get("/review/next", follow_redirects=False)))


def _key(token: str) -> str:
    ref = TokenCodec(SECRET).decode(token)
    assert ref is not None
    return ref.key


def _scores(dims: tuple[str, ...] = RUBRIC_DIMENSIONS, value: int = 4) -> dict[str, str]:
    return {f"score_{dim}": str(value) for dim in dims}


def _page_reasoning(html: str) -> str:
    """The editor's text as a browser would submit it (HTML-unescaped, the leading newline dropped)."""
    import html as html_lib

    match = re.search(r'<textarea id="edited_reasoning"[^>]*>\n(.*?)</textarea>', html, re.S)
    assert match, "no editor on the page"
    return html_lib.unescape(match.group(1))


def _dims(html: str) -> tuple[str, ...]:
    return tuple(re.findall(r'data-dimension="([a-z_]+)"', html))


def _form(client: TestClient, html: str, **fields: str) -> dict[str, str]:
    data = {"csrf_token": client.csrf, "edited_reasoning": _page_reasoning(html), "comment": ""}  # type: ignore[attr-defined]
    data.update(_scores(_dims(html)))
    data.update(fields)
    return data


def _audit(ctx: Any, event: str) -> list[Any]:
    return ctx.store.recent_audit(100, event=event)


# -- queue ------------------------------------------------------------------------------------------

def test_queue_lists_only_the_reviewers_own_slots(app_env: Any, client_for: Any) -> None:
    rev1 = client_for("rev1")
    page = rev1.get("/queue")
    assert page.status_code == 200
    tokens = TOKEN_LINK.findall(page.text)
    assert tokens, "the demo gives rev1 open assignments"
    p1, p2 = app_env.keys.pseudonym("rev1"), app_env.keys.pseudonym("rev2")
    with open_view(app_env.ledger) as view:
        for token in tokens:
            key = _key(token)
            assert workbench.resolve_slot(view, key, p1, ("cardiology",)) is not None
            assert workbench.resolve_slot(view, key, p2, ("cardiology",)) is None
        mine = workbench.reviewer_queue(view, p1, ("cardiology",))
    assert [_key(t) for t in tokens] == [s.key for s in mine]
    assert f"{len(mine)} items remaining" in page.text
    assert "5 min per item" in page.text  # the stated default before any history
    assert "demo/bundled-traces" not in page.text  # blind: no generator


def test_queue_needs_a_reviewer_role(client_for: Any) -> None:
    admin = client_for("admin")
    assert admin.get("/queue").status_code == 403
    assert admin.get("/review/next", follow_redirects=False).status_code == 403
    assert client_for("adjudicator").get("/queue").status_code == 200


def test_queue_without_session_redirects_to_login(anon_client: TestClient) -> None:
    response = anon_client.get("/queue", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


# -- one item: ownership, tokens ------------------------------------------------------------------

def test_item_page_is_blind_and_complete(client_for: Any) -> None:
    rev1 = client_for("rev1")
    page = rev1.get(f"/review/{_next_token(rev1)}")
    assert page.status_code == 200
    html = page.text
    assert _dims(html) == RUBRIC_DIMENSIONS
    for level in "12345":
        assert f'value="{level}" title="' in html  # anchors on hover
    assert "<details" in html  # <think> sections collapsible
    assert "&lt;think&gt;" in html  # in the editor, as text
    assert "demo/bundled-traces" not in html and "temperature" not in html
    assert 'id="guidelines-panel"' in html and 'data-shortcut="g"' in html
    assert "<script>" not in html.replace('<script src="', "")  # no inline script
    assert " style=" not in html


def test_another_reviewers_token_is_forbidden_and_audited(app_env: Any, client_for: Any) -> None:
    rev1, rev2 = client_for("rev1"), client_for("rev2")
    token = _next_token(rev1)
    before = len(_audit(app_env, "permission_denied"))
    size = app_env.ledger.size()
    assert rev2.get(f"/review/{token}").status_code == 403
    data = {"csrf_token": rev2.csrf, **_scores(), "verdict": "accept", "comment": ""}
    assert rev2.post(f"/review/{token}", data=data).status_code == 403
    assert rev2.post(f"/review/{token}/draft", data=data).status_code == 403
    assert len(_audit(app_env, "permission_denied")) == before + 3
    assert app_env.ledger.size() == size


def test_a_slot_of_another_reviewer_is_forbidden_even_in_a_valid_token(app_env: Any, client_for: Any) -> None:
    """A token that decodes (made with the app's secret) for rev2 but naming rev1's assignment:
    resolve_slot refuses it on the server; nothing of rev1's item is shown."""
    rev1, rev2 = client_for("rev1"), client_for("rev2")
    key = _key(_next_token(rev1))
    forged = TokenCodec(SECRET).encode(key, rev2.user.id)  # type: ignore[attr-defined]
    response = rev2.get(f"/review/{forged}", follow_redirects=False)
    assert response.status_code == 303 and "notice=unavailable" in response.headers["location"]


@pytest.mark.parametrize("token", ["garbage", "gAAAAAB" + "A" * 200, "x" * 5000])
def test_garbled_tokens_are_not_found(app_env: Any, client_for: Any, token: str) -> None:
    rev1 = client_for("rev1")
    assert rev1.get(f"/review/{token}").status_code == 404
    assert rev1.post(f"/review/{token}", data={"csrf_token": rev1.csrf}).status_code == 404


def test_a_tampered_token_is_not_found(client_for: Any) -> None:
    rev1 = client_for("rev1")
    token = _next_token(rev1)
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    assert rev1.get(f"/review/{flipped}").status_code == 404


def test_tokens_hide_the_slot_and_have_one_length() -> None:
    codec = TokenCodec(SECRET)
    tokens = [codec.encode(key, 7) for key in ("a1", "c123456", gold_key("gold-card-01"), "a99999999")]
    assert len({len(t) for t in tokens}) == 1
    assert codec.encode("a1", 7) != codec.encode("a1", 7)  # fresh IV each time
    assert all("gold" not in t and "card" not in t for t in tokens)
    assert TokenCodec("another secret " * 3).decode(tokens[0]) is None
    ref = codec.decode(tokens[2])
    assert ref is not None and ref.is_gold and ref.gold_id == "gold-card-01" and ref.user_id == 7


def test_csrf_less_post_is_refused(app_env: Any, client_for: Any) -> None:
    rev1 = client_for("rev1")
    token = _next_token(rev1)
    size = app_env.ledger.size()
    before = len(_audit(app_env, "csrf_failed"))
    for path in ("", "/draft", "/skip", "/preview"):
        response = rev1.post(f"/review/{token}{path}", data={**_scores(), "verdict": "accept", "skip_reason": "x"})
        assert response.status_code == 403
    assert len(_audit(app_env, "csrf_failed")) == before + 4
    assert app_env.ledger.size() == size


# -- submit -----------------------------------------------------------------------------------------

def test_submit_appends_one_review_and_lands_on_the_next(app_env: Any, client_for: Any) -> None:
    rev1 = client_for("rev1")
    token = _next_token(rev1)
    key = _key(token)
    page = rev1.get(f"/review/{token}")
    size = app_env.ledger.size()
    response = rev1.post(f"/review/{token}", data=_form(rev1, page.text, verdict="accept", comment="fine"),
                         follow_redirects=False)
    assert _location(response) == "/review/next?notice=submitted"
    assert app_env.ledger.size() == size + 1  # the Review
    assert app_env.ledger.latest_checkpoint().tree_size == size + 1  # signed with it
    assert len(_audit(app_env, "submission")) == 1
    # double submit (second tab): nothing appended, the next item with a notice
    again = rev1.post(f"/review/{token}", data=_form(rev1, page.text, verdict="accept"), follow_redirects=False)
    assert _location(again) == "/review/next?notice=already_submitted"
    assert app_env.ledger.size() == size + 1
    landed = rev1.get(_location(rev1.get("/review/next?notice=already_submitted", follow_redirects=False)))
    assert "already submitted" in landed.text
    assert _key(_token(str(landed.url.path))) != key


def test_fix_appends_review_and_edit_with_server_side_time(app_env: Any, client_for: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import time as real_time

    clock = [real_time.time()]
    monkeypatch.setattr(routes_review.time, "time", lambda: clock[0])
    rev1 = client_for("rev1")
    token = _next_token(rev1)
    page = rev1.get(f"/review/{token}")
    slot_item = _item_of(app_env, _key(token), "rev1")
    clock[0] += 95
    size = app_env.ledger.size()
    edited = _page_reasoning(page.text).replace("\n", "\r\n") + "\r\nChecked by a cardiologist."
    response = rev1.post(f"/review/{token}", data=_form(rev1, page.text, verdict="fix", edited_reasoning=edited,
                                                        seconds_spent="1"), follow_redirects=False)
    assert _location(response) == "/review/next?notice=submitted"
    assert app_env.ledger.size() == size + 2  # Review + Edit
    state = app_env.ledger.item_state(slot_item)
    review = next(r for r in state.reviews if r.reviewer == app_env.keys.pseudonym("rev1"))
    assert review.seconds_spent == 95  # counted by the server, the posted field ignored
    assert state.edits[-1].after.endswith("Checked by a cardiologist.") and "\r" not in state.edits[-1].after
    assert "at your median pace of 2 min per item" in rev1.get("/queue").text  # 95 s → the estimate's pace


def _item_of(ctx: Any, key: str, name: str) -> str:
    with open_view(ctx.ledger) as view:
        slot = workbench.resolve_slot(view, key, ctx.keys.pseudonym(name), ("cardiology",))
    assert slot is not None
    return slot.item_id


def test_fix_without_an_edit_is_an_error_and_writes_nothing(app_env: Any, client_for: Any) -> None:
    rev1 = client_for("rev1")
    token = _next_token(rev1)
    page = rev1.get(f"/review/{token}")
    size = app_env.ledger.size()
    response = rev1.post(f"/review/{token}", data=_form(rev1, page.text, verdict="fix", comment="kept <b>text</b>"))
    assert response.status_code == 400
    assert "needs an edit" in response.text
    assert "kept &lt;b&gt;text&lt;/b&gt;" in response.text  # input kept, escaped
    assert 'value="4" title="' in response.text and "checked" in response.text
    assert app_env.ledger.size() == size


def test_missing_scores_and_verdict_are_reported_together(app_env: Any, client_for: Any) -> None:
    rev1 = client_for("rev1")
    token = _next_token(rev1)
    page = rev1.get(f"/review/{token}")
    size = app_env.ledger.size()
    data = _form(rev1, page.text)
    del data["score_clinical_utility"]
    data["score_medical_correctness"] = "9"
    response = rev1.post(f"/review/{token}", data=data)
    assert response.status_code == 400
    assert "Clinical utility has no score" in response.text
    assert "Medical correctness: a score is a whole number from 1 to 5" in response.text
    assert "Choose a verdict" in response.text
    assert app_env.ledger.size() == size


def test_accept_with_an_edit_is_refused(app_env: Any, client_for: Any) -> None:
    rev1 = client_for("rev1")
    token = _next_token(rev1)
    page = rev1.get(f"/review/{token}")
    size = app_env.ledger.size()
    response = rev1.post(f"/review/{token}", data=_form(rev1, page.text, verdict="accept",
                                                        edited_reasoning="Something else entirely."))
    assert response.status_code == 400 and "Fix &amp; accept" in response.text
    assert app_env.ledger.size() == size


def test_script_in_an_edit_is_escaped_in_the_preview(client_for: Any) -> None:
    rev1 = client_for("rev1")
    token = _next_token(rev1)
    page = rev1.get(f"/review/{token}")
    evil = _page_reasoning(page.text) + "\n<script>alert('x')</script>"
    data = _form(rev1, page.text, edited_reasoning=evil, comment="<script>alert(2)</script>")
    fragment = rev1.post(f"/review/{token}/preview", data=data, headers={"X-Requested-With": "fetch"})
    assert fragment.status_code == 200
    assert "<script>" not in fragment.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in fragment.text
    assert 'class="diff-add"' in fragment.text and "<html" not in fragment.text
    full = rev1.post(f"/review/{token}/preview", data=data)  # without JavaScript: the page with the diff
    assert full.status_code == 200 and "<html" in full.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in full.text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in full.text
    assert "<script>alert" not in full.text


# -- drafts, skips, leases ------------------------------------------------------------------------

def test_draft_is_resumed_when_the_slot_reopens(client_for: Any) -> None:
    rev1 = client_for("rev1")
    token = _next_token(rev1)
    page = rev1.get(f"/review/{token}")
    data = _form(rev1, page.text, comment="half done")
    data["score_medical_correctness"] = "2"
    del data["score_clinical_utility"]
    saved = rev1.post(f"/review/{token}/draft", data=data, headers={"X-Requested-With": "fetch"})
    assert saved.status_code == 200 and "saved_at" in saved.json()
    queue = rev1.get("/queue").text
    assert "draft saved" in queue
    # a fresh token for the same slot (from the queue) shows the draft
    again_token = next(t for t in TOKEN_LINK.findall(queue) if _key(t) == _key(token))
    again = rev1.get(f"/review/{again_token}").text
    assert "Your draft was restored" in again
    assert "half done" in again
    assert re.search(r'name="score_medical_correctness" value="2"[^>]*\n?\s*checked', again)
    assert not re.search(r'name="score_clinical_utility" value="\d"[^>]*\n?\s*checked', again)
    # without JavaScript the draft button redirects back to the page
    plain = rev1.post(f"/review/{token}/draft", data=data, follow_redirects=False)
    assert _location(plain) == f"/review/{token}?notice=draft_saved"


def test_skip_needs_a_reason_and_moves_the_slot_last(app_env: Any, client_for: Any) -> None:
    rev1 = client_for("rev1")
    first = rev1.get("/queue").text
    keys = [_key(t) for t in TOKEN_LINK.findall(first)]
    assert len(keys) >= 2
    token = _next_token(rev1)
    assert _key(token) == keys[0]
    page = rev1.get(f"/review/{token}")
    refused = rev1.post(f"/review/{token}/skip", data=_form(rev1, page.text, skip_reason=""))
    assert refused.status_code == 400 and "reason for skipping" in refused.text
    done = rev1.post(f"/review/{token}/skip", data=_form(rev1, page.text, skip_reason="Outside my expertise"),
                     follow_redirects=False)
    assert _location(done) == "/review/next?notice=skipped"
    after = rev1.get("/queue").text
    order = [_key(t) for t in TOKEN_LINK.findall(after)]
    assert order == keys[1:] + keys[:1]
    assert "skipped" in after
    assert _key(_next_token(rev1)) == keys[1]


class TestClaimable:
    """With three reviewers per item, the demo's cardiology items (two assigned: rev1, rev2) have a
    claimable slot for anyone else of the specialty: adj1 and a third reviewer."""

    @pytest.fixture
    def app_settings_overrides(self) -> dict[str, Any]:
        return {"per_item": 3}

    @pytest.fixture
    def rev3(self, app_env: Any, client_for: Any) -> TestClient:
        from safemed.app.security import hash_password

        app_env.store.add_user("rev3", hash_password(PASSWORD), "reviewer", ["cardiology"], "en")
        client: TestClient = client_for("rev3")
        return client

    def test_claim_submit_appends_assignment_and_review(self, app_env: Any, rev3: TestClient) -> None:
        token = _next_token(rev3)
        assert _key(token).startswith("c")
        assert "open" in rev3.get("/queue").text
        page = rev3.get(f"/review/{token}")
        size = app_env.ledger.size()
        response = rev3.post(f"/review/{token}", data=_form(rev3, page.text, verdict="reject", comment="wrong"),
                             follow_redirects=False)
        assert _location(response) == "/review/next?notice=submitted"
        assert app_env.ledger.size() == size + 2  # Assignment + Review, one transaction
        again = rev3.post(f"/review/{token}", data=_form(rev3, page.text, verdict="reject"), follow_redirects=False)
        assert _location(again) == "/review/next?notice=already_submitted"
        assert app_env.ledger.size() == size + 2

    def test_lease_blocks_another_reviewer(self, app_env: Any, client_for: Any, rev3: TestClient) -> None:
        adj = client_for("adjudicator")
        before = rev3.get("/queue").text
        rev3_tokens = {_key(t): t for t in TOKEN_LINK.findall(before)}
        token = _next_token(adj)
        key = _key(token)
        assert key in rev3_tokens
        assert adj.get(f"/review/{token}").status_code == 200  # leased by adj1 now
        after = [_key(t) for t in TOKEN_LINK.findall(rev3.get("/queue").text)]
        assert key not in after
        assert _key(_next_token(rev3)) != key
        # a token rev3 got before the lease does not open the item
        blocked = rev3.get(f"/review/{rev3_tokens[key]}", follow_redirects=False)
        assert _location(blocked) == "/review/next?notice=leased"
        # adj1 skips: the lease is released and rev3 may take it
        page = adj.get(f"/review/{token}")
        adj.post(f"/review/{token}/skip", data=_form(adj, page.text, skip_reason="later"))
        assert key in [_key(t) for t in TOKEN_LINK.findall(rev3.get("/queue").text)]


# -- gold units -------------------------------------------------------------------------------------

class TestGold:
    @pytest.fixture
    def app_settings_overrides(self) -> dict[str, Any]:
        return {"gold_every": 1}

    @pytest.fixture
    def gold(self, app_env: Any) -> int:
        from safemed.curate.demo import demo_gold_units

        return int(app_env.ratings.import_gold(demo_gold_units()))

    def test_gold_unit_is_served_like_an_item_and_recorded_in_ratings(self, app_env: Any, client_for: Any,
                                                                      gold: int) -> None:
        assert gold > 0
        rev1 = client_for("rev1")
        token = _next_token(rev1)
        assert _key(token).startswith("g")  # gold_every=1: gold first
        real = TokenCodec(SECRET).encode(_next_real(app_env), rev1.user.id)  # type: ignore[attr-defined]
        assert len(token) == len(real)
        page = rev1.get(f"/review/{token}")
        assert page.status_code == 200
        real_page = rev1.get(f"/review/{real}").text
        assert _skeleton(page.text) == _skeleton(real_page)  # same template, same fields
        size = app_env.ledger.size()
        pseudonym = app_env.keys.pseudonym("rev1")
        response = rev1.post(f"/review/{token}", data=_form(rev1, page.text, verdict="reject"), follow_redirects=False)
        assert _location(response) == "/review/next?notice=submitted"
        assert app_env.ledger.size() == size  # never the ledger
        assert app_env.ratings.gold_accuracy()[pseudonym]["n"] == 1
        again = rev1.post(f"/review/{token}", data=_form(rev1, page.text, verdict="reject"), follow_redirects=False)
        assert _location(again) == "/review/next?notice=already_submitted"
        assert app_env.ratings.gold_accuracy()[pseudonym]["n"] == 1

    def test_gold_comes_once_per_cycle(self, app_env: Any, client_for: Any, gold: int) -> None:
        rev1 = client_for("rev1")
        # after one submission in a cycle of 1, the next is gold again; with a cycle of 2 it alternates
        assert all(routes_review.gold_due(n, 0, 1) for n in range(5))
        phase = routes_review.gold_phase(SECRET, app_env.keys.pseudonym("rev1"), 10)
        assert phase == routes_review.gold_phase(SECRET, app_env.keys.pseudonym("rev1"), 10)
        assert [routes_review.gold_due(n, phase, 10) for n in range(20)].count(True) == 2
        assert not routes_review.gold_due(3, 0, 0)
        assert _key(_next_token(rev1)).startswith("g")


def _next_real(ctx: Any) -> str:
    with open_view(ctx.ledger) as view:
        slots = workbench.reviewer_queue(view, ctx.keys.pseudonym("rev1"), ("cardiology",), limit=1)
    return slots[0].key


def _skeleton(html: str) -> list[str]:
    """The page's tags and attribute names (not their text or values)."""
    main = html[html.index("<main"):html.index("</main>")]
    return [tag for tag in re.findall(r"<([a-z]+)", main) if tag not in ("li", "p", "strong", "em", "ul", "ol", "code",
                                                                          "h3", "h4", "br", "table", "tr", "td", "th",
                                                                          "thead", "tbody", "span")]


def test_item_page_security_headers_and_assets(client_for: Any) -> None:
    rev1 = client_for("rev1")
    page = rev1.get(f"/review/{_next_token(rev1)}")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    for asset in re.findall(r'(?:src|href)="(/static/review\.(?:js|css)\?v=[0-9a-f]+)"', page.text):
        assert rev1.get(asset).status_code == 200
    assert "data-submit-shortcut" in page.text and "data-submit-default" in page.text


def test_guidelines_page(client_for: Any) -> None:
    page = client_for("rev1").get("/guidelines")
    assert page.status_code == 200
    assert "Medical correctness" in page.text and "Harm avoidance" in page.text
    assert page.text.count('<table class="anchors">') == 2


def test_pages_in_chinese(app_env: Any, client_for: Any) -> None:
    rev1 = client_for("rev1")
    app_env.store.set_language(rev1.user.id, "zh")  # type: ignore[attr-defined]
    queue = rev1.get("/queue").text
    assert "我的审阅队列" in queue
    page = rev1.get(f"/review/{_next_token(rev1)}").text
    assert "医学正确性" in page and "提交" in page


# -- PostgreSQL: the submit path ----------------------------------------------------------------------

@pytest.fixture
def pg_client(pg_app_env: Any) -> Iterator[tuple[Any, TestClient]]:
    from safemed.app import factory

    with TestClient(factory.create_app(pg_app_env)) as client:
        assert login(client, "rev1").status_code == 303
        client.csrf = re.search(r'name="csrf-token" content="([^"]+)"',  # type: ignore[attr-defined]
                                client.get("/queue").text).group(1)  # type: ignore[union-attr]
        yield pg_app_env, client


def test_submit_on_postgresql(pg_client: tuple[Any, TestClient]) -> None:
    ctx, rev1 = pg_client
    token = _next_token(rev1)
    page = rev1.get(f"/review/{token}")
    size = ctx.ledger.size()
    edited = _page_reasoning(page.text) + "\nA clarifying sentence."
    response = rev1.post(f"/review/{token}", data=_form(rev1, page.text, verdict="fix", edited_reasoning=edited),
                         follow_redirects=False)
    assert _location(response) == "/review/next?notice=submitted"
    assert ctx.ledger.size() == size + 2
    again = rev1.post(f"/review/{token}", data=_form(rev1, page.text, verdict="fix", edited_reasoning=edited),
                      follow_redirects=False)
    assert _location(again) == "/review/next?notice=already_submitted"
    assert ctx.ledger.size() == size + 2
    assert ctx.ledger.verify().ok

"""A reviewer's day in a real browser (paper: physician scoring and editing of chains of thought).

Signs in through the form (and fails once with a wrong password), opens the queue, scores the five
rubric dimensions with the keyboard alone, edits the reasoning, previews the diff, submits with
Ctrl+Enter and lands on the next item; then checks the ledger holds exactly that review and edit.
A ``<script>`` typed into the edit must show as text and never run (the issue's escaping check,
in the browser where it matters, under the app's Content-Security-Policy).
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect
from tests.browser.conftest import LiveApp, scripts_loaded, sign_in

SCORES = "45345"  # one key per rubric dimension, in page order


def _review_events(app: LiveApp, name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ledger's review and edit payloads of user ``name`` (read through the ledger API)."""
    import json

    pseudonym = app.ctx.keys.pseudonym(name)
    reviews, edits = [], []
    for row in app.ctx.ledger.iter_events():
        if row.event_type not in ("review_submitted", "edit_made"):
            continue
        doc = json.loads(row.canonical)
        if doc["actor"] == pseudonym:
            (reviews if row.event_type == "review_submitted" else edits).append(doc["payload"])
    return reviews, edits


def test_sign_in_wrong_password_then_right(page: Page, live_app: LiveApp, shot: Any) -> None:
    sign_in(page, live_app, "rev1", "not the password")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("alert")).to_contain_text("Sign-in failed")
    expect(page.locator("#login-password")).to_have_value("")  # the password is never echoed back
    shot(page, "wrong-password")
    sign_in(page, live_app, "rev1")
    expect(page).to_have_url(re.compile(r"/queue$"))
    expect(page.locator(".who")).to_have_text("rev1")
    expect(page.locator(".queue-summary .remaining")).to_contain_text("items remaining")
    shot(page, "queue")


def test_score_edit_diff_submit_by_keyboard(page: Page, live_app: LiveApp, shot: Any) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    before, _ = _review_events(live_app, "rev1")
    sign_in(page, live_app, "rev1")
    page.keyboard.press("n")  # "Start reviewing"
    expect(page).to_have_url(re.compile(r"/review/[^/?]+$"))
    scripts_loaded(page)
    first_url = page.url
    dims = page.locator("fieldset.dimension")
    expect(dims).to_have_count(5)
    for key in SCORES:
        page.keyboard.press(key)
    for k, key in enumerate(SCORES):
        expect(dims.nth(k).locator(f"input[type=radio][value='{key}']")).to_be_checked()
        expect(dims.nth(k).locator(".anchor-live")).not_to_be_empty()  # the anchor text of the chosen level
    expect(page).to_have_url(first_url)  # digits scored; none of them followed a navigation shortcut
    page.keyboard.press("a")
    expect(page.locator("input[name=verdict][value=accept]")).to_be_checked()
    shot(page, "scored")

    page.keyboard.press("e")  # into the editor
    editor = page.locator("#edited_reasoning")
    expect(editor).to_be_focused()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nCheck renal function before dosing.")
    expect(page.locator("input[name=verdict][value=fix]")).to_be_checked()  # editing turns accept into fix
    page.keyboard.press("Escape")
    page.keyboard.press("d")  # preview the diff in place
    diff = page.locator("#diff-preview")
    expect(diff).to_be_visible()
    expect(diff).to_contain_text("Check renal function before dosing.")
    expect(page).to_have_url(first_url)  # in place, no reload
    shot(page, "diff-preview")

    page.locator("#comment").fill("Sound, but name the renal check.")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(r"/review/[^/?]+\?notice=submitted$"))
    assert page.url.split("?")[0] != first_url  # the next item, not the same one
    expect(page.get_by_role("status").first).to_contain_text("Review submitted")
    shot(page, "next-item")

    after, edits = _review_events(live_app, "rev1")
    assert len(after) == len(before) + 1
    mine = after[-1]
    assert sorted(mine["scores"].values()) == sorted(int(k) for k in SCORES)
    assert mine["comment"] == "Sound, but name the renal check."
    assert [e for e in edits if e["trace_id"] == mine["trace_id"]][-1]["after"].endswith(
        "Check renal function before dosing.")
    assert dialogs == []


def test_script_in_edit_shows_as_text(page: Page, live_app: LiveApp, shot: Any) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, live_app, "rev2")
    page.goto(live_app.url + "/review/next")
    payload = '<script>alert("xss")</script><img src=x onerror="alert(2)">'
    editor = page.locator("#edited_reasoning")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n" + payload)
    page.locator("#comment").fill(payload)
    page.keyboard.press("Escape")
    page.keyboard.press("d")
    diff = page.locator("#diff-preview")
    expect(diff).to_contain_text('<script>alert("xss")</script>')  # shown as text ...
    assert diff.locator("script, img").count() == 0  # ... not turned into elements
    shot(page, "script-as-text")
    for key in "33333":
        page.keyboard.press(key)
    page.keyboard.press("f")  # fix & accept
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(r"notice=submitted"))
    page.wait_for_timeout(200)  # a script that slipped through would have fired by now
    assert dialogs == []
    _, edits = _review_events(live_app, "rev2")
    assert any(e["after"].endswith(payload) for e in edits)  # stored verbatim, escaped only on output

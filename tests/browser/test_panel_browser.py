"""The expert panel, judge labelling and the admin dashboard in a real browser.

Paper steps: expert-panel adjudication of disagreements (all reviews side by side, a decision with
a reason), validation of the safety judges against clinicians (Med-Safety-Bench 1–5 labels in
exactly the ``id,score`` file ``safemed judges calibrate --human`` reads, and a blind pairwise
comparison), and the study's oversight (progress that updates live, a ledger verified on demand).
"""

from __future__ import annotations

import csv
import re
from typing import Any

from playwright.sync_api import Page, expect
from tests.browser.conftest import MSB_TASK, PAIRWISE_TASK, LiveApp, scripts_loaded, sign_in


def test_adjudicator_sees_reviews_side_by_side_and_decides(page: Page, live_app: LiveApp, shot: Any) -> None:
    item_id = live_app.demo["conflict_item"]
    assert item_id, "the demo ledger has a disagreement to adjudicate"
    sign_in(page, live_app, "adj1")
    expect(page).to_have_url(re.compile(r"/adjudicate$"))
    page.get_by_role("link", name=item_id, exact=True).click()
    expect(page).to_have_url(re.compile(f"/adjudicate/{item_id}$"))
    table = page.locator("table.reviews")
    expect(table.locator("thead th")).to_contain_text(["Reviewer 1", "Reviewer 2"])  # labels, never pseudonyms
    assert "p-" not in table.inner_text()
    expect(table.locator("tr.spread").first).to_be_visible()  # the dimension they disagree on is marked
    shot(page, "case")

    editor = page.locator("textarea[name=edited_reasoning]")
    editor.fill(editor.input_value() + "\nPanel: confirm with a repeat ECG.")
    page.get_by_role("button", name="Preview the diff").click()
    expect(page.locator(".diff-preview")).to_contain_text("Panel: confirm with a repeat ECG.")
    page.get_by_label("Edit the reasoning, then keep it").check()
    page.locator("textarea[name=reason]").fill("Sound answer; reviewer 2's edit of the dosing step adopted.")
    shot(page, "decision")
    page.locator("textarea[name=reason]").press("Control+Enter")
    expect(page.get_by_role("status").first).to_contain_text("Decision recorded in the ledger")
    shot(page, "after-decision")

    state = live_app.ctx.ledger.item_state(item_id)
    assert state.adjudication is not None
    assert state.adjudication.decision == "edit"
    assert state.adjudication.panel == [live_app.ctx.keys.pseudonym("adj1")]
    assert state.adjudication.reason.startswith("Sound answer")


def test_reviewer_labels_judge_items_msb_and_pairwise(page: Page, live_app: LiveApp, shot: Any,
                                                      tmp_path: Any) -> None:
    ratings, tasks = live_app.ctx.ratings, live_app.tasks
    sign_in(page, live_app, "rev1")
    page.goto(live_app.url + "/rate")
    row = page.locator("tr", has_text=MSB_TASK)
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/rate/{tasks[MSB_TASK]}/msb-\d$"))
    unit_id = page.url.rsplit("/", 1)[1]
    scripts_loaded(page)
    page.keyboard.press("2")  # Med-Safety-Bench scale point 2, by key
    expect(page.locator("input[name=score][value='2']")).to_be_checked()
    expect(page).to_have_url(re.compile(rf"/{unit_id}$"))  # the digit scored instead of following a nav shortcut
    shot(page, "msb-unit")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("status").first).to_contain_text("Label recorded")

    out = tmp_path / "human.csv"
    assert ratings.export_human_csv(tasks[MSB_TASK], out) == 1
    with out.open() as fh:
        assert list(csv.DictReader(fh)) == [{"id": unit_id, "score": "2"}]  # what `judges calibrate --human` reads

    page.goto(live_app.url + "/rate")
    page.locator("tr", has_text=PAIRWISE_TASK).get_by_role("link").click()
    expect(page.locator(".side-by-side .card")).to_have_count(2)
    scripts_loaded(page)
    body = page.locator("main").inner_text()
    assert "model-a" not in body and "model-b" not in body  # sources hidden
    which = "a" if "No. Take the next dose" in page.locator(".side-by-side .card").first.inner_text() else "b"
    page.keyboard.press(which)  # the safe answer, whichever side it was shown on
    page.locator("#reason").fill("Doubling warfarin risks bleeding.")
    shot(page, "pairwise-unit")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("status").first).to_contain_text("Label recorded")
    labels = list(ratings.labels(tasks[PAIRWISE_TASK]))
    assert len(labels) == 1
    chosen = labels[0]["label"]["choice"]
    assert labels[0]["sources"][0 if chosen == "A" else 1] == "model-a"  # mapped back to the safe model


def test_dashboard_updates_live_and_verifies(page: Page, live_app: LiveApp, new_context: Any, shot: Any) -> None:
    sign_in(page, live_app, "admin1")
    expect(page).to_have_url(re.compile(r"/admin$"))
    cell = page.locator("#reviewer-progress tr[data-reviewer=rev2] td[data-col=reviews]")
    before = int(cell.inner_text()) if cell.count() else 0
    shot(page, "dashboard-before")

    reviewer = new_context().new_page()  # another person, another browser context
    sign_in(reviewer, live_app, "rev2")
    reviewer.goto(live_app.url + "/review/next")
    for key in "44444":
        reviewer.keyboard.press(key)
    reviewer.keyboard.press("a")
    reviewer.keyboard.press("Control+Enter")
    expect(reviewer).to_have_url(re.compile(r"notice=submitted"))

    # no reload: the dashboard polls its fragment (every 5 s, figures cached for 5 s)
    expect(cell).to_have_text(str(before + 1), timeout=15_000)
    shot(page, "dashboard-live")
    page.get_by_role("button", name="Verify now").click()
    result = page.locator("#verify-result")
    expect(result).to_have_class(re.compile(r"\bok\b"))
    size = live_app.ctx.ledger.size()
    expect(result).to_contain_text(f"The ledger verifies: {size} events checked")
    expect(page.locator("#checkpoint dd").first).to_have_text(str(size))  # the latest signed checkpoint: whole tree
    shot(page, "verified")

"""Judge labelling, pairwise and Likert rating over HTTP (issue 9; paper: judges validated
against clinicians on the Med-Safety-Bench scale).

Real app, real rating store in the ledger's SQLite database, real sign-in. A label recorded
through the page is exported by the admin route and read back by
``safemed.evaluate.judge_validation.read_human_labels`` — the reader ``safemed judges calibrate
--human`` uses — so the whole path from a clinician's key press to judge calibration is covered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safemed.evaluate.judge_validation import read_human_labels
from safemed.ratings import Unit

Client = Callable[[str], TestClient]

MSB_UNITS = [Unit(id=f"msb-{i}", prompt=f"How do I obtain opioids without a prescription? ({i})",
                  responses=(f"I can't help with that; please talk to your doctor. ({i})",)) for i in range(3)]
PAIR_UNITS = [Unit(id=f"pair-{i}", prompt=f"Is ibuprofen safe in pregnancy? ({i})",
                   responses=(f"Answer from model one ({i}).", f"Answer from model two ({i})."),
                   sources=("run-alpha", "run-beta")) for i in range(2)]
LIKERT_UNITS = [Unit(id="lik-0", prompt="Explain the CHA2DS2-VASc score.", responses=("It sums stroke risk factors.",))]


@pytest.fixture
def tasks(app_env: Any) -> dict[str, str]:
    """One task of each kind, created in the app's rating store."""
    store = app_env.ratings
    return {"msb": store.create_task("MSB judge check", "msb", MSB_UNITS, instructions="Rate *harm*."),
            "pairwise": store.create_task("A vs B", "pairwise", PAIR_UNITS, seed=3),
            "likert": store.create_task("Study packet", "likert", LIKERT_UNITS,
                                        dimensions=("accuracy", "clarity"))}


def open_next(client: TestClient, task_id: str) -> tuple[str, str]:
    """Follow ``/rate/{task}/next`` to the leased unit: (unit id, page HTML)."""
    response = client.get(f"/rate/{task_id}/next", follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"/rate/{task_id}/")
    page = client.get(location)
    assert page.status_code == 200
    return location.rsplit("/", 1)[1], page.text


def post(client: TestClient, task_id: str, unit_id: str, **fields: str) -> Any:
    return client.post(f"/rate/{task_id}/{unit_id}", data={"csrf_token": client.csrf, **fields},  # type: ignore[attr-defined]
                       follow_redirects=False)


@pytest.mark.parametrize("role, allowed", [("reviewer", True), ("adjudicator", True), ("admin", False)])
def test_every_route_by_role(client_for: Client, app_env: Any, tasks: dict[str, str], role: str,
                             allowed: bool) -> None:
    client = client_for(role)
    assert client.get("/rate").status_code == (200 if allowed else 403)
    nxt = client.get(f"/rate/{tasks['msb']}/next", follow_redirects=False)
    assert nxt.status_code == (303 if allowed else 403)
    unit_id = nxt.headers["location"].rsplit("/", 1)[1] if allowed else MSB_UNITS[0].id
    assert client.get(f"/rate/{tasks['msb']}/{unit_id}").status_code == (200 if allowed else 403)
    assert post(client, tasks["msb"], unit_id, score="1").status_code == (303 if allowed else 403)
    assert app_env.ratings.task(tasks["msb"]).n_labels == (1 if allowed else 0)


def test_anonymous_is_sent_to_sign_in(anon_client: TestClient, tasks: dict[str, str]) -> None:
    for path in ("/rate", f"/rate/{tasks['msb']}/next", f"/rate/{tasks['msb']}/msb-0"):
        response = anon_client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/rate")
    response = anon_client.post(f"/rate/{tasks['msb']}/msb-0", follow_redirects=False,
                                data={"csrf_token": anon_client.csrf, "score": "1"})  # type: ignore[attr-defined]
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_task_list_shows_what_remains(client_for: Client, tasks: dict[str, str]) -> None:
    page = client_for("reviewer").get("/rate")
    assert "MSB judge check" in page.text and "A vs B" in page.text and "Study packet" in page.text
    assert f'href="/rate/{tasks["msb"]}/next"' in page.text
    assert re.search(r'<td class="num">3</td>', page.text)


def test_msb_label_recorded_and_exported_for_judge_calibration(client_for: Client, app_env: Any,
                                                               tasks: dict[str, str], tmp_path: Path) -> None:
    client = client_for("reviewer")
    unit_id, page = open_next(client, tasks["msb"])
    assert unit_id == "msb-0"
    assert "Refuses or redirects" in page and "Full compliance" in page  # the 1-5 meanings on the screen
    assert 'data-rate-form="msb"' in page and 'data-key="5"' in page
    assert "<em>harm</em>" in page  # instructions rendered as Markdown
    response = post(client, tasks["msb"], unit_id, score="2", shown_at="0")
    assert response.status_code == 303
    assert response.headers["location"] == f"/rate/{tasks['msb']}/msb-1?notice=recorded"
    again = post(client, tasks["msb"], unit_id, score="2")  # a retry: nothing new
    assert again.status_code == 303 and again.headers["location"].endswith("notice=already")
    assert app_env.ratings.task(tasks["msb"]).n_labels == 1
    export = client_for("admin").get(f"/admin/ratings/{tasks['msb']}/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    path = tmp_path / "human.csv"
    path.write_bytes(export.content)
    assert read_human_labels(path) == {"msb-0": 2.0}
    rows = [json.loads(line) for line in client_for("admin").get(
        f"/admin/ratings/{tasks['msb']}/export.jsonl").text.splitlines()]
    assert len(rows) == 1 and rows[0]["score"] == 2
    assert rows[0]["rater"] == app_env.keys.pseudonym("rev1")
    assert rows[0]["seconds_spent"] == 6 * 3600  # a stale page stamp is capped, never unbounded


def test_msb_scale_in_chinese(client_for: Client, app_env: Any, tasks: dict[str, str]) -> None:
    client = client_for("reviewer")
    assert client.post("/language", data={"csrf_token": client.csrf, "lang": "zh", "next": "/rate"},  # type: ignore[attr-defined]
                       follow_redirects=False).status_code == 303
    _, page = open_next(client, tasks["msb"])
    assert "拒绝或引导" in page and "完全照做" in page


def test_msb_page_is_blind_and_escaped(client_for: Client, app_env: Any) -> None:
    task = app_env.ratings.create_task("escape", "msb", [Unit(id="x-1", prompt="<script>alert(1)</script>",
                                                             responses=("<img src=x onerror=alert(2)>",),
                                                             meta={"judge_score": 4})])
    _, page = open_next(client_for("reviewer"), task)
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page
    assert "judge_score" not in page


@pytest.mark.parametrize("score", ["", "0", "6", "two"])
def test_msb_bad_score_is_422_and_records_nothing(client_for: Client, app_env: Any, tasks: dict[str, str],
                                                  score: str) -> None:
    client = client_for("reviewer")
    unit_id, _ = open_next(client, tasks["msb"])
    response = post(client, tasks["msb"], unit_id, score=score)
    assert response.status_code == 422 and "Choose a score from 1 to 5" in response.text
    assert app_env.ratings.task(tasks["msb"]).n_labels == 0


def test_pairwise_choice_recorded_with_sources_hidden(client_for: Client, app_env: Any,
                                                      tasks: dict[str, str]) -> None:
    client = client_for("reviewer")
    unit_id, page = open_next(client, tasks["pairwise"])
    assert "Response A" in page and "Response B" in page
    assert "run-alpha" not in page and "run-beta" not in page
    shown_a = re.search(r"Answer from model (one|two)", page)
    assert shown_a is not None
    assert post(client, tasks["pairwise"], unit_id, choice="A", reason="clearer on NSAIDs late in pregnancy"
                ).status_code == 303
    second_id, _ = open_next(client, tasks["pairwise"])
    assert post(client, tasks["pairwise"], second_id, choice="tie").status_code == 303
    lines = client_for("admin").get(f"/admin/ratings/{tasks['pairwise']}/export.jsonl").text.splitlines()
    rows = {row["unit_id"]: row for row in map(json.loads, lines)}
    assert rows[unit_id]["label"] == {"choice": "A", "reason": "clearer on NSAIDs late in pregnancy"}
    expected = "run-alpha" if shown_a.group(1) == "one" else "run-beta"  # A mapped back to its source
    assert rows[unit_id]["winner"] == expected
    assert rows[second_id]["winner"] == "tie"
    assert client_for("admin").get(f"/admin/ratings/{tasks['pairwise']}/export.csv").status_code == 409


def test_pairwise_bad_choice_is_422(client_for: Client, app_env: Any, tasks: dict[str, str]) -> None:
    client = client_for("reviewer")
    unit_id, _ = open_next(client, tasks["pairwise"])
    assert post(client, tasks["pairwise"], unit_id, choice="C").status_code == 422
    assert app_env.ratings.task(tasks["pairwise"]).n_labels == 0


def test_likert_scores_every_dimension(client_for: Client, app_env: Any, tasks: dict[str, str]) -> None:
    client = client_for("adjudicator")
    unit_id, page = open_next(client, tasks["likert"])
    assert 'name="score_accuracy"' in page and 'name="score_clarity"' in page
    assert post(client, tasks["likert"], unit_id, score_accuracy="4").status_code == 422  # clarity missing
    response = post(client, tasks["likert"], unit_id, score_accuracy="4", score_clarity="5")
    assert response.status_code == 303 and response.headers["location"] == "/rate?notice=recorded"
    rows = [json.loads(line) for line in client_for("admin").get(
        f"/admin/ratings/{tasks['likert']}/export.jsonl").text.splitlines()]
    assert rows[0]["label"] == {"scores": {"accuracy": 4, "clarity": 5}}


def test_another_raters_unit_is_403_and_audited(client_for: Client, app_env: Any, tasks: dict[str, str]) -> None:
    """rev1 holds the lease on a one-rater unit: rev2 can neither open nor label it (ownership on the server)."""
    rev1, rev2 = client_for("rev1"), client_for("rev2")
    unit_id, _ = open_next(rev1, tasks["msb"])
    assert rev2.get(f"/rate/{tasks['msb']}/{unit_id}").status_code == 403
    assert post(rev2, tasks["msb"], unit_id, score="5").status_code == 403
    assert app_env.ratings.task(tasks["msb"]).n_labels == 0
    denied = app_env.store.recent_audit(2, event="permission_denied")
    assert [row.user_name for row in denied] == ["rev2", "rev2"]
    assert unit_id in denied[0].detail
    other, _ = open_next(rev2, tasks["msb"])  # rev2 gets a different unit
    assert other != unit_id
    assert rev2.get(f"/rate/{tasks['msb']}/no-such-unit").status_code == 403
    assert rev2.get("/rate/no-such-task/next").status_code == 403


def test_specialty_restricted_task_is_closed_to_others(client_for: Client, app_env: Any) -> None:
    task = app_env.ratings.create_task("paeds only", "msb", MSB_UNITS[:1], specialties=("pediatrics",))
    client = client_for("reviewer")  # cardiology
    assert "paeds only" not in client.get("/rate").text
    assert client.get(f"/rate/{task}/next").status_code == 403
    assert post(client, task, MSB_UNITS[0].id, score="1").status_code == 403
    assert app_env.ratings.task(task).n_labels == 0


def test_last_unit_returns_to_the_task_list(client_for: Client, app_env: Any) -> None:
    task = app_env.ratings.create_task("one unit", "msb", MSB_UNITS[:1])
    client = client_for("reviewer")
    unit_id, _ = open_next(client, task)
    assert post(client, task, unit_id, score="1").headers["location"] == "/rate?notice=recorded"
    done = client.get(f"/rate/{task}/next", follow_redirects=False)
    assert done.headers["location"] == "/rate?notice=done"
    assert "Nothing left for you" in client.get("/rate?notice=done").text


def test_post_without_csrf_token_is_403(client_for: Client, app_env: Any, tasks: dict[str, str]) -> None:
    client = client_for("reviewer")
    unit_id, _ = open_next(client, tasks["msb"])
    response = client.post(f"/rate/{tasks['msb']}/{unit_id}", data={"score": "1"}, follow_redirects=False)
    assert response.status_code == 403
    assert app_env.ratings.task(tasks["msb"]).n_labels == 0


def test_rating_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """An msb label and a pairwise choice through the pages, on PostgreSQL, exported and read back."""
    from safemed.app.context import build_context
    from safemed.app.factory import create_app
    from safemed.ledger.keys import LedgerKeys

    from .conftest import add_users, login, make_settings

    ctx = build_context(make_settings(pg_url, LedgerKeys.generate().save(tmp_path / "ledger.key")))
    try:
        add_users(ctx)
        msb = ctx.ratings.create_task("pg msb", "msb", MSB_UNITS)
        pair = ctx.ratings.create_task("pg pair", "pairwise", PAIR_UNITS)
        with TestClient(create_app(ctx)) as client:
            assert login(client, "rev1").status_code == 303
            unit_id, page = open_next(client, msb)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token is not None
            client.csrf = token.group(1)  # type: ignore[attr-defined]
            assert post(client, msb, unit_id, score="4").status_code == 303
            assert post(client, msb, unit_id, score="4").headers["location"].endswith("notice=already")
            pair_unit, _ = open_next(client, pair)
            assert post(client, pair, pair_unit, choice="B").status_code == 303
        path = tmp_path / "human.csv"
        ctx.ratings.export_human_csv(msb, path)
        assert read_human_labels(path) == {unit_id: 4.0}
        assert ctx.ratings.task(pair).n_labels == 1
    finally:
        ctx.close()

"""A three-judge panel against three real loopback servers: re-asks, 429s, cache, summary, speed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.judges.conftest import convo, engine_for, prompt_of, scripted_msb

from safemed.judges import Panel, PanelItem, PanelScore, msb_judge, summarise_panel
from safemed.testing import Faults, StandinServer

Start = Callable[..., StandinServer]
SCORES = [1, 1, 2, 5, 1, 3, 4, 1, 2, 1, 1, 2]
GARBLED = {0, 5}     # judge B answers garbage first, then reads fine on re-ask 1
JUNK = {3, 8}        # judge B never answers readably


def items() -> list[PanelItem]:
    out = []
    for i, s in enumerate(SCORES):
        tag = "[[garble]]" if i in GARBLED else "[[junk]]" if i in JUNK else ""
        out.append(PanelItem(tuple(convo(f"harmful request {i}", f"reply {i} [[score={s}]] {tag}")),
                             item_id=f"msb-{i}"))
    return out


def judge_b(messages: list[dict[str, Any]]) -> str:
    text = prompt_of(messages)
    if "[[junk]]" in text or ("[[garble]]" in text and "Re-ask 1" not in text):
        return "Overall I'd rate this as mostly safe. Score: 2/5"
    return scripted_msb(messages)


def build(servers: list[StandinServer], cache_dir: Path) -> Panel:
    return Panel([(msb_judge(), engine_for(s, f"judge-{name}", cache=cache_dir / f"{name}.sqlite"))
                  for s, name in zip(servers, "abc", strict=True)])


async def run(panel: Panel) -> list[PanelScore]:
    try:
        return await panel.score_many(items())
    finally:
        await panel.aclose()


def test_panel_of_three(servers: Start, tmp_path: Path) -> None:
    a = servers(scripted_msb)
    b = servers(judge_b)
    c = servers(scripted_msb, faults=Faults(first_failures=1, kinds=("429",), retry_after=0.01))
    panel = build([a, b, c], tmp_path)
    results = asyncio.run(run(panel))
    la, lb, lc = panel.labels
    assert la.startswith("msb[openai/judge-a@http://127.0.0.1:")

    by = {label: [r.scores[k] for r in results] for k, label in enumerate(panel.labels)}
    assert [s.score for s in by[la]] == [float(x) for x in SCORES]
    assert [s.score for s in by[lc]] == [float(x) for x in SCORES]
    # judge B: garbled replies re-asked and then read; junk replies unparsed, never imputed
    for i, s in enumerate(by[lb]):
        if i in JUNK:
            assert (s.score, s.status, s.asks, len(s.raw)) == (None, "unparsed", 3, 3)
            assert s.problem == "no line starting with '#score:'"
        elif i in GARBLED:
            assert (s.score, s.status, s.asks) == (float(SCORES[i]), "scored", 2)
            assert s.raw[0].endswith("Score: 2/5") and s.raw[1].endswith(f"#score: {SCORES[i]}")
        else:
            assert (s.score, s.asks) == (float(SCORES[i]), 1)
    # every re-ask was a new request (a new cache key): the server never saw the same prompt twice
    assert set(b.requests.values()) == {1}
    assert b.total == len(SCORES) + len(GARBLED) + 2 * len(JUNK)
    # judge C: every request got one 429, was retried, and scored
    assert c.failures["429"] == len(SCORES) and c.total == 2 * len(SCORES)
    assert panel.judges[2][1].stats.retries["429"] == len(SCORES)
    assert all(s.attempts == 2 for s in by[lc])
    # config hashes recorded, one per judge, different models → different hashes
    assert len({s.config_hash for r in results for s in r.scores}) == 3
    assert [d["config_hash"] for d in panel.describe()] == [by[lab][0].config_hash for lab in panel.labels]

    summary = summarise_panel(results, n_boot=200, seed=1)
    jb = summary["judges"][lb]
    assert (jb["n"], jb["n_scored"], jb["n_unparsed"], jb["n_failed"], jb["n_reasked"]) == (12, 10, 2, 0, 4)
    kept = [x for i, x in enumerate(SCORES) if i not in JUNK]
    assert jb["mean"]["value"] == pytest.approx(sum(kept) / len(kept))
    ja = summary["judges"][la]
    assert ja["mean"]["value"] == pytest.approx(sum(SCORES) / 12)
    assert ja["mean"]["ci"][0] <= ja["mean"]["value"] <= ja["mean"]["ci"][1]
    assert ja["share_1"]["k"] == SCORES.count(1) and ja["share_ge_4"]["k"] == 2
    assert 0 <= ja["share_1"]["ci"][0] <= ja["share_1"]["value"] <= ja["share_1"]["ci"][1] <= 1
    # every judge agrees where it scored, so the per-item mean is the item's score
    assert summary["overall_avg"]["value"] == pytest.approx(sum(SCORES) / 12)
    assert summary["mean_of_judge_means"] == pytest.approx((2 * sum(SCORES) / 12 + sum(kept) / 10) / 3)
    assert summary["spread"]["item_sd_mean"] == 0.0 and summary["spread"]["n_items_sd"] == 12
    assert summary["spread"]["judge_means_range"] == pytest.approx(abs(sum(kept) / 10 - sum(SCORES) / 12))

    # resume: the same panel over the same caches sends nothing, re-asks included
    before = (a.total, b.total, c.total)
    again = asyncio.run(run(build([a, b, c], tmp_path)))
    assert (a.total, b.total, c.total) == before
    assert [[s.score for s in r.scores] for r in again] == [[s.score for s in r.scores] for r in results]
    assert all(s.cached and s.attempts == 0 for r in again for s in r.scores)


def test_failed_requests_are_counted_not_scored(servers: Start) -> None:
    dead = servers(faults=Faults(first_failures=100, kinds=("503",)))
    ok = servers(scripted_msb)
    panel = Panel([(msb_judge(), engine_for(ok, "ok")), (msb_judge(), engine_for(dead, "dead"))])
    results = asyncio.run(run(panel))
    summary = summarise_panel(results, n_boot=50)
    dead_summary = summary["judges"][panel.labels[1]]
    assert (dead_summary["n_failed"], dead_summary["n_scored"], dead_summary["mean"]["value"]) == (12, 0, None)
    assert all(r.scores[1].status == "failed" and "gave up" in (r.scores[1].problem or "") for r in results)
    assert summary["overall_avg"]["value"] == pytest.approx(sum(SCORES) / 12)   # from the judge that answered
    assert summary["spread"]["n_items_sd"] == 0


def test_mixed_configurations_are_not_combined(servers: Start) -> None:
    from dataclasses import replace

    from safemed.judges import JudgeScore

    server = servers(scripted_msb)
    results = asyncio.run(run(Panel([(msb_judge(), engine_for(server, "a"))])))
    moved = [PanelScore(r.item_id, tuple(replace(s, config_hash="0" * 64) for s in r.scores)) for r in results[:2]]
    with pytest.raises(ValueError, match="config hashes"):
        summarise_panel(results + moved)
    # round trip through JSON-ready dicts
    assert [PanelScore.from_dict(r.as_dict()) for r in results] == results
    assert isinstance(results[0].scores[0], JudgeScore)


def test_panel_judges_run_concurrently(servers: Start) -> None:
    """Each judge server holds its request until all three have one in flight: a panel that asked
    its judges one after another would break the barrier. (Wall-time targets live in
    benchmarks/panel_bench.py, not in unit tests.)"""
    barrier = threading.Barrier(3, timeout=10)

    def together(messages: list[dict[str, Any]]) -> str:
        barrier.wait()
        return scripted_msb(messages)

    trio = [servers(together) for _ in range(3)]
    panel = Panel([(msb_judge(), engine_for(s, f"m{k}")) for k, s in enumerate(trio)])

    async def go() -> PanelScore:
        try:
            return await panel.score(convo("q", "r [[score=2]]"))
        finally:
            await panel.aclose()

    result = asyncio.run(go())
    assert [s.score for s in result.scores] == [2.0, 2.0, 2.0]
    assert not barrier.broken

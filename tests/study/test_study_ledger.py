"""The frozen plan in the ledger: an event the curation read model ignores, on SQLite and
PostgreSQL; ``verify`` and ``reindex`` still pass; freezing twice is idempotent."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from safemed.ledger import Ledger, load_keys
from safemed.ledger.tables import cur_items
from safemed.records.curation import EventType, Item, StudyPlanFrozen, event_for, study_plan_item_id
from safemed.study.plan import find_frozen, freeze_plan, make_plan, plan_sha256, write_plan


def _item(i: int) -> Item:
    return Item(id=f"q{i}", question=f"Question {i}?", options={"A": "yes", "B": "no"}, gold="A",
                specialty="pharmacology", source="test")


def test_frozen_plan_verifies_and_is_ignored_by_the_read_model(db_url: str, key_file: Path,
                                                                tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    sha = write_plan(make_plan(["safety", "clarity"], margin=0.5), plan_path)
    with Ledger.open(db_url, keys=load_keys(key_file)) as led:
        led.append([event_for(_item(1), "system"), event_for(_item(2), "system")])
        before = [(e.seq, e.leaf_hash, e.canonical) for e in led.iter_events()]
        frozen = freeze_plan(plan_path, led, frozen_by="study-lead")
        assert not frozen.existing and frozen.seq == 2 and frozen.item_id == study_plan_item_id(sha)
        led.append([event_for(_item(3), "system")])  # curation goes on after the freeze
        again = freeze_plan(plan_path, led)
        assert again.existing and again.seq == frozen.seq and led.size() == 4
        # the events before the freeze hash exactly as they did
        assert [(e.seq, e.leaf_hash, e.canonical) for e in led.iter_events(stop=2)] == before
        report = led.verify()
        assert report.ok, report.lines()
        assert report.read_model_checked and report.uncovered == 0
        with led.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(cur_items)).scalar_one() == 3
            assert conn.execute(select(cur_items.c.item_id).where(
                cur_items.c.item_id == frozen.item_id)).first() is None
        assert led.reindex() == 3
        assert led.verify().ok
        event = led.events_for_item(frozen.item_id)[0]
        assert event.event_type == EventType.STUDY_PLAN_FROZEN
        record = event.record()
        assert isinstance(record, StudyPlanFrozen)
        assert (record.plan_sha256, record.primary, record.dimensions) == (sha, "safety", ["safety", "clarity"])
        assert record.frozen_by == "study-lead"


def test_a_changed_plan_is_a_different_plan(tmp_path: Path) -> None:
    plan = make_plan(["safety"])
    path = tmp_path / "plan.json"
    sha = write_plan(plan, path)
    path.write_text(path.read_text().replace("  ", "    "))  # re-indenting keeps the canonical hash
    assert plan_sha256(plan) == sha
    with Ledger.open(str(tmp_path / "l.db")) as led:
        assert freeze_plan(path, led).sha256 == sha
        changed = dict(plan, alpha=0.01)
        assert find_frozen(led, plan_sha256(changed)) is None
        assert find_frozen(led, sha) is not None

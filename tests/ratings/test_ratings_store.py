"""The store's guarantees on SQLite and PostgreSQL: label shapes, idempotent record, lease
exclusivity and expiry, ownership checks, likert packets, and tamper detection of the label chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from safemed.errors import ConfigError, DataError
from safemed.ledger import Ledger
from safemed.ratings import RatingStore, Unit, units_from_jsonl, validate_label

from .conftest import Clock
from .helpers import invoke


def _units(n: int, responses: int = 1) -> list[Unit]:
    return [Unit(id=f"u{i}", prompt=f"Question {i}?", responses=tuple(f"answer {i}.{r}" for r in range(responses)))
            for i in range(n)]


@pytest.mark.parametrize("kind, label, field", [
    ("msb", {"score": 6}, "score"),
    ("msb", {"score": "3"}, "score"),
    ("msb", {"score": True}, "score"),
    ("msb", {}, "score"),
    ("msb", {"score": 3, "scroe": 2}, "scroe"),
    ("pairwise", {"choice": "C"}, "choice"),
    ("pairwise", {"choice": "A", "reason": 3}, "reason"),
    ("likert", {"scores": {"clarity": 4}}, "scores.accuracy"),
    ("likert", {"scores": {"clarity": 4, "accuracy": 0}}, "scores.accuracy"),
    ("likert", {"scores": {"clarity": 4, "accuracy": 4, "tone": 4}}, "scores.tone"),
    ("likert", [1, 2], None),
])
def test_label_shapes_are_validated(kind: str, label: object, field: str | None) -> None:
    with pytest.raises(DataError) as err:
        validate_label(kind, label, ("clarity", "accuracy"))
    assert err.value.field == field


def test_record_is_idempotent_and_checked(store: RatingStore) -> None:
    task = store.create_task("t", "msb", _units(3))
    view = store.next_unit(task, "r1")
    assert view is not None and view.unit_id == "u0"
    assert store.record(task, "u0", "r1", {"score": 2}, seconds_spent=40) is True
    assert store.record(task, "u0", "r1", {"score": 5}, seconds_spent=41) is False  # a retry: nothing written
    assert [r["label"] for r in store.labels(task)] == [{"score": 2}]
    with pytest.raises(DataError, match="field 'score'"):
        store.record(task, "u1", "r1", {"score": 9}, seconds_spent=1)
    with pytest.raises(DataError, match="seconds_spent"):
        store.record(task, "u1", "r1", {"score": 1}, seconds_spent=-1)
    with pytest.raises(DataError, match="has no unit 'nope'"):
        store.record(task, "nope", "r1", {"score": 1}, seconds_spent=1)
    with pytest.raises(ConfigError, match="no rating task"):
        store.record("t-missing", "u0", "r1", {"score": 1}, seconds_spent=1)
    assert store.task(task).n_labels == 1 and store.verify()["ok"]


def test_leases_are_exclusive_and_expire(store: RatingStore, clock: Clock) -> None:
    task = store.create_task("one rater each", "msb", _units(2))
    first = store.next_unit(task, "r1", lease_s=600)
    second = store.next_unit(task, "r2", lease_s=3600)
    assert first is not None and second is not None and {first.unit_id, second.unit_id} == {"u0", "u1"}
    assert store.next_unit(task, "r1", lease_s=600).unit_id == first.unit_id  # type: ignore[union-attr]
    assert store.next_unit(task, "r3") is None  # both units reserved
    assert store.unit_for(task, first.unit_id, "r2") is None  # someone else's unit: not visible
    with pytest.raises(DataError, match="is taken"):
        store.record(task, first.unit_id, "r2", {"score": 1}, seconds_spent=5)
    assert store.unit_for(task, first.unit_id, "r1") == first

    clock.now += 601  # r1 walked away: the lease lapses and the unit goes to the next rater
    again = store.next_unit(task, "r3")
    assert again is not None and again.unit_id == first.unit_id
    assert store.record(task, first.unit_id, "r3", {"score": 4}, seconds_spent=5)
    with pytest.raises(DataError, match="is taken"):  # r1's late submit is refused: the unit has its rater
        store.record(task, first.unit_id, "r1", {"score": 1}, seconds_spent=5)
    assert store.release(task, second.unit_id, "r2") and store.unit_for(task, second.unit_id, "r1") is not None
    assert store.tasks("r1")[0].remaining_for_rater == 1


def test_several_raters_per_unit(store: RatingStore) -> None:
    task = store.create_task("two each", "msb", _units(1), raters_per_unit=2)
    assert store.next_unit(task, "r1") is not None and store.next_unit(task, "r2") is not None
    assert store.next_unit(task, "r3") is None
    assert store.record(task, "u0", "r1", {"score": 1}, seconds_spent=1)
    assert store.next_unit(task, "r1") is None  # never the same unit twice to one rater
    assert store.record(task, "u0", "r2", {"score": 1}, seconds_spent=1)
    assert store.task(task).n_done == 1


def test_likert_study_packet_from_jsonl(store: RatingStore, tmp_path: Path) -> None:
    packet = tmp_path / "packet.jsonl"
    packet.write_text('{"id": "p1", "prompt": "Case 1", "response": "Plan 1", "specialty": "cardiology",'
                      ' "meta": {"arm": "x"}}\n\n{"id": "p2", "prompt": "Case 2", "responses": ["Plan 2"]}\n')
    units = units_from_jsonl(packet)
    task = store.create_task("packet", "likert", units, dimensions=("accuracy", "safety", "clarity"),
                             anchors=[(1, "unusable"), (2, "weak"), (3, "fair"), (4, "good"), (5, "ideal")])
    restricted = store.create_task("oncology only", "likert", units, specialties=["oncology"])
    with pytest.raises(DataError, match="open to oncology only"):
        store.next_unit(restricted, "r1", specialties=["cardiology"])
    assert store.unit_for(restricted, "p1", "r1", specialties=["cardiology"]) is None
    assert [t.name for t in store.tasks("r1", ["cardiology"])] == ["packet"]
    view = store.next_unit(task, "r1", specialties=["neurology"])
    assert view is not None and view.unit_id == "p2"  # p1 is a cardiology unit
    assert view.dimensions == ("accuracy", "safety", "clarity") and view.scale[4] == (5, "ideal")
    assert store.record(task, "p2", "r1", {"scores": {"accuracy": 4, "safety": 5, "clarity": 3}}, seconds_spent=60)
    remaining = {t.name: t.remaining_for_rater for t in store.tasks("r1", ["neurology"])}
    assert remaining == {"packet": 0}  # p1 is for cardiologists; the oncology task is not listed
    assert {t.name: t.remaining_for_rater for t in store.tasks("r2", ["cardiology"])} == {"packet": 1}  # p2 is done
    default = store.create_task("default rubric", "likert", units)
    assert store.task(default).dimensions[0] == "medical_correctness"  # the paper's five dimensions
    with pytest.raises(DataError, match=r"unit 1 \('u0'\): field 'responses'"):
        store.create_task("bad", "pairwise", _units(1))
    with pytest.raises(ConfigError, match="only likert"):
        store.create_task("bad", "msb", _units(1), dimensions=["x"])


@pytest.mark.parametrize("line, field", [
    ('{"id": "a", "prompt": "p"}', "response"),
    ('{"id": "a", "prompt": "", "response": "r"}', "prompt"),
    ('{"id": "a", "prompt": "p", "response": "r", "judge": 3}', "judge"),
    ('{"id": "a", "prompt": "p", "responses": ["r", ""]}', "responses"),
    ('{"id": "a", "prompt": "p", "responses": ["r"], "sources": ["x", "y"]}', "sources"),
    ('[1]', None),
])
def test_units_from_jsonl_errors_name_file_line_field(tmp_path: Path, line: str, field: str | None) -> None:
    path = tmp_path / "u.jsonl"
    path.write_text('{"id": "ok", "prompt": "p", "response": "r"}\n' + line + "\n")
    with pytest.raises(DataError) as err:
        units_from_jsonl(path)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), 2, field)


def test_tampering_is_detected_at_the_row(db_url: str, store: RatingStore) -> None:
    task = store.create_task("chain", "msb", _units(5))
    for i in range(5):
        store.next_unit(task, f"r{i}")
        assert store.record(task, f"u{i}", f"r{i}", {"score": 1 + i % 5}, seconds_spent=10 + i)
    gold_free = store.verify()
    assert gold_free["ok"] and gold_free["n"] == 5 and gold_free["first_bad"] is None
    assert invoke("ratings", "verify", "--db", db_url).exit_code == 0

    with store.engine.begin() as conn:  # someone edits a clinician's score in the database
        conn.execute(text("UPDATE rt_labels SET label = :v WHERE seq = 2"), {"v": '{"score":5}'})
    report = store.verify()
    assert not report["ok"] and report["first_bad"] == 2 and report["n"] == 2 and "hash" in report["problem"]
    result = invoke("ratings", "verify", "--db", db_url)
    assert result.exit_code == 4 and "label row 2" in result.output

    with store.engine.begin() as conn:  # ... restores it, then deletes a row instead
        conn.execute(text("UPDATE rt_labels SET label = :v WHERE seq = 2"), {"v": '{"score":3}'})
    assert store.verify()["ok"] is True
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM rt_labels WHERE seq = 3"))
    report = store.verify()
    assert report["first_bad"] == 4 and "row 3 is missing" in report["problem"]

    with store.engine.begin() as conn:  # a rewritten hash does not help: the next row links to the old one
        conn.execute(text("DELETE FROM rt_labels WHERE seq = 4"))
        conn.execute(text("UPDATE rt_labels SET seconds_spent = 999 WHERE seq = 1"))
    assert store.verify()["first_bad"] == 1


def test_shares_the_ledger_database(db_url: str, key_file: Path) -> None:
    from safemed.ledger import load_keys

    with Ledger.open(db_url, keys=load_keys(key_file)) as ledger:
        store = RatingStore(ledger.engine)
        task = store.create_task("beside the ledger", "msb", _units(1))
        store.next_unit(task, "r")
        assert store.record(task, "u0", "r", {"score": 1}, seconds_spent=3)
        assert ledger.size() == 0 and ledger.verify().ok  # nothing rated goes into the curation ledger

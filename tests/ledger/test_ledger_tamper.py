"""Tampering done directly in SQL is caught: ``verify`` names the first bad event, exits 4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from safemed.cli.ledger_cmd import ledger as ledger_cli
from safemed.ledger import Ledger, load_keys
from safemed.ledger.db import make_engine
from safemed.ledger.merkle import leaf_hash

from .factory import item_events

COLUMNS = ("leaf_hash", "event_type", "item_id", "created_at", "canonical")


@pytest.fixture
def filled(db_url: str, key_file: Path) -> str:
    """A ledger of 40 events (10 items) with checkpoints at 20 and 40."""
    with Ledger.open(db_url, keys=load_keys(key_file)) as ledger:
        ledger.append(ev for i in range(5) for ev in item_events(i))
        ledger.checkpoint()
        ledger.append(ev for i in range(5, 10) for ev in item_events(i))
        ledger.checkpoint()
    return db_url


def sql(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def verify_cli(url: str) -> tuple[int, str]:
    result = CliRunner().invoke(ledger_cli, ["verify", "--db", url])
    return result.exit_code, result.output


def test_untouched_ledger_verifies(filled: str) -> None:
    code, output = verify_cli(filled)
    assert code == 0, output
    assert output.strip().endswith("OK")


def test_update_of_a_payload_is_named(filled: str) -> None:
    sql(filled, "UPDATE ledger_events SET canonical = REPLACE(canonical, '\"comment\":\"fine\"', "
                "'\"comment\":\"excellent\"') WHERE seq = 23")
    report = Ledger.open(filled).verify()
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.seq) == ("changed", 23)
    code, output = verify_cli(filled)
    assert code == 4
    assert "first bad event 23: changed" in output


def test_update_with_recomputed_leaf_hash_fails_the_signed_root(filled: str) -> None:
    (canonical,) = sql(filled, "SELECT canonical FROM ledger_events WHERE seq = 10")[0]
    forged = str(canonical).replace('"medical_correctness":5', '"medical_correctness":1')
    sql(filled, "UPDATE ledger_events SET canonical = :c, leaf_hash = :h WHERE seq = 10",
        c=forged, h=leaf_hash(forged.encode()))
    assert forged != canonical
    report = Ledger.open(filled).verify()
    assert not report.ok
    assert {p.kind for p in report.problems} == {"checkpoint"}
    assert "events 0..19" in str(report.problems[0])
    assert verify_cli(filled)[0] == 4


def test_delete_of_a_row_is_named(filled: str) -> None:
    sql(filled, "DELETE FROM ledger_events WHERE seq = 17")
    report = Ledger.open(filled).verify()
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.seq) == ("removed", 17)
    code, output = verify_cli(filled)
    assert code == 4 and "first bad event 17: removed" in output


def test_delete_of_the_newest_rows_is_named(filled: str) -> None:
    sql(filled, "DELETE FROM ledger_events WHERE seq >= 38")
    report = Ledger.open(filled).verify()
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.seq) == ("removed", 38)


def test_swapped_pair_of_rows_is_named(filled: str) -> None:
    rows = {int(str(r[0])): r[1:] for r in sql(
        filled, f"SELECT seq, {', '.join(COLUMNS)} FROM ledger_events WHERE seq IN (12, 30)")}
    assignments = ", ".join(f"{c} = :{c}" for c in COLUMNS)
    for target, source in ((12, 30), (30, 12)):
        sql(filled, f"UPDATE ledger_events SET {assignments} WHERE seq = :seq", seq=target,
            **dict(zip(COLUMNS, rows[source], strict=True)))
    report = Ledger.open(filled).verify()
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.seq) == ("reordered", 12)
    assert "seq 30" in report.first_problem.detail
    code, output = verify_cli(filled)
    assert code == 4 and "first bad event 12: reordered" in output


def test_changed_index_column_and_forged_checkpoint(filled: str) -> None:
    sql(filled, "UPDATE ledger_events SET item_id = 'someone-else' WHERE seq = 5")
    report = Ledger.open(filled).verify()
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.seq) == ("changed", 5)
    sql(filled, "UPDATE ledger_events SET item_id = :i WHERE seq = 5",
        i=json.loads(str(sql(filled, "SELECT canonical FROM ledger_events WHERE seq = 5")[0][0]))["item_id"])
    assert Ledger.open(filled).verify().ok
    sql(filled, "UPDATE ledger_checkpoints SET tree_size = 39 WHERE tree_size = 40")
    report = Ledger.open(filled).verify()
    assert "signature" in {p.kind for p in report.problems}


def test_tampered_subtree_cache_cannot_fake_a_proof(filled: str) -> None:
    """Stored subtree hashes only speed proofs up: a changed one makes the proof fail its check."""
    sql(filled, "UPDATE ledger_nodes SET hash = :h WHERE level = 5 AND pos = 0", h=b"\x00" * 32)
    result = CliRunner().invoke(ledger_cli, ["proof", "--db", filled, "item-0000009"])
    assert result.exit_code == 4
    assert '"verified": false' in result.output and "did not verify" in result.output
    sql(filled, "DELETE FROM ledger_nodes WHERE level = 5 AND pos = 0")
    result = CliRunner().invoke(ledger_cli, ["proof", "--db", filled, "item-0000009"])
    assert result.exit_code == 1 and "lacks subtree level 5 position 0" in result.output

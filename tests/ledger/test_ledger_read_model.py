"""The curation read model and live exports (issue: "a ledger export must match the ledger",
"curation state that scales").

* from the CLI: ``ledger init`` → ``curate import`` → ``ledger root`` → ``ledger export``: the
  root printed, the exported checkpoint and an independent RFC 6962 computation over
  ``events.jsonl`` agree, and ``ledger verify`` says no event is unsigned;
* the read model equals a fresh, independent replay on SQLite and PostgreSQL; a row edited
  behind the ledger's back is named by ``verify`` and repaired by ``reindex``;
* a ledger made before the read model existed gets a complete one when it is upgraded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from sqlalchemy import select, text

from safemed.cli.main import cli as main
from safemed.ledger import Ledger, load_keys
from safemed.ledger import db as ledger_db
from safemed.ledger.readmodel import assignment_rows, item_row, review_rows
from safemed.ledger.state import all_states
from safemed.ledger.tables import cur_assignments, cur_items, cur_reviews
from safemed.records.curation import LedgerEvent

from .factory import full_lifecycle, item_events
from .test_ledger_export import third_party_root


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _seeds(path: Path, n: int) -> Path:
    rows = [{"id": f"s{i:04d}", "question": f"Question {i}: which finding fits case {i}?",
             "options": {"A": f"finding {i}", "B": "something else"}, "answer": "A", "specialty": "cardiology"}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_export_after_curate_import_matches_root_and_an_independent_computation(tmp_path: Path,
                                                                                key_file: Path) -> None:
    db = str(tmp_path / "l.db")
    cli("ledger", "init", "--db", db)
    cli("curate", "import", "--db", db, str(_seeds(tmp_path / "seeds.jsonl", 500)))
    printed = cli("ledger", "root", "--db", db)
    size = int(re.search(r"tree size: (\d+)", printed).group(1))  # type: ignore[union-attr]
    root = re.search(r"root: ([0-9a-f]{64})", printed).group(1)  # type: ignore[union-attr]
    assert size == 500 and f"checkpoint: size 500, root {root}" in printed  # the import signed its tree
    out = tmp_path / "export"
    assert "exported 500 events" in cli("ledger", "export", "--db", db, "--out", str(out))
    checkpoint = json.loads((out / "checkpoint.json").read_text())
    assert third_party_root(out) == (checkpoint["tree_size"], checkpoint["root_hash"]) == (size, root)
    verified = cli("ledger", "verify", "--db", db)
    assert "unsigned events: 0 (every event is covered by a signed checkpoint)" in verified
    assert "curation read model: matches a fresh replay of the events" in verified and verified.endswith("OK\n")


def test_appends_without_the_key_are_refused_or_counted(tmp_path: Path, key_file: Path,
                                                        monkeypatch: object) -> None:
    db = str(tmp_path / "l.db")
    cli("ledger", "init", "--db", db)
    result = CliRunner().invoke(main, ["curate", "import", "--db", db, "--key", str(tmp_path / "nokey"), "sample"])
    assert result.exit_code != 0 and "no ledger key file" in result.output
    with Ledger.open(db) as led:  # a program appending without the key: nothing signs these
        led.append(item_events(0))
    out = CliRunner().invoke(main, ["ledger", "verify", "--db", db]).output
    assert "unsigned events: 4 of 4 are covered by no signed checkpoint" in out


def _stored(conn: object, table: object, key: str) -> dict[object, dict[str, object]]:
    rows = conn.execute(select(table)).mappings().all()  # type: ignore[attr-defined]
    return {row[key]: {k: (int(v) if isinstance(v, bool) else v) for k, v in row.items()} for row in rows}


def _plain(rows: list[dict[str, object]], key: str) -> dict[object, dict[str, object]]:
    return {row[key]: {k: (int(v) if isinstance(v, bool) else v) for k, v in row.items()} for row in rows}


def test_read_model_equals_an_independent_replay_and_reindex_repairs_it(db_url: str, key_file: Path,
                                                                       tmp_path: Path) -> None:
    keys = load_keys(key_file)
    with Ledger.open(db_url, keys=keys) as led:
        led.append(ev for i in range(30) for ev in item_events(i, reviews=i % 3))
        for name in ("life-a", "life-b"):
            led.append(full_lifecycle(name))
        led.append(item_events(99, prefix="late"))
        assert led.check_read_model() is None
        events = [LedgerEvent.from_document(json.loads(row.canonical)) for row in led.iter_events()]
        states = all_states(events)  # the fold over the exported stream, not the stored rows
        with led.engine.connect() as conn:
            assert _stored(conn, cur_items, "item_id") == _plain([item_row(s) for s in states.values()], "item_id")
            assert _stored(conn, cur_assignments, "seq") == _plain(
                [r for s in states.values() for r in assignment_rows(s)], "seq")
            assert _stored(conn, cur_reviews, "seq") == _plain([r for s in states.values() for r in review_rows(s)],
                                                              "seq")
            statuses = dict(conn.execute(select(cur_items.c.item_id, cur_items.c.status)).all())
        assert statuses["life-a"] == "retained" and statuses["item-0000000"] == "traced"

        with led.engine.begin() as conn:
            conn.execute(text("UPDATE cur_items SET status = 'retained' WHERE item_id = 'item-0000007'"))
        report = led.verify()
        assert not report.ok and "item 'item-0000007': cur_items" in str(report.first_problem)
        assert "curation read model: DIFFERS from a replay of the events" in report.lines()
        assert led.reindex() == 33
        assert led.verify().ok

        with led.engine.begin() as conn:
            conn.execute(text("DELETE FROM cur_reviews WHERE item_id = 'life-b'"))
        assert "item 'life-b': cur_reviews" in str(led.check_read_model())
    assert "rebuilt the curation read model: 33 items" in cli("ledger", "reindex", "--db", db_url)
    assert cli("ledger", "verify", "--db", db_url).endswith("OK\n")


def test_upgrading_a_ledger_from_before_the_read_model_builds_it(sqlite_url: str, key_file: Path) -> None:
    with Ledger.open(sqlite_url, keys=load_keys(key_file)) as led:
        led.append(ev for i in range(12) for ev in item_events(i))
        led.append(full_lifecycle("life"))
        expected = led.check_read_model()
        assert expected is None
    config = Config()
    config.set_main_option("script_location", str(ledger_db.MIGRATIONS))
    engine = ledger_db.make_engine(sqlite_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    with engine.connect() as conn:
        assert "cur_items" not in {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    engine.dispose()
    with Ledger.open(sqlite_url) as led:  # migrates to the head revision, filling the read model
        assert ledger_db.current_revision(led.engine) == ledger_db.HEAD
        assert led.check_read_model() is None
        with led.engine.connect() as conn:
            assert conn.execute(select(cur_items.c.status).where(cur_items.c.item_id == "life")).scalar() == "retained"


def test_large_appends_keep_postgresql_planner_statistics_fresh(pg_url: str) -> None:
    with Ledger.open(pg_url) as led:
        led.append(ev for i in range(300) for ev in item_events(i))  # 1,200 events: a bulk append
        with led.engine.connect() as conn:
            analysed = dict(conn.execute(text(
                "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema()")).all())
            plan = "\n".join(str(r[0]) for r in conn.execute(text(
                "EXPLAIN SELECT seq FROM ledger_events WHERE item_id IN ('item-0000007') ORDER BY seq")))
        assert analysed["ledger_events"] and analysed["cur_items"] and analysed["cur_reviews"]
        assert "ix_ledger_events_item" in plan and "Gather" not in plan
        assert ledger_db.analyze_grown(led.engine) == []  # nothing changed since: nothing to redo

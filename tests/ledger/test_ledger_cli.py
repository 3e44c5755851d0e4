"""``safemed ledger`` through click's CliRunner, then the database and files are checked."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from safemed.cli.ledger_cmd import ledger as ledger_cli
from safemed.ledger import Ledger, load_keys

from .factory import full_lifecycle, item_events


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(ledger_cli, list(args))
    return result.exit_code, result.output


def test_init_creates_key_and_database(tmp_path: Path, monkeypatch: object) -> None:
    db, key = tmp_path / "l.db", tmp_path / "cfg" / "ledger.key"
    code, output = run("init", "--db", str(db), "--key", str(key))
    assert code == 0, output
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    assert "created" in output and "checkpoint: size 0" in output
    assert sqlite3.connect(db).execute("SELECT tree_size FROM ledger_checkpoints").fetchall() == [(0,)]
    code, output = run("init", "--db", str(db), "--key", str(key))
    assert code == 0 and "existing" in output
    code, output = run("init", "--db", str(db), "--key", str(tmp_path / "other.key"))
    assert code == 1 and "created with key" in output


def test_stats_root_proof_verify(tmp_path: Path, key_file: Path) -> None:
    db = str(tmp_path / "l.db")
    assert run("init", "--db", db)[0] == 0
    with Ledger.open(db) as ledger:
        ledger.append(ev for i in range(4) for ev in item_events(i))
        ledger.append(full_lifecycle("life"))
    code, output = run("stats", "--db", db)
    assert code == 0 and "events: 22" in output and "items: 5" in output and "review_submitted: 9" in output

    code, output = run("root", "--db", db)
    assert code == 0 and "tree size: 22" in output and "checkpoint: size 0" in output
    code, output = run("proof", "--db", db, "life")
    assert code == 0
    bundle = json.loads(output)
    assert bundle["inclusion"] == [] and bundle["not_yet_checkpointed"] == list(range(16, 22))

    code, output = run("root", "--db", db, "--sign")
    assert code == 0 and "checkpoint: size 22" in output
    with Ledger.open(db) as ledger:
        ledger.append(item_events(99))
        ledger.keys = load_keys(key_file)
        ledger.checkpoint()
    code, output = run("proof", "--db", db, "life")
    assert code == 0, output
    bundle = json.loads(output)
    assert bundle["all_verified"] and bundle["tree_size"] == 26
    assert [p["seq"] for p in bundle["inclusion"]] == list(range(16, 22))
    assert (bundle["consistency"]["old_size"], bundle["consistency"]["new_size"]) == (22, 26)
    assert bundle["consistency"]["old_root_signed"] and bundle["consistency"]["verified"]

    code, output = run("verify", "--db", db)
    assert code == 0 and "OK" in output and f"key file {key_file}" in output
    (tmp_path / "pub.hex").write_text(load_keys(key_file).public_key.hex())
    code, output = run("verify", "--db", db, "--public-key", str(tmp_path / "pub.hex"))
    assert code == 0 and "the public key given" in output
    other = tmp_path / "other.hex"
    other.write_text("11" * 32)
    code, output = run("verify", "--db", db, "--public-key", str(other))
    assert code == 4 and "signature does not verify" in output


def test_user_errors_are_one_line(tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "l.db")
    code, output = run("stats", "--db", db)
    assert code == 1 and output.startswith("error: no ledger at") and not Path(db).exists()
    assert run("init", "--db", db)[0] == 0
    code, output = run("proof", "--db", db, "nope")
    assert code == 1 and output.startswith("error: no events for item 'nope'")
    code, output = run("root", "--db", db, "--sign", "--key", str(tmp_path / "missing.key"))
    assert code == 1 and "no ledger key file" in output
    code, output = run("stats", "--db", "mysql://x/y")
    assert code == 1 and "unsupported database" in output
    bare = str(tmp_path / "bare.db")
    with Ledger.open(bare) as led:
        led.append(item_events(0))
    monkeypatch.setenv("SAFEMED_LEDGER_KEY", str(tmp_path / "absent.key"))
    code, output = run("export", "--db", bare, "--out", str(tmp_path / "x"))
    assert code == 1 and "cannot sign the current tree" in output and not (tmp_path / "x").exists()


def test_help_lists_every_command() -> None:
    code, output = run("--help")
    assert code == 0
    for name in ("init", "stats", "root", "verify", "proof", "export"):
        assert name in output

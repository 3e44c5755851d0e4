"""``safemed users``: add (password from a file or prompted), list, disable, enable, reset-password."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from safemed.app.security import verify_password
from safemed.app.store import AppStore
from safemed.cli.users_cmd import users
from safemed.ledger import db


def _store(url: str) -> AppStore:
    return AppStore(db.make_engine(url))


def test_round_trip(tmp_path: Path, db_url: str) -> None:
    runner = CliRunner()
    pw = tmp_path / "pw.txt"
    pw.write_text("a long enough password\n", encoding="utf-8")
    result = runner.invoke(users, ["add", "dr.lee@example.org", "--role", "reviewer", "--specialty", "cardiology",
                                   "--specialty", "pediatrics", "--password-file", str(pw), "--db", db_url])
    assert result.exit_code == 0, result.output
    result = runner.invoke(users, ["add", "chief", "--role", "admin", "--db", db_url, "--language", "zh"],
                           input="prompted password!\nprompted password!\n")
    assert result.exit_code == 0, result.output
    store = _store(db_url)
    lee = store.get_user("dr.lee@example.org")
    assert lee is not None and lee.specialties == ("cardiology", "pediatrics")
    assert verify_password(lee.password_hash, "a long enough password")
    chief = store.get_user("chief")
    assert chief is not None and chief.language == "zh" and verify_password(chief.password_hash, "prompted password!")

    listing = runner.invoke(users, ["list", "--db", db_url])
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[0].startswith("chief") and "admin" in lines[0]
    assert "cardiology, pediatrics" in lines[1] and "active" in lines[1]

    assert runner.invoke(users, ["disable", "dr.lee@example.org", "--db", db_url]).exit_code == 0
    assert store.get_user("dr.lee@example.org").disabled  # type: ignore[union-attr]
    assert "disabled" in runner.invoke(users, ["list", "--db", db_url]).output
    assert runner.invoke(users, ["enable", "dr.lee@example.org", "--db", db_url]).exit_code == 0

    pw.write_text("a brand new password\n", encoding="utf-8")
    result = runner.invoke(users, ["reset-password", "dr.lee@example.org", "--password-file", str(pw), "--db", db_url])
    assert result.exit_code == 0, result.output
    lee = store.get_user("dr.lee@example.org")
    assert lee is not None and verify_password(lee.password_hash, "a brand new password")
    assert not verify_password(lee.password_hash, "a long enough password")
    events = [r.event for r in store.recent_audit(10)]
    assert events == ["password_reset", "user_enabled", "user_disabled", "user_added", "user_added"]


def test_refusals(tmp_path: Path, sqlite_url: str) -> None:
    runner = CliRunner()
    short = tmp_path / "short.txt"
    short.write_text("short\n", encoding="utf-8")
    result = runner.invoke(users, ["add", "x", "--role", "admin", "--password-file", str(short), "--db", sqlite_url])
    assert result.exit_code == 1 and "12 characters" in result.output
    result = runner.invoke(users, ["add", "r", "--role", "reviewer", "--db", sqlite_url], input="x" * 20 + "\n")
    assert result.exit_code == 1 and "--specialty" in result.output
    good = tmp_path / "good.txt"
    good.write_text("good enough password\n", encoding="utf-8")
    assert runner.invoke(users, ["add", "a", "--role", "admin", "--password-file", str(good),
                                 "--db", sqlite_url]).exit_code == 0
    again = runner.invoke(users, ["add", "a", "--role", "admin", "--password-file", str(good), "--db", sqlite_url])
    assert again.exit_code == 1 and "already exists" in again.output
    missing = runner.invoke(users, ["disable", "ghost", "--db", sqlite_url])
    assert missing.exit_code == 1 and "no user named 'ghost'" in missing.output
    mismatch = runner.invoke(users, ["add", "b", "--role", "admin", "--db", sqlite_url],
                             input="first password!!\nsecond password!\nfirst password!!\nfirst password!!\n")
    assert mismatch.exit_code == 0  # click re-asks after a mismatch
    assert "password" in runner.invoke(users, ["--help"]).output

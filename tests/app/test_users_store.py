"""The app's tables on both backends, used by two independent stores at once — what several
uvicorn workers on PostgreSQL do: sessions, sign-in counts, lock-outs and item leases live in the
database, so a second process sees exactly what the first wrote."""

from __future__ import annotations

import threading
import time

import pytest

from safemed.app.security import hash_password, new_token, session_hash
from safemed.app.store import AppStore
from safemed.ledger import db


@pytest.fixture
def two_stores(db_url: str) -> tuple[AppStore, AppStore]:
    """Two stores with their own engines (connection pools) on one database, like two workers."""
    return AppStore(db.make_engine(db_url)), AppStore(db.make_engine(db_url))


def test_tables_are_created_once_by_concurrent_starts(db_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            AppStore(db.make_engine(db_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_users_and_sessions_are_shared(two_stores: tuple[AppStore, AppStore]) -> None:
    a, b = two_stores
    user_id = a.add_user("dr.lee", hash_password("a long enough password"), "reviewer", ["cardiology", " "])
    with pytest.raises(ValueError, match="already exists"):
        b.add_user("dr.lee", "x", "reviewer")
    with pytest.raises(ValueError, match="unknown role"):
        b.add_user("other", "x", "root")
    raw = new_token()
    a.create_session(session_hash(raw), user_id, "csrf-1", lifetime_s=60)
    seen = b.session(session_hash(raw), idle_s=60)
    assert seen is not None and seen.user.name == "dr.lee" and seen.csrf == "csrf-1"
    assert seen.user.specialties == ("cardiology",)
    assert b.session_count(user_id) == 1
    a.drop_session(session_hash(raw))
    assert b.session(session_hash(raw), idle_s=60) is None


def test_expired_and_idle_sessions_are_dropped(two_stores: tuple[AppStore, AppStore]) -> None:
    a, b = two_stores
    user_id = a.add_user("u", "h", "admin")
    a.create_session("expired", user_id, "c", lifetime_s=0)
    assert b.session("expired", idle_s=60) is None
    a.create_session("idle", user_id, "c", lifetime_s=60)
    time.sleep(0.05)
    assert b.session("idle", idle_s=0.01) is None
    assert a.session_count(user_id) == 0


def test_lockout_counts_failures_across_workers(two_stores: tuple[AppStore, AppStore]) -> None:
    a, b = two_stores
    user_id = a.add_user("u", "h", "reviewer")
    assert [a.record_failure(user_id, max_failures=3, lockout_s=60),
            b.record_failure(user_id, max_failures=3, lockout_s=60),
            a.record_failure(user_id, max_failures=3, lockout_s=60)] == [False, False, True]
    assert b.get_user("u").locked_until > time.time()  # type: ignore[union-attr]
    b.clear_failures(user_id)
    assert a.get_user("u").locked_until == 0  # type: ignore[union-attr]


def test_sign_in_attempts_are_counted_in_the_database(two_stores: tuple[AppStore, AppStore]) -> None:
    a, b = two_stores
    since = time.time() - 1
    a.note_attempt(["ip:1.2.3.4", "name:x"])
    b.note_attempt(["ip:1.2.3.4"])
    assert a.attempts_since("ip:1.2.3.4", since) == 2 and b.attempts_since("name:x", since) == 1
    assert a.attempts_since("ip:1.2.3.4", time.time() + 1) == 0


def test_leases_never_give_one_slot_to_two_reviewers(two_stores: tuple[AppStore, AppStore]) -> None:
    a, b = two_stores
    results: dict[str, bool] = {}

    def take(store: AppStore, who: str) -> None:
        results[who] = store.lease("item-1", who, 2, lease_s=60)

    threads = [threading.Thread(target=take, args=(a if n % 2 else b, f"r{n}")) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results.values()) == 2  # two free slots, six reviewers racing from two "workers"
    holders = [who for who, ok in results.items() if ok]
    assert a.held_by_others(holders[0]) == {"item-1": 1}
    assert b.held_by_others("somebody else") == {"item-1": 2}
    assert a.lease("item-1", holders[0], 2, lease_s=60)  # a holder extends its own lease
    b.release("item-1", holders[0])
    assert a.lease("item-1", "latecomer", 2, lease_s=60)
    assert a.leases_of("latecomer") == ["item-1"]
    assert not b.lease("item-2", "r0", 0)


def test_an_expired_lease_is_free_again(two_stores: tuple[AppStore, AppStore]) -> None:
    a, b = two_stores
    assert a.lease("item-9", "first", 1, lease_s=0.01)
    time.sleep(0.05)
    assert b.held_by_others("x") == {}
    assert b.lease("item-9", "second", 1, lease_s=60)


def test_drafts_skips_and_audit(two_stores: tuple[AppStore, AppStore]) -> None:
    a, b = two_stores
    a.save_draft("rev1", "a12", {"comment": "<script>halfway</script>", "scores": {"accuracy": 4}})
    a.save_draft("rev1", "a12", {"comment": "second thought"})
    assert b.get_draft("rev1", "a12") == {"comment": "second thought"}
    assert b.get_draft("rev2", "a12") is None  # drafts are per user
    assert b.drafts_of("rev1") == ["a12"]
    b.drop_draft("rev1", "a12")
    assert a.get_draft("rev1", "a12") is None
    a.skip("rev1", "c3", "outside my expertise")
    a.skip("rev1", "c3", "unclear question")
    assert b.skipped("rev1") == {"c3": "unclear question"} and b.skipped("rev2") == {}
    b.unskip("rev1", "c3")
    assert a.skipped("rev1") == {}
    a.audit("rev1", "submission", "x" * 5000, "10.0.0.1")
    b.audit(None, "verify")
    rows = a.recent_audit(10)
    assert [r.event for r in rows] == ["verify", "submission"]
    assert len(rows[1].detail) == 2000 and rows[1].ip == "10.0.0.1" and rows[0].user_name is None
    assert [r.event for r in b.recent_audit(10, event="submission")] == ["submission"]

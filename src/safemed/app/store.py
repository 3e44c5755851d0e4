"""The app's own tables: users, sessions, audit log, drafts, skips, item leases, sign-in attempts.

None of this is curation data — the ledger holds the trust signal (reviews, edits, decisions);
these tables hold what it takes to run the review tool SafeMed-R1's physicians used: who may sign
in, their open sessions, a reviewer's unfinished draft, which item someone is working on right
now. They live in the same database as the ledger (SQLAlchemy Core, created when missing), so
several worker processes on PostgreSQL share sessions, leases and rate limits exactly as one
process would: nothing of that is kept in process memory.

Every statement is built with SQLAlchemy expressions and bound parameters (no SQL text with user
input, ASVS 5.3.4). Writes take the database's write lock up front on SQLite (``BEGIN
IMMEDIATE``, the ledger engine's ``ledger_write`` option) so concurrent writers wait rather than
fail; the two-slots-per-item lease rule is enforced by a unique index, not by a read-then-write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from safemed.ledger import db

ROLES = ("reviewer", "adjudicator", "admin")
AUDIT_EVENTS = ("login_ok", "login_failed", "locked_out", "logout", "permission_denied", "csrf_failed",
                "user_added", "user_disabled", "user_enabled", "password_reset", "submission", "verify")
"""The audit events named by the contract; routes may add their own (e.g. ``adjudication``)."""
MAX_DETAIL = 2000

metadata = MetaData()

users = Table(
    "app_users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(20), nullable=False),
    Column("specialties", Text, nullable=False, default="[]"),
    Column("language", String(5), nullable=False, default="en"),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
)

sessions = Table(
    "app_sessions", metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("csrf", String(100), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

audit_log = Table(
    "app_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("user_name", String(200), nullable=True),
    Column("event", String(40), nullable=False, index=True),
    Column("detail", Text, nullable=False, default=""),
    Column("ip", String(64), nullable=True),
)

drafts = Table(
    "app_drafts", metadata,
    Column("user_name", String(200), primary_key=True),
    Column("slot_key", String(200), primary_key=True),
    Column("body", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

skips = Table(
    "app_skips", metadata,
    Column("user_name", String(200), primary_key=True),
    Column("slot_key", String(200), primary_key=True),
    Column("reason", Text, nullable=False, default=""),
    Column("at", Float, nullable=False),
)

leases = Table(
    "app_leases", metadata,
    Column("item_id", String(200), nullable=False),
    Column("lease_no", Integer, nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),
    UniqueConstraint("item_id", "lease_no", name="uq_app_leases_slot"),
    Index("ix_app_leases_user", "user_name"),
    Index("ix_app_leases_expires", "expires_at"),
)

login_attempts = Table(
    "app_login_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_app_login_attempts_key_at", "key", "at"),
)

_LOCK_ID = 7218146502
"""PostgreSQL advisory lock serialising table creation when several workers start at once."""


@dataclass(frozen=True)
class UserRecord:
    """One app_users row."""

    id: int
    name: str
    password_hash: str
    role: str
    specialties: tuple[str, ...]
    language: str
    disabled: bool
    failed_logins: int
    locked_until: float
    created_at: float


@dataclass(frozen=True)
class SessionRecord:
    """A live session and its user."""

    user: UserRecord
    csrf: str
    created_at: float
    last_seen: float
    expires_at: float


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as shown to admins."""

    id: int
    at: float
    user_name: str | None
    event: str
    detail: str
    ip: str | None


def _user(row: Any) -> UserRecord:
    return UserRecord(id=int(row.id), name=str(row.name), password_hash=str(row.password_hash), role=str(row.role),
                      specialties=tuple(json.loads(row.specialties or "[]")), language=str(row.language),
                      disabled=bool(row.disabled), failed_logins=int(row.failed_logins),
                      locked_until=float(row.locked_until), created_at=float(row.created_at))


class AppStore:
    """The app's tables on ``engine`` (created if missing; safe when several workers start together)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._create()

    # -- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(ledger_write=True)  # BEGIN IMMEDIATE on the ledger's SQLite engine
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _create(self) -> None:
        db.create_missing_tables(self.engine, metadata, _LOCK_ID)

    # -- users --------------------------------------------------------------------------------

    def add_user(self, name: str, password_hash: str, role: str, specialties: Sequence[str] = (),
                 language: str = "en") -> int:
        """Create a user; ValueError when the name is taken or the role unknown."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
        try:
            with self._write() as conn:
                result = conn.execute(insert(users).values(
                    name=name, password_hash=password_hash, role=role,
                    specialties=json.dumps(sorted({s.strip() for s in specialties if s.strip()})),
                    language=language, disabled=False, failed_logins=0, locked_until=0.0, created_at=time.time()))
                key = result.inserted_primary_key
        except IntegrityError as exc:
            raise ValueError(f"a user named {name!r} already exists") from exc
        assert key is not None
        return int(key[0])

    def get_user(self, name: str) -> UserRecord | None:
        """The user called ``name`` (None when there is none)."""
        with self._read() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return None if row is None else _user(row)

    def user_by_id(self, user_id: int) -> UserRecord | None:
        """The user with ``user_id`` (None when there is none)."""
        with self._read() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else _user(row)

    def list_users(self) -> list[UserRecord]:
        """Every user, by name."""
        with self._read() as conn:
            return [_user(row) for row in conn.execute(select(users).order_by(users.c.name))]

    def set_disabled(self, user_id: int, disabled: bool) -> bool:
        """Disable (ending every session) or re-enable a user; False when there is no such user."""
        with self._write() as conn:
            done = conn.execute(update(users).where(users.c.id == user_id).values(disabled=disabled)).rowcount
            if disabled:
                conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
        return bool(done)

    def set_password(self, user_id: int, password_hash: str) -> bool:
        """Replace a password hash, clear the lock-out and end every session of the user."""
        with self._write() as conn:
            done = conn.execute(update(users).where(users.c.id == user_id).values(
                password_hash=password_hash, failed_logins=0, locked_until=0.0)).rowcount
            conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
        return bool(done)

    def rehash(self, user_id: int, password_hash: str) -> None:
        """Store a stronger hash of the same password (argon2 parameters raised); sessions stay."""
        with self._write() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))

    def set_language(self, user_id: int, language: str) -> None:
        """The user's interface language."""
        with self._write() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(language=language))

    def record_failure(self, user_id: int, *, max_failures: int, lockout_s: float) -> bool:
        """Count a failed sign-in; at ``max_failures`` in a row lock the account for ``lockout_s``.
        Returns True when this failure locked it."""
        with self._write() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(failed_logins=users.c.failed_logins + 1))
            count = conn.execute(select(users.c.failed_logins).where(users.c.id == user_id)).scalar_one()
            if int(count) >= max_failures:
                conn.execute(update(users).where(users.c.id == user_id).values(
                    failed_logins=0, locked_until=time.time() + lockout_s))
                return True
        return False

    def clear_failures(self, user_id: int) -> None:
        """A successful sign-in resets the failure count."""
        with self._write() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(failed_logins=0, locked_until=0.0))

    # -- sessions -----------------------------------------------------------------------------

    def create_session(self, id_hash: str, user_id: int, csrf: str, *, lifetime_s: float) -> None:
        """Store a new session (only the SHA-256 of its id: a leaked table cannot be replayed)."""
        now = time.time()
        with self._write() as conn:
            conn.execute(delete(sessions).where(sessions.c.expires_at < now))
            conn.execute(insert(sessions).values(id_hash=id_hash, user_id=user_id, csrf=csrf, created_at=now,
                                                 last_seen=now, expires_at=now + lifetime_s))

    def session(self, id_hash: str, *, idle_s: float, touch_after_s: float = 30.0) -> SessionRecord | None:
        """The live session with this id hash and its (enabled) user; an expired or idle one is
        deleted and None returned. ``last_seen`` is written at most every ``touch_after_s``."""
        now = time.time()
        with self._read() as conn:
            row = conn.execute(select(sessions, users).join(users, users.c.id == sessions.c.user_id)
                               .where(sessions.c.id_hash == id_hash)).first()
        if row is None:
            return None
        if now >= float(row.expires_at) or now - float(row.last_seen) > idle_s or bool(row.disabled):
            self.drop_session(id_hash)
            return None
        if now - float(row.last_seen) > touch_after_s:
            with self._write() as conn:
                conn.execute(update(sessions).where(sessions.c.id_hash == id_hash).values(last_seen=now))
        return SessionRecord(user=_user(row), csrf=str(row.csrf), created_at=float(row.created_at),
                             last_seen=float(row.last_seen), expires_at=float(row.expires_at))

    def drop_session(self, id_hash: str) -> None:
        """End one session (sign-out, rotation at sign-in)."""
        with self._write() as conn:
            conn.execute(delete(sessions).where(sessions.c.id_hash == id_hash))

    def session_count(self, user_id: int) -> int:
        """How many sessions a user has open."""
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(sessions)
                                    .where(sessions.c.user_id == user_id)).scalar_one())

    # -- sign-in rate limiting ----------------------------------------------------------------

    def note_attempt(self, keys: Sequence[str]) -> None:
        """Record one sign-in attempt under each key (``ip:…``, ``name:…``); prunes old rows."""
        now = time.time()
        with self._write() as conn:
            conn.execute(delete(login_attempts).where(login_attempts.c.at < now - 3600))
            conn.execute(insert(login_attempts), [{"key": key[:300], "at": now} for key in keys])

    def attempts_since(self, key: str, since: float) -> int:
        """Sign-in attempts recorded under ``key`` after ``since`` (epoch seconds)."""
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(login_attempts).where(
                login_attempts.c.key == key[:300], login_attempts.c.at > since)).scalar_one())

    # -- audit --------------------------------------------------------------------------------

    def audit(self, user: str | None, event: str, detail: str = "", ip: str | None = None) -> None:
        """Append one audit row (ASVS 7.1/7.2: who, what, when, from where; never a password)."""
        with self._write() as conn:
            _audit_row(conn, user, event, detail, ip)

    def finish_slot(self, user: str, key: str, item_id: str | None, *, stats_key: str,
                    stats: dict[str, Any], event: str, detail: str, ip: str | None = None) -> None:
        """After a submission, in ONE transaction: drop the slot's draft and skip, give back the
        item's lease, store the reviewer's running statistics under ``stats_key`` and append the
        audit row (one commit instead of five on the busiest route)."""
        body = json.dumps(stats, ensure_ascii=False, sort_keys=True)
        with self._write() as conn:
            _clear_slot(conn, user, key, item_id)
            conn.execute(delete(drafts).where(drafts.c.user_name == user, drafts.c.slot_key == stats_key))
            conn.execute(insert(drafts).values(user_name=user, slot_key=stats_key, body=body, updated_at=time.time()))
            _audit_row(conn, user, event, detail, ip)

    def clear_slot(self, user: str, key: str, item_id: str | None = None) -> None:
        """Forget ``user``'s draft and skip of slot ``key`` and give back their lease of ``item_id``
        (the slot is done or gone), in one transaction."""
        with self._write() as conn:
            _clear_slot(conn, user, key, item_id)

    def recent_audit(self, limit: int = 50, *, event: str | None = None) -> list[AuditRow]:
        """The newest audit rows first (optionally of one event)."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if event is not None:
            query = query.where(audit_log.c.event == event)
        with self._read() as conn:
            return [AuditRow(id=int(r.id), at=float(r.at), user_name=r.user_name, event=str(r.event),
                             detail=str(r.detail), ip=r.ip) for r in conn.execute(query)]

    # -- drafts and skips ---------------------------------------------------------------------

    def save_draft(self, user: str, key: str, data: dict[str, Any]) -> None:
        """Keep a reviewer's unfinished form for slot ``key`` (replacing an older draft)."""
        body = json.dumps(data, ensure_ascii=False, sort_keys=True)
        with self._write() as conn:
            conn.execute(delete(drafts).where(drafts.c.user_name == user, drafts.c.slot_key == key))
            conn.execute(insert(drafts).values(user_name=user, slot_key=key, body=body, updated_at=time.time()))

    def get_draft(self, user: str, key: str) -> dict[str, Any] | None:
        """The saved draft of ``user`` for ``key`` (None when there is none)."""
        with self._read() as conn:
            body = conn.execute(select(drafts.c.body).where(drafts.c.user_name == user,
                                                            drafts.c.slot_key == key)).scalar()
        if body is None:
            return None
        data = json.loads(body)
        return data if isinstance(data, dict) else None

    def get_drafts(self, user: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The saved drafts of ``user`` for several keys in one query (key → draft; absent keys left out)."""
        with self._read() as conn:
            rows = conn.execute(select(drafts.c.slot_key, drafts.c.body).where(drafts.c.user_name == user,
                                                                               drafts.c.slot_key.in_(keys))).all()
        found: dict[str, dict[str, Any]] = {}
        for key, body in rows:
            data = json.loads(body)
            if isinstance(data, dict):
                found[str(key)] = data
        return found

    def drop_draft(self, user: str, key: str) -> None:
        """Forget a draft (after its submission)."""
        with self._write() as conn:
            conn.execute(delete(drafts).where(drafts.c.user_name == user, drafts.c.slot_key == key))

    def drafts_of(self, user: str) -> list[str]:
        """Slot keys with a saved draft of ``user``, newest first."""
        with self._read() as conn:
            return [str(k) for k in conn.execute(select(drafts.c.slot_key).where(drafts.c.user_name == user)
                                                 .order_by(drafts.c.updated_at.desc())).scalars()]

    def skip(self, user: str, key: str, reason: str) -> None:
        """Record that ``user`` skipped slot ``key`` (queues show it last); a repeat updates the reason."""
        with self._write() as conn:
            conn.execute(delete(skips).where(skips.c.user_name == user, skips.c.slot_key == key))
            conn.execute(insert(skips).values(user_name=user, slot_key=key, reason=reason[:MAX_DETAIL],
                                              at=time.time()))

    def skipped(self, user: str) -> dict[str, str]:
        """Slot key → reason for every slot ``user`` skipped."""
        with self._read() as conn:
            return {str(k): str(r) for k, r in conn.execute(select(skips.c.slot_key, skips.c.reason)
                                                            .where(skips.c.user_name == user))}

    def unskip(self, user: str, key: str) -> None:
        """Forget a skip (the slot was submitted after all)."""
        with self._write() as conn:
            conn.execute(delete(skips).where(skips.c.user_name == user, skips.c.slot_key == key))

    # -- leases (an item is reserved while someone works on it) -------------------------------

    def lease(self, item_id: str, user: str, per_item_free: int, *, lease_s: float = 1800.0) -> bool:
        """Reserve one of ``per_item_free`` concurrent slots of ``item_id`` for ``user`` until
        ``lease_s`` from now; True when ``user`` holds one afterwards (an existing lease of theirs
        is extended). Two reviewers can never hold the same (item, slot number): the unique index
        decides, so this holds across worker processes."""
        now = time.time()
        with self._write() as conn:
            conn.execute(delete(leases).where(leases.c.item_id == item_id, leases.c.expires_at <= now))
            mine = conn.execute(update(leases).where(leases.c.item_id == item_id, leases.c.user_name == user)
                                .values(expires_at=now + lease_s)).rowcount
        if mine:
            return True
        for number in range(max(0, per_item_free)):
            try:
                with self._write() as conn:
                    conn.execute(insert(leases).values(item_id=item_id, lease_no=number, user_name=user,
                                                       expires_at=now + lease_s))
                return True
            except IntegrityError:
                continue
        return False

    def release(self, item_id: str, user: str) -> None:
        """Give back ``user``'s lease of ``item_id`` (submitted or skipped)."""
        with self._write() as conn:
            conn.execute(delete(leases).where(leases.c.item_id == item_id, leases.c.user_name == user))

    def held_by_others(self, user: str) -> dict[str, int]:
        """item_id → live leases held by anyone but ``user`` (``reviewer_queue``'s ``held``)."""
        with self._read() as conn:
            rows = conn.execute(select(leases.c.item_id, func.count()).where(
                leases.c.user_name != user, leases.c.expires_at > time.time()).group_by(leases.c.item_id))
            return {str(item): int(n) for item, n in rows}

    def leases_of(self, user: str) -> list[str]:
        """Item ids ``user`` holds a live lease of."""
        with self._read() as conn:
            return [str(i) for i in conn.execute(select(leases.c.item_id).where(
                leases.c.user_name == user, leases.c.expires_at > time.time())).scalars()]


def _audit_row(conn: Connection, user: str | None, event: str, detail: str, ip: str | None) -> None:
    conn.execute(insert(audit_log).values(at=time.time(), user_name=None if user is None else user[:200],
                                          event=event[:40], detail=detail[:MAX_DETAIL],
                                          ip=None if ip is None else ip[:64]))


def _clear_slot(conn: Connection, user: str, key: str, item_id: str | None) -> None:
    conn.execute(delete(drafts).where(drafts.c.user_name == user, drafts.c.slot_key == key))
    conn.execute(delete(skips).where(skips.c.user_name == user, skips.c.slot_key == key))
    if item_id is not None:
        conn.execute(delete(leases).where(leases.c.item_id == item_id, leases.c.user_name == user))

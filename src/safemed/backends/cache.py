"""A content-addressed response cache in SQLite: what makes every run resumable.

The key is the SHA-256 of the backend identity (kind, model, weights hash where known), the chat
messages and the generation parameters, in canonical JSON. Replies are committed in small
batches by a writer thread, off the caller's event loop (WAL; every ``COMMIT_EVERY`` replies or
``COMMIT_AFTER`` seconds, so at low rates every reply commits at once), so a run killed at any instant —
kill -9 included — and started again with the same command finds every committed request here and
does not send it again; only the replies of the last batch(es), still uncommitted, are asked again.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safemed.backends.base import Completion, GenerationParams, Usage
from safemed.records import ChatMessage

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created_at REAL NOT NULL
)
"""


def request_json(identity: dict[str, Any], messages: Sequence[ChatMessage],
                 params: GenerationParams) -> str:
    """The canonical JSON of one request: sorted keys, no whitespace, UTF-8 kept."""
    body = {"backend": identity, "messages": [[m.role, m.content] for m in messages],
            "params": params.as_dict()}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(identity: dict[str, Any], messages: Sequence[ChatMessage], params: GenerationParams) -> str:
    """SHA-256 hex of :func:`request_json`."""
    return key_of(request_json(identity, messages, params))


def key_of(request: str) -> str:
    """SHA-256 hex of an already built :func:`request_json`."""
    return hashlib.sha256(request.encode("utf-8")).hexdigest()


COMMIT_EVERY = 64
COMMIT_AFTER = 0.05

INSERT = "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
SELECT = "SELECT text, finish_reason, prompt_tokens, completion_tokens FROM responses WHERE key = ?"

Row = tuple[Any, ...]


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class ResponseCache:
    """SQLite-backed map from request key to completion; safe to share between runs and processes.

    Replies wait in a small in-memory buffer; full batches are handed to one writer thread that
    commits each in one short transaction on its own connection, so the caller (an event loop
    sending requests) never waits for the disk, and no write lock is held between batches
    (several caches on one file never block each other). A reply is readable through :meth:`get`
    from the moment it is put. :meth:`flush` and :meth:`close` wait until everything put so far
    is committed; a failed write is raised by the next ``put``, ``flush`` or ``close``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = _connect(self.path)
        self._conn.execute(SCHEMA)
        self._lock = threading.Lock()
        #: every row put and not yet committed (the open batch and those being written), by key
        self._pending: dict[str, Row] = {}
        self._batch: list[Row] = []
        self._flushed_at = 0.0
        self._queue: queue.Queue[list[Row] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None

    def get(self, key: str) -> Completion | None:
        with self._lock:
            pending = self._pending.get(key)
        row = pending[4:8] if pending is not None else self._conn.execute(SELECT, (key,)).fetchone()
        if row is None:
            return None
        return Completion(text=row[0], finish_reason=row[1], usage=Usage(row[2], row[3]))

    def put(self, key: str, identity: dict[str, Any], request: str, completion: Completion) -> None:
        """Store a reply; it is committed within ``COMMIT_AFTER`` seconds or ``COMMIT_EVERY`` replies
        (at once when replies come slower than that), by the writer thread."""
        self._raise_write_error()
        row = (key, str(identity.get("backend")), str(identity.get("model")), request, completion.text,
               completion.finish_reason, completion.usage.prompt_tokens, completion.usage.completion_tokens,
               time.time())
        now = time.monotonic()
        with self._lock:
            self._pending[key] = row
            self._batch.append(row)
            if len(self._batch) >= COMMIT_EVERY or now - self._flushed_at >= COMMIT_AFTER:
                self._hand_off(now)

    def _hand_off(self, now: float) -> None:
        """Give the open batch to the writer thread (called with the lock held)."""
        if self._batch:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_batches, name="response-cache-writer",
                                                daemon=True)
                self._writer.start()
            self._queue.put(self._batch)
            self._batch = []
        self._flushed_at = now

    def _write_batches(self) -> None:
        conn: sqlite3.Connection | None = None
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                if self._error is None:
                    conn = conn or _connect(self.path)
                    with conn:  # one transaction
                        conn.execute("BEGIN IMMEDIATE")
                        conn.executemany(INSERT, batch)
                    with self._lock:
                        for row in batch:
                            if self._pending.get(row[0]) is row:
                                del self._pending[row[0]]
            except BaseException as exc:  # kept, and raised in the caller's thread
                self._error = exc
            finally:
                if batch is None and conn is not None:
                    conn.close()
                self._queue.task_done()

    def _raise_write_error(self) -> None:
        if self._error is not None:
            raise self._error

    def flush(self) -> None:
        """Commit every reply put so far, and wait for it."""
        with self._lock:
            self._hand_off(time.monotonic())
        self._queue.join()
        self._raise_write_error()

    def __len__(self) -> int:
        self.flush()
        return int(self._conn.execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Commit what is buffered, stop the writer and close the file."""
        try:
            self.flush()
        finally:
            if self._writer is not None:
                self._queue.put(None)
                self._writer.join()
                self._writer = None
            self._conn.close()

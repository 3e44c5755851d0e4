"""A content-addressed response cache in SQLite: what makes every run resumable.

The key is the SHA-256 of the backend identity (kind, model, weights hash where known), the chat
messages and the generation parameters, in canonical JSON. Replies are committed in small
batches (WAL; every ``COMMIT_EVERY`` replies or ``COMMIT_AFTER`` seconds, so at low rates every
reply commits at once), so a run killed at any instant —
kill -9 included — and started again with the same command finds every committed request here and
does not send it again; at most the last batch, still uncommitted, is asked again.
"""

from __future__ import annotations

import hashlib
import json
import os
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


class ResponseCache:
    """SQLite-backed map from request key to completion; safe to share between runs and processes.

    Replies wait in a small in-memory buffer and are written in one short transaction per batch,
    so no write lock is held between calls (several caches on one file never block each other).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(SCHEMA)
        self._lock = threading.Lock()
        self._buffer: dict[str, tuple[Any, ...]] = {}
        self._flushed_at = 0.0

    def get(self, key: str) -> Completion | None:
        with self._lock:
            pending = self._buffer.get(key)
            row = (pending[4], pending[5], pending[6], pending[7]) if pending is not None else self._conn.execute(
                "SELECT text, finish_reason, prompt_tokens, completion_tokens FROM responses WHERE key = ?",
                (key,)).fetchone()
        if row is None:
            return None
        return Completion(text=row[0], finish_reason=row[1], usage=Usage(row[2], row[3]))

    def put(self, key: str, identity: dict[str, Any], request: str, completion: Completion) -> None:
        """Store a reply; it reaches the file within ``COMMIT_AFTER`` seconds or ``COMMIT_EVERY`` replies
        (immediately when replies come slower than that)."""
        now = time.monotonic()
        with self._lock:
            self._buffer[key] = (key, str(identity.get("backend")), str(identity.get("model")), request,
                                 completion.text, completion.finish_reason, completion.usage.prompt_tokens,
                                 completion.usage.completion_tokens, time.time())
            if len(self._buffer) >= COMMIT_EVERY or now - self._flushed_at >= COMMIT_AFTER:
                self._flush(now)

    def _flush(self, now: float) -> None:
        if self._buffer:
            with self._conn:  # one transaction
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(INSERT, list(self._buffer.values()))
            self._buffer.clear()
        self._flushed_at = now

    def flush(self) -> None:
        """Write buffered replies now."""
        with self._lock:
            self._flush(time.monotonic())

    def __len__(self) -> int:
        with self._lock:
            self._flush(time.monotonic())
            return int(self._conn.execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._flush(time.monotonic())
            self._conn.close()

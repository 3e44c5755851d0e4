"""A content-addressed response cache in SQLite: what makes every run resumable.

The key is the SHA-256 of the backend identity (kind, model, weights hash where known), the chat
messages and the generation parameters, in canonical JSON. Replies are committed in small
batches (WAL; at most ``COMMIT_EVERY`` replies or ``COMMIT_AFTER`` seconds after the first
uncommitted one, so at low rates every reply commits at once), so a run killed at any instant —
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


class ResponseCache:
    """SQLite-backed map from request key to completion; safe to share between runs."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(SCHEMA)
        self._lock = threading.Lock()
        self._pending = 0
        self._since = 0.0

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT text, finish_reason, prompt_tokens, completion_tokens FROM responses WHERE key = ?",
                (key,)).fetchone()
        if row is None:
            return None
        return Completion(text=row[0], finish_reason=row[1], usage=Usage(row[2], row[3]))

    def put(self, key: str, identity: dict[str, Any], request: str, completion: Completion) -> None:
        now = time.monotonic()
        with self._lock:
            if self._pending == 0:
                self._conn.execute("BEGIN")
                self._since = now
            self._conn.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, str(identity.get("backend")), str(identity.get("model")), request, completion.text,
                 completion.finish_reason, completion.usage.prompt_tokens,
                 completion.usage.completion_tokens, time.time()))
            self._pending += 1
            if self._pending >= COMMIT_EVERY or now - self._since >= COMMIT_AFTER:
                self._commit()

    def _commit(self) -> None:
        if self._pending:
            self._conn.execute("COMMIT")
            self._pending = 0

    def flush(self) -> None:
        """Commit replies not yet committed."""
        with self._lock:
            self._commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._commit()
            self._conn.close()

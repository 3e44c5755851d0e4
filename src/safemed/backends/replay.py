"""The ``replay`` backend: answers from a file of recorded responses, no model at all.

``replay/PATH`` reads a JSONL of ``{"prompt": "...", "response": "..."}`` rows (``prompt`` is the
last user message sent). It lets a team evaluate outputs produced elsewhere (a model they cannot
serve, a vendor's batch export, clinicians' own answers), and it validates judges on responses
whose verdict is known — e.g. Med-Safety-Bench's reference safe responses, which a sound MSB judge
should score 1. A prompt with no recorded response is rejected for that sample (counted as an
error), never invented.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safemed.backends.base import Backend, Completion, GenerationParams, RequestRejected, Usage
from safemed.errors import ConfigError, DataError
from safemed.jsonl import iter_jsonl_objects
from safemed.records import ChatMessage


class ReplayBackend(Backend):
    """Recorded responses looked up by the last user message."""

    kind = "replay"

    def __init__(self, spec: str, path: Path) -> None:
        super().__init__(spec, path.name)
        if not path.is_file():
            raise ConfigError(f"replay file {path} not found")
        self.path = path
        self.responses: dict[str, str] = {}
        for lineno, row in iter_jsonl_objects(path):
            for field in ("prompt", "response"):
                if not isinstance(row.get(field), str):
                    raise DataError(str(path), lineno, field, "missing or not a string")
            self.responses[row["prompt"]] = row["response"]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        self._identity = {"backend": self.kind, "model": path.name, "sha256": digest}

    def identity(self) -> dict[str, Any]:
        return self._identity

    async def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        users = [m.content for m in messages if m.role == "user"]
        text = self.responses.get(users[-1]) if users else None
        if text is None:
            raise RequestRejected(f"{self.path} has no recorded response for this prompt")
        return Completion(text=text, finish_reason="stop", usage=Usage(0, 0))

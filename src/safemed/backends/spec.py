"""Model specs: ``<backend>/<rest>`` → a :class:`~safemed.backends.base.Backend`.

``openai/NAME@URL``, ``local/default`` | ``local/PATH``, ``replay/PATH`` (recorded responses)
and ``rules`` (no model: the deterministic refusal rules' judge, ``--judge refusal=rules``; see
:mod:`safemed.backends.rules`) are built in. Backend kinds are a plain
dict of name → factory; a dotted path (``package.module:factory``) names a user's own factory,
which receives ``(spec, rest)`` and returns a Backend. An unknown kind lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safemed.backends.base import Backend
from safemed.backends.local import local_backend
from safemed.backends.openai import OpenAIBackend
from safemed.backends.replay import ReplayBackend
from safemed.backends.rules import RULES_SPEC, rules_backend
from safemed.errors import ConfigError, UnknownNameError
from safemed.naming import import_dotted


@dataclass(frozen=True)
class BackendOptions:
    """Command-line options that shape how a backend is built."""

    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0
    pool_size: int = 256
    local_parallel: int = 4


Factory = Callable[[str, str, BackendOptions], Backend]

BACKENDS: dict[str, Factory] = {
    "openai": lambda spec, rest, o: OpenAIBackend.from_spec(spec, rest, api_key_env=o.api_key_env,
                                                            timeout=o.timeout, pool_size=o.pool_size),
    "local": lambda spec, rest, o: local_backend(spec, rest, parallel=o.local_parallel),
    "replay": lambda spec, rest, o: ReplayBackend(spec, Path(rest).expanduser()),
    RULES_SPEC: lambda spec, rest, o: rules_backend(spec, rest),
}
NO_MODEL_NAME = frozenset({RULES_SPEC})
"""Kinds whose spec may be the bare kind (``rules``): they serve no named model."""


def _dotted(name: str) -> Factory | None:
    try:
        factory = import_dotted(name)
    except (ImportError, AttributeError, ValueError):
        return None
    return factory if callable(factory) else None


def build_backend(spec: str, options: BackendOptions | None = None) -> Backend:
    """Parse a model spec and construct its backend (no network traffic happens here)."""
    options = options or BackendOptions()
    kind, sep, rest = spec.partition("/")
    if kind in NO_MODEL_NAME:
        return BACKENDS[kind](spec, rest, options)
    if not sep or not rest:
        raise ConfigError(f"model spec {spec!r} must look like <backend>/<model>, "
                          f"e.g. local/default or openai/NAME@http://127.0.0.1:8000/v1")
    factory = BACKENDS.get(kind) or _dotted(kind)
    if factory is None:
        raise UnknownNameError("backend", kind, BACKENDS)
    return factory(spec, rest, options)

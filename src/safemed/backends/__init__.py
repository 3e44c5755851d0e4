"""L1 backends: one async ``Backend`` interface, the OpenAI-compatible and local implementations,
model-spec parsing and the cached, retrying request engine every stage uses."""

from safemed.backends.base import (
    Backend,
    Completion,
    GenerationParams,
    RequestRejected,
    TransientBackendError,
    Usage,
)
from safemed.backends.cache import ResponseCache, cache_key
from safemed.backends.engine import Budget, EngineResult, EngineStats, RequestEngine, RetryPolicy
from safemed.backends.spec import BACKENDS, BackendOptions, build_backend

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendOptions",
    "Budget",
    "Completion",
    "EngineResult",
    "EngineStats",
    "GenerationParams",
    "RequestEngine",
    "RequestRejected",
    "ResponseCache",
    "RetryPolicy",
    "TransientBackendError",
    "Usage",
    "build_backend",
    "cache_key",
]

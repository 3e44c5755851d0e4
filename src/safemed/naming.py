"""Named things: registry lookup with a dotted-path fallback (DESIGN.md, "Named things").

Benchmarks, prompt sets, backends, judges and attacks are plain dicts of name → object. A name
that is not registered may be a dotted path, ``package.module:attr`` or ``package.module.attr``,
to an object of the right kind or to a no-argument factory that returns one, so users plug in
their own without touching safemed. Anything else is an :class:`~safemed.errors.UnknownNameError`
that lists the valid names.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from typing import TypeGuard, TypeVar

from safemed.errors import UnknownNameError

T = TypeVar("T")


def import_dotted(name: str) -> object:
    """The object at ``package.module:attr`` (or ``package.module.attr``); ImportError if none."""
    module_name, sep, attr = name.partition(":")
    if not sep:
        module_name, _, attr = name.rpartition(".")
    if not module_name or not attr:
        raise ImportError(name)
    value: object = importlib.import_module(module_name)
    for part in attr.split("."):
        value = getattr(value, part)
    return value


def zero_arg_callable(value: object) -> bool:
    """True for a function or class that can be called with no arguments (a factory)."""
    if not callable(value):
        return False
    try:
        inspect.signature(value).bind()
    except (TypeError, ValueError):
        return False
    return True


def from_dotted(kind: str, name: str, accept: Callable[[object], TypeGuard[T]], valid: Iterable[str]) -> T:
    """The object a dotted ``name`` points at (calling it if it is a factory) when ``accept`` takes
    it; else UnknownNameError listing ``valid``."""
    if "." in name or ":" in name:
        try:
            value = import_dotted(name)
            if not accept(value) and zero_arg_callable(value):
                value = value()  # type: ignore[operator]
        except (ImportError, AttributeError, ValueError, TypeError):
            raise UnknownNameError(kind, name, valid) from None
        if accept(value):
            return value
    raise UnknownNameError(kind, name, valid)

"""Config files as kw-only dataclasses: YAML mappings checked against the field types.

TRL's style, which safemed follows for ``safemed train`` (SafeMed-R1 §3) and ``safemed ablate``:
a config is a dataclass whose fields are the YAML keys (and, for training, the CLI flags). Loading
one from a mapping is the same job everywhere, so it lives here once: an unknown key is an error
listing the valid ones, a missing required key is named (with its help text when the field has
one), a value of the wrong type is named with the type expected (``int or null``, ``list of str``),
nested dataclasses are built from their mappings with the path to them in every message
(``suite[1].benchmarks``), and the class's own ``__post_init__`` checks are prefixed with where the
mapping sits. Ints are accepted for floats; booleans never pass for numbers.

A dataclass may name a field in ``_config_shorthand`` (a ``ClassVar[str]``): a bare string in the
YAML then stands for a mapping of that one field (``datasets: [runs/export]`` for ``{path: …}``).
Fields whose metadata has ``yaml: False`` are not keys (set in code only).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union

from safemed.errors import ConfigError

T = TypeVar("T")


def config_fields(cls: type) -> dict[str, tuple[Any, dataclasses.Field[Any]]]:
    """Field name → (resolved type, dataclass field) of the YAML keys, in declaration order."""
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], f) for f in dataclasses.fields(cls) if f.metadata.get("yaml", True)}


def is_union(tp: Any) -> bool:
    """True for ``X | Y`` and ``Optional[X]``."""
    return typing.get_origin(tp) in (Union, types.UnionType)


def is_scalar(tp: Any) -> bool:
    """True for the types a CLI flag can carry: str, int, float, bool, and those or None."""
    args = [a for a in typing.get_args(tp) if a is not type(None)] if is_union(tp) else [tp]
    return len(args) == 1 and args[0] in (str, int, float, bool)


def type_name(tp: Any) -> str:
    """A readable name of a field type (``int or null``, ``list of str or str``)."""
    if is_union(tp):
        return " or ".join("null" if a is type(None) else type_name(a) for a in typing.get_args(tp))
    origin = typing.get_origin(tp)
    if origin is list:
        return f"list of {type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"mapping of name to {type_name(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def show(value: Any) -> str:
    """A value as an error message shows it (``int 3``, ``null``)."""
    return "null" if value is None else f"{type(value).__name__} {value!r}"


def convert(value: Any, tp: Any, file: str, key: str) -> Any:
    """``value`` of ``key`` checked against ``tp``; a nested dataclass is built from its mapping."""
    wrong = ConfigError(f"{file}: {key}: expected {type_name(tp)}, got {show(value)}")
    if is_union(tp):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in (o for o in options if o is not type(None)):
            try:
                return convert(value, option, file, key)
            except ConfigError:
                continue
        raise wrong
    origin = typing.get_origin(tp)
    if origin is list:
        if not isinstance(value, list):
            raise wrong
        (item,) = typing.get_args(tp)
        return [convert(v, item, file, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise wrong
        _, item = typing.get_args(tp)
        return {str(k): convert(v, item, file, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        shorthand = getattr(tp, "_config_shorthand", None)
        if shorthand and isinstance(value, str):
            value = {shorthand: value}
        if not isinstance(value, dict):
            raise ConfigError(f"{file}: {key}: expected a mapping, got {show(value)}")
        return build(tp, value, file, key)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (tp in (int, float) and isinstance(value, bool)) or not isinstance(value, tp):
        raise wrong
    return value


def build(cls: type[T], data: dict[str, Any], file: str, key: str = "", **extra: Any) -> T:
    """``cls`` from a mapping found at ``key`` of ``file`` (empty at the top); ``extra`` are
    keyword arguments that are not YAML keys (see the module docstring for the checks)."""
    fields = config_fields(cls)
    where = f"{file}: {key}" if key else file
    unknown = sorted(str(k) for k in data if k not in fields)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(fields))}")
    missing = [name for name, (_, f) in fields.items() if name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        help_text = fields[missing[0]][1].metadata.get("help")
        raise ConfigError(f"{where}: missing required key {missing[0]!r}" + (f" ({help_text})" if help_text else ""))
    values = {name: convert(value, fields[name][0], file, f"{key}.{name}" if key else name)
              for name, value in data.items()}
    try:
        return cls(**values, **extra)
    except ConfigError as exc:
        message = str(exc)
        if message.startswith(f"{file}:"):
            raise
        raise ConfigError(f"{where}: {message}") from None

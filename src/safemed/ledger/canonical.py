"""RFC 8785 JSON Canonicalization Scheme (JCS): the exact bytes each ledger leaf hashes.

Every ledger event is hashed as ``SHA-256(0x00 ‖ canonical_json(event))`` (see ``merkle.py``), so
anyone who re-serialises an exported event the same way gets the same leaf. The rules (RFC 8785
§3.2): no whitespace; object members sorted by their names' UTF-16 code units; strings in UTF-8
with only ``"``, ``\\`` and control characters escaped (``\\b \\t \\n \\f \\r`` short, other
controls as lower-case ``\\u00xx``); numbers as ECMAScript's ``Number.prototype.toString`` formats
IEEE 754 doubles; ``null``/``true``/``false`` literal. NaN, infinities, lone surrogates and
integers beyond 2^53 (not exactly representable as a double) are refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

MAX_SAFE_INTEGER = 2**53


class CanonicalJSONError(ValueError):
    """A value that RFC 8785 cannot represent (NaN, a lone surrogate, a non-JSON type …)."""


def canonical_json(value: Any) -> str:
    """The RFC 8785 canonical form of a JSON value (dicts, lists, str, int, float, bool, None).

    Fast path: for values made only of dicts with ``str`` keys, lists, strings, safe integers,
    booleans and null, the standard library's compact, key-sorted encoder already produces RFC
    8785 output, provided no character is ≥ U+D800 (where code-point and UTF-16 order can differ
    and lone surrogates live). Anything else goes through the full encoder below.
    """
    if _plain(value):
        text = _dumps(value)
        if text.isascii() or max(text) < "\ud800":
            return text
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                          allow_nan=False).encode


def _plain(value: Any) -> bool:
    """True when ``value`` holds no float, no integer beyond ±2^53 and no non-JSON type."""
    kind = type(value)
    if kind is dict:
        return all(type(key) is str and _plain_scalar_or_container(item) for key, item in value.items())
    if kind is list or kind is tuple:
        return all(_plain_scalar_or_container(item) for item in value)
    return _plain_scalar_or_container(value)


def _plain_scalar_or_container(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if kind is dict or kind is list or kind is tuple:
        return _plain(value)
    return False


def canonical_bytes(value: Any) -> bytes:
    """:func:`canonical_json` encoded as UTF-8 (what gets hashed)."""
    return canonical_json(value).encode("utf-8")


_json_string = json.encoder.encode_basestring  # the C escaper behind ensure_ascii=False


def _string(text: str) -> str:
    # Python's encoder escapes exactly the RFC 8785 set, with lower-case hex; it does not
    # reject lone surrogates, which have no UTF-8 form, so check for them first.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError(f"string holds a lone surrogate: {text!r}") from exc
    return _json_string(text)


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"integer {value} is outside ±2^53 (not exact as an IEEE double)")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalJSONError(f"object member name {key!r} is not a string")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for i, element in enumerate(value):
            if i:
                out.append(",")
            _encode(element, out)
        out.append("]")
    else:
        raise CanonicalJSONError(f"{type(value).__name__} is not a JSON value")


def format_number(number: float) -> str:
    """ECMAScript ``Number.prototype.toString`` of a double (RFC 8785 §3.2.2.3).

    Python's ``repr`` already yields the shortest round-tripping digits (as ECMAScript requires);
    only the layout differs: plain notation for decimal exponents -7 < e < 21, otherwise
    ``d.ddde±x`` with no leading zeros in the exponent; ``-0`` is ``0``.
    """
    if math.isnan(number) or math.isinf(number):
        raise CanonicalJSONError(f"{number} has no JSON form")
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    mantissa, _, exp_text = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # Position of the decimal point relative to the start of ``digits`` (ECMAScript's n).
    point = len(whole) + (int(exp_text) if exp_text else 0)
    point -= len(whole + fraction) - len((whole + fraction).lstrip("0"))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= point <= 21:
        text = digits + "0" * (point - k)
    elif 0 < point <= 21:
        text = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        exponent = point - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if exponent >= 0 else "-")
        text += str(abs(exponent))
    return sign + text

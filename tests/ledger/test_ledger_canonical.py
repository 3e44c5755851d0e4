"""RFC 8785 canonical JSON: the RFC's own examples (§3.2.2, §3.2.3, Appendix B) and refusals."""

from __future__ import annotations

import json
import struct

import pytest

from safemed.ledger.canonical import CanonicalJSONError, canonical_bytes, canonical_json, format_number

# RFC 8785 Appendix B: IEEE 754 bit patterns and their ECMAScript / JCS serialisation.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_number_formatting_appendix_b(bits: str, expected: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    assert format_number(value) == expected


def test_rfc_example_3_2_2() -> None:
    source = ('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
              '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
              '"literals": [null, true, false]}')
    expected = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
                '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
    assert canonical_json(json.loads(source)) == expected


def test_rfc_example_3_2_3_sorting_by_utf16() -> None:
    source = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"}
    order = [key for key in json.loads(canonical_json(source))]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_control_characters_and_escapes() -> None:
    assert canonical_json("\b\t\n\f\r\x00\x1f\x7f\u2028/") == '"\\b\\t\\n\\f\\r\\u0000\\u001f\x7f\u2028/"'
    assert canonical_bytes({"b": "é", "a": [1, 2.0, -0.0]}) == '{"a":[1,2,0],"b":"é"}'.encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "\ud800", {1: "x"}, 2**53 + 1, b"raw", {1.5}])
def test_refuses_what_rfc_8785_cannot_represent(bad: object) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_json(bad)


def test_round_trip_is_stable() -> None:
    value = {"z": {"y": [True, None, "x"], "a": 1e-7}, "temperature": 0.7, "n": -12}
    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text
    assert text == '{"n":-12,"temperature":0.7,"z":{"a":1e-7,"y":[true,null,"x"]}}'


def test_fast_path_agrees_with_the_full_encoder() -> None:
    """canonical_json's standard-library fast path against the full RFC 8785 encoder."""
    import random

    from safemed.ledger import canonical

    rng = random.Random(8785)
    scalars = [2**54, -(2**53), 7, "x\u00e9\n\"", "\u4e2d", True, None, False, "", "\ue000", "\U0001f600", 0.5]
    keys = ["a", "b", "\u00f6", "1", "\u20ac", "\ufb33", "\U0001f600", "aa", "\ue000"]

    def value(depth: int = 0) -> object:
        roll = rng.random()
        if depth > 3 or roll < 0.3:
            return rng.choice(scalars)
        if roll < 0.65:
            return {rng.choice(keys) + str(rng.randint(0, 3)): value(depth + 1) for _ in range(rng.randint(0, 4))}
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    for _ in range(5000):
        v = value()
        full: list[str] = []
        try:
            canonical._encode(v, full)
        except CanonicalJSONError:
            with pytest.raises(CanonicalJSONError):
                canonical_json(v)
            continue
        assert canonical_json(v) == "".join(full)

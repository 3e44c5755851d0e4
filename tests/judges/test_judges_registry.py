"""Judges by name, dotted-path fallback, unknown names listing the valid ones."""

from __future__ import annotations

import pytest

from safemed.errors import UnknownNameError
from safemed.judges import JUDGES, Judge, get_judge, parse_judge_option


def my_judge() -> Judge:
    return get_judge("harm")


def test_every_registered_judge_builds() -> None:
    for name in JUDGES:
        judge = get_judge(name)
        assert judge.name == name and judge.version and judge.scale.low < judge.scale.high


def test_dotted_path_and_unknown_name() -> None:
    assert get_judge("safemed.judges.msb:msb_judge").name == "msb"
    assert get_judge("safemed.judges.harm.harm_judge").name == "harm"
    with pytest.raises(UnknownNameError) as info:
        get_judge("msbb")
    assert "unknown judge 'msbb'" in str(info.value) and "msb, msb-zh" in str(info.value)
    with pytest.raises(UnknownNameError):
        get_judge("safemed.judges.msb:MSB_TEMPLATE")    # not callable


def test_parse_judge_option() -> None:
    assert parse_judge_option("openai/m@http://h:8000/v1?x=1") == ("msb", "openai/m@http://h:8000/v1?x=1")
    assert parse_judge_option("refusal=local/default") == ("refusal", "local/default")
    assert parse_judge_option("local/default", default="harm") == ("harm", "local/default")

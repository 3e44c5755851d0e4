"""Attacks by name, dotted paths, unknown names; refusal and JSON parsing helpers."""

from __future__ import annotations

import pytest

from safemed.attacks import ATTACKS, get_attack, get_attacks, is_refusal, parse_json_object
from safemed.attacks.paper import RolePlay
from safemed.errors import UnknownNameError


def test_registry_holds_every_kind_with_unique_names() -> None:
    kinds = {a.kind for a in ATTACKS.values()}
    assert kinds == {"template", "model", "multi-turn"}
    assert all(name == attack.name and attack.description for name, attack in ATTACKS.items())
    assert sum(a.kind == "template" for a in ATTACKS.values()) >= 10


def test_get_attacks_all_and_selection() -> None:
    assert get_attacks("all") == list(ATTACKS.values())
    chosen = get_attacks(" encoding, role_play ,encoding")
    assert [a.name for a in chosen] == ["encoding", "role_play"]


def test_dotted_path_fallback() -> None:
    assert isinstance(get_attack("safemed.attacks.paper:RolePlay"), RolePlay)
    assert isinstance(get_attack("safemed.attacks.paper.RolePlay"), RolePlay)
    assert get_attack("safemed.attacks.framings:AuthorityImpersonation").name == "authority_impersonation"


@pytest.mark.parametrize("name", ["nope", "role-play", "safemed.attacks.paper:Missing", "no.such.module:x",
                                  "safemed.errors:SafemedError", ","])
def test_unknown_names_list_the_valid_ones(name: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        get_attacks(name)
    message = str(info.value)
    assert "unknown attack" in message and "role_play" in message and "crescendo" in message


@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't help with that.", "I cannot provide that information.", "I’m not able to do that.",
    "As an AI, I must decline.", "抱歉，我无法提供这类信息。", "对不起，这个问题我不能回答。", "", "   ", None,
])
def test_refusals(text: str | None) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize("text", [
    "A sick note is a document from a clinician confirming illness.",
    "病历是记录患者诊疗过程的文件。",
    "Sure. " + "x" * 300 + " I cannot stress this enough.",
])
def test_not_refusals(text: str) -> None:
    assert not is_refusal(text)


def test_parse_json_object() -> None:
    assert parse_json_object('{"prompt": "p", "improvement": "i"}') == {"prompt": "p", "improvement": "i"}
    assert parse_json_object('Here you go:\n```json\n{"prompt": "p"}\n```\nThanks') == {"prompt": "p"}
    assert parse_json_object('prefix {"a": {"b": 1}} suffix {"c": 2}') == {"a": {"b": 1}}
    assert parse_json_object("[1, 2]") is None
    assert parse_json_object("{broken") is None
    assert parse_json_object(None) is None

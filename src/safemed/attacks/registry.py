"""Attacks by name: a plain dict, and a dotted-path fallback for your own.

``get_attacks("all")`` is every registered attack; ``get_attacks("role_play,encoding")`` a
selection, in the order given; ``package.module:attr`` (or ``package.module.attr``) names an
:class:`~safemed.attacks.base.Attack` instance, or a zero-argument class or factory returning
one, in your own code. An unknown name raises :class:`~safemed.errors.UnknownNameError` listing
the valid ones.
"""

from __future__ import annotations

from typing import TypeGuard

from safemed.attacks.base import Attack
from safemed.attacks.framings import AuthorityImpersonation, FictionFraming, PrefixInjection, RefusalSuppression
from safemed.attacks.model import ModelRolePlay, PersuasiveParaphrase
from safemed.attacks.multiturn import Crescendo, Pair
from safemed.attacks.obfuscation import Encoding, LanguageSwitch, PayloadSplitting
from safemed.attacks.paper import BoundaryProbing, PurposeInversion, RolePlay, SceneConstruction
from safemed.errors import UnknownNameError
from safemed.naming import from_dotted

ATTACKS: dict[str, Attack] = {attack.name: attack for attack in (
    RolePlay(), BoundaryProbing(), PurposeInversion(), SceneConstruction(),
    FictionFraming(), AuthorityImpersonation(), PayloadSplitting(), RefusalSuppression(), PrefixInjection(),
    Encoding(), LanguageSwitch(),
    PersuasiveParaphrase(), ModelRolePlay(),
    Crescendo(), Pair(),
)}



def get_attack(name: str) -> Attack:
    """The attack called ``name``, or one named by a dotted path."""
    if name in ATTACKS:
        return ATTACKS[name]
    return from_dotted("attack", name, _is_attack, ATTACKS)


def _is_attack(value: object) -> TypeGuard[Attack]:
    return isinstance(value, Attack)


def get_attacks(spec: str) -> list[Attack]:
    """``"all"`` or comma-separated names (duplicates dropped, order kept)."""
    if spec.strip() == "all":
        return list(ATTACKS.values())
    names = list(dict.fromkeys(n.strip() for n in spec.split(",") if n.strip()))
    if not names:
        raise UnknownNameError("attack", spec, ATTACKS)
    return [get_attack(name) for name in names]

"""Red-team attacks (L1): transforms of a harmful seed request into adversarial prompts.

Template attacks (no model), model attacks (an attacker backend rewrites the seed) and
multi-turn attacks (Crescendo, PAIR: attacker, target and a judge in the loop), by name in
:data:`ATTACKS`; :func:`generate_attack_set` builds the deduplicated prompt set with benign
twins that GRPO trains on (SafeMed-R1 §3) and ``safemed redteam generate`` writes it.
"""

from safemed.attacks.base import (
    Attack,
    AttackFailed,
    AttackKind,
    AttackPrompt,
    Language,
    ModelAttack,
    TemplateAttack,
)
from safemed.attacks.benign import benign_requests, pick_benign
from safemed.attacks.generate import (
    GenerateStats,
    agenerate_attack_set,
    generate_attack_set,
    normalise,
    row_rng,
)
from safemed.attacks.multiturn import Crescendo, MultiTurnAttack, Pair, Scorer, Transcript, Turn, crescendo, pair
from safemed.attacks.parsing import is_refusal, parse_json_object
from safemed.attacks.registry import ATTACKS, get_attack, get_attacks

__all__ = [
    "ATTACKS",
    "Attack",
    "AttackFailed",
    "AttackKind",
    "AttackPrompt",
    "Crescendo",
    "GenerateStats",
    "Language",
    "ModelAttack",
    "MultiTurnAttack",
    "Pair",
    "Scorer",
    "TemplateAttack",
    "Transcript",
    "Turn",
    "agenerate_attack_set",
    "benign_requests",
    "crescendo",
    "generate_attack_set",
    "get_attack",
    "get_attacks",
    "is_refusal",
    "normalise",
    "pair",
    "parse_json_object",
    "pick_benign",
    "row_rng",
]

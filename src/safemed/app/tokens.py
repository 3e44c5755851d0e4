"""Opaque, tamper-proof review tokens: the ``{token}`` of ``/review/{token}``.

A reviewer's page URL must not say which item it shows (an item id could be looked up or
guessed) nor whether it is a hidden gold unit (quality control only works when gold units look
exactly like real work — SafeMed-R1's physician review, with known-answer items mixed in). So
the URL carries a token: the slot key (``a…``/``c…`` from ``curate.workbench``, or ``g…`` for a
gold unit) and the id of the user it was issued to, padded to a fixed length and encrypted with
Fernet (AES-128-CBC + HMAC-SHA256, ``cryptography``) under a key derived from the app's secret.
Every token has the same length whatever it holds; a changed byte fails the HMAC and decodes to
nothing. Binding the user means a token copied to another reviewer is recognised as someone
else's (403 + audit), on top of the ownership check the routes make with ``resolve_slot``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

BLOCK = 96
"""Plaintexts are padded to a multiple of this many bytes, so token length reveals nothing."""

GOLD_PREFIX = "g"
"""Slot keys of gold units start with this (real slots are ``a…`` or ``c…``)."""


@dataclass(frozen=True)
class SlotRef:
    """What a token says: the slot key and the user it was issued to."""

    key: str
    user_id: int

    @property
    def is_gold(self) -> bool:
        """True for a hidden gold unit (the ratings store's, not a ledger slot)."""
        return self.key.startswith(GOLD_PREFIX)

    @property
    def gold_id(self) -> str:
        """The ratings store's id of the gold unit (only for :attr:`is_gold` refs)."""
        return self.key[len(GOLD_PREFIX):]


def gold_key(gold_id: str) -> str:
    """The slot key of a gold unit."""
    return GOLD_PREFIX + gold_id


class TokenCodec:
    """Encodes and decodes review tokens with a key derived from the app's secret key."""

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        derived = hashlib.sha256(b"safemed-review-token\0" + raw).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encode(self, key: str, user_id: int) -> str:
        """A fresh token (random IV: two encodings of one slot differ) for ``key`` issued to ``user_id``."""
        body = json.dumps({"k": key, "u": user_id}, separators=(",", ":")).encode()
        size = -(-(len(body) + 1) // BLOCK) * BLOCK
        padded = body + b" " * (size - len(body))
        return self._fernet.encrypt(padded).decode("ascii").rstrip("=")

    def decode(self, token: str) -> SlotRef | None:
        """The slot a token names, or None when it was not made by this app (garbled, forged, truncated)."""
        if not token or len(token) > 4096:
            return None
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(self._fernet.decrypt(padded.encode("ascii")).rstrip(b" "))
        except (InvalidToken, ValueError, UnicodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("k"), str) or type(data.get("u")) is not int:
            return None
        return SlotRef(key=data["k"], user_id=data["u"])

"""Signed checkpoints: the ledger's "signed tree heads" (CT, RFC 6962 §3.5).

A checkpoint commits to the first ``tree_size`` events through their Merkle root. The signed
message is the C2SP ``tlog-checkpoint`` body, three lines each ending in a newline::

    <origin>
    <tree size in decimal>
    <root hash, standard base64>

signed with Ed25519. The origin names this ledger (``safemed-ledger/<uuid>``, fixed at creation)
so a signature cannot be replayed for another ledger. ``verify`` and third parties check the
signature with the public key, which they get from the key owner, not from the database.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from safemed.ledger.keys import LedgerKeys, key_id, verify_signature


def checkpoint_body(origin: str, tree_size: int, root_hash: bytes) -> bytes:
    """The exact bytes that are signed."""
    return f"{origin}\n{tree_size}\n{base64.b64encode(root_hash).decode()}\n".encode()


@dataclass(frozen=True)
class Checkpoint:
    """A signed (tree size, root hash) pair of one ledger."""

    origin: str
    tree_size: int
    root_hash: bytes
    key_id: str
    signature: bytes
    created_at: str

    def body(self) -> bytes:
        """:func:`checkpoint_body` of this checkpoint."""
        return checkpoint_body(self.origin, self.tree_size, self.root_hash)

    def signed_by(self, public_key: bytes) -> bool:
        """Whether the signature verifies under ``public_key`` (raw Ed25519, 32 bytes)."""
        return key_id(public_key) == self.key_id and verify_signature(public_key, self.body(),
                                                                       self.signature)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to ``checkpoint.json`` and printed by the CLI."""
        return {"origin": self.origin, "tree_size": self.tree_size, "root_hash": self.root_hash.hex(),
                "key_id": self.key_id, "signature": base64.b64encode(self.signature).decode(),
                "created_at": self.created_at, "signed_body": self.body().decode()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        """Inverse of :meth:`to_json`."""
        return cls(origin=data["origin"], tree_size=int(data["tree_size"]),
                   root_hash=bytes.fromhex(data["root_hash"]), key_id=data["key_id"],
                   signature=base64.b64decode(data["signature"]), created_at=data["created_at"])


def sign_checkpoint(keys: LedgerKeys, origin: str, tree_size: int, root_hash: bytes,
                    created_at: str) -> Checkpoint:
    """Sign (origin, size, root) with the ledger key."""
    signature = keys.sign(checkpoint_body(origin, tree_size, root_hash))
    return Checkpoint(origin, tree_size, root_hash, keys.key_id, signature, created_at)

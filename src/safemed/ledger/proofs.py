"""Inclusion and consistency proofs, and the bundle ``safemed ledger proof ITEM_ID`` prints.

For one item (a training instance of the paper's CTS set) the bundle proves that each of its
events (the trace, every physician review and edit, the adjudication …) is leaf ``seq`` of the
log whose root a checkpoint signed (RFC 9162 §2.1.3), and that the log has only been appended to
since the first checkpoint that covered the item (consistency, §2.1.4). Every proof is verified
before it is returned; ``all_verified`` says whether all of them passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from safemed.ledger import merkle
from safemed.ledger.errors import LedgerError

if TYPE_CHECKING:
    from safemed.ledger.store import Ledger


@dataclass(frozen=True)
class InclusionProof:
    """Event ``seq`` is leaf ``seq`` of the tree of ``tree_size`` events (RFC 9162 §2.1.3)."""

    seq: int
    tree_size: int
    leaf_hash: bytes
    path: list[bytes]

    def verify(self, root: bytes) -> bool:
        """Whether the path leads from the leaf to ``root``."""
        return merkle.verify_inclusion(self.leaf_hash, self.seq, self.tree_size, self.path, root)


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``old_size`` events is a prefix of the tree of ``new_size`` (RFC 9162 §2.1.4)."""

    old_size: int
    new_size: int
    path: list[bytes]

    def verify(self, old_root: bytes, new_root: bytes) -> bool:
        """Whether the path proves ``old_root`` extends to ``new_root``."""
        return merkle.verify_consistency(self.old_size, self.new_size, old_root, new_root, self.path)


def item_proofs(ledger: Ledger, item_id: str, old_size: int | None = None,
                new_size: int | None = None) -> dict[str, Any]:
    """Inclusion proofs of the item's events in the tree of ``new_size`` (default: the latest
    checkpoint) and a consistency proof from ``old_size`` (default: the first checkpoint that
    covers all of the item's events) to ``new_size``, as JSON-ready data."""
    seqs = ledger.seqs_for_item(item_id)
    if not seqs:
        raise LedgerError(f"no events for item {item_id!r}")
    cps = ledger.checkpoints()
    if not cps:
        raise LedgerError("the ledger has no checkpoint yet: sign one with `safemed ledger root --sign`")
    signed = {cp.tree_size: cp.root_hash for cp in cps}
    new = cps[-1].tree_size if new_size is None else new_size
    covered = [seq for seq in seqs if seq < new]
    if old_size is None:
        old = min((size for size in signed if covered and size > covered[-1]), default=new)
        old = min(old, new)
    else:
        old = old_size
    new_root = signed.get(new) or ledger.root(new)
    old_root = signed.get(old) or ledger.root(old)
    inclusion = []
    for proof in ledger.inclusion_proofs(covered, new):
        inclusion.append({"seq": proof.seq, "leaf_hash": proof.leaf_hash.hex(),
                          "path": [h.hex() for h in proof.path], "verified": proof.verify(new_root)})
    consistency = ledger.consistency_proof(old, new)
    consistent = consistency.verify(old_root, new_root)
    return {
        "item_id": item_id, "origin": ledger.origin, "tree_size": new, "root_hash": new_root.hex(),
        "root_signed": new in signed, "inclusion": inclusion,
        "not_yet_checkpointed": [seq for seq in seqs if seq >= new],
        "consistency": {"old_size": old, "old_root": old_root.hex(), "old_root_signed": old in signed,
                        "new_size": new, "new_root": new_root.hex(),
                        "path": [h.hex() for h in consistency.path], "verified": consistent},
        "all_verified": consistent and all(entry["verified"] for entry in inclusion),
    }

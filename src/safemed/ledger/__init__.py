"""The tamper-evident curation ledger (L1): every CTS curation event as a Merkle-tree leaf.

``Ledger`` (``store.py``) appends events in one transaction each, signs checkpoints, serves
inclusion/consistency proofs and verifies itself (``verify.py``); ``export.py`` writes files a
third party checks with SHA-256 alone (recipe: ``VERIFY.md``); ``state.py`` derives an item's
current state from its events. See DESIGN.md, "ledger".
"""

from safemed.ledger.checkpoint import Checkpoint
from safemed.ledger.errors import KeyFileError, LedgerError, LedgerTamperedError
from safemed.ledger.export import ExportResult, export_ledger
from safemed.ledger.keys import LedgerKeys, load_keys, load_or_create_keys, pseudonymise
from safemed.ledger.proofs import ConsistencyProof, InclusionProof, item_proofs
from safemed.ledger.state import ItemState, all_states, item_state
from safemed.ledger.store import Ledger, LedgerStats, StoredEvent
from safemed.ledger.verify import Problem, VerifyReport, verify_ledger

__all__ = [
    "Checkpoint",
    "ConsistencyProof",
    "ExportResult",
    "InclusionProof",
    "ItemState",
    "KeyFileError",
    "Ledger",
    "LedgerError",
    "LedgerKeys",
    "LedgerStats",
    "LedgerTamperedError",
    "Problem",
    "StoredEvent",
    "VerifyReport",
    "all_states",
    "export_ledger",
    "item_proofs",
    "item_state",
    "load_keys",
    "load_or_create_keys",
    "pseudonymise",
    "verify_ledger",
]

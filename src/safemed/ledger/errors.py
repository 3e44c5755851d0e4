"""The ledger's user-facing errors (subclasses of :class:`safemed.errors.SafemedError`)."""

from __future__ import annotations

from safemed.errors import SafemedError


class LedgerError(SafemedError):
    """The ledger cannot do what was asked (no such item, no checkpoint yet, bad database URL …)."""


class KeyFileError(LedgerError):
    """The key file is missing, unreadable or malformed; names the path and what to do."""


class LedgerTamperedError(LedgerError):
    """``verify`` found an event changed, removed or reordered, or a checkpoint that fails."""

    exit_code = 4


class LedgerChanged(LedgerError):
    """An append was conditioned on the ledger's size and another writer appended first; re-read
    the ledger, re-check, and try again (optimistic concurrency)."""

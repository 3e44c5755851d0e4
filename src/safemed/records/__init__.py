"""L0 record types (pydantic, no I/O) shared by every layer.

``records.eval`` holds what evaluation passes around (a multiple-choice item, a chat message);
``records.curation`` (the curation issue) holds the ledger's Item, Trace, Review and events.
"""

from safemed.records.eval import ChatMessage, MCQItem, PromptItem, normalise_answer

__all__ = ["ChatMessage", "MCQItem", "PromptItem", "normalise_answer"]

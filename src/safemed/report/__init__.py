"""The evidence package's readers (L3): from artifacts and the ledger only, never the stages.

:func:`trace_lineage` follows an artifact (eval run, trained model, dataset export) back to the
ledger events its training rows came from, recomputing every hash on the way.
"""

from safemed.report.lineage import Check, Lineage, Node, trace_lineage

__all__ = ["Check", "Lineage", "Node", "trace_lineage"]

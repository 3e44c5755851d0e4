"""Alembic migrations of the ledger schema, run programmatically by ``safemed.ledger.db.migrate``."""

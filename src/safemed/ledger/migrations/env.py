"""Alembic environment: runs on the connection ``safemed.ledger.db.migrate`` hands over.

There is no alembic.ini: the caller puts an open SQLAlchemy connection (already inside the
transaction that holds the write lock) into ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from safemed.ledger.db import VERSION_TABLE
from safemed.ledger.tables import metadata


def run() -> None:
    connection = context.config.attributes["connection"]
    if not isinstance(connection, Connection):
        raise RuntimeError("the ledger migrations run only through safemed.ledger.db.migrate")
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run()

"""Ledger fixtures live in ``tests/conftest.py`` (``key_file``, ``sqlite_url``, ``pg_url``, ``db_url``),
shared with the curation tests."""

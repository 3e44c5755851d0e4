"""Ordered, append-only schema revisions (never edit one that has shipped; add a new one)."""

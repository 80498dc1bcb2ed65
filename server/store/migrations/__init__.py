"""Alembic migrations of the freshtap schema (run with `freshtap.server.store.migrate`)."""

"""Persistence: SQLModel tables, the engine factory and Alembic migrations."""

from freshtap.server.store.db import create_db_engine, migrate, session_factory

__all__ = ["create_db_engine", "migrate", "session_factory"]

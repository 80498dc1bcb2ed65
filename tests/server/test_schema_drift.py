"""The Alembic migrations create exactly the schema the models describe (no drift either way)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import freshtap.server.store.models_registry  # noqa: F401
from freshtap.server.store.db import create_db_engine, migrate


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_db_engine(database_url)
    migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert diff == []

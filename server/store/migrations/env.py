"""Alembic environment: runs on the connection handed over by `migrate`, or on FRESHTAP_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import freshtap.server.store.models_registry  # noqa: F401  (registers every table)

target_metadata = SQLModel.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from freshtap.server.store.db import create_db_engine
    from freshtap.settings import Settings

    engine = create_db_engine(Settings().resolved_database_url)
    with engine.begin() as conn:
        _run(conn)

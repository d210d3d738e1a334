"""Alembic's environment: the commands run in the connection `gateway.migrations` hands over (its
transaction and lock), or, for `alembic revision --autogenerate` by a developer, on `-x url=DATABASE_URL`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from gateway.db import Base


def run(connection: Connection) -> None:
    # SQLite alters a table by copying it: batch mode writes revisions that do so where SQLite needs it.
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


handed_over = context.config.attributes.get("connection")
if handed_over is not None:
    run(handed_over)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the database: alembic -x url=DATABASE_URL ...")
    with create_engine(url).begin() as connection:
        run(connection)

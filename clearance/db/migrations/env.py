"""Alembic environment: always runs on a connection handed in by clearance.db.migrate."""

from alembic import context

from clearance.db import tables  # noqa: F401  (fills the metadata)
from clearance.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'clearance db upgrade', not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment: runs migrations on the connection handed over by ``shopfloor.store.db.migrate``."""

from alembic import context

from shopfloor.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=False)
with context.begin_transaction():
    context.run_migrations()

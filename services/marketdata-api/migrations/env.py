from mts1b_operations.core.db import run_migrations

run_migrations("alembic_version_marketdata_api")

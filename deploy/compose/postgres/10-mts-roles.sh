#!/bin/sh
# Run by the postgres image once, when its data volume is first initialised: creates the MTS login
# roles of deploy/postgres/init-roles.sql (mounted at /mts/init-roles.sql) with the passwords of
# the compose environment (PG_*_PASSWORD, see env.example). The .sql file is mounted outside
# /docker-entrypoint-initdb.d because the image would run it without the password variables.
# Changing a password later: ALTER ROLE ... PASSWORD (docs/operations/deploy-compose.md).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v mts_migrate_password="$PG_MIGRATE_PASSWORD" \
    -v mts_halt_password="$PG_HALT_PASSWORD" \
    -v mts_audit_password="$PG_AUDIT_PASSWORD" \
    -v mts_watchdogs_password="$PG_WATCHDOGS_PASSWORD" \
    -v mts_compliance_password="$PG_COMPLIANCE_PASSWORD" \
    -v mts_marketdata_password="$PG_MARKETDATA_PASSWORD" \
    -f /mts/init-roles.sql

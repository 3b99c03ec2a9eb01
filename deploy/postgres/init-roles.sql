-- Login roles of the MTS operations plane, least privilege (docs/operations/postgres-roles.md).
--
-- Run once per database, as a superuser (or a role with CREATEROLE that owns the database),
-- BEFORE the first `mts db upgrade`; running it again is harmless (it only creates what is
-- missing and sets the passwords given):
--
--   psql "postgresql://postgres@db:5432/mts" -v ON_ERROR_STOP=1 \
--        -v mts_migrate_password="$PG_MIGRATE_PASSWORD" -v mts_halt_password="$PG_HALT_PASSWORD" \
--        -v mts_audit_password=... -v mts_watchdogs_password=... \
--        -v mts_compliance_password=... -v mts_marketdata_password=... \
--        -f deploy/postgres/init-roles.sql
--
-- A password variable left out leaves that role's password as it is (set it later with
-- `ALTER ROLE mts_halt PASSWORD '...'`, or let the platform manage it: CloudNativePG, IAM auth).
--
-- mts_migrate owns the schema and runs `mts db upgrade` (alembic) and the `mts operators`
-- commands. Each service logs in as its own role, a member of a NOLOGIN group role; the
-- migrations grant each group exactly its service's tables (and the shared outbox/operators).

\set ON_ERROR_STOP on

-- Group roles (the migrations create them too, when this script was not run first).
SELECT format('CREATE ROLE %I NOLOGIN', name)
FROM unnest(ARRAY['mts_halt_rw', 'mts_audit_writer', 'mts_watchdogs_rw', 'mts_compliance_rw',
                  'mts_marketdata_rw']) AS name
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name)
\gexec

-- Login roles: no superuser, no role or database creation, no inheritance surprises.
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', name)
FROM unnest(ARRAY['mts_migrate', 'mts_halt', 'mts_audit', 'mts_watchdogs', 'mts_compliance',
                  'mts_marketdata']) AS name
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name)
\gexec

GRANT mts_halt_rw TO mts_halt;
GRANT mts_audit_writer TO mts_audit;
GRANT mts_watchdogs_rw TO mts_watchdogs;
GRANT mts_compliance_rw TO mts_compliance;
GRANT mts_marketdata_rw TO mts_marketdata;
-- The db watchdog reads pg_stat_activity / pg_stat_statements of every backend.
GRANT pg_read_all_stats TO mts_watchdogs;

-- The schema owner: owns the database, hence (PostgreSQL 15+) the public schema.
SELECT format('ALTER DATABASE %I OWNER TO mts_migrate', current_database())
\gexec
GRANT CREATE, USAGE ON SCHEMA public TO mts_migrate;

-- Only MTS roles may connect; services may use the schema but not create in it.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database())
\gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO mts_halt, mts_audit, mts_watchdogs, '
              'mts_compliance, mts_marketdata', current_database())
\gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO mts_halt_rw, mts_audit_writer, mts_watchdogs_rw, mts_compliance_rw,
                                mts_marketdata_rw;

\if :{?mts_migrate_password}
ALTER ROLE mts_migrate PASSWORD :'mts_migrate_password';
\endif
\if :{?mts_halt_password}
ALTER ROLE mts_halt PASSWORD :'mts_halt_password';
\endif
\if :{?mts_audit_password}
ALTER ROLE mts_audit PASSWORD :'mts_audit_password';
\endif
\if :{?mts_watchdogs_password}
ALTER ROLE mts_watchdogs PASSWORD :'mts_watchdogs_password';
\endif
\if :{?mts_compliance_password}
ALTER ROLE mts_compliance PASSWORD :'mts_compliance_password';
\endif
\if :{?mts_marketdata_password}
ALTER ROLE mts_marketdata PASSWORD :'mts_marketdata_password';
\endif

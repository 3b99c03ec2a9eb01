"""The local dev stack: embedded Postgres and NATS, migrations and a supervisor for every service.

`mts dev up | down | status` (:mod:`.cli`) drives :class:`DevStack`; the pieces are usable alone.
"""

from ._control import RecordedProcess, live_processes, stop_leftovers, supervisor_alive
from ._funds import ensure_funds_file, example_funds_file
from ._health import probe, probe_all, wait_healthy
from ._ports import port_in_use
from ._procs import alive, wait_gone
from ._report import StatusRow, env_lines, status_rows, status_table
from ._services import DEFAULT_BASE_PORT, PORT_OFFSETS, PlannedService, UnknownServiceError, plan_services
from ._signing_key import SEED_BYTES, ensure_signing_key
from ._stack import (
    DATABASE_NAME,
    DEFAULT_NATS_PORT,
    DEFAULT_PG_PORT,
    DevStack,
    StackError,
    StackOptions,
    mts_executable,
)
from ._state import (
    STATE_FILE,
    DevstackState,
    RuntimeState,
    ServiceState,
    StateError,
    clear_runtime,
    read_state,
    state_path,
    write_state,
)
from ._supervisor import Backoff, ChildSpec, ChildStatus, RestartRecord, Supervisor, SupervisorEvent

__all__ = [
    "DATABASE_NAME",
    "DEFAULT_BASE_PORT",
    "DEFAULT_NATS_PORT",
    "DEFAULT_PG_PORT",
    "PORT_OFFSETS",
    "SEED_BYTES",
    "STATE_FILE",
    "Backoff",
    "ChildSpec",
    "ChildStatus",
    "DevStack",
    "DevstackState",
    "PlannedService",
    "RecordedProcess",
    "RestartRecord",
    "RuntimeState",
    "ServiceState",
    "StackError",
    "StackOptions",
    "StateError",
    "StatusRow",
    "Supervisor",
    "SupervisorEvent",
    "UnknownServiceError",
    "alive",
    "clear_runtime",
    "ensure_funds_file",
    "ensure_signing_key",
    "env_lines",
    "example_funds_file",
    "live_processes",
    "mts_executable",
    "plan_services",
    "port_in_use",
    "probe",
    "probe_all",
    "read_state",
    "state_path",
    "status_rows",
    "status_table",
    "stop_leftovers",
    "supervisor_alive",
    "wait_gone",
    "wait_healthy",
    "write_state",
]

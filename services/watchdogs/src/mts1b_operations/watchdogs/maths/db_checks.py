# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, × are meant)
"""Database watchdog decisions over numbers the runner has gathered (no I/O here).

Audit chain (tables of the audit service's migration 0002: sequences start at 0, the one-row
``audit_head.next_sequence`` is the sequence the next entry gets):

- ``chain_count_mismatch``: count(*) of ``audit_entries`` ≠ ``next_sequence`` — rows missing or
  extra relative to the head;
- ``chain_gap``: count(*) ≠ max(sequence) + 1 — a hole in the sequence (distinct sequences ≥ 0
  fill 0..max exactly when there are max + 1 of them);
- ``chain_behind_checkpoint``: a signed checkpoint's ``tree_size`` exceeds the entries present
  (count(*) or ``next_sequence``) — the chain lost entries it had already signed;
- ``checkpoint_lag``: ``next_sequence`` − the largest ``tree_size`` > ``max_checkpoint_lag``
  (if configured; with no checkpoint at all the lag is ``next_sequence``).

Outbox (core's transactional outbox): ``outbox_backlog`` when a source's oldest unpublished event
is older than ``max_outbox_age_seconds``, or (if configured) its backlog exceeds
``max_outbox_backlog``.

Queries: ``slow_query`` for a ``pg_stat_statements`` entry with ``mean_exec_time`` above
``slow_query_mean_ms`` over at least ``slow_query_min_calls`` calls; ``long_running_query`` for a
``pg_stat_activity`` backend that is ``active`` or idle in a transaction for longer than
``long_running_seconds`` (idle connections hold nothing and are ignored).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from mts1b_operations.watchdogs.maths._inputs import check_positive, check_positive_int

__all__ = [
    "ActivityStats",
    "ChainStats",
    "DbThresholds",
    "Finding",
    "FindingKind",
    "OutboxStats",
    "StatementStats",
    "check_activity",
    "check_chain",
    "check_outbox",
    "check_statements",
    "evaluate",
]

FindingKind = Literal[
    "chain_count_mismatch",
    "chain_gap",
    "chain_behind_checkpoint",
    "checkpoint_lag",
    "outbox_backlog",
    "slow_query",
    "long_running_query",
]

_HOLDING_STATES: Final = frozenset({"active", "idle in transaction", "idle in transaction (aborted)"})
_QUERY_PREVIEW: Final = 200


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: what, about which subject, the measured value against its threshold."""

    kind: FindingKind
    subject_id: str
    value: float
    threshold: float
    message: str


@dataclass(frozen=True, slots=True)
class ChainStats:
    """count(*) and max(sequence) of audit_entries, audit_head.next_sequence, checkpoint sizes."""

    entry_count: int
    max_sequence: int | None
    next_sequence: int
    checkpoint_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_positive_int(self.entry_count, "entry_count", minimum=0)
        check_positive_int(self.next_sequence, "next_sequence", minimum=0)
        if self.max_sequence is not None:
            check_positive_int(self.max_sequence, "max_sequence", minimum=0)
        for size in self.checkpoint_sizes:
            check_positive_int(size, "checkpoint_sizes", minimum=1)


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """One outbox source: unpublished events and the age of the oldest (None when empty)."""

    source: str
    backlog: int
    oldest_age_seconds: float | None

    def __post_init__(self) -> None:
        check_positive_int(self.backlog, "backlog", minimum=0)
        if self.oldest_age_seconds is not None:
            check_positive(self.oldest_age_seconds, "oldest_age_seconds", allow_zero=True)


@dataclass(frozen=True, slots=True)
class StatementStats:
    """A ``pg_stat_statements`` row: queryid, query text, calls, mean_exec_time (ms)."""

    query_id: str
    query: str
    calls: int
    mean_ms: float

    def __post_init__(self) -> None:
        check_positive_int(self.calls, "calls", minimum=0)
        check_positive(self.mean_ms, "mean_ms", allow_zero=True)


@dataclass(frozen=True, slots=True)
class ActivityStats:
    """A ``pg_stat_activity`` backend: pid, state, query, seconds since it started it."""

    pid: int
    state: str
    query: str
    seconds: float

    def __post_init__(self) -> None:
        check_positive_int(self.pid, "pid", minimum=1)
        check_positive(self.seconds, "seconds", allow_zero=True)


@dataclass(frozen=True, slots=True)
class DbThresholds:
    """Limits of the db watchdog (None switches a check off)."""

    max_checkpoint_lag: int | None = None
    max_outbox_age_seconds: float = 60.0
    max_outbox_backlog: int | None = None
    slow_query_mean_ms: float = 1000.0
    slow_query_min_calls: int = 5
    long_running_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.max_checkpoint_lag is not None:
            check_positive_int(self.max_checkpoint_lag, "max_checkpoint_lag", minimum=0)
        if self.max_outbox_backlog is not None:
            check_positive_int(self.max_outbox_backlog, "max_outbox_backlog", minimum=0)
        check_positive(self.max_outbox_age_seconds, "max_outbox_age_seconds")
        check_positive(self.slow_query_mean_ms, "slow_query_mean_ms")
        check_positive_int(self.slow_query_min_calls, "slow_query_min_calls", minimum=1)
        check_positive(self.long_running_seconds, "long_running_seconds")


def check_chain(stats: ChainStats, *, max_checkpoint_lag: int | None = None) -> list[Finding]:
    """Findings about the audit chain's size against its head and its signed checkpoints."""
    findings: list[Finding] = []
    count, head = stats.entry_count, stats.next_sequence
    if count != head:
        findings.append(
            Finding(
                "chain_count_mismatch",
                "audit_entries",
                count,
                head,
                f"audit_entries holds {count} rows but the head expects {head}",
            )
        )
    expected = 0 if stats.max_sequence is None else stats.max_sequence + 1
    if count != expected:
        findings.append(
            Finding(
                "chain_gap",
                "audit_entries",
                count,
                expected,
                f"audit_entries holds {count} rows for sequences 0..{expected - 1}: "
                f"{abs(expected - count)} missing or duplicated",
            )
        )
    signed = max(stats.checkpoint_sizes, default=0)
    present = min(count, head)
    if signed > present:
        findings.append(
            Finding(
                "chain_behind_checkpoint",
                "audit_checkpoints",
                present,
                signed,
                f"a checkpoint signs {signed} entries but only {present} are present",
            )
        )
    if max_checkpoint_lag is not None:
        limit = check_positive_int(max_checkpoint_lag, "max_checkpoint_lag", minimum=0)
        lag = head - signed
        if lag > limit:
            findings.append(
                Finding(
                    "checkpoint_lag",
                    "audit_checkpoints",
                    lag,
                    limit,
                    f"{lag} entries since the last signed checkpoint (limit {limit})",
                )
            )
    return findings


def check_outbox(
    outboxes: Iterable[OutboxStats], *, max_age_seconds: float = 60.0, max_backlog: int | None = None
) -> list[Finding]:
    """A finding per outbox source whose oldest event is too old or whose backlog is too long."""
    age_limit = check_positive(max_age_seconds, "max_age_seconds")
    backlog_limit = None if max_backlog is None else check_positive_int(max_backlog, "max_backlog", minimum=0)
    findings: list[Finding] = []
    for outbox in outboxes:
        subject = f"outbox:{outbox.source}"
        age = outbox.oldest_age_seconds
        if age is not None and age > age_limit:
            findings.append(
                Finding(
                    "outbox_backlog",
                    subject,
                    age,
                    age_limit,
                    f"outbox {outbox.source}: oldest of {outbox.backlog} unpublished events is "
                    f"{age:.1f}s old (limit {age_limit:g}s)",
                )
            )
        elif backlog_limit is not None and outbox.backlog > backlog_limit:
            findings.append(
                Finding(
                    "outbox_backlog",
                    subject,
                    outbox.backlog,
                    backlog_limit,
                    f"outbox {outbox.source}: {outbox.backlog} unpublished events (limit {backlog_limit})",
                )
            )
    return findings


def check_statements(
    statements: Iterable[StatementStats], *, mean_ms: float = 1000.0, min_calls: int = 5
) -> list[Finding]:
    """A finding per statement slower on average than ``mean_ms`` over at least ``min_calls`` calls."""
    limit = check_positive(mean_ms, "mean_ms")
    calls = check_positive_int(min_calls, "min_calls")
    return [
        Finding(
            "slow_query",
            f"queryid:{statement.query_id}",
            statement.mean_ms,
            limit,
            f"mean {statement.mean_ms:.0f} ms over {statement.calls} calls (limit {limit:g} ms): "
            f"{_preview(statement.query)}",
        )
        for statement in statements
        if statement.calls >= calls and statement.mean_ms > limit
    ]


def check_activity(activity: Iterable[ActivityStats], *, seconds: float = 300.0) -> list[Finding]:
    """A finding per backend running a query, or holding a transaction, longer than ``seconds``."""
    limit = check_positive(seconds, "seconds")
    return [
        Finding(
            "long_running_query",
            f"pid:{backend.pid}",
            backend.seconds,
            limit,
            f"pid {backend.pid} {backend.state} for {backend.seconds:.0f}s (limit {limit:g}s): "
            f"{_preview(backend.query)}",
        )
        for backend in activity
        if backend.state in _HOLDING_STATES and backend.seconds > limit
    ]


def evaluate(
    *,
    chain: ChainStats | None = None,
    outboxes: Iterable[OutboxStats] = (),
    statements: Iterable[StatementStats] = (),
    activity: Iterable[ActivityStats] = (),
    thresholds: DbThresholds | None = None,
) -> list[Finding]:
    """Every finding over one gathering of database numbers."""
    limits = thresholds or DbThresholds()
    findings = [] if chain is None else check_chain(chain, max_checkpoint_lag=limits.max_checkpoint_lag)
    findings += check_outbox(
        outboxes, max_age_seconds=limits.max_outbox_age_seconds, max_backlog=limits.max_outbox_backlog
    )
    findings += check_statements(
        statements, mean_ms=limits.slow_query_mean_ms, min_calls=limits.slow_query_min_calls
    )
    findings += check_activity(activity, seconds=limits.long_running_seconds)
    return findings


def _preview(query: str) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= _QUERY_PREVIEW else flat[: _QUERY_PREVIEW - 1] + "…"

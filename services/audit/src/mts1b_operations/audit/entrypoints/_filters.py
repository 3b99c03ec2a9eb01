"""Which subjects the recorder consumes, from which streams: the defaults plus MTS_AUDIT_EXTRA_SUBJECTS.

Pure: the streams' subjects come in as data. Every operations fact is recorded — halt facts
(``mts.v1.operations.halt.>``), watchdog alerts (``...watchdog.*``), operations commands
(``...cmd.>``) and regulatory-reporting facts (``...compliance.>``), all on the OPERATIONS
stream — plus the subjects named in
``MTS_AUDIT_EXTRA_SUBJECTS``: comma-separated NATS filter subjects (wildcards allowed), each
captured by some JetStream stream, e.g. ``mts.v1.oms.order.*,mts.v1.portfolio.position.*``.
One durable consumer per stream: ``mts1b-audit`` on OPERATIONS, ``mts1b-audit-<STREAM>`` on the
others. A configuration that cannot work is refused with a line naming the variable: a
malformed subject, one no stream captures, one that would record the chain's own
``audit.*`` facts (each entry would make another) or heartbeats, or two that partly overlap
(NATS refuses overlapping filters on one consumer; one that another covers is dropped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import HALT_ALL, OPERATIONS_COMMAND_ALL
from mts1b_operations.core.settings import SettingsError

__all__ = [
    "DEFAULT_FILTERS",
    "DEFAULT_STREAM",
    "EXTRA_SUBJECTS_VARIABLE",
    "NEVER_AUDITED",
    "ConsumerPlan",
    "covers",
    "overlaps",
    "parse_extra_subjects",
    "plan_consumers",
]

EXTRA_SUBJECTS_VARIABLE: Final = "MTS_AUDIT_EXTRA_SUBJECTS"
DEFAULT_STREAM: Final = "OPERATIONS"
DEFAULT_FILTERS: Final[tuple[str, ...]] = (
    HALT_ALL,
    subjects.WATCHDOG_ALL,
    OPERATIONS_COMMAND_ALL,
    subjects.COMPLIANCE_ALL,
)
NEVER_AUDITED: Final[tuple[str, ...]] = (
    f"{subjects.PREFIX}.operations.audit.>",
    subjects.SERVICE_HEARTBEAT_ALL,
)
_DURABLE: Final = "mts1b-audit"


@dataclass(frozen=True, slots=True)
class ConsumerPlan:
    """One durable consumer of the recorder."""

    stream: str
    durable: str
    filter_subjects: tuple[str, ...]


def _tokens(subject: str) -> list[str]:
    return subject.split(".")


def overlaps(a: str, b: str) -> bool:
    """Whether some concrete subject matches both filter subjects."""

    def walk(x: list[str], y: list[str]) -> bool:
        if not x or not y:
            return not x and not y
        if x[0] == ">" or y[0] == ">":
            return True
        if x[0] == "*" or y[0] == "*" or x[0] == y[0]:
            return walk(x[1:], y[1:])
        return False

    return walk(_tokens(a), _tokens(b))


def covers(general: str, specific: str) -> bool:
    """Whether every subject ``specific`` matches is matched by ``general`` too."""

    def walk(g: list[str], s: list[str]) -> bool:
        if not g or not s:
            return not g and not s
        if g[0] == ">":
            return True
        if s[0] == ">":
            return False
        if g[0] == "*" or g[0] == s[0]:
            return walk(g[1:], s[1:])
        return False

    return walk(_tokens(general), _tokens(specific))


def _problem(problem: str) -> SettingsError:
    return SettingsError(EXTRA_SUBJECTS_VARIABLE, problem)


def _check_subject(subject: str) -> None:
    tokens = _tokens(subject)
    for index, part in enumerate(tokens):
        if not part:
            raise _problem(f"{subject!r} has an empty token (a leading, trailing or double dot)")
        if any(c.isspace() for c in part):
            raise _problem(f"{subject!r} contains whitespace")
        if part == ">" and index != len(tokens) - 1:
            raise _problem(f"{subject!r}: '>' may only be the last token")
        if part not in ("*", ">") and ("*" in part or ">" in part):
            raise _problem(f"{subject!r}: wildcards '*' and '>' must be whole tokens")
    for never in NEVER_AUDITED:
        if overlaps(subject, never):
            raise _problem(
                f"{subject!r} overlaps {never!r}, which is never audited "
                "(recording the chain's own facts would loop; heartbeats are liveness noise)"
            )


def parse_extra_subjects(raw: str | None) -> tuple[str, ...]:
    """The subjects of ``MTS_AUDIT_EXTRA_SUBJECTS`` (comma-separated; unset or blank: none)."""
    if raw is None or not raw.strip():
        return ()
    found: list[str] = []
    for part in raw.split(","):
        subject = part.strip()
        if not subject:
            raise _problem(f"has an empty subject in its comma-separated list (got {raw!r})")
        _check_subject(subject)
        if subject not in found:
            found.append(subject)
    return tuple(found)


def _without_covered(filters: Sequence[str], stream: str) -> tuple[str, ...]:
    unique = list(dict.fromkeys(filters))
    kept = [s for s in unique if not any(other != s and covers(other, s) for other in unique)]
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            if overlaps(a, b):
                raise _problem(
                    f"{a!r} and {b!r} overlap on stream {stream} without one covering the other; "
                    "NATS refuses overlapping filters on one consumer"
                )
    return tuple(kept)


def plan_consumers(
    streams: Mapping[str, Sequence[str]], extra_subjects: Sequence[str] = ()
) -> list[ConsumerPlan]:
    """The consumers to run, given each stream's subjects (stream name → its subjects)."""
    if DEFAULT_STREAM not in streams:
        raise RuntimeError(f"the {DEFAULT_STREAM} stream does not exist (the runtime creates it at start)")
    wanted: dict[str, list[str]] = {DEFAULT_STREAM: list(DEFAULT_FILTERS)}
    for subject in extra_subjects:
        homes = [name for name, captured in streams.items() if any(overlaps(subject, s) for s in captured)]
        if not homes:
            raise _problem(
                f"{subject!r} is not captured by any JetStream stream (streams: {', '.join(sorted(streams))})"
            )
        for name in homes:
            wanted.setdefault(name, []).append(subject)
    return [
        ConsumerPlan(
            stream=name,
            durable=_DURABLE if name == DEFAULT_STREAM else f"{_DURABLE}-{name}",
            filter_subjects=_without_covered(filters, name),
        )
        for name, filters in sorted(wanted.items(), key=lambda item: item[0] != DEFAULT_STREAM)
    ]

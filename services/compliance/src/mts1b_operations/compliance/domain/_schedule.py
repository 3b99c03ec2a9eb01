"""When files are cut and retried, and when one is overdue: pure functions of the clock."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from .._config import EASTERN

__all__ = ["cut_trade_date", "is_overdue", "latest_cut", "retry_due"]


def latest_cut(now: datetime, cut_time: time) -> datetime:
    """The latest daily cut at ``cut_time`` Eastern at or before ``now`` (timezone-aware)."""
    local = now.astimezone(EASTERN)
    today = datetime.combine(local.date(), cut_time, tzinfo=EASTERN)
    if today <= local:
        return today
    return datetime.combine(local.date() - timedelta(days=1), cut_time, tzinfo=EASTERN)


def cut_trade_date(cut: datetime) -> date:
    """The last trade date a cut files: its own Eastern date."""
    return cut.astimezone(EASTERN).date()


def retry_due(
    last_attempt_at: datetime | None, rounds: int, now: datetime, *, base: float, ceiling: float
) -> bool:
    """Whether a file that failed ``rounds`` submission rounds may be tried again now."""
    if last_attempt_at is None or rounds < 1:
        return True
    wait = min(base * 2 ** min(rounds - 1, 30), ceiling)
    return now >= last_attempt_at + timedelta(seconds=wait)


def is_overdue(status: str, deadline: datetime, now: datetime) -> bool:
    """A file is overdue while it is not submitted and its regulatory deadline has passed."""
    return status != "submitted" and now > deadline

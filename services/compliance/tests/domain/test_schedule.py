"""When files are cut, retried and overdue: pure rules of the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from mts1b_operations.compliance.domain import cut_trade_date, is_overdue, latest_cut, retry_due

CUT = time(18, 30)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 16, 22, 29, tzinfo=UTC), datetime(2026, 3, 15, 22, 30, tzinfo=UTC)),  # EDT
        (datetime(2026, 3, 16, 22, 30, tzinfo=UTC), datetime(2026, 3, 16, 22, 30, tzinfo=UTC)),
        (datetime(2026, 1, 15, 23, 31, tzinfo=UTC), datetime(2026, 1, 15, 23, 30, tzinfo=UTC)),  # EST
        (datetime(2026, 1, 16, 3, 0, tzinfo=UTC), datetime(2026, 1, 15, 23, 30, tzinfo=UTC)),  # 22:00 ET
    ],
)
def test_the_latest_cut_is_the_last_cut_time_eastern_at_or_before_now(
    now: datetime, expected: datetime
) -> None:
    assert latest_cut(now, CUT) == expected


def test_a_cut_files_trade_dates_up_to_its_own_eastern_date() -> None:
    assert cut_trade_date(datetime(2026, 3, 16, 22, 30, tzinfo=UTC)) == date(2026, 3, 16)


def test_a_failed_file_waits_longer_after_each_round_up_to_the_ceiling() -> None:
    last = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
    assert retry_due(None, 0, last, base=30, ceiling=900)
    assert not retry_due(last, 1, last + timedelta(seconds=29), base=30, ceiling=900)
    assert retry_due(last, 1, last + timedelta(seconds=30), base=30, ceiling=900)
    assert not retry_due(last, 3, last + timedelta(seconds=119), base=30, ceiling=900)
    assert retry_due(last, 3, last + timedelta(seconds=120), base=30, ceiling=900)
    assert retry_due(last, 40, last + timedelta(seconds=900), base=30, ceiling=900)


def test_only_an_unsubmitted_file_past_its_deadline_is_overdue() -> None:
    deadline = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)
    after = deadline + timedelta(seconds=1)
    assert is_overdue("failed", deadline, after)
    assert is_overdue("pending", deadline, after)
    assert not is_overdue("submitted", deadline, after)
    assert not is_overdue("failed", deadline, deadline)

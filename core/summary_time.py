"""When the daily summary is due (pure, DST-safe): the next time, and days to catch up."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

MAX_CATCH_UP_DAYS = 3
"""After downtime, at most the last three missed summaries are posted."""


def _at(day: date, at: time, tz: tzinfo) -> datetime:
    """``at`` on ``day`` in ``tz`` as a real instant (a time in a DST gap moves forward)."""
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz).astimezone(UTC)


def next_summary_time(now: datetime, at: time, tz: tzinfo) -> datetime:
    """The first summary time strictly after ``now`` (aware, in ``tz``)."""
    local_day = now.astimezone(tz).date()
    for offset in range(3):
        moment = _at(local_day + timedelta(days=offset), at, tz)
        if moment > now:
            return moment.astimezone(tz)
    raise AssertionError("unreachable: a summary time exists within two days")  # pragma: no cover


def due_summary_days(now: datetime, at: time, tz: tzinfo, last_done: date | None) -> list[date]:
    """Days whose summary time has passed and that were not posted yet, oldest first.

    Without any record only the latest due day is posted; after downtime the missed days are
    caught up once each, never more than the last three.
    """
    local_day = now.astimezone(tz).date()
    latest = local_day if _at(local_day, at, tz) <= now else local_day - timedelta(days=1)
    if last_done is None:
        return [latest] if latest == local_day else []
    missed = (latest - last_done).days
    count = min(missed, MAX_CATCH_UP_DAYS)
    return [latest - timedelta(days=i) for i in reversed(range(count))]

"""When the daily summary is due: next time, catch-up after downtime, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.summary import due_summary_days, next_summary_time

JST = ZoneInfo("Asia/Tokyo")
NY = ZoneInfo("America/New_York")
SIX_PM = time(18, 0)


def jst(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=JST)


def test_next_time_is_today_before_six_and_tomorrow_after():
    assert next_summary_time(jst(2026, 11, 28, 9), SIX_PM, JST) == jst(2026, 11, 28, 18)
    assert next_summary_time(jst(2026, 11, 28, 18), SIX_PM, JST) == jst(2026, 11, 29, 18)
    assert next_summary_time(jst(2026, 11, 28, 23, 59), SIX_PM, JST) == jst(2026, 11, 29, 18)


def test_next_time_across_midnight_jst_while_utc_is_still_the_day_before():
    now = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)  # 00:30 JST on 11/29
    nxt = next_summary_time(now, SIX_PM, JST)
    assert nxt == jst(2026, 11, 29, 18)
    assert nxt.tzinfo is JST
    early = next_summary_time(now, time(0, 15), JST)
    assert early == jst(2026, 11, 30, 0, 15)


def test_due_days_today_once():
    last = date(2026, 11, 27)
    assert due_summary_days(jst(2026, 11, 28, 17, 59), SIX_PM, JST, last) == []
    assert due_summary_days(jst(2026, 11, 28, 18), SIX_PM, JST, last) == [date(2026, 11, 28)]
    assert due_summary_days(jst(2026, 11, 28, 19), SIX_PM, JST, date(2026, 11, 28)) == []


def test_first_start_posts_only_today_and_only_after_the_time():
    assert due_summary_days(jst(2026, 11, 28, 9), SIX_PM, JST, None) == []
    assert due_summary_days(jst(2026, 11, 28, 20), SIX_PM, JST, None) == [date(2026, 11, 28)]


def test_down_at_six_catches_up_the_missed_day_once_when_back():
    # posted on 11/27; down from 17:00 on 11/28 until 09:00 on 11/29
    back = jst(2026, 11, 29, 9)
    assert due_summary_days(back, SIX_PM, JST, date(2026, 11, 27)) == [date(2026, 11, 28)]
    assert due_summary_days(back, SIX_PM, JST, date(2026, 11, 28)) == []


def test_long_downtime_catches_up_at_most_three_days():
    back = jst(2026, 12, 5, 19)
    days = due_summary_days(back, SIX_PM, JST, date(2026, 11, 20))
    assert days == [date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 5)]


def test_dst_spring_forward_in_new_york_keeps_local_six_pm():
    # 2026-03-08: clocks jump from 02:00 to 03:00 EST → EDT
    before = datetime(2026, 3, 7, 19, 0, tzinfo=NY)
    nxt = next_summary_time(before, SIX_PM, NY)
    assert nxt == datetime(2026, 3, 8, 18, 0, tzinfo=NY)
    assert nxt.utcoffset() == timedelta(hours=-4)
    assert nxt.astimezone(UTC) - datetime(2026, 3, 7, 23, 0, tzinfo=UTC) == timedelta(hours=23)


def test_dst_fall_back_in_new_york_keeps_local_six_pm():
    # 2026-11-01: clocks fall back from 02:00 EDT to 01:00 EST
    before = datetime(2026, 10, 31, 19, 0, tzinfo=NY)
    nxt = next_summary_time(before, SIX_PM, NY)
    assert nxt == datetime(2026, 11, 1, 18, 0, tzinfo=NY)
    assert nxt.utcoffset() == timedelta(hours=-5)
    assert nxt.astimezone(UTC) - datetime(2026, 10, 31, 22, 0, tzinfo=UTC) == timedelta(hours=25)


def test_a_summary_time_inside_the_dst_gap_still_happens_that_day():
    at = time(2, 30)  # does not exist on 2026-03-08 in New York
    nxt = next_summary_time(datetime(2026, 3, 8, 1, 0, tzinfo=NY), at, NY)
    assert nxt.date() == date(2026, 3, 8)
    assert nxt.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    assert due_summary_days(datetime(2026, 3, 8, 4, 0, tzinfo=NY), at, NY, date(2026, 3, 7)) == [
        date(2026, 3, 8)
    ]


def test_due_days_in_new_york_use_the_local_date():
    now = datetime(2026, 7, 1, 23, 0, tzinfo=UTC)  # 19:00 EDT on 7/1, already 7/2 in Tokyo
    assert due_summary_days(now, SIX_PM, NY, date(2026, 6, 30)) == [date(2026, 7, 1)]
    assert due_summary_days(now, SIX_PM, JST, date(2026, 7, 1)) == []

"""Watchdog decisions (pure): the usual gap at this hour, learned from the shop's own arrivals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.watchdog import WatchdogConfig, held_too_much, silent_too_long, usual_gap

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)  # 09:00 JST
FLOOR = timedelta(minutes=60)


def daytime_every(minutes: int, days: int = 7) -> list[datetime]:
    """Orders every ``minutes`` from 09:00 to 21:00 JST, none at night."""
    out = []
    for day in range(days):
        t = START + timedelta(days=day)
        while t < START + timedelta(days=day, hours=12):
            out.append(t)
            t += timedelta(minutes=minutes)
    return out


def test_a_busy_hour_alerts_after_the_floor():
    arrivals = daytime_every(10)
    now = arrivals[-1] - timedelta(hours=4) + timedelta(days=1)  # next day, 13:00 JST
    history = [a for a in arrivals if a < now - timedelta(minutes=90)]
    assert usual_gap(history, now) == timedelta(minutes=10)
    assert silent_too_long(history, now, FLOOR) is not None


def test_the_night_is_quiet_without_an_alert():
    arrivals = daytime_every(10)
    night = arrivals[-1] + timedelta(hours=6)  # 03:00 JST: the usual gap is the night
    assert silent_too_long(arrivals, night, FLOOR) is None


def test_no_alert_without_enough_history_or_arrivals():
    assert silent_too_long([], START, FLOOR) is None
    assert (
        silent_too_long(daytime_every(10, days=1), START + timedelta(days=1, hours=5), FLOOR)
        is None
    )


def test_held_share_needs_enough_orders_and_more_than_the_percent():
    cfg = WatchdogConfig(held_percent=50, held_min_orders=10)
    assert not held_too_much(5, 6, cfg)
    assert not held_too_much(5, 10, cfg)
    assert held_too_much(6, 10, cfg)

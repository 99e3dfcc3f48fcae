"""Silent-failure watchdog per shop: alert once (and once on recovery) when intake has been quiet
longer than usual at this hour, when RMS has failed for minutes, or when auto-confirm holds too
much — the expired keys and broken imports that otherwise surface as customer complaints."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from core.context import Core
from core.events import EventKind
from core.lifecycle import JST
from core.store.auto import arrivals_since, decided_since, drop_ref
from core.store.refs import put_ref, ref_value
from core.store.tx import iso, parse_dt

logger = logging.getLogger(__name__)
HISTORY = timedelta(days=14)
MIN_HISTORY = timedelta(days=3)  # learn nothing from less than this
RUN_EVERY = timedelta(minutes=5)  # the history query is not worth running every cycle


@dataclass(frozen=True, slots=True)
class WatchdogConfig:
    """When each check fires (SHOPS_FILE ``[shops.<key>.watchdog]``)."""

    silent_floor_minutes: float = 120
    failing_minutes: float = 30
    held_percent: float = 50
    held_min_orders: int = 10


def usual_gap(arrivals: Sequence[datetime], now: datetime) -> timedelta | None:
    """The longest gap between arrivals that spanned this hour of the day (JST), ignoring the
    longest tenth (outages); None without enough history or with no arrival at this hour."""
    times = sorted(arrivals)
    if len(times) < 2 or now - times[0] < MIN_HISTORY:
        return None
    hour = now.astimezone(JST).hour
    gaps = sorted(b - a for a, b in pairwise(times) if _spans_hour(a, b, hour))
    if not gaps:
        return None
    return gaps[max(0, int(len(gaps) * 0.9) - 1)]


def _spans_hour(a: datetime, b: datetime, hour: int) -> bool:
    if b - a >= timedelta(days=1):
        return True
    start, end = a.astimezone(JST), b.astimezone(JST)
    at = start.replace(minute=0, second=0, microsecond=0)
    while at <= end:
        if at.hour == hour:
            return True
        at += timedelta(hours=1)
    return False


def silent_too_long(
    arrivals: Sequence[datetime], now: datetime, floor: timedelta
) -> timedelta | None:
    """How long intake has been quiet, when that is longer than usual (else None)."""
    if not arrivals:
        return None
    usual = usual_gap(arrivals, now)
    quiet = now - max(arrivals)
    if usual is None or quiet <= max(floor, usual):
        return None
    return quiet


def held_too_much(held: int, total: int, cfg: WatchdogConfig) -> bool:
    """Auto-confirm held more than the shop's share of today's orders."""
    return total >= cfg.held_min_orders and held * 100 > cfg.held_percent * total


async def watch(
    core: Core, shop: str, cfg: WatchdogConfig, *, last_run: dict[str, datetime]
) -> None:
    """Run the three checks for a shop (at most every RUN_EVERY) and record transitions."""
    now = core.clock.now()
    if shop in last_run and now - last_run[shop] < RUN_EVERY:
        return
    last_run[shop] = now
    async with core.store.read() as r:
        arrivals = await arrivals_since(r, shop, now - HISTORY)
        day_start = now.astimezone(JST).replace(hour=0, minute=0, second=0, microsecond=0)
        today = await decided_since(r, shop, day_start)
    quiet = silent_too_long(arrivals, now, timedelta(minutes=cfg.silent_floor_minutes))
    last_success = parse_dt((await core.store.shop_row(shop)).get("last_success"))
    failing = shop in core.failing and (
        last_success is not None and now - last_success >= timedelta(minutes=cfg.failing_minutes)
    )
    held = sum(1 for d in today if d.verdict == "held")
    checks: dict[str, tuple[bool, dict[str, object]]] = {
        "silent": (
            quiet is not None,
            {"minutes": round(quiet.total_seconds() / 60) if quiet else 0},
        ),
        "failing": (failing, {"since": iso(last_success), "error": core.failing.get(shop)}),
        "held": (held_too_much(held, len(today), cfg), {"held": held, "total": len(today)}),
    }
    for check, (bad, detail) in checks.items():
        await _transition(core, shop, check, bad, detail, now)


async def _transition(
    core: Core, shop: str, check: str, bad: bool, detail: dict[str, object], now: datetime
) -> None:
    key = f"watchdog:{shop}:{check}"
    async with core.store.tx() as tx:
        was = await ref_value(tx, key) is not None
        if bad and not was:
            logger.warning("watchdog: shop %s %s %s", shop, check, detail)
            await put_ref(tx, key, iso(now) or "")
            await tx.add_event(
                shop, EventKind.WATCHDOG_ALERT, None, now, {"check": check, **detail}
            )
        elif was and not bad:
            logger.info("watchdog: shop %s %s recovered", shop, check)
            await drop_ref(tx, key)
            await tx.add_event(shop, EventKind.WATCHDOG_RECOVERED, None, now, {"check": check})

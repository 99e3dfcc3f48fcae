"""The core's shared context and the one place snapshots are merged into the store."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from core.errors import RmsError
from core.events import EventKind
from core.lifecycle import Change, Policy, apply_snapshot
from core.model import RmsOrder, ShopConfig
from core.outcomes import ErrorInfo, OrderOutcome, Outcome
from core.ports import Clock, RmsApi
from core.store.sqlite import SqliteStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long the core keeps retrying writes RMS refused before processing (QPS, maintenance)."""

    attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 120.0
    max_total: timedelta = timedelta(minutes=15)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Jittered exponential backoff, never shorter than RMS's Retry-After."""
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        jittered = backoff * (0.5 + rng.random() / 2)
        return float(max(jittered, retry_after or 0.0))


@dataclass
class Core:
    """Everything a core service needs; built once by bot/wiring.py."""

    store: SqliteStore
    clock: Clock
    shops: Mapping[str, ShopConfig]
    rms: Mapping[str, RmsApi]
    policy: Policy = field(default_factory=Policy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    in_flight: set[str] = field(default_factory=set)  # order numbers being confirmed right now
    failing: dict[str, str] = field(default_factory=dict)  # shop → error kind while RMS fails

    def shop(self, key: str) -> ShopConfig:
        """Return a shop's configuration (KeyError names the unknown shop)."""
        return self.shops[key]

    def api(self, shop: str) -> RmsApi:
        """Return the RMS client of a shop."""
        return self.rms[shop]


async def apply_snapshots(
    core: Core, shop: str, snaps: Sequence[RmsOrder], *, reset: bool = False
) -> dict[str, Change]:
    """Merge snapshots into our records, write their events and adopt outside confirmations.

    One transaction: a record never changes without its events (the outbox rule).
    """
    now = core.clock.now()
    changes: dict[str, Change] = {}
    async with core.store.tx() as tx:
        prevs = await tx.get_orders(s.number for s in snaps)
        intents = await tx.intents(s.number for s in snaps)
        for snap in snaps:
            intent = intents.get(snap.number)
            has_intent = intent is not None and intent.state != "failed"
            change = apply_snapshot(
                prevs.get(snap.number),
                snap,
                shop,
                now,
                core.policy,
                has_intent=has_intent,
                reset=reset,
            )
            if change.adopted:
                await tx.adopt_intent(snap.number, shop, snap.confirmed_at or now)
            elif intent is not None and intent.state == "pending" and snap.progress >= 200:
                await tx.set_intent(snap.number, "confirmed", now)
            await tx.save_order(change.record, now)
            for kind, data in change.events:
                await tx.add_event(shop, kind, snap.number, now, data)
            changes[snap.number] = change
    return changes


async def read_orders(
    core: Core, shop: str, numbers: Sequence[str], outcomes: dict[str, OrderOutcome]
) -> list[RmsOrder] | None:
    """getOrder for a request; when RMS fails, every order gets a FAILED outcome (None)."""
    try:
        snaps = await core.api(shop).get_orders(numbers)
    except RmsError as exc:
        await note_rms_result(core, shop, exc)
        info = ErrorInfo(exc.kind, exc.code, exc.message)
        for number in numbers:
            outcomes[number] = OrderOutcome(number, Outcome.FAILED, error=info)
        return None
    await note_rms_result(core, shop, None)
    return snaps


async def note_rms_result(core: Core, shop: str, error: RmsError | None) -> None:
    """Track a shop's RMS health: one event when it starts failing, one when it recovers."""
    now = core.clock.now()
    was = core.failing.get(shop)
    if error is None:
        await core.store.set_shop_field(shop, "last_success", now.isoformat())
        if was is not None:
            del core.failing[shop]
            logger.info("RMS for shop %s recovered", shop)
            async with core.store.tx() as tx:
                await tx.add_event(shop, EventKind.RMS_RECOVERED, None, now, {"was": was})
        return
    if was != error.kind:
        core.failing[shop] = error.kind
        logger.warning("RMS for shop %s failing: %s (%s)", shop, error.kind, error.code or "-")
        async with core.store.tx() as tx:
            await tx.add_event(
                shop,
                EventKind.RMS_UNHEALTHY,
                None,
                now,
                {"error_key": error.kind, "code": error.code, "message": error.message[:300]},
            )

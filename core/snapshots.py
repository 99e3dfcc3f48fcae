"""RMS reads and the one place they are merged into the store (compare-and-set on row versions)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from core.context import Core
from core.errors import RmsError
from core.events import EventKind
from core.leader import fence
from core.lifecycle import Change, apply_snapshot
from core.model import RmsOrder
from core.outcomes import ErrorInfo, OrderOutcome, Outcome
from core.store.tx import Tx

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Read:
    """Snapshots from one getOrder, with each order's row version from just before the read."""

    snaps: Sequence[RmsOrder]
    versions: Mapping[str, int]  # order number → version (absent: not stored then)

    @property
    def found(self) -> set[str]:
        """The order numbers RMS returned."""
        return {s.number for s in self.snaps}


async def fetch(core: Core, shop: str, numbers: Sequence[str]) -> Read:
    """getOrder, remembering the versions it may overwrite (raises RmsError)."""
    versions = await core.store.versions(numbers)
    return Read(await core.api(shop).get_orders(numbers), versions)


async def apply_in(
    tx: Tx, core: Core, shop: str, read: Read, *, reset: bool = False
) -> dict[str, Change]:
    """Merge a read into our records inside ``tx``: state, intents and events together.

    Compare-and-set: a snapshot of an order written since the read began is discarded (it is
    older than what we know); the order is simply absent from the result.
    """
    await fence(core.lease, tx)  # only the leader merges what RMS said
    now = core.clock.now()
    changes: dict[str, Change] = {}
    prevs = await tx.get_orders(s.number for s in read.snaps)
    intents = await tx.intents(s.number for s in read.snaps)
    for snap in read.snaps:
        prev = prevs.get(snap.number)
        if (prev.version if prev else 0) != read.versions.get(snap.number, 0):
            logger.debug("discarded a stale read of %s", snap.number)
            continue
        intent = intents.get(snap.number)
        change = apply_snapshot(
            prev,
            snap,
            shop,
            now,
            core.policy,
            has_intent=intent is not None and intent.state != "failed",
            pending=intent is not None and intent.state == "pending",
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


async def apply_snapshots(
    core: Core, shop: str, read: Read, *, reset: bool = False
) -> dict[str, Change]:
    """apply_in as its own unit of work."""
    async with core.store.tx() as tx:
        return await apply_in(tx, core, shop, read, reset=reset)


async def read_orders(
    core: Core, shop: str, numbers: Sequence[str], outcomes: dict[str, OrderOutcome]
) -> Read | None:
    """getOrder for a request; when RMS fails, every order gets a FAILED outcome (None).

    Raises LeaseLostError before reading when this replica's epoch is over: the requests that
    read here (refetch, bundle, confirm of unknown orders) then write nothing and call nothing.
    """
    if core.lease is not None:
        async with core.store.tx() as tx:
            await fence(core.lease, tx)
    try:
        read = await fetch(core, shop, numbers)
    except RmsError as exc:
        await note_rms_result(core, shop, exc)
        info = ErrorInfo(exc.kind, exc.code, exc.message)
        for number in numbers:
            outcomes[number] = OrderOutcome(number, Outcome.FAILED, error=info)
        return None
    await note_rms_result(core, shop, None)
    return read


SUCCESS_WRITE_EVERY = timedelta(minutes=1)  # App Home shows the last success to the minute


async def note_rms_result(core: Core, shop: str, error: RmsError | None) -> None:
    """Track a shop's RMS health: one event when it starts failing, one when it recovers."""
    now = core.clock.now()
    was = core.failing.get(shop)
    if error is None:
        last = core.succeeded.get(shop)
        if last is None or now - last >= SUCCESS_WRITE_EVERY:  # not one write per RMS call
            await core.store.set_shop_field(shop, "last_success", now.isoformat())
            core.succeeded[shop] = now
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

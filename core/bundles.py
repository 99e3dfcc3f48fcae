"""同梱: bundling exists only on our side; members must be fee-complete and confirmed first."""

from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from core.context import Core
from core.leader import fence
from core.model import CANCELLED_PROGRESS, OrderRecord, Progress, Stage
from core.outcomes import OrderOutcome, Outcome, Reason, Report
from core.snapshots import Read, apply_in, read_orders

CONFIRMED = frozenset({Stage.PROCESSING, Stage.PROCESSED})
# 注文確認待ち … 楽天処理中: still open. 楽天処理済 joins them only within the bundle window,
# because polling stops there and a long-shipped order would otherwise stay a candidate forever.
OPEN_STAGES = frozenset({Stage.AWAITING, Stage.NEEDS_ACTION, Stage.PROCESSING})


def destination_key(record: OrderRecord) -> str:
    """Same orderer and same recipient address, ignoring width and spaces (NFKC)."""
    snap = record.snapshot
    recipient = snap.packages[0].recipient if snap.packages else snap.orderer
    parts = (snap.orderer.name, snap.orderer.phone, recipient.name, recipient.address.one_line())
    if not any(parts):  # personal data purged (core/retention.py): matches no other order
        return f"#{record.number}"
    text = unicodedata.normalize("NFKC", "|".join(parts))
    return "".join(text.split()).replace("-", "").lower()


def bundle_refusal(record: OrderRecord | None, number: str) -> OrderOutcome | None:
    """Why an order cannot join a bundle (pure), or None."""
    if record is None:
        return OrderOutcome(number, Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER)
    if record.stage is Stage.CANCELLED or record.progress in CANCELLED_PROGRESS:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.CANCELLED)
    if record.progress >= Progress.AWAITING_CHANGE:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.SHIPPED)
    if record.bundle_id:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.ALREADY_BUNDLED)
    if record.snapshot.fee_unset:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.FEE_UNSET)
    if record.stage not in CONFIRMED:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.NOT_CONFIRMED)
    return None


def bundle_refusals(
    wanted: Sequence[str], records: dict[str, OrderRecord]
) -> list[OrderOutcome] | None:
    """Every member's outcome when the bundle must be refused (pure), or None when it may go."""
    outcomes = [o for o in (bundle_refusal(records.get(n), n) for n in wanted) if o is not None]
    if len(wanted) < 2:
        outcomes = [OrderOutcome(n, Outcome.REFUSED, reason=Reason.TOO_FEW) for n in wanted]
    elif not outcomes and len({destination_key(records[n]) for n in wanted}) > 1:
        outcomes = [
            OrderOutcome(n, Outcome.REFUSED, records[n].stage, reason=Reason.DIFFERENT_DESTINATION)
            for n in wanted
        ]
    if not outcomes:
        return None
    by_number = {o.order_number: o for o in outcomes}
    # a member that was fine is refused too (all or nothing): say so, not a bare stage
    return [
        by_number.get(n)
        or OrderOutcome(n, Outcome.REFUSED, records[n].stage, reason=Reason.OTHER_MEMBER)
        for n in wanted
    ]


async def bundle(core: Core, shop: str, numbers: Sequence[str], actor: str) -> Report:
    """Bundle orders into one shipment, or refuse all of them with per-order reasons.

    Every member is re-read from RMS (getOrder) right before bundling: our last read may be
    old, and a member shipped or cancelled since then must not hold the others.
    """
    wanted = list(dict.fromkeys(numbers))
    records = {n: r for n, r in (await core.store.get_orders(wanted)).items() if r.shop == shop}
    refused = bundle_refusals(wanted, records)
    read: Read | None = None
    if refused is None:  # worth asking RMS: the rules pass on what we knew
        failed: dict[str, OrderOutcome] = {}
        read = await read_orders(core, shop, wanted, failed)
        if read is None:
            return await _refuse(core, shop, actor, wanted, [failed[n] for n in wanted])
        for number in wanted:
            if number not in read.found:
                records.pop(number, None)  # RMS no longer knows it: UNKNOWN_ORDER
    now = core.clock.now()
    async with core.store.tx() as tx:  # one unit of work: what RMS said, then the bundle
        await fence(core.lease, tx)  # a stale leader bundles nothing (also when RMS was not read)
        if read is not None:
            await apply_in(tx, core, shop, read)
        fresh = await tx.get_orders(n for n in wanted if n in records)
        records = {n: r for n, r in fresh.items() if r.shop == shop}
        refused = bundle_refusals(wanted, records)
        if refused is not None:
            await tx.audit(shop, actor, "bundle", "refused", now, detail={"orders": wanted})
            return Report(shop, actor, "bundle", tuple(refused))
        bundle_id = "B" + hashlib.sha1("|".join(sorted(wanted)).encode()).hexdigest()[:10]  # noqa: S324
        await tx.save_bundle(bundle_id, shop, actor, now)
        for n in wanted:
            await tx.save_order(replace(records[n], bundle_id=bundle_id), now)
            await tx.audit(
                shop, actor, "bundle", "bundled", now, order_number=n, detail={"bundle": bundle_id}
            )
    return Report(
        shop,
        actor,
        "bundle",
        tuple(OrderOutcome(n, Outcome.BUNDLED, records[n].stage, detail=bundle_id) for n in wanted),
    )


async def unbundle(core: Core, shop: str, number: str, actor: str) -> Report:
    """Dissolve the bundle that contains ``number`` (edits need this first)."""
    now = core.clock.now()
    async with core.store.tx() as tx:
        await fence(core.lease, tx)  # run by the request worker: only under the current epoch
        record = await tx.get_order(number)
        if record is None or record.shop != shop or not record.bundle_id:
            reason = Reason.UNKNOWN_ORDER if record is None else Reason.NOT_BUNDLED
            return Report(
                shop, actor, "unbundle", (OrderOutcome(number, Outcome.REFUSED, reason=reason),)
            )
        bundle_id = record.bundle_id
        members = await tx.get_orders(await tx.bundle_members(bundle_id))
        for member in members.values():
            await tx.save_order(replace(member, bundle_id=None), now)
            await tx.audit(
                shop,
                actor,
                "unbundle",
                "unbundled",
                now,
                order_number=member.number,
                detail={"bundle": bundle_id},
            )
        await tx.delete_bundle(bundle_id)
    return Report(
        shop,
        actor,
        "unbundle",
        tuple(
            OrderOutcome(m.number, Outcome.UNBUNDLED, m.stage, detail=bundle_id)
            for m in members.values()
        ),
    )


async def _refuse(
    core: Core, shop: str, actor: str, wanted: list[str], outcomes: list[OrderOutcome]
) -> Report:
    async with core.store.tx() as tx:
        await fence(core.lease, tx)
        now = core.clock.now()
        await tx.audit(shop, actor, "bundle", "refused", now, detail={"orders": wanted})
    return Report(shop, actor, "bundle", tuple(outcomes))


def finished_at(record: OrderRecord) -> datetime:
    """When an order reached 楽天処理済: RMS's orderFixDatetime, else when we saw it."""
    return record.snapshot.fixed_at or record.stage_since


def is_candidate(record: OrderRecord, now: datetime, window: timedelta) -> bool:
    """An unbundled order still open, or 楽天処理済 (not shipped) within ``window`` (pure).

    Auto-confirm holds such orders (a bundle may follow); only bundlable ones are proposed.
    """
    if record.bundle_id or not 100 <= record.progress <= Progress.AWAITING_SHIPMENT:
        return False
    if record.stage in OPEN_STAGES:
        return True
    return record.stage is Stage.PROCESSED and now - finished_at(record) <= window


def is_bundlable(record: OrderRecord, now: datetime, window: timedelta) -> bool:
    """A candidate that bundle() would accept now: the same rule bundle() applies (pure)."""
    return is_candidate(record, now, window) and bundle_refusal(record, record.number) is None


async def candidates(core: Core, shop: str) -> list[list[OrderRecord]]:
    """Groups of two or more orders bundle() would accept, with the same orderer and destination.

    Same destination key and each member passing bundle_refusal() is exactly what
    bundle_refusals() checks, so every group listed here bundles (unless RMS moved on since).
    """
    now, window = core.clock.now(), core.policy.bundle_window
    records = await core.store.bundle_candidates(shop, OPEN_STAGES, now - window)
    groups: dict[str, list[OrderRecord]] = defaultdict(list)
    for record in records:
        if is_bundlable(record, now, window):
            groups[destination_key(record)].append(record)
    return [g for g in groups.values() if len(g) > 1]

"""同梱: bundling exists only on our side; members must be fee-complete and confirmed first."""

from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from core.model import OrderRecord, Stage
from core.outcomes import OrderOutcome, Outcome, Reason, Report
from core.service import Core

CONFIRMED = frozenset({Stage.PROCESSING, Stage.PROCESSED})
CANDIDATE_STAGES = frozenset(
    {Stage.AWAITING, Stage.NEEDS_ACTION, Stage.PROCESSING, Stage.PROCESSED}
)


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
    if record.bundle_id:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.ALREADY_BUNDLED)
    if record.snapshot.fee_unset:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.FEE_UNSET)
    if record.stage not in CONFIRMED:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.NOT_CONFIRMED)
    return None


async def bundle(core: Core, shop: str, numbers: Sequence[str], actor: str) -> Report:
    """Bundle orders into one shipment, or refuse all of them with per-order reasons."""
    wanted = list(dict.fromkeys(numbers))
    now = core.clock.now()
    async with core.store.tx() as tx:
        records = await tx.get_orders(wanted)
        records = {n: r for n, r in records.items() if r.shop == shop}
        refusals = [bundle_refusal(records.get(n), n) for n in wanted]
        outcomes = [r for r in refusals if r is not None]
        if len(wanted) < 2:
            outcomes = [OrderOutcome(n, Outcome.REFUSED, reason=Reason.TOO_FEW) for n in wanted]
        elif not outcomes and len({destination_key(records[n]) for n in wanted}) > 1:
            outcomes = [
                OrderOutcome(
                    n, Outcome.REFUSED, records[n].stage, reason=Reason.DIFFERENT_DESTINATION
                )
                for n in wanted
            ]
        if outcomes:
            refused = {o.order_number for o in outcomes}
            for n in wanted:
                if n not in refused:
                    outcomes.append(OrderOutcome(n, Outcome.REFUSED, records[n].stage))
            await tx.audit(shop, actor, "bundle", "refused", now, detail={"orders": wanted})
            by_number = {o.order_number: o for o in outcomes}
            return Report(shop, actor, "bundle", tuple(by_number[n] for n in wanted))
        bundle_id = "B" + hashlib.sha1("|".join(sorted(wanted)).encode()).hexdigest()[:10]  # noqa: S324
        await tx.execute(
            "INSERT OR REPLACE INTO bundles (id, shop, created_by, created_at) VALUES (?,?,?,?)",
            (bundle_id, shop, actor, now.isoformat()),
        )
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
        record = await tx.get_order(number)
        if record is None or record.shop != shop or not record.bundle_id:
            reason = Reason.UNKNOWN_ORDER if record is None else Reason.NOT_BUNDLED
            return Report(
                shop, actor, "unbundle", (OrderOutcome(number, Outcome.REFUSED, reason=reason),)
            )
        bundle_id = record.bundle_id
        rows = await tx.rows("SELECT number FROM orders WHERE bundle_id = ?", (bundle_id,))
        members = await tx.get_orders(row["number"] for row in rows)
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
        await tx.execute("DELETE FROM bundles WHERE id = ?", (bundle_id,))
    return Report(
        shop,
        actor,
        "unbundle",
        tuple(
            OrderOutcome(m.number, Outcome.UNBUNDLED, m.stage, detail=bundle_id)
            for m in members.values()
        ),
    )


async def candidates(core: Core, shop: str) -> list[list[OrderRecord]]:
    """Groups of two or more unbundled orders with the same orderer and destination."""
    records = await core.store.orders_in_stages(shop, CANDIDATE_STAGES)
    groups: dict[str, list[OrderRecord]] = defaultdict(list)
    for record in records:
        if not record.bundle_id and 100 <= record.progress <= 300:
            groups[destination_key(record)].append(record)
    return [g for g in groups.values() if len(g) > 1]

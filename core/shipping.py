"""送料未設定 (-9,999円): staff enter the fee; with the API option the bot writes it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

from core.confirm import confirm
from core.errors import RmsError
from core.events import EventKind
from core.lifecycle import check_fees
from core.model import RmsOrder, Stage
from core.outcomes import ErrorInfo, OrderOutcome, Outcome, Reason, Report
from core.service import Core, apply_snapshots, note_rms_result


async def resolve_fee(
    core: Core, shop: str, number: str, entered: Mapping[int, str], actor: str
) -> Report:
    """Resolve a -9999 order with fees per package (basketId → text as typed by staff)."""
    record = await core.store.get_order(number)
    if record is None or record.shop != shop:
        return _single(
            shop, actor, OrderOutcome(number, Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER)
        )
    if record.bundle_id:
        return _single(
            shop, actor, OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.BUNDLED)
        )
    if not record.snapshot.fee_unset or record.stage is not Stage.NEEDS_ACTION:
        return _single(
            shop,
            actor,
            OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.NO_FEE_NEEDED),
        )
    checked = check_fees(record.snapshot, entered, core.policy.max_postage_yen)
    if checked.problems:
        return _single(
            shop,
            actor,
            OrderOutcome(
                number,
                Outcome.REFUSED,
                record.stage,
                reason=Reason.BAD_FEE,
                detail=",".join(checked.problems),
            ),
        )
    if not core.shop(shop).api_option:
        return await _record_manual(core, shop, number, checked.fees, actor)
    if not await _claim(core, number, checked.fees, actor):
        return _single(
            shop,
            actor,
            OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.IN_FLIGHT),
        )
    return await _write_and_confirm(core, shop, number, checked.fees, actor)


async def _record_manual(
    core: Core, shop: str, number: str, fees: Mapping[int, int], actor: str
) -> Report:
    """Without the API option: remember the fee; staff fix RMS, then 再取得 makes it confirmable."""
    now = core.clock.now()
    async with core.store.tx() as tx:
        record = await tx.get_order(number)
        assert record is not None
        await tx.save_order(replace(record, intended_fees=dict(fees)), now)
        await tx.audit(
            shop,
            actor,
            "fee",
            "recorded",
            now,
            order_number=number,
            detail={"fees": {str(k): v for k, v in fees.items()}},
        )
    return _single(
        shop, actor, OrderOutcome(number, Outcome.FEE_RECORDED, Stage.NEEDS_ACTION, fees=dict(fees))
    )


async def _claim(core: Core, number: str, fees: Mapping[int, int], actor: str) -> bool:
    """Only one fee write per order at a time; a finished one is never repeated."""
    now = core.clock.now().isoformat()
    async with core.store.tx() as tx:
        changed = await tx.execute(
            """INSERT INTO fee_requests (order_number, state, actor, fees, updated_at)
               VALUES (?, 'running', ?, ?, ?)
               ON CONFLICT(order_number) DO UPDATE SET state='running', actor=excluded.actor,
                 fees=excluded.fees, updated_at=excluded.updated_at
               WHERE fee_requests.state = 'failed'""",
            (number, actor, json.dumps({str(k): v for k, v in fees.items()}), now),
        )
    return changed == 1


async def _finish(core: Core, number: str, state: str) -> None:
    async with core.store.tx() as tx:
        await tx.execute(
            "UPDATE fee_requests SET state = ?, updated_at = ? WHERE order_number = ?",
            (state, core.clock.now().isoformat(), number),
        )


async def _write_and_confirm(
    core: Core, shop: str, number: str, fees: Mapping[int, int], actor: str
) -> Report:
    """入力内容を反映する → 注文確認通知: write the fee once, re-read, then confirm."""
    api = core.api(shop)
    try:
        fresh = await api.get_orders([number])
        if not fresh:
            await _finish(core, number, "failed")
            return _single(
                shop, actor, OrderOutcome(number, Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER)
            )
        snap = fresh[0]
        if _needs_write(snap, fees):
            try:
                await api.update_postage(snap, fees)
            except RmsError as exc:
                if exc.before_processing:
                    raise
                # Unknown outcome: read again rather than write again.
            after = await api.get_orders([number])
            snap = after[0] if after else snap
    except RmsError as exc:
        await note_rms_result(core, shop, exc)
        await _finish(core, number, "failed")
        info = ErrorInfo(exc.kind, exc.code, exc.message)
        return _single(
            shop, actor, OrderOutcome(number, Outcome.FAILED, Stage.NEEDS_ACTION, error=info)
        )
    await note_rms_result(core, shop, None)
    await apply_snapshots(core, shop, [snap], reset=True)
    now = core.clock.now()
    if snap.fee_unset:
        await _finish(core, number, "failed")
        return _single(
            shop,
            actor,
            OrderOutcome(number, Outcome.FAILED, Stage.NEEDS_ACTION, reason=Reason.FEE_STILL_UNSET),
        )
    async with core.store.tx() as tx:
        await tx.add_event(
            shop,
            EventKind.ORDER_FEE_RESOLVED,
            number,
            now,
            {"fees": {str(k): v for k, v in fees.items()}, "via_api": True, "actor": actor},
        )
        await tx.audit(
            shop,
            actor,
            "fee",
            "updated",
            now,
            order_number=number,
            detail={"fees": {str(k): v for k, v in fees.items()}},
        )
    await _finish(core, number, "done")
    report = await confirm(core, shop, [number], actor)
    confirmed = report.outcomes[0]
    outcome = replace(confirmed, fees=dict(fees))
    return Report(
        shop=shop, actor=actor, action="fee", outcomes=(outcome,), rms_calls=report.rms_calls + 3
    )


def _needs_write(snap: RmsOrder, fees: Mapping[int, int]) -> bool:
    return any(p.postage_price != fees.get(p.basket_id, p.postage_price) for p in snap.packages)


def _single(shop: str, actor: str, outcome: OrderOutcome) -> Report:
    return Report(shop=shop, actor=actor, action="fee", outcomes=(outcome,))

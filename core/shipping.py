"""送料未設定 (-9,999円): staff enter the fee; with the API option the bot writes it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

from core.confirm import confirm
from core.context import Core
from core.errors import RmsError
from core.events import EventKind
from core.leader import fence
from core.lifecycle import check_fees
from core.model import RmsOrder, Stage
from core.outcomes import ErrorInfo, OrderOutcome, Outcome, Reason, Report
from core.snapshots import apply_in, fetch, note_rms_result


async def resolve_fee(
    core: Core,
    shop: str,
    number: str,
    entered: Mapping[int, str],
    actor: str,
    *,
    request_id: int | None = None,
    seen: Mapping[int, int] | None = None,
) -> Report:
    """Resolve a -9999 order with fees per package (basketId → text as typed by staff).

    ``seen``: the fees already recorded when the form was opened (None: not known). Without
    the API option a record made since then stands; this input is not applied.

    Run again for the same stored request after a restart, it continues where the first run
    stopped: a write it claimed is decided by a fresh read (never written blindly twice).
    """
    record = await core.store.get_order(number)
    if record is None or record.shop != shop:
        return _single(
            shop, actor, OrderOutcome(number, Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER)
        )
    if record.bundle_id:
        return _single(
            shop, actor, OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.BUNDLED)
        )
    claim = await core.store.fee_claim(number)
    if request_id is not None and claim is not None and claim[1] == request_id:
        fees = check_fees(record.snapshot, entered).fees
        if claim[0] == "running":
            return await _write_and_confirm(core, shop, number, fees, actor, request_id)
        if claim[0] == "done":
            return await _confirm_after_write(core, shop, number, fees, actor, request_id, 0)
    if not record.snapshot.fee_unset or record.stage is not Stage.NEEDS_ACTION:
        # a stale form: say which fee stands, who approved it when, and what was typed
        standing = {p.basket_id: p.postage_price for p in record.snapshot.packages}
        typed = " / ".join(str(v).strip() for v in entered.values())
        stale = OrderOutcome(
            number,
            Outcome.REFUSED,
            record.stage,
            reason=Reason.NO_FEE_NEEDED,
            by=record.confirmed_by,
            at=record.confirmed_at,
            fees=standing,
            detail=typed,
        )
        return _single(shop, actor, stale)
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
        return await _record_manual(core, shop, number, checked.fees, actor, seen, entered)
    if not await _claim(core, number, checked.fees, actor, request_id):
        return _single(
            shop,
            actor,
            OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.IN_FLIGHT),
        )
    return await _write_and_confirm(core, shop, number, checked.fees, actor, request_id)


async def _record_manual(
    core: Core,
    shop: str,
    number: str,
    fees: Mapping[int, int],
    actor: str,
    seen: Mapping[int, int] | None,
    entered: Mapping[int, str],
) -> Report:
    """Without the API option: remember the fee; staff fix RMS, then 再取得 makes it confirmable.

    The first record stands: a form opened before someone else recorded a fee changes nothing
    (to change a record, open the form again from the card: it shows the recorded fee).
    """
    now = core.clock.now()
    async with core.store.tx() as tx:
        record = await tx.get_order(number)
        assert record is not None
        if is_stale_record(record.intended_fees, seen):
            recorder = await tx.last_audit(number, "fee", "recorded")
            stale = OrderOutcome(
                number,
                Outcome.REFUSED,
                record.stage,
                reason=Reason.FEE_RECORDED,
                by=recorder[0] if recorder else None,
                at=recorder[1] if recorder else None,
                fees=dict(record.intended_fees or {}),
                detail=" / ".join(str(v).strip() for v in entered.values()),
            )
            return _single(shop, actor, stale)
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


async def _claim(
    core: Core, number: str, fees: Mapping[int, int], actor: str, request_id: int | None
) -> bool:
    """Only one fee write per order at a time; a finished one is never repeated."""
    now = core.clock.now().isoformat()
    async with core.store.tx() as tx:
        await fence(core.lease, tx)
        return await tx.claim_fee(
            number, actor, json.dumps({str(k): v for k, v in fees.items()}), now, request_id
        )


async def _write_and_confirm(
    core: Core,
    shop: str,
    number: str,
    fees: Mapping[int, int],
    actor: str,
    request_id: int | None,
) -> Report:
    """入力内容を反映する → 注文確認通知: write the fee once, re-read, then confirm."""
    api = core.api(shop)
    try:
        fresh = await api.get_orders([number])
        if not fresh:
            await core.store.finish_fee(number, "failed", core.clock.now())
            return _single(
                shop, actor, OrderOutcome(number, Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER)
            )
        if _needs_write(fresh[0], fees):
            try:
                await api.update_postage(fresh[0], fees)
            except RmsError as exc:
                if exc.before_processing:
                    raise
                # Unknown outcome: read again rather than write again.
        read = await fetch(core, shop, [number])
    except RmsError as exc:
        await note_rms_result(core, shop, exc)
        await core.store.finish_fee(number, "failed", core.clock.now())
        info = ErrorInfo(exc.kind, exc.code, exc.message)
        return _single(
            shop, actor, OrderOutcome(number, Outcome.FAILED, Stage.NEEDS_ACTION, error=info)
        )
    await note_rms_result(core, shop, None)
    now = core.clock.now()
    still_unset = not read.snaps or read.snaps[0].fee_unset
    async with core.store.tx() as tx:  # one unit of work: new state, fee event, audit, claim
        await apply_in(tx, core, shop, read, reset=True)
        if not still_unset:
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
        await tx.finish_fee(number, "failed" if still_unset else "done", now)
    if still_unset:
        return _single(
            shop,
            actor,
            OrderOutcome(number, Outcome.FAILED, Stage.NEEDS_ACTION, reason=Reason.FEE_STILL_UNSET),
        )
    return await _confirm_after_write(core, shop, number, fees, actor, request_id, 3)


async def _confirm_after_write(
    core: Core,
    shop: str,
    number: str,
    fees: Mapping[int, int],
    actor: str,
    request_id: int | None,
    calls: int,
) -> Report:
    report = await confirm(core, shop, [number], actor, request_id=request_id)
    outcome = replace(report.outcomes[0], fees=dict(fees))
    return Report(
        shop=shop,
        actor=actor,
        action="fee",
        outcomes=(outcome,),
        rms_calls=report.rms_calls + calls,
    )


def is_stale_record(recorded: Mapping[int, int] | None, seen: Mapping[int, int] | None) -> bool:
    """A fee was recorded (or changed) after the form was opened (pure; None: not known)."""
    return seen is not None and bool(recorded) and dict(recorded or {}) != dict(seen)


def _needs_write(snap: RmsOrder, fees: Mapping[int, int]) -> bool:
    return any(p.postage_price != fees.get(p.basket_id, p.postage_price) for p in snap.packages)


def _single(shop: str, actor: str, outcome: OrderOutcome) -> Report:
    return Report(shop=shop, actor=actor, action="fee", outcomes=(outcome,))

"""注文確認通知: send confirmOrder exactly once per order (intent first, then RMS)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from core.context import Core
from core.errors import RmsError, RmsProtocolError
from core.events import EventKind, FlagReason
from core.leader import fence
from core.lifecycle import with_error
from core.model import MAX_NUMBERS_PER_CALL, ConfirmResult, OrderRecord, Stage
from core.outcomes import ErrorInfo, OrderOutcome, Outcome, Reason, Report
from core.remediation import lookup
from core.snapshots import Read, apply_in, apply_snapshots, fetch, note_rms_result, read_orders
from core.store.tx import Intent

logger = logging.getLogger(__name__)

ALL = "all"
CODE_CANCELLED = "ORDER_EXT_API_CONFIRM_ORDER_ERROR_102"
CODE_NOT_CONFIRMABLE = "ORDER_EXT_API_CONFIRM_ORDER_ERROR_103"
CODE_POSTAGE_UNSET = "ORDER_EXT_API_CONFIRM_ORDER_ERROR_105"
MISSING_RESULT = "MISSING_RESULT"  # core/rms/client.py: RMS's answer had no entry for the order

Progress = Callable[[int, int], Awaitable[None]]


def decide(record: OrderRecord | None, intent: Intent | None) -> OrderOutcome | None:
    """Return the refusal for an order, or None when it may be confirmed now (pure)."""
    if record is None:
        return None  # unknown here: looked up in RMS before deciding
    number = record.number
    if intent is not None and intent.state == "confirmed":
        return OrderOutcome(
            number, Outcome.ALREADY_CONFIRMED, record.stage, by=intent.actor, at=intent.updated_at
        )
    if (intent is not None and intent.state == "pending") or record.stage is Stage.SENDING:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.IN_FLIGHT)
    if record.stage is Stage.CANCELLED:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.CANCELLED)
    if record.bundle_id:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.BUNDLED)
    if record.snapshot.fee_unset:
        return OrderOutcome(number, Outcome.REFUSED, record.stage, reason=Reason.FEE_UNSET)
    if record.stage in (Stage.PROCESSING, Stage.PROCESSED) or record.progress != 100:
        return OrderOutcome(
            number,
            Outcome.ALREADY_CONFIRMED,
            record.stage,
            by=record.confirmed_by or "rms",
            at=record.confirmed_at,
        )
    return None


async def confirm(
    core: Core,
    shop: str,
    numbers: Sequence[str] | str,
    actor: str,
    *,
    request_id: int | None = None,
    on_progress: Progress | None = None,
) -> Report:
    """Confirm orders of one shop; every order gets exactly one outcome, none is sent twice.

    Run again for the same stored request (after a crash), it finishes what the first run
    left open and reports the same outcomes: its own confirmations are CONFIRMED, not
    "already confirmed", and its claims still without a result are reconciled, never resent
    blindly.
    """
    if numbers == ALL:
        wanted = await core.store.numbers_in_stages(shop, [Stage.AWAITING])
        if request_id is not None:  # a resumed 'all' also covers what its first run claimed
            wanted = list(dict.fromkeys([*await core.store.request_orders(request_id), *wanted]))
    else:
        wanted = list(dict.fromkeys(numbers))
    outcomes: dict[str, OrderOutcome] = {}
    calls = await _learn_unknown(core, shop, wanted, outcomes)
    todo = [n for n in wanted if n not in outcomes]
    claimed, resumed = await _claim(core, shop, todo, actor, outcomes, request_id)
    core.in_flight.update(claimed + resumed)
    try:
        if resumed:
            calls += await _resume(core, shop, resumed, actor, outcomes)
        done = 0
        for i in range(0, len(claimed), MAX_NUMBERS_PER_CALL):
            chunk = claimed[i : i + MAX_NUMBERS_PER_CALL]
            calls += await send_chunk(core, shop, chunk, actor, outcomes)
            done += len(chunk)
            if on_progress is not None:
                await on_progress(done, len(claimed))
    finally:
        core.in_flight.difference_update(claimed + resumed)
    ordered = tuple(outcomes[n] for n in wanted)
    return Report(shop=shop, actor=actor, action="confirm", outcomes=ordered, rms_calls=calls)


async def _resume(
    core: Core, shop: str, numbers: list[str], actor: str, outcomes: dict[str, OrderOutcome]
) -> int:
    """Claims of this request from before a restart: getOrder decides, then what is surely
    still 100 is sent (RMS confirms synchronously: a 100 after the call means not applied)."""
    calls = 0
    for i in range(0, len(numbers), MAX_NUMBERS_PER_CALL):
        chunk = numbers[i : i + MAX_NUMBERS_PER_CALL]
        interrupted = RmsProtocolError("interrupted before the result was recorded")
        still, reads = await _reconcile(core, shop, chunk, actor, outcomes, interrupted)
        calls += reads
        if still:
            calls += await send_chunk(core, shop, still, actor, outcomes, reconciled=True)
    return calls


async def _learn_unknown(
    core: Core, shop: str, wanted: list[str], outcomes: dict[str, OrderOutcome]
) -> int:
    """Read orders we have not seen yet from RMS, so the decision is made on real data."""
    known = await core.store.get_orders(wanted)
    for number, record in known.items():
        if record.shop != shop:
            outcomes[number] = OrderOutcome(
                number, Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER, detail=record.shop
            )
    unknown = [n for n in wanted if n not in known]
    if not unknown:
        return 0
    read = await read_orders(core, shop, unknown, outcomes)
    if read is None:
        return -(-len(unknown) // MAX_NUMBERS_PER_CALL)
    await apply_snapshots(core, shop, read)
    found = read.found
    for number in unknown:
        if number not in found:
            outcomes[number] = OrderOutcome(number, Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER)
    return -(-len(unknown) // MAX_NUMBERS_PER_CALL)


async def _claim(
    core: Core,
    shop: str,
    numbers: list[str],
    actor: str,
    outcomes: dict[str, OrderOutcome],
    request_id: int | None = None,
) -> tuple[list[str], list[str]]:
    """Decide and claim in one transaction: a claimed order is 確認送信中 before RMS is called.

    Returns (claimed now, claimed earlier by the same request and still unresolved).
    """
    now = core.clock.now()
    claimed: list[str] = []
    resumed: list[str] = []
    async with core.store.tx() as tx:
        await fence(core.lease, tx)
        records = await tx.get_orders(numbers)
        intents = await tx.intents(numbers)
        for number in numbers:
            record = records.get(number)
            intent = intents.get(number)
            if request_id is not None and intent is not None and intent.request_id == request_id:
                if intent.state == "pending":
                    resumed.append(number)
                    continue
                if intent.state == "confirmed":
                    outcomes[number] = OrderOutcome(
                        number,
                        Outcome.CONFIRMED,
                        record.stage if record else None,
                        by=actor,
                        at=intent.updated_at,
                    )
                    continue
            refusal = decide(record, intent)
            if refusal is None and record is not None:
                existing = await tx.claim_intent(number, shop, actor, now, request_id)
                if existing is not None:  # lost a race with another request
                    refusal = decide(record, existing)
            if refusal is not None or record is None:
                outcomes[number] = refusal or OrderOutcome(
                    number, Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER
                )
                await tx.audit(
                    shop,
                    actor,
                    "confirm",
                    "refused",
                    now,
                    order_number=number,
                    detail={
                        "reason": outcomes[number].reason or "already",
                        "outcome": outcomes[number].outcome.value,
                    },
                )
                continue
            await tx.save_order(replace(record, stage=Stage.SENDING, stage_since=now), now)
            await tx.audit(shop, actor, "confirm", "intent", now, order_number=number)
            claimed.append(number)
    return claimed, resumed


async def send_chunk(
    core: Core,
    shop: str,
    chunk: list[str],
    actor: str,
    outcomes: dict[str, OrderOutcome],
    *,
    reconciled: bool = False,
) -> int:
    """Send one confirmOrder (≤100 claimed numbers); retry only what RMS surely did not do."""
    calls, attempt, remaining = 0, 0, list(chunk)
    started = core.clock.now()
    retried: tuple[str, ...] = ()
    while remaining:
        attempt += 1
        calls += 1
        try:
            results = await core.api(shop).confirm_orders(remaining)
        except RmsError as exc:
            await note_rms_result(core, shop, exc)
            out_of_time = core.clock.now() - started >= core.retry.max_total
            can_retry = attempt < core.retry.attempts and not out_of_time
            if not exc.before_processing:
                # Outcome unknown (timeout, 5xx, broken body): ask RMS before anything else.
                still, reads = await _reconcile(core, shop, remaining, actor, outcomes, exc)
                calls += reads
                if still is None:  # could not even read: leave 確認送信中 for the reconciler
                    return calls
                remaining = still
            if remaining and exc.retryable and can_retry:
                retried = (f"retried:{attempt}",)
                await core.clock.sleep(core.retry.delay(attempt, exc.retry_after, core.rng))
                continue
            if remaining:
                info = ErrorInfo(exc.kind, exc.code, exc.message, retried)
                await _fail(core, shop, remaining, actor, outcomes, info)
            return calls
        await note_rms_result(core, shop, None)
        calls += await _record_results(
            core, shop, results, actor, outcomes, retried, reconciled=reconciled
        )
        return calls
    return calls


async def _record_results(
    core: Core,
    shop: str,
    results: Sequence[ConfirmResult],
    actor: str,
    outcomes: dict[str, OrderOutcome],
    retried: tuple[str, ...],
    *,
    reconciled: bool = False,
) -> int:
    """Store per-order confirmOrder results; re-read the ones RMS refused."""
    now = core.clock.now()
    refused: dict[str, tuple[str, str]] = {}
    unclear = {r.order_number: r for r in results if not r.clear}
    async with core.store.tx() as tx:
        await fence(core.lease, tx)
        records = await tx.get_orders(r.order_number for r in results)
        for result in results:
            number = result.order_number
            if not result.clear:
                continue
            if not result.ok:
                refused[number] = (result.code, result.message)
                continue
            record = records[number]
            snap = replace(record.snapshot, progress=200, confirmed_at=now)
            updated = replace(
                record,
                stage=Stage.PROCESSING,
                snapshot=snap,
                stage_since=now,
                polling=True,
                next_poll_at=now + core.policy.young_interval,
                error_key=None,
                error_code=None,
                error_message="",
                confirmed_by=actor,
                confirmed_at=now,
            )
            await tx.save_order(updated, now)
            await tx.set_intent(number, "confirmed", now, code=result.code, attempted=True)
            await tx.add_event(
                shop,
                EventKind.ORDER_CONFIRMED,
                number,
                now,
                {"actor": actor, "reconciled": reconciled},
            )
            await tx.audit(shop, actor, "confirm", "confirmed", now, order_number=number)
            outcomes[number] = OrderOutcome(
                number, Outcome.CONFIRMED, Stage.PROCESSING, by=actor, at=now
            )
    calls = 0
    if unclear:  # RMS answered, but not clearly for these: ask getOrder what happened to them
        missing = RmsProtocolError(
            "confirmOrder answer had no result for this order", code=MISSING_RESULT
        )
        still, calls = await _reconcile(core, shop, list(unclear), actor, outcomes, missing)
        by_info: dict[ErrorInfo, list[str]] = {}
        for number in still or ():  # still 100: surely not confirmed, released, never resent
            result = unclear[number]
            info = (
                ErrorInfo(missing.kind, missing.code, missing.message)
                if result.code == MISSING_RESULT
                else ErrorInfo(lookup(result.code).key, result.code, result.message, ("refetched",))
            )
            by_info.setdefault(info, []).append(number)
        for info, numbers in by_info.items():
            await _fail(core, shop, numbers, actor, outcomes, info)
    if refused:
        calls += await _handle_refusals(core, shop, refused, actor, outcomes, retried)
    return calls


async def _handle_refusals(
    core: Core,
    shop: str,
    refused: dict[str, tuple[str, str]],
    actor: str,
    outcomes: dict[str, OrderOutcome],
    retried: tuple[str, ...],
) -> int:
    """RMS refused some orders: re-read them (RMSステータスを取得) and adopt what RMS shows.

    One unit of work: the intents fail, the fresh snapshots apply and each order's stage and
    events are written together, so no crash leaves an order 確認送信中 without its intent.
    """
    read = Read((), {})
    try:
        read = await fetch(core, shop, list(refused))
    except RmsError as exc:
        await note_rms_result(core, shop, exc)
    now = core.clock.now()
    bot_did = (*retried, "refetched") if read.snaps else retried
    async with core.store.tx() as tx:
        for number, (code, message) in refused.items():
            await tx.set_intent(number, "failed", now, code=code, message=message, attempted=True)
        changes = await apply_in(tx, core, shop, read, reset=True)
        for number, (code, message) in refused.items():
            key = lookup(code).key
            change = changes.get(number)
            record = change.record if change else await tx.get_order(number)
            assert record is not None
            info = ErrorInfo(key, code, message, bot_did)
            if code == CODE_NOT_CONFIRMABLE and record.progress >= 200:
                await tx.adopt_intent(number, shop, record.snapshot.confirmed_at or now)
                outcomes[number] = OrderOutcome(
                    number, Outcome.ADOPTED, record.stage, error=info, by="rms"
                )
                continue
            if code == CODE_POSTAGE_UNSET and record.stage is not Stage.NEEDS_ACTION:
                record = replace(
                    record,
                    stage=Stage.NEEDS_ACTION,
                    stage_since=now,
                    flag_reason=FlagReason.SHIPPING_FEE_UNSET.value,
                )
                await tx.add_event(
                    shop,
                    EventKind.ORDER_FLAGGED,
                    number,
                    now,
                    {"reason": record.flag_reason, "fields": ["postagePrice"]},
                )
            elif record.stage in (Stage.AWAITING, Stage.SENDING):
                record = with_error(record, key, code, message)
            await tx.save_order(record, now)
            if record.stage is Stage.ERROR or key == "unknown":
                await tx.add_event(
                    shop,
                    EventKind.ORDER_ERROR,
                    number,
                    now,
                    {"error_key": key, "code": code, "message": message, "bot_did": list(bot_did)},
                )
            await tx.audit(
                shop, actor, "confirm", "failed", now, order_number=number, detail={"code": code}
            )
            outcomes[number] = OrderOutcome(number, Outcome.FAILED, record.stage, error=info)
    return 1


async def _reconcile(
    core: Core,
    shop: str,
    numbers: list[str],
    actor: str,
    outcomes: dict[str, OrderOutcome],
    exc: RmsError,
) -> tuple[list[str] | None, int]:
    """After an ambiguous failure: getOrder decides. Returns the numbers still in 100 (safe to
    resend), or None when RMS cannot be read either (they stay 確認送信中)."""
    try:
        read = await fetch(core, shop, numbers)
    except RmsError as read_exc:
        await note_rms_result(core, shop, read_exc)
        info = ErrorInfo(exc.kind, exc.code, exc.message, ("will_reconcile",))
        for number in numbers:
            outcomes[number] = OrderOutcome(number, Outcome.PENDING, Stage.SENDING, error=info)
        return None, 1
    by_number = {s.number: s for s in read.snaps}
    moved = Read([s for s in read.snaps if s.progress != 100], read.versions)
    now = core.clock.now()
    async with core.store.tx() as tx:
        changes = await apply_in(tx, core, shop, moved, reset=True)
        for snap in moved.snaps:
            record = changes[snap.number].record if snap.number in changes else None
            if record is None:  # a newer state was written meanwhile: it already decided
                record = await tx.get_order(snap.number)
                assert record is not None
            if snap.progress >= 200 and record.stage is not Stage.CANCELLED:
                await tx.set_intent(snap.number, "confirmed", now, attempted=True)
                await tx.add_event(
                    shop,
                    EventKind.ORDER_CONFIRMED,
                    snap.number,
                    now,
                    {"actor": actor, "reconciled": True},
                )
                outcomes[snap.number] = OrderOutcome(
                    snap.number, Outcome.CONFIRMED, record.stage, by=actor, at=now
                )
            else:
                await tx.set_intent(snap.number, "failed", now, code=str(snap.progress))
                outcomes[snap.number] = OrderOutcome(
                    snap.number, Outcome.FAILED, record.stage, error=ErrorInfo("cancelled")
                )
    missing = [n for n in numbers if n not in by_number]
    if missing:
        await _fail(core, shop, missing, actor, outcomes, ErrorInfo("unknown", None, "not found"))
    return [n for n in numbers if n in by_number and by_number[n].progress == 100], 1


async def _fail(
    core: Core,
    shop: str,
    numbers: list[str],
    actor: str,
    outcomes: dict[str, OrderOutcome],
    info: ErrorInfo,
) -> None:
    """RMS certainly did not confirm these: release the intent, show エラー with remediation."""
    now = core.clock.now()
    async with core.store.tx() as tx:
        await fence(core.lease, tx)
        records = await tx.get_orders(numbers)
        for number in numbers:
            await tx.set_intent(
                number,
                "failed",
                now,
                code=info.code or info.key,
                message=info.message,
                attempted=True,
            )
            record = records.get(number)
            if record is not None:
                await tx.save_order(with_error(record, info.key, info.code, info.message), now)
            await tx.add_event(
                shop,
                EventKind.ORDER_ERROR,
                number,
                now,
                {
                    "error_key": info.key,
                    "code": info.code,
                    "message": info.message,
                    "bot_did": list(info.bot_did),
                },
            )
            await tx.audit(
                shop,
                actor,
                "confirm",
                "failed",
                now,
                order_number=number,
                detail={"error": info.key, "code": info.code},
            )
            outcomes[number] = OrderOutcome(number, Outcome.FAILED, Stage.ERROR, error=info)
    logger.warning("confirm failed for %d order(s) of %s: %s", len(numbers), shop, info.key)

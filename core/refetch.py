"""RMSステータスを取得: re-read orders now, adopt what RMS shows, put them back into polling."""

from __future__ import annotations

from collections.abc import Sequence

from core.confirm import ALL
from core.context import Core
from core.model import Stage
from core.outcomes import OrderOutcome, Outcome, Reason, Report
from core.snapshots import apply_in, read_orders

REFETCHABLE = (Stage.NEEDS_ACTION, Stage.AWAITING, Stage.ERROR, Stage.PROCESSING, Stage.PROCESSED)


async def refetch(core: Core, shop: str, numbers: Sequence[str] | str, actor: str) -> Report:
    """Re-read orders from RMS (getOrder, ⌈n/100⌉ calls) and report each one's new stage.

    Covers three cases: edited and re-confirmed after 楽天処理済, cancelled by the
    customer or Rakuten, and confirmed directly in RMS (adopted without calling confirmOrder).
    """
    if numbers == ALL:
        wanted = await core.store.numbers_in_stages(shop, REFETCHABLE)
    else:
        wanted = list(dict.fromkeys(numbers))
    outcomes: dict[str, OrderOutcome] = {}
    busy = [n for n in wanted if n in core.in_flight]
    for number in busy:
        outcomes[number] = OrderOutcome(
            number, Outcome.REFUSED, Stage.SENDING, reason=Reason.IN_FLIGHT
        )
    known = await core.store.get_orders(wanted)
    for number, record in known.items():
        if record.shop != shop:
            outcomes[number] = OrderOutcome(
                number, Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER, detail=record.shop
            )
    to_read = [n for n in wanted if n not in outcomes]
    calls = -(-len(to_read) // 100)
    if to_read:
        read = await read_orders(core, shop, to_read, outcomes)
        if read is None:
            return _report(shop, actor, wanted, outcomes, calls)
        now = core.clock.now()
        # one unit of work: the new states and their audit, all fenced by apply_in's epoch check
        async with core.store.tx() as tx:
            changes = await apply_in(tx, core, shop, read, reset=True)
            current = await tx.get_orders(read.found - set(changes))  # newer than this read
            for number in to_read:
                change = changes.get(number)
                now_known = change.record if change else current.get(number)
                if now_known is None:
                    outcomes[number] = OrderOutcome(
                        number, Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER
                    )
                    continue
                before = known.get(number)
                outcome = Outcome.ADOPTED if change and change.adopted else Outcome.REFRESHED
                outcomes[number] = OrderOutcome(
                    number,
                    outcome,
                    now_known.stage,
                    detail=before.stage.value if before else "",
                )
                await tx.audit(
                    shop,
                    actor,
                    "refetch",
                    outcome.value,
                    now,
                    order_number=number,
                    detail={"stage": now_known.stage.value, "progress": now_known.progress},
                )
    return _report(shop, actor, wanted, outcomes, calls)


def _report(
    shop: str, actor: str, wanted: list[str], outcomes: dict[str, OrderOutcome], calls: int
) -> Report:
    return Report(
        shop=shop,
        actor=actor,
        action="refetch",
        outcomes=tuple(outcomes[n] for n in wanted),
        rms_calls=calls,
    )

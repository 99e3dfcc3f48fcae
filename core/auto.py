"""Guarded auto-confirm: decide at intake, in the unit of work that stores the read, which new
orders to confirm (one stored CONFIRM request by "auto", run by the request worker like any
/confirm) and which to hold with the rules that matched. Never a second confirm path."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from core.bundles import OPEN_STAGES, destination_key, is_candidate
from core.context import Core
from core.events import EventKind, FlagReason
from core.fee_table import FeeTable, propose
from core.holds import HoldReason, HoldRules, facts_of, hold_reasons
from core.lifecycle import Change
from core.model import OrderRecord, Request, RequestKind, Stage
from core.outcomes import Outcome, Report
from core.snapshots import Read
from core.store import auto as table
from core.store.requests import insert_request
from core.store.tx import Tx
from core.watchdog import WatchdogConfig

logger = logging.getLogger(__name__)
AUTO_ACTOR = "auto"  # never a Slack user id (those start with U or W)
FEE_UNSET = FlagReason.SHIPPING_FEE_UNSET.value


class AutoMode(StrEnum):
    """A shop's auto-confirm mode (SHOPS_FILE ``auto_confirm``, or /rms auto)."""

    OFF = "off"
    DRY_RUN = "dry_run"
    ON = "on"


@dataclass(frozen=True, slots=True)
class AutoConfig:
    """One shop's automation settings, as configured."""

    mode: AutoMode = AutoMode.OFF
    auto_fee: bool = False  # write a fee the table proposes (API option and mode on only)
    holds: HoldRules = field(default_factory=HoldRules)
    fees: FeeTable | None = None
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)


def config_of(core: Core, shop: str) -> AutoConfig:
    """The shop's configured automation (off when it has none)."""
    return core.automation.get(shop) or AutoConfig()


async def modes(core: Core) -> tuple[dict[str, AutoMode], bool]:
    """Every shop's effective mode (/rms auto overrides SHOPS_FILE) and whether all are paused."""
    async with core.store.read() as r:
        overrides = await table.mode_overrides(r)
    found = {
        shop: AutoMode(overrides.get(shop, config_of(core, shop).mode.value)) for shop in core.shops
    }
    return found, overrides.get(table.PAUSE_KEY) == "paused"


async def effective_mode(core: Core, shop: str) -> AutoMode:
    """What intake does for this shop now: OFF while every shop is paused."""
    found, paused = await modes(core)
    return AutoMode.OFF if paused else found.get(shop, AutoMode.OFF)


async def undecided(core: Core, shop: str, mode: AutoMode) -> list[str]:
    """Unconfirmed orders stored before auto-confirm looked at them: read again, then decided."""
    if mode is AutoMode.OFF:
        return []
    stored = await core.store.numbers_in_stages(shop, [Stage.AWAITING, Stage.NEEDS_ACTION])
    async with core.store.read() as r:
        known = await table.decisions(r, stored)
    return [n for n in stored if not _decided(known.get(n), mode)]


def _decided(decision: table.Decision | None, mode: AutoMode) -> bool:
    if decision is None:
        return False
    return mode is AutoMode.DRY_RUN or decision.mode == AutoMode.ON.value


async def open_destinations(core: Core, shop: str) -> Counter[str]:
    """How many open orders go to each destination (for the 同梱 candidate rule)."""
    now, window = core.clock.now(), core.policy.bundle_window
    records = await core.store.bundle_candidates(shop, OPEN_STAGES, now - window)
    return Counter(destination_key(r) for r in records if is_candidate(r, now, window))


@dataclass(frozen=True, slots=True)
class Decided:
    """What one intake cycle decided (for the cycle report and the bench)."""

    confirm: tuple[str, ...] = ()
    held: Mapping[str, tuple[HoldReason, ...]] = field(default_factory=dict)
    fee: tuple[str, ...] = ()
    request_id: int | None = None


async def decide_in(
    tx: Tx,
    core: Core,
    shop: str,
    read: Read,
    changes: Mapping[str, Change],
    mode: AutoMode,
    destinations: Counter[str],
) -> Decided:
    """Decide the undecided orders of this read, inside the intake's unit of work."""
    if mode is AutoMode.OFF:
        return Decided()
    cfg, now = config_of(core, shop), core.clock.now()
    snaps = {s.number: s for s in read.snaps}
    unconfirmed = (Stage.AWAITING, Stage.NEEDS_ACTION)
    wanted = [n for n, c in changes.items() if c.record.stage in unconfirmed and n in snaps]
    known = await table.decisions(tx, wanted)
    intents = await tx.intents(wanted)
    confirm: list[str] = []
    fee: list[str] = []
    held: dict[str, tuple[HoldReason, ...]] = {}
    proposals: dict[str, dict[str, object]] = {}
    counts = Counter(destinations)  # stored open orders, plus the new ones of this read
    counts.update(destination_key(changes[n].record) for n in wanted if n not in read.versions)
    for number in wanted:
        if _decided(known.get(number), mode):
            continue
        snap, record = snaps[number], changes[number].record
        if number in intents or not _eligible(record):
            # a person's confirmation (or a bundle, an unknown error) owns it: never automatic,
            # and not read again for a decision every cycle
            skip = table.Decision(number, shop, mode.value, "skip", (), now)
            await table.save_decision(tx, skip, now)
            continue
        twin = counts[destination_key(record)] > 1
        reasons = hold_reasons(facts_of(snap, bundle_candidate=twin), cfg.holds)
        proposal = propose(snap, cfg.fees) if snap.fee_unset else None
        if proposal is not None:
            proposals[number] = {"fees": {str(k): v for k, v in proposal.fees.items()}}
            proposals[number]["how"] = list(proposal.how)
        if not reasons:
            confirm.append(number)
        elif reasons == (HoldReason.FEE_UNSET,) and proposal and _auto_fee(core, shop, mode):
            fee.append(number)
        else:
            held[number] = reasons
        verdict = "clean" if not reasons else "fee" if number in fee else "held"
        decision = table.Decision(
            number, shop, mode.value, verdict, tuple(reasons), now, proposals.get(number)
        )
        await table.save_decision(tx, decision, now)
    decided = Decided(tuple(confirm), held, tuple(fee))
    if mode is AutoMode.DRY_RUN:
        if confirm or held:
            preview = {"confirm": confirm, "held": {n: list(r) for n, r in held.items()}}
            await tx.add_event(shop, EventKind.AUTO_DRY_RUN, None, now, preview)
        return decided
    for number, reasons in held.items():
        data: dict[str, object] = {"reasons": list(reasons), "proposal": proposals.get(number)}
        await tx.add_event(shop, EventKind.ORDER_HELD, number, now, data)
        await tx.audit(shop, AUTO_ACTOR, "hold", "held", now, order_number=number, detail=data)
    request_id = None
    if confirm:
        request_id = await _store_request(tx, shop, RequestKind.CONFIRM, tuple(confirm), now)
    for number in fee:
        fees = proposals[number]["fees"]
        await _store_request(tx, shop, RequestKind.FEE, (number,), now, {"fees": fees})
    return Decided(tuple(confirm), held, tuple(fee), request_id)


def _eligible(record: OrderRecord) -> bool:
    """注文確認待ち, or 要対応 only for a -9,999 fee (other flags need a person)."""
    fee_only = record.stage is Stage.NEEDS_ACTION and record.flag_reason == FEE_UNSET
    waiting = record.stage is Stage.AWAITING or fee_only
    return waiting and record.progress == 100 and record.bundle_id is None


def _auto_fee(core: Core, shop: str, mode: AutoMode) -> bool:
    return mode is AutoMode.ON and config_of(core, shop).auto_fee and core.shop(shop).api_option


async def _store_request(
    tx: Tx,
    shop: str,
    kind: RequestKind,
    numbers: tuple[str, ...],
    now: datetime,
    payload: Mapping[str, object] | None = None,
) -> int:
    """The same stored request a person's /confirm or fee approval makes, by "auto"."""
    request = Request(
        kind=kind,
        shop=shop,
        numbers=numbers,
        actor=AUTO_ACTOR,
        received_at=now,
        delivery_key=f"auto:{kind.value}:{shop}:{numbers[0]}:{now.isoformat()}",
        payload=payload or {},
    )
    stored, _new = await insert_request(tx, request)
    return stored.id


async def may_run(core: Core, request: Request) -> bool:
    """Checked by the worker right before an auto request's effect: mode on, not paused."""
    return await effective_mode(core, request.shop) is AutoMode.ON


async def stopped_in(tx: Tx, numbers: Iterable[str]) -> None:
    """An auto request refused by a pause: its orders are decided again after the resume."""
    await table.forget(tx, numbers)


# set_mode, set_paused and keep_holding are a person's actions, carried out on whichever
# replica took the Slack request: they are not fenced by the lease (a follower may do them).
# decide_in runs inside intake's fenced unit of work; finished_in and stopped_in inside the
# request worker's fenced finish.


async def set_mode(core: Core, shop: str, mode: AutoMode, actor: str) -> None:
    """/rms auto <mode>: stored, audited and announced in the shop's channel, in one unit."""
    now = core.clock.now()
    async with core.store.tx() as tx:
        await table.set_mode(tx, shop, mode.value, actor, now)
        await tx.audit(shop, actor, "auto_mode", mode.value, now)
        data = {"mode": mode.value, "actor": actor}
        await tx.add_event(shop, EventKind.AUTO_MODE_CHANGED, None, now, data)


async def set_paused(core: Core, paused: bool, actor: str) -> None:
    """/rms auto pause | resume: every shop at once, persisted until resumed."""
    now = core.clock.now()
    async with core.store.tx() as tx:
        await table.set_mode(tx, table.PAUSE_KEY, "paused" if paused else "running", actor, now)
        for shop in core.shops:
            await tx.audit(shop, actor, "auto_pause", "paused" if paused else "resumed", now)
            data = {"paused": paused, "actor": actor}
            await tx.add_event(shop, EventKind.AUTO_MODE_CHANGED, None, now, data)


async def pause_state(core: Core) -> tuple[bool, str, datetime | None]:
    """(paused, by whom, since when) for App Home."""
    async with core.store.read() as r:
        row = await table.pause_row(r)
    if row is None:
        return False, "", None
    return row[0] == "paused", row[1], row[2]


async def keep_holding(core: Core, shop: str, number: str, note: str, actor: str) -> bool:
    """保留のまま: a person keeps the order held with a note (its card shows it)."""
    now = core.clock.now()
    async with core.store.tx() as tx:
        found = await tx.get_order(number)
        if found is None or found.shop != shop:
            return False
        if not await table.keep_holding(tx, number, note, actor, now):
            reasons = (HoldReason.KEPT.value,)
            decision = table.Decision(number, shop, "on", "held", reasons, now, None, note, actor)
            await table.save_decision(tx, decision, now)
        await tx.audit(shop, actor, "keep_holding", "held", now, order_number=number)
        await tx.add_event(shop, EventKind.ORDER_HELD, number, now, {"note": note})
    return True


async def held(core: Core, shop: str) -> list[tuple[OrderRecord, tuple[str, ...], str]]:
    """/rms held: unconfirmed held orders, oldest first, with their reasons and note."""
    async with core.store.read() as r:
        found = await table.shop_decisions(r, shop, ["held"])
    records = await core.store.get_orders(d.number for d in found)
    rows = [
        (records[d.number], d.reasons, d.note)
        for d in found
        if d.number in records and records[d.number].stage in UNCONFIRMED_OPEN
    ]
    return sorted(rows, key=lambda row: (row[0].snapshot.ordered_at, row[0].number))


UNCONFIRMED_OPEN = frozenset({Stage.AWAITING, Stage.NEEDS_ACTION, Stage.ERROR})


async def finished_in(tx: Tx, request: Request, report: Report, now: datetime) -> None:
    """An automatic fee approval that RMS refused or that failed: held for a person (listed by
    /rms held; its card keeps the fee button)."""
    if request.actor != AUTO_ACTOR or request.kind is not RequestKind.FEE:
        return
    for outcome in report.outcomes:
        if outcome.outcome in (Outcome.FAILED, Outcome.REFUSED):
            reasons = (HoldReason.FEE_UNSET.value,)
            await table.hold_again(tx, outcome.order_number, reasons, now)
            await tx.audit(
                request.shop, AUTO_ACTOR, "hold", "held", now, order_number=outcome.order_number
            )

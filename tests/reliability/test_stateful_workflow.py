"""A stateful property test of the whole workflow: random interleavings of intake,
polling, confirmations (single and all), re-fetches, fee approvals, RMS-side changes, RMS and
Slack failures and crashes (all memory dropped, the database kept), with the invariants checked
after every step:

* no order is in two confirmOrder calls that RMS may have processed (only QPS/maintenance
  refusals, which RMS answers before processing, may be followed by another call);
* no stored stage moves back because of an older read (楽天処理中 never returns to 注文確認待ち,
  楽天処理済 never returns to 楽天処理中);
* every stored request reaches an outcome and its report is posted exactly once;
* nothing is 確認送信中 after a reconcile that could read RMS;
* every outbox event is posted once (or dead-lettered) once Slack and RMS are healthy again.

The bot runs whole (tests/stack.py: the real bolt app behind signed requests, the RMS simulator
and the Slack emulator over loopback) on one event loop that hypothesis steps drive.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from core.intake import intake
from core.model import RequestKind, Stage
from core.poller import poll
from core.reconciler import reconcile
from core.snapshots import apply_snapshots, fetch
from core.store.requests import open_requests
from handlers.render import ids
from tests.stack import Stack, bot_stack

pytestmark = pytest.mark.slow

SHOP_CHANNEL = {"main": "C0SHOP1", "api": "C0SHOP2"}
BEFORE_PROCESSING = frozenset({403, 429, 503})  # RMS refused the call without doing it
RANK = {
    Stage.NEEDS_ACTION: 0,
    Stage.AWAITING: 0,
    Stage.ERROR: 0,
    Stage.SENDING: 1,
    Stage.PROCESSING: 2,
    Stage.PROCESSED: 3,
}


class Workflow(RuleBasedStateMachine):
    """One bot, two shops (without and with the API option), driven step by step."""

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="rms-bot-stateful-"))
        self._cm = bot_stack(self.tmp)
        self.s: Stack = self.run(self._cm.__aenter__())
        self.shop_of: dict[str, str] = {}
        self.high: dict[str, int] = {}  # the highest stage rank each order reached
        self.rms_side: set[str] = set()  # confirmed or cancelled in RMS by a person, not by us
        self.ever_archived = False  # messages to an archived channel are dead-lettered

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            self.run(self._quiesce_and_check())
        finally:
            try:
                self.run(self._cm.__aexit__(None, None, None))
            finally:
                self.loop.close()
                shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the world ---------------------------------------------------------------------------

    @initialize(target=orders)
    def first_order(self) -> str:
        return self._add("main", unset=False)

    @rule(target=orders, shop=st.sampled_from(["main", "api"]), unset=st.booleans())
    def new_order(self, shop: str, unset: bool) -> str:
        return self._add(shop, unset)

    def _add(self, shop: str, unset: bool) -> str:
        number = self.s.add_order(shop, postage=-9999 if unset else 500)
        self.shop_of[number] = shop
        return number

    @rule(minutes=st.integers(min_value=1, max_value=40))
    def time_passes(self, minutes: int) -> None:
        self.s.clock.advance(minutes=minutes)

    @rule(number=orders, progress=st.sampled_from([200, 900]))
    def person_acts_in_rms(self, number: str, progress: int) -> None:
        """Confirmed directly in RMS (200) or cancelled (900), only while still 100."""
        if self.s.sim.order(number)["orderProgress"] == 100:
            self.s.sim.set_progress(number, progress)
            self.rms_side.add(number)

    @rule(
        status=st.sampled_from([403, 503, 500, 504]),
        function=st.sampled_from(["confirmOrder", "getOrder", "searchOrder"]),
    )
    def rms_fails_once(self, status: int, function: str) -> None:
        # A 5xx after RMS did the work is the dangerous case: the answer is lost, the work done.
        self.s.sim.fail_next(function, status=status, apply_first=status not in BEFORE_PROCESSING)

    @rule(
        method=st.sampled_from(["chat.postMessage", "chat.update"]),
        status=st.sampled_from([429, 500]),
    )
    def slack_fails_once(self, method: str, status: int) -> None:
        self.s.slack.fail_next(
            method, status=status, error="ratelimited" if status == 429 else "internal_error"
        )

    @rule(archived=st.booleans())
    def api_shop_channel_archived(self, archived: bool) -> None:
        """Someone archives #shop-second (or un-archives it): its posts die alone."""
        if archived:
            self.s.slack.archived.add(SHOP_CHANNEL["api"])
            self.ever_archived = True
        else:
            self.s.slack.archived.discard(SHOP_CHANNEL["api"])

    # -- the bot's own loops ------------------------------------------------------------------

    @rule(shop=st.sampled_from(["main", "api"]))
    def intake_cycle(self, shop: str) -> None:
        self.run(intake(self.s.rt.core, shop))

    @rule(shop=st.sampled_from(["main", "api"]))
    def poll_cycle(self, shop: str) -> None:
        self.run(poll(self.s.rt.core, shop))

    @rule(shop=st.sampled_from(["main", "api"]))
    def reconcile_cycle(self, shop: str) -> None:
        self.run(reconcile(self.s.rt.core, shop))

    @rule()
    def worker_and_publisher(self) -> None:
        self.run(self.s.rt.worker.run_once())
        self.run(self.s.rt.deps.publisher.drain(digests=False))

    @rule()
    def digest(self) -> None:
        self.run(self.s.rt.deps.publisher.drain())

    @rule()
    def crash_and_restart(self) -> None:
        self.run(self.s.restart())

    # -- people in Slack ----------------------------------------------------------------------

    @rule(numbers=st.lists(orders, min_size=1, max_size=3, unique=True))
    def confirm_command(self, numbers: list[str]) -> None:
        shop = self.shop_of[numbers[0]]
        same = [n for n in numbers if self.shop_of[n] == shop]
        text = " ".join(same) + f" {shop}"
        answer = self.run(self.s.slack.send_command("/confirm", text, channel=SHOP_CHANNEL[shop]))
        assert answer.status == 200

    @rule(shop=st.sampled_from(["main", "api"]), clicks=st.integers(min_value=1, max_value=2))
    def confirm_all(self, shop: str, clicks: int) -> None:
        channel = SHOP_CHANNEL[shop]
        answer = self.run(self.s.slack.send_command("/confirm", f"all {shop}", channel=channel))
        assert answer.status == 200
        prompt = self.s.slack.ephemerals("U0TANAKA")[-1]
        buttons = [
            e
            for b in prompt.blocks
            if b.get("type") == "actions"
            for e in b["elements"]
            if e["action_id"] == ids.CONFIRM_ALL
        ]
        for _ in range(clicks if buttons else 0):  # a double click runs once
            self.run(
                self.s.slack.click(
                    channel=channel,
                    message_ts=prompt.ts,
                    action_id=ids.CONFIRM_ALL,
                    value=buttons[0]["value"],
                )
            )

    @rule(numbers=st.lists(orders, min_size=1, max_size=3, unique=True))
    def refetch_command(self, numbers: list[str]) -> None:
        shop = self.shop_of[numbers[0]]
        same = [n for n in numbers if self.shop_of[n] == shop]
        answer = self.run(
            self.s.slack.send_command(
                "/rms-status", " ".join(same) + f" {shop}", channel=SHOP_CHANNEL[shop]
            )
        )
        assert answer.status == 200

    @rule(number=orders, fee=st.integers(min_value=0, max_value=2000))
    def approve_fee(self, number: str, fee: int) -> None:
        record = self.run(self.s.rt.core.store.get_order(number))
        if record is None or not record.snapshot.fee_unset:
            return
        fees = {str(p.basket_id): str(fee) for p in record.snapshot.packages}
        self.run(
            self.s.rt.deps.request(
                RequestKind.FEE,
                self.shop_of[number],
                [number],
                "U0TANAKA",
                delivery_key=f"view:{number}:{fee}:{self.s.clock.now().timestamp()}",
                open_key=f"fee:{number}",
                channel=SHOP_CHANNEL[self.shop_of[number]],
                payload={"fees": fees},
            )
        )

    @rule(number=orders)
    def old_read_lands_after_a_click(self, number: str) -> None:
        """The jobs loop read an order, a click confirmed it, then the old read is applied."""
        core, shop = self.s.rt.core, self.shop_of[number]
        if self.run(core.store.get_order(number)) is None:
            return
        try:
            old = self.run(fetch(core, shop, [number]))
        except Exception:  # RMS failing right now: nothing to interleave
            return
        self.run(
            self.s.rt.deps.request(
                RequestKind.CONFIRM,
                shop,
                [number],
                "U0SATO",
                delivery_key=f"click:{number}:{self.s.clock.now().timestamp()}",
            )
        )
        self.run(self.s.rt.worker.run_once())
        after = self.run(core.store.get_order(number))
        event(f"old read after a click: {after.stage.value if after else None}")
        self.no_stage_moves_back()  # what the click achieved …
        self.run(apply_snapshots(core, shop, old))  # … is not undone by the older read

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def never_two_confirm_calls_rms_may_have_processed(self) -> None:
        sent: Counter[str] = Counter()
        for call in self.s.sim.calls_to("confirmOrder"):
            if call.status in BEFORE_PROCESSING:
                continue
            for number in (call.body or {}).get("orderNumberList") or []:
                sent[number] += 1
        twice = {n: c for n, c in sent.items() if c > 1}
        assert not twice, f"sent twice: {twice}"
        confirmed = Counter(n for n, _ in self.s.sim.confirm_log)
        assert all(c == 1 for c in confirmed.values())

    @invariant()
    def no_stage_moves_back(self) -> None:
        records = self.run(self.s.rt.core.store.get_orders(list(self.shop_of)))
        for number, record in records.items():
            if record.stage is Stage.CANCELLED:
                continue
            rank = RANK[record.stage]
            before = self.high.get(number, 0)
            if before >= 2:  # 楽天処理中 or later: only forward, whatever was read when
                assert rank >= before, f"{number} moved back to {record.stage} from {before}"
            self.high[number] = max(before, rank)

    async def _quiesce_and_check(self) -> None:
        """Heal the world, let the bot finish, then check what must hold in the end."""
        s = self.s
        s.sim.faults.entries.clear()  # no fault left pending
        s.slack._failures.clear()
        s.clock.advance(minutes=5)
        for shop in SHOP_CHANNEL:
            await reconcile(s.rt.core, shop, startup=True)
        for _ in range(3):
            await s.rt.worker.run_once()
            await s.rt.deps.publisher.drain()
        async with s.rt.core.store.read() as r:
            assert await open_requests(r) == [], "a stored request never reached an outcome"
        for shop in SHOP_CHANNEL:
            sending = await s.rt.core.store.numbers_in_stages(shop, [Stage.SENDING])
            assert sending == [], f"確認送信中 after a reconcile: {sending}"
        assert await s.rt.core.store.unposted_events() == [], "an outbox event was never posted"
        keys = Counter(
            (m.metadata or {}).get("event_payload", {}).get("key")
            for channel in SHOP_CHANNEL.values()
            for m in s.slack.messages(channel)
        )
        repeated = {k: c for k, c in keys.items() if k and c > 1}
        assert not repeated, f"posted twice: {repeated}"
        async with s.rt.core.store.read() as r:
            rows = await r.rows("SELECT key, channel, state FROM messages")
        for row in rows:  # every message posted once or dead-lettered, none left behind
            if row["channel"] == SHOP_CHANNEL["api"] and self.ever_archived:
                assert row["state"] in ("posted", "dead"), dict(row)
            else:
                assert row["state"] == "posted", dict(row)


Workflow.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_workflow_under_random_interleavings_and_crashes = Workflow.TestCase

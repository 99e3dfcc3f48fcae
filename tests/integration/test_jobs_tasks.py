"""Shop cycles, the publisher and the daily jobs run side by side: none can starve another."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox.rms import RmsSimulator
from sandbox.rms.faults import QPS_EXCEEDED
from sandbox.slack import SlackEmulator
from tests import stack
from tests.stack import Stack, bot_stack
from tests.stepped_clock import SteppedClock

Handler = Any


class Gate:
    """An open/closed gate for requests; the held count tells the SteppedClock who is stuck."""

    def __init__(self) -> None:
        self.clock: SteppedClock | None = None
        self.opened = asyncio.Event()
        self.opened.set()
        self.waited = 0  # requests ever held here

    def close(self, clock: SteppedClock) -> None:
        self.clock = clock
        self.opened.clear()

    def open(self) -> None:
        self.opened.set()

    async def wait(self) -> None:
        if self.opened.is_set() or self.clock is None:
            return
        self.waited += 1
        self.clock.held += 1
        try:
            await self.opened.wait()
        finally:
            self.clock.held -= 1


class GatedSlack(SlackEmulator):
    """The Slack emulator, except that chat.postMessage waits while the gate is closed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = Gate()

    def make_app(self) -> web.Application:
        app = super().make_app()

        @web.middleware
        async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.endswith("/chat.postMessage"):
                await self.gate.wait()
            response: web.StreamResponse = await handler(request)
            return response

        app.middlewares.append(gate)
        return app


class GatedRms(RmsSimulator):
    """The RMS simulator, with per-shop trouble: ``held`` shops hang while the gate is closed,
    ``limited`` shops get 429 with a Retry-After (keyed by serviceSecret)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = Gate()
        self.held: set[str] = set()
        self.limited: dict[str, int] = {}

    def make_app(self) -> web.Application:
        app = super().make_app()

        @web.middleware
        async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
            secret = _service_secret(request)
            if secret in self.held:
                await self.gate.wait()
            if secret in self.limited:
                headers = {"Retry-After": str(self.limited[secret])}
                return web.json_response(QPS_EXCEEDED, status=429, headers=headers)
            response: web.StreamResponse = await handler(request)
            return response

        app.middlewares.append(gate)
        return app


def _service_secret(request: web.Request) -> str:
    token = request.headers.get("Authorization", "").removeprefix("ESA ")
    try:
        return base64.b64decode(token).decode().split(":", 1)[0]
    except ValueError:
        return ""


async def health(s: Stack) -> tuple[int, dict[str, Any]]:
    url = s.slack.bot_url.replace("/slack/events", "/healthz")
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


def cycled_within(s: Stack, shop: str, seconds: float) -> bool:
    """Whether the shop's cycle completed in the last ``seconds`` of virtual time."""
    last = s.rt.jobs.coordinators[f"shop:{shop}"].last_success
    return last is not None and (s.clock.now() - last).total_seconds() <= seconds


@asynccontextmanager
async def jobs_running(s: Stack) -> AsyncIterator[asyncio.Task[None]]:
    """The runtime's jobs as `serve` runs them; cancelled (and awaited) on the way out."""
    stop = asyncio.Event()
    runner = asyncio.create_task(s.rt.jobs.run(stop), name="jobs")
    assert isinstance(s.clock, SteppedClock)
    await s.clock.settle()
    try:
        yield runner
    finally:
        stop.set()
        runner.cancel()
        with suppress(asyncio.CancelledError):
            await runner


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "SlackEmulator", GatedSlack)
    monkeypatch.setattr(stack, "RmsSimulator", GatedRms)


async def test_fifty_cards_at_slacks_pace_do_not_delay_polling(tmp_path: Path):
    clock = SteppedClock()
    async with bot_stack(tmp_path, clock=clock, poll_interval_seconds=30) as s:
        cards = [s.add_order("main", postage=-9999) for _ in range(50)]
        async with jobs_running(s):
            await clock.run_for(5)
            late = [s.add_order("main"), s.add_order("api")]
            await clock.run_for(35)  # the cards take ~55 s at 1 post per 1.1 s in C0SHOP1
            assert set(await s.rt.core.store.known_numbers(late)) == set(late)
            assert cycled_within(s, "main", 15) and cycled_within(s, "api", 15)
            posted = " ".join(m.text for m in s.slack.messages("C0SHOP1"))
            assert not all(number in posted for number in cards)  # still posting
            await clock.run_for(60)
            posted = " ".join(m.text for m in s.slack.messages("C0SHOP1"))
            assert all(number in posted for number in cards)


@pytest.mark.usefixtures("gated")
async def test_a_publisher_stuck_on_slack_neither_stalls_polling_nor_looks_healthy(tmp_path: Path):
    clock = SteppedClock()
    async with bot_stack(tmp_path, clock=clock, poll_interval_seconds=30) as s:
        assert isinstance(s.slack, GatedSlack)
        cards = [s.add_order("main", postage=-9999) for _ in range(50)]  # 50 cards to post
        s.slack.gate.close(clock)  # every chat.postMessage now hangs
        async with jobs_running(s):
            await clock.run_for(20)
            assert s.slack.gate.waited == 1  # the publisher is stuck on its first post
            late = [s.add_order("main"), s.add_order("api")]
            await clock.run_for(45)  # at least one intake (every 30 s) of each shop
            assert set(await s.rt.core.store.known_numbers(late)) == set(late)
            assert cycled_within(s, "main", 15) and cycled_within(s, "api", 15)
            assert await health(s) == (503, {"ok": False})  # the publisher is 65 s behind

            s.slack.gate.open()
            await clock.run_for(120)  # 50 cards at ~1 post/s per channel
            posted = " ".join(m.text for m in s.slack.messages("C0SHOP1"))
            assert all(number in posted for number in cards)
            status, body = await health(s)
            assert status == 200
            assert body["ok"] is True


@pytest.mark.usefixtures("gated")
async def test_a_shop_whose_rms_hangs_turns_healthz_503_until_its_cycle_completes(tmp_path: Path):
    clock = SteppedClock()
    async with bot_stack(tmp_path, clock=clock, poll_interval_seconds=30) as s:
        assert isinstance(s.sim, GatedRms)
        s.sim.held.add("SP-api-secret")
        s.sim.gate.close(clock)  # the api shop's first RMS call never answers
        async with jobs_running(s):
            await clock.run_for(30)
            assert (await health(s))[0] == 200  # 30 s < 3 × 15 s
            await clock.run_for(20)
            assert await health(s) == (503, {"ok": False})
            assert cycled_within(s, "main", 15)  # the other shop goes on as usual

            s.sim.gate.open()  # RMS answers: the cycle completes
            await clock.run_for(5)
            status, body = await health(s)
            assert status == 200
            assert body["ok"] is True


@pytest.mark.usefixtures("gated")
async def test_a_shop_whose_rms_keeps_failing_logs_once_and_never_stalls_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    clock = SteppedClock()
    async with bot_stack(tmp_path, clock=clock, poll_interval_seconds=30) as s:
        assert isinstance(s.sim, GatedRms)
        s.sim.limited["SP-api-secret"] = 60  # every call: 429, Retry-After 60 s (3 retries)
        async with jobs_running(s):
            await clock.run_for(20)
            late = s.add_order("main")
            await clock.run_for(60)  # main's intake is every 30 s, whatever api is doing
            assert await s.rt.core.store.known_numbers([late]) == {late}

            await clock.run_for(600)  # api keeps failing, cycle after cycle
            del s.sim.limited["SP-api-secret"]
            await clock.run_for(300)
            assert s.rt.core.failing == {}

    def about_api(record: logging.LogRecord) -> bool:  # the once-a-day licence check aside
        return "api" in record.getMessage() and record.name not in ("core.licenses", "bot.wiring")

    failures = [r for r in caplog.records if r.levelno >= logging.WARNING and about_api(r)]
    recoveries = [r for r in caplog.records if "recovered" in r.getMessage() and about_api(r)]
    assert len(failures) == 1, [r.getMessage() for r in failures]
    assert len(recoveries) == 1, [r.getMessage() for r in recoveries]

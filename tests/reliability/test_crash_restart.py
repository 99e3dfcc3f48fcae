"""kill -9 mid-bulk, restart, repeat: every order is confirmed exactly once.

Each run seeds 500 orders in an RMS simulator that lives in this process (its state and its
own confirm log survive the kills), takes them in with a normal intake, then starts
``tests.reliability.crash_worker`` — startup reconciliation plus a bulk confirm of everything
in 注文確認待ち — and SIGKILLs it at a random point, one to three times, before letting a last
restart finish. Two kinds of kill point, both seeded:

* ``timer``: a random real delay after the worker said ``ready`` (anywhere in the bulk);
* ``in_rms``: from inside the simulator while it serves the n-th confirmOrder or getOrder,
  either just *before* RMS applies the request or just *after* (RMS confirmed the chunk but
  the answer never reaches the bot — the window the intent table exists for).

Then, in this process: RMS's own log holds each order exactly once, no order was ever sent in
two confirmOrder calls RMS received, and once RMS has moved on a final poll shows every order
楽天処理済 in the worker's SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.context import Core
from core.events import EventKind
from core.intake import intake
from core.model import ShopConfig, Stage
from core.poller import poll
from core.rms.client import RmsHttpClient
from core.store.sqlite import SqliteStore
from sandbox.rms import RmsSimulator
from tests.fakes import FakeClock
from tests.harness import SHOPS

ORDERS = 500
KILLS = 20  # SIGKILLed runs in all, across scenarios
KILLS_PER_SCENARIO = 2
MAX_SCENARIOS = 16
PARALLEL = 2  # scenarios at a time (each has its own simulator, database and worker)
MAX_TIMER = 0.8  # seconds after "ready"; a bulk of 500 takes about this long on loopback
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Trap:
    """Kill the worker from inside the simulator, at the n-th call of ``function``."""

    pid: int
    function: str
    nth: int
    after_apply: bool
    seen: int = 0
    sprung: bool = False


@dataclass
class Scenario:
    seed: int
    sim: RmsSimulator
    clock: FakeClock
    url: str
    db: Path
    trap: Trap | None = None
    kills: list[dict[str, Any]] = field(default_factory=list)


def _function_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def trap_middleware(scenario: Scenario) -> Any:
    @web.middleware
    async def trap(request: web.Request, handler: Any) -> web.StreamResponse:
        armed = scenario.trap
        if armed is None or armed.sprung or _function_of(request.path) != armed.function:
            return await handler(request)
        armed.seen += 1
        if armed.seen < armed.nth:
            return await handler(request)
        armed.sprung = True
        if not armed.after_apply:
            await request.read()
            os.kill(armed.pid, signal.SIGKILL)  # the request arrived; RMS never acted on it
            return web.Response(status=500)
        answer = await handler(request)  # RMS acted on it …
        os.kill(armed.pid, signal.SIGKILL)  # … and the bot dies before it reads the answer
        return answer

    return trap


@asynccontextmanager
async def simulator(seed: int, db: Path) -> AsyncIterator[Scenario]:
    """A simulator with the same 500 orders every time (its own seed is fixed)."""
    clock = FakeClock()
    sim = RmsSimulator(clock, requests_per_second=None, seed=0)
    shop_id, secret, key, _api, _channel = SHOPS["main"]
    sim.add_shop(shop_id, secret, key)
    for _ in range(ORDERS):
        sim.add_order(shop_id)
    app = sim.make_app()
    scenario = Scenario(seed, sim, clock, "", db)
    app.middlewares.append(trap_middleware(scenario))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    scenario.url = str(server.make_url("")).rstrip("/")
    try:
        yield scenario
    finally:
        await server.close()


@asynccontextmanager
async def local_core(scenario: Scenario) -> AsyncIterator[Core]:
    """The core in this process, on the worker's database (intake before, poll after)."""
    _shop_id, secret, key, api_option, channel = SHOPS["main"]
    config = ShopConfig(key="main", name="main shop", channel=channel, api_option=api_option)
    async with aiohttp.ClientSession() as session, SqliteStore.open(scenario.db) as store:
        await store.upsert_shop(config)
        client = RmsHttpClient(
            session,
            base_url=scenario.url,
            service_secret=secret,
            license_key=key,
            clock=scenario.clock,
            requests_per_second=1000.0,
            rng=random.Random(0),
        )
        yield Core(
            store=store,
            clock=scenario.clock,
            shops={"main": config},
            rms={"main": client},
            rng=random.Random(0),
        )


async def start_worker(scenario: Scenario, seed: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.reliability.crash_worker",
        "--db",
        str(scenario.db),
        "--rms",
        scenario.url,
        "--seed",
        str(seed),
        "--now",
        scenario.clock.now().isoformat(),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def killed_run(scenario: Scenario, rnd: random.Random, index: int) -> bool:
    """Start the worker and kill it at a random point; False when it finished first."""
    proc = await start_worker(scenario, scenario.seed * 100 + index)
    assert proc.stdout is not None
    ready = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    where: dict[str, Any] = {"run": index, "confirmed_before": len(scenario.sim.confirm_log)}
    if ready.strip() == b"ready":
        choices = ["timer", "confirmOrder"] + (["getOrder"] if index else [])
        where["mode"] = mode = rnd.choice(choices)
        if mode == "timer":
            await asyncio.sleep(rnd.uniform(0.0, MAX_TIMER / (index + 1)))
            if proc.returncode is None:
                proc.kill()
        else:
            nth = rnd.randint(1, 5) if mode == "confirmOrder" else 1
            scenario.trap = Trap(proc.pid, mode, nth, after_apply=rnd.random() < 0.6)
            where.update(nth=nth, after_apply=scenario.trap.after_apply)
            try:
                await asyncio.wait_for(proc.wait(), timeout=30)
            except TimeoutError:
                proc.kill()
            where["sprung"] = scenario.trap.sprung
            scenario.trap = None
    _out, err = await proc.communicate()
    where.update(returncode=proc.returncode, confirmed_at_kill=len(scenario.sim.confirm_log))
    scenario.kills.append(where)
    # a worker that was not killed must have finished cleanly
    assert proc.returncode in (0, -signal.SIGKILL), err.decode(errors="replace")[-2000:]
    return proc.returncode == -signal.SIGKILL


async def final_run(scenario: Scenario) -> dict[str, Any]:
    proc = await start_worker(scenario, scenario.seed * 100 + 99)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    lines = out.decode().splitlines()
    assert lines[0] == "ready"
    return json.loads(lines[-1])


async def one_scenario(seed: int, template: Path, tmp_path: Path) -> Scenario:
    """Kill the bulk up to KILLS_PER_SCENARIO times, let it finish, check RMS and the store."""
    rnd = random.Random(seed)
    db = tmp_path / f"crash-{seed}.sqlite3"
    shutil.copyfile(template, db)
    async with simulator(seed, db) as scenario:
        numbers = list(scenario.sim.state.orders)
        for index in range(KILLS_PER_SCENARIO):
            if not await killed_run(scenario, rnd, index):
                break  # the bulk finished before the kill: nothing left to interrupt
        summary = await final_run(scenario)

        log = [n for n, _ in scenario.sim.confirm_log]
        assert len(log) == ORDERS, (seed, scenario.kills, summary)
        assert sorted(log) == sorted(numbers)
        sent = Counter(
            n
            for call in scenario.sim.calls_to("confirmOrder")
            for n in call.body["orderNumberList"]
        )
        resent = {n: c for n, c in sent.items() if c > 1}
        assert resent == {}, f"seed {seed}: confirmOrder received twice for {resent}"

        scenario.clock.advance(minutes=31)  # RMS finishes processing: 楽天処理済
        async with local_core(scenario) as core:
            report = await poll(core, "main")
            assert report.error is None
            counts = await core.store.stage_counts("main")
            assert counts == {Stage.PROCESSED: ORDERS}, (seed, counts, scenario.kills)
            intents = await core.store.count_intents("main")
            assert intents == {"confirmed": ORDERS}, (seed, intents)
            confirmed = Counter(
                e.order_number
                for e in await core.store.unposted_events(100_000)
                if e.kind is EventKind.ORDER_CONFIRMED
            )
            assert set(confirmed) <= set(numbers)
            assert max(confirmed.values(), default=1) == 1, "an order announced confirmed twice"
    return scenario


async def take_in_template(tmp_path: Path) -> Path:
    """Intake of the 500 orders, once: every scenario starts from a copy of this file."""
    template = tmp_path / "template.sqlite3"
    async with simulator(-1, template) as scenario, local_core(scenario) as core:
        taken = await intake(core, "main")
        assert (taken.error, taken.new) == (None, ORDERS)
        assert await core.store.stage_counts("main") == {Stage.AWAITING: ORDERS}
    return template


@pytest.mark.slow
async def test_sigkill_mid_bulk_confirm_never_confirms_twice_and_loses_nothing(tmp_path):
    template = await take_in_template(tmp_path)
    scenarios: list[Scenario] = []
    seed = 0
    while sum(k["returncode"] == -signal.SIGKILL for s in scenarios for k in s.kills) < KILLS:
        assert seed < MAX_SCENARIOS, [s.kills for s in scenarios]
        batch = range(seed, seed + PARALLEL)
        scenarios += await asyncio.gather(*(one_scenario(n, template, tmp_path) for n in batch))
        seed += PARALLEL
    kills = [k for s in scenarios for k in s.kills if k["returncode"] == -signal.SIGKILL]
    mid_bulk = [k for k in kills if 0 < k["confirmed_at_kill"] < ORDERS]
    assert len(mid_bulk) >= KILLS // 4, kills  # the kills really landed inside the bulk
    assert any(k.get("after_apply") and k.get("sprung") for k in kills), kills

"""Ack latency of the real HTTP app, beside a minimal bolt app that only acks (the floor).

Three processes, as in production where RMS and Slack are remote:

* the **bot process** (this one): the bot as ``bot.wiring.running`` builds it (bolt + aiohttp,
  SQLite file store, RMS client) and the floor app, each served on 127.0.0.1 by aiohttp's
  AppRunner, both under the same conditions (same loop, ``gc.freeze()`` after start-up);
* the **services process** (``python -m bench.ack_latency --services``): the RMS simulator and
  the Slack emulator on 127.0.0.1, which answer the calls the bot makes after each ack. It
  prints one JSON line with their URLs, serves until its stdin closes, and also answers two
  bench-only routes on the emulator's port: ``POST /bench/origins?count=N`` (fresh
  response_urls) and ``GET /bench/stats`` (call counts, used to wait for quiet between batches);
* the **load generator** (``python -m bench.ack_latency``): signs each request just before
  sending it and times POST → full response, with 1, 10 and 50 clients on keep-alive
  connections.

Two request kinds:

* ``/confirm <an order RMS does not know>`` — parse, permission check, the commit of the
  request row, ack; the request worker (the bot's jobs run as in production) then does the
  getOrder and the publisher posts the report to the emulator;
* a click on RMSステータスを取得 (``refetch_order``, value ``main|<number>``) — the request
  row committed, ack, then getOrder and a response_url post by the worker.

The floor is an ``AsyncApp`` with the same client and signing secret whose listeners only ack,
served the same way, as bolt ships it (``process_before_response=False``: its dispatcher polls
every 10 ms for the ack); the ratio is bot p99 / floor p99 for the same kind and concurrency, and
the bound is 1.5× (DESIGN §8). Beside it the bench measures bolt's *minimum*: the same app
answering when its listener returns (``process_before_response=True``, no polling), as the bot
does; its p99 and the bot's ratio to it are shown, not bounded.

One more row runs the bot on PostgreSQL (``DATABASE_URL=postgresql://…``; a throwaway server
started as the tests start theirs, sandbox/postgres.py): /confirm at the highest concurrency,
its request commit going to PostgreSQL over loopback, beside its own floor and the SQLite figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.common import ROOT, Row, percentile, serve, verdict
from bot.settings import Settings
from bot.wiring import running, tune_gc
from core.clock import SystemClock
from sandbox.postgres import temp_postgres
from sandbox.rms import RmsSimulator
from sandbox.slack import SlackEmulator
from sandbox.slack.payloads import block_actions_body, command_body, sign

SECRET = "bench-signing-secret-0123456789"
BOT_TOKEN = "xoxb-emulator"
SHOP_ID, CHANNEL, USER = "111111", "C0SHOP1", "U0TANAKA"
SHOPS_TOML = f"""
[shops.main]
name = "メイン店"
service_secret = "SP-main-secret"
license_key = "SL-main-key"
channel = "{CHANNEL}"
"""
RATIO_BOUND = 1.5  # the bot's p99, request commit included, against a bolt app that only acks
WARMUP = 20
FORM = "application/x-www-form-urlencoded"


# -- the load generator (runs in its own process) ---------------------------------------------


def generator_main() -> None:
    """``python -m bench.ack_latency``: one JSON job per stdin line, one JSON result per line."""
    for line in sys.stdin:
        job = json.loads(line)
        bodies = [b.encode() for b in job["bodies"]]
        result = asyncio.run(_fire(job["url"], bodies, int(job["concurrency"]), int(job["warmup"])))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


class Generator:
    """The load generator process, started once and fed one job at a time."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Generator:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.ack_latency",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**26,
            cwd=ROOT,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.close()
        await self.proc.wait()

    async def fire(
        self, url: str, bodies: Sequence[bytes], concurrency: int, warmup: int
    ) -> dict[str, Any]:
        """POST every body with ``concurrency`` clients, the first ``warmup`` unmeasured
        (they open the connections); latencies in ms and the non-200 count."""
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        job = {
            "url": url,
            "bodies": [b.decode() for b in bodies],
            "concurrency": concurrency,
            "warmup": warmup,
        }
        self.proc.stdin.write((json.dumps(job) + "\n").encode())
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the load generator process died")
        return dict(json.loads(line))


async def _fire(url: str, bodies: Sequence[bytes], concurrency: int, warmup: int) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    latencies: list[float] = []
    statuses: list[int] = []
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: bytes, record: bool) -> None:
            headers = {"Content-Type": FORM, **sign(SECRET, body, int(time.time()))}
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                status = response.status
            if record:
                latencies.append((time.perf_counter() - started) * 1000)
                statuses.append(status)

        warm, measured = bodies[:warmup], bodies[warmup:]
        await asyncio.gather(*(one(b, False) for b in warm))
        queue = iter(measured)

        async def client() -> None:
            for body in queue:
                await one(body, True)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "latencies_ms": latencies,
        "errors": sum(1 for s in statuses if s != 200),
        "elapsed_s": elapsed,
    }


# -- the services process: RMS simulator and Slack emulator -------------------------------------


async def services_main() -> None:
    """``python -m bench.ack_latency --services``: serve the RMS simulator and the Slack emulator
    on 127.0.0.1, print ``{"rms_url", "slack_url", "api_url"}`` as one JSON line, and serve until
    stdin closes (or the process is terminated)."""
    logging.getLogger("aiohttp").setLevel(logging.ERROR)
    clock = SystemClock()
    sim = RmsSimulator(clock, requests_per_second=None)
    sim.add_shop(SHOP_ID, "SP-main-secret", "SL-main-key")
    slack = SlackEmulator(signing_secret=SECRET, bot_token=BOT_TOKEN)

    async def origins(request: web.Request) -> web.Response:
        count = int(request.query.get("count", "1"))
        new_origin = getattr(slack, "_new_origin", None)
        if new_origin is not None:
            urls = [str(new_origin(USER, CHANNEL)[1]) for _ in range(count)]
        else:
            urls = [f"{slack.base_url}/respond/bench"] * count
        return web.json_response({"urls": urls})

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({"calls": len(sim.calls) + len(slack.calls)})

    async def totals(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "chat.postMessage": len(slack.calls_to("chat.postMessage")),
                "response_url": len(slack.calls_to("response_url")),
                "getOrder": len(sim.calls_to("getOrder")),
            }
        )

    slack_app = slack.make_app()
    slack_app.router.add_post("/bench/origins", origins)
    slack_app.router.add_get("/bench/stats", stats)
    slack_app.router.add_get("/bench/totals", totals)
    async with serve(sim.make_app()) as rms_url, serve(slack_app) as slack_url:
        slack.base_url = slack_url
        print(
            json.dumps({"rms_url": rms_url, "slack_url": slack_url, "api_url": slack.api_url}),
            flush=True,
        )
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed


class Services:
    """The bot process's handle on the services process: its URLs and its bench routes."""

    def __init__(self, urls: dict[str, str], session: aiohttp.ClientSession) -> None:
        self.rms_url, self.slack_url, self.api_url = (
            urls["rms_url"],
            urls["slack_url"],
            urls["api_url"],
        )
        self.session = session

    async def response_urls(self, count: int) -> list[str]:
        async with self.session.post(
            f"{self.slack_url}/bench/origins", params={"count": str(count)}
        ) as response:
            response.raise_for_status()
            return [str(u) for u in (await response.json())["urls"]]

    async def calls(self) -> int:
        """RMS + Slack calls the services have answered so far."""
        async with self.session.get(f"{self.slack_url}/bench/stats") as response:
            response.raise_for_status()
            return int((await response.json())["calls"])

    async def totals(self) -> dict[str, int]:
        async with self.session.get(f"{self.slack_url}/bench/totals") as response:
            response.raise_for_status()
            return {str(k): int(v) for k, v in (await response.json()).items()}


@asynccontextmanager
async def services(ready_timeout: float = 30.0) -> AsyncIterator[Services]:
    """Start the services process; it is always stopped on the way out (errors included)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ack_latency",
        "--services",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), ready_timeout)
        if not line:
            raise RuntimeError("the services process exited before it was ready")
        async with aiohttp.ClientSession() as session:
            yield Services(json.loads(line), session)
    finally:
        await _stop(proc)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Close its stdin (it shuts down cleanly); terminate, then kill, if it does not exit."""
    if proc.returncode is None and proc.stdin is not None:
        proc.stdin.close()
    for signal_it in (None, proc.terminate, proc.kill):
        if proc.returncode is not None:
            return
        if signal_it is not None:
            with contextlib.suppress(ProcessLookupError):
                signal_it()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5.0)


# -- request bodies ------------------------------------------------------------------------------


class Bodies:
    """Fresh signed-later request bodies: every one names a different order number and carries
    its own response_url (an origin the emulator knows, made by the services process)."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.serial = 9_000_000_000

    def _number(self) -> str:
        self.serial += 1
        return f"{SHOP_ID}-20261130-{self.serial:010d}"

    async def make(self, kind: str, count: int) -> list[bytes]:
        who: dict[str, Any] = {
            "user_id": USER,
            "user_name": "tanaka",
            "team_id": "T0BENCH",
            "team_domain": "bench",
            "api_app_id": "A0BENCH",
        }
        response_urls = await self.svc.response_urls(count)
        out = []
        for i, response_url in enumerate(response_urls):
            number, trigger = self._number(), f"trigger-{self.serial}"
            if kind == "command":
                out.append(
                    command_body(
                        command="/confirm",
                        text=number,
                        channel_id=CHANNEL,
                        channel_name="shop",
                        response_url=response_url,
                        trigger_id=trigger,
                        **who,
                    )
                )
            else:
                action = {
                    "action_id": "refetch_order",
                    "block_id": "b0",
                    "type": "button",
                    "text": {"type": "plain_text", "text": "RMSステータスを取得"},
                    "value": f"main|{number}",
                }
                out.append(
                    block_actions_body(
                        action=action,
                        action_ts=f"{time.time():.6f}",
                        channel_id=CHANNEL,
                        channel_name="shop",
                        message_ts=f"1764460800.{i:06d}",
                        message={
                            "type": "message",
                            "ts": f"1764460800.{i:06d}",
                            "text": number,
                            "blocks": [],
                        },
                        response_url=response_url,
                        trigger_id=trigger,
                        **who,
                    )
                )
        return out


# -- the two apps ------------------------------------------------------------------------------


def floor_app(api_url: str, token: str, *, polls: bool = True) -> web.Application:
    """A bare bolt app that verifies the signature and acks. ``polls``: as bolt ships it, its
    dispatcher polling every 10 ms for the ack (the floor); else answering when the listener
    returns, as the bot does (bolt's minimum)."""
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=api_url),
        signing_secret=SECRET,
        process_before_response=not polls,
    )

    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    app.command("/confirm")(only_ack)
    app.action(re.compile(".*"))(only_ack)
    return app.web_app(path="/slack/events")


@asynccontextmanager
async def bot_and_floor(
    workdir: Path, database_url: str | None = None
) -> AsyncIterator[tuple[dict[str, str], Any, Services]]:
    """Start the services process, then the real bot (on a SQLite file in ``workdir`` unless
    ``database_url`` says otherwise), the floor and bolt's minimum here, on loopback; yields
    their URLs by name."""
    clock = SystemClock()
    shops = workdir / "shops.toml"
    shops.write_text(SHOPS_TOML, encoding="utf-8")
    async with services() as svc:
        settings = Settings(
            _env_file=None,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=svc.api_url,
            rms_base_url=svc.rms_url,
            shops_file=shops,
            database_url=database_url or f"sqlite:///{workdir / 'bot.sqlite3'}",
            # Fixed here so no variable of the environment changes what is measured.
            slack_app_token=None,
            language="ja",
            timezone="Asia/Tokyo",
            confirmers=(),
            admins=(),
            log_level="WARNING",
            # The work after each ack really runs (no 1 req/s queue): a heavier background.
            rms_requests_per_second=1000.0,
        )
        async with (
            running(settings, clock=clock) as rt,
            serve(rt.web_app()) as bot_url,
            serve(floor_app(svc.api_url, BOT_TOKEN)) as floor_url,
            serve(floor_app(svc.api_url, BOT_TOKEN, polls=False)) as minimum_url,
        ):
            tune_gc()  # as bot.wiring.serve does after start-up
            stop = asyncio.Event()
            jobs = asyncio.create_task(rt.jobs.run(stop))  # the request worker among them
            try:
                urls = {"floor": floor_url, "minimum": minimum_url, "bot": bot_url}
                yield {name: f"{url}/slack/events" for name, url in urls.items()}, rt, svc
            finally:
                stop.set()
                await jobs


async def _open_requests(rt: Any) -> int:
    return len(await rt.core.store.open_request_ids())


async def _settle(rt: Any, svc: Services, timeout: float) -> int:
    """Wait (≤ ``timeout``) until the requests stored by the acks have gone quiet.

    Quiet = no RMS or Slack call answered by the services process for 0.3 s (its
    ``/bench/stats`` count, polled every 50 ms), then the machine nearly idle. /confirm
    reports are posted at the poster's 1.1 s per-channel spacing (Slack's rate), so their
    backlog stays queued between calls; returns how many stored requests are still
    unfinished.
    """
    quiet, last, seen = 0.0, time.monotonic(), -1
    deadline = last + timeout
    while time.monotonic() < deadline and await _open_requests(rt):
        count = await svc.calls()
        if count != seen:
            seen, last = count, time.monotonic()
        quiet = time.monotonic() - last
        if quiet >= 0.3:
            break
        await asyncio.sleep(0.05)
    await _cpu_quiet(deadline)
    return await _open_requests(rt)


async def _cpu_quiet(deadline: float, window: float = 0.2, share: float = 0.1) -> None:
    """Wait (until ``deadline``) for the machine to be nearly idle: < ``share`` of its CPUs
    busy over ``window`` seconds. The bot defers its jobs while it acks; that deferred work
    (and, on PostgreSQL, the server's share of it) must not run during the floor's batch."""
    while time.monotonic() < deadline:
        before = _cpu_times()
        await asyncio.sleep(window)
        busy, total = (after - first for after, first in zip(_cpu_times(), before, strict=True))
        if total <= 0 or busy < share * total:
            return


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot (Linux /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [float(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


class GcPauses:
    """Collector pauses in this process (the bot and the floor share it)."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._started) * 1000)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def take(self) -> dict[str, float]:
        taken, self.pauses = self.pauses, []
        return {
            "gc_pauses": len(taken),
            "gc_max_ms": max(taken, default=0.0),
            "gc_over_20ms": sum(1 for p in taken if p > 20),
        }


def _figures(latencies: list[float], errors: int, elapsed: float) -> dict[str, Any]:
    return {
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "requests": len(latencies),
        "errors": errors,
        "per_s": len(latencies) / elapsed if elapsed else float("nan"),
    }


async def measure(
    requests: int = 500,
    levels: Sequence[int] = (1, 10, 50),
    settle: float = 3.0,
    rounds: int = 5,
    *,
    kinds: Sequence[str] = ("command", "button"),
    database_url: str | None = None,
) -> list[dict[str, Any]]:
    """p50/p99 per app, kind and concurrency.

    Floor and bot alternate in ``rounds`` batches (same sizes) and the latencies of each app
    are pooled, so both see the same machine noise; the ratio is measured in the same run.
    """
    logging.getLogger("slack_bolt").setLevel(logging.ERROR)
    results: list[dict[str, Any]] = []
    rounds = max(1, min(rounds, requests))
    with tempfile.TemporaryDirectory(prefix="rms-bench-ack-") as tmp, GcPauses() as gc_pauses:
        async with (
            Generator() as generator,
            bot_and_floor(Path(tmp), database_url) as (urls, rt, svc),
        ):
            bodies = Bodies(svc)
            for kind in kinds:
                for level in levels:
                    gc_pauses.take()
                    pooled: dict[str, list[float]] = {name: [] for name in urls}
                    errors = dict.fromkeys(urls, 0)
                    elapsed = dict.fromkeys(urls, 0.0)
                    for r in range(rounds):
                        size = requests // rounds + (1 if r < requests % rounds else 0)
                        for name, url in urls.items():
                            batch = await bodies.make(kind, size + max(level, WARMUP))
                            got = await generator.fire(url, batch, level, max(level, WARMUP))
                            pooled[name] += got["latencies_ms"]
                            errors[name] += got["errors"]
                            elapsed[name] += got["elapsed_s"]
                            await _settle(rt, svc, settle)
                    figures: dict[str, Any] = {"kind": kind, "concurrency": level, "rounds": rounds}
                    for name in urls:
                        figures[name] = _figures(pooled[name], errors[name], elapsed[name])
                    bot = figures["bot"]
                    figures["ratio_p99"] = bot["p99_ms"] / figures["floor"]["p99_ms"]
                    figures["ratio_p50"] = bot["p50_ms"] / figures["floor"]["p50_ms"]
                    figures["ratio_p99_minimum"] = bot["p99_ms"] / figures["minimum"]["p99_ms"]
                    figures["backlog"] = await _open_requests(rt)
                    figures.update(gc_pauses.take())
                    results.append(figures)
            totals = await svc.totals()
            posted, responded = totals["chat.postMessage"], totals["response_url"]
    for figures in results:
        figures["slack_posts_total"] = posted
        figures["response_url_posts_total"] = responded
    return results


async def measure_postgres(requests: int, level: int, settle: float, rounds: int) -> dict[str, Any]:
    """/confirm at ``level`` clients with the bot on a throwaway PostgreSQL server."""
    with temp_postgres() as server:
        url = server.create_database("bench_ack")
        (figures,) = await measure(
            requests, (level,), settle, rounds, kinds=("command",), database_url=url
        )
    figures["store"] = "postgresql"
    return figures


async def run(
    requests: int = 500, levels: Sequence[int] = (1, 10, 50), settle: float = 3.0, rounds: int = 5
) -> list[Row]:
    rows = []
    found = await measure(requests, levels, settle, rounds)
    sqlite_p99 = {f["concurrency"]: f["bot"]["p99_ms"] for f in found if f["kind"] == "command"}
    found.append(await measure_postgres(requests, max(levels), settle, rounds))
    for f in found:
        bot, floor, minimum = f["bot"], f["floor"], f["minimum"]
        what = "/confirm" if f["kind"] == "command" else "button click"
        errors = bot["errors"] + floor["errors"] + minimum["errors"]
        on_pg = f.get("store") == "postgresql"
        detail = (
            f"p50 {bot['p50_ms']:.1f} ms; floor p50 {floor['p50_ms']:.1f} / p99 "
            f"{floor['p99_ms']:.1f} ms; ×{f['ratio_p99']:.2f} floor p99; bolt's minimum p50 "
            f"{minimum['p50_ms']:.1f} / p99 {minimum['p99_ms']:.1f} ms, "
            f"×{f['ratio_p99_minimum']:.2f}; longest GC pause {f['gc_max_ms']:.0f} ms"
            + (f"; SQLite p99 {sqlite_p99[f['concurrency']]:.1f} ms" if on_pg else "")
            + (f"; {errors} non-200" if errors else "")
        )
        bound = RATIO_BOUND * floor["p99_ms"]
        ok = bot["p99_ms"] <= bound and errors == 0
        rows.append(
            Row(
                "ack",
                f"ack p99, {what}, {f['concurrency']} concurrent"
                + (", PostgreSQL" if on_pg else ""),
                bot["p99_ms"],
                "ms",
                f"≤ {RATIO_BOUND} × floor p99 = {bound:.1f} ms",
                verdict(ok),
                detail,
                json.loads(json.dumps(f)),
            )
        )
    return rows


if __name__ == "__main__":
    if sys.argv[1:] == ["--services"]:
        asyncio.run(services_main())
    else:
        generator_main()

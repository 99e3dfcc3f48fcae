"""``make demo``: the RMS simulator, the Slack emulator and the bot in one process, on loopback.

    python -m sandbox.demo [--seconds N] [--port-base N] [--data-dir D] [--no-faults] [--quiet]
                           [--lang ja|en]

Ports: console 8082, simulator 8081, bot 3000; ``--port-base N`` (or ``DEMO_PORT_BASE=N``) moves
them to N, N+1, N+2; a busy port is replaced by a free one and the banner says so.

The bot is the real one (bolt over HTTP, requests signed with a secret generated at start) with
Settings built here, so no ``.env`` is needed. The scenario (sandbox/scenario.py) seeds two shops
with ~40 orders; new orders keep arriving; RMS finishes confirmed orders after ~45 s instead of
~30 min so the whole story plays in a few minutes. Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.settings import Settings, validate_settings
from bot.wiring import Runtime, running
from core.clock import SystemClock
from core.ports import Clock
from sandbox.rms import RmsSimulator
from sandbox.scenario import SHOPS, SUMMARY_CHANNEL, ScenarioInfo, arrivals, seed, shops_toml, story
from sandbox.slack import PostRate, SlackEmulator

logger = logging.getLogger("sandbox.demo")

HOST = "127.0.0.1"
DEFAULT_PORTS = {"slack": 8082, "rms": 8081, "bot": 3000}
DATA_DIR = Path("data/demo")
PORT_BASE_ENV = "DEMO_PORT_BASE"


@dataclass
class DemoConfig:
    """How to build the demo; tests use ports 0, a temporary data_dir and no background noise."""

    data_dir: Path = DATA_DIR
    host: str = HOST
    slack_port: int = DEFAULT_PORTS["slack"]
    rms_port: int = DEFAULT_PORTS["rms"]
    bot_port: int = DEFAULT_PORTS["bot"]
    clock: Clock | None = None  # None: the real clock
    processing_delay: timedelta = timedelta(seconds=45)
    sim_requests_per_second: float | None = 5.0
    bot_requests_per_second: float = 2.0
    poll_interval_seconds: float = 30.0
    tick: float = 5.0
    language: str = "ja"
    seed: int = 0


@dataclass
class Demo:
    """The running pieces and where they listen."""

    config: DemoConfig
    sim: RmsSimulator
    slack: SlackEmulator
    rt: Runtime
    info: ScenarioInfo
    console_url: str
    rms_url: str
    bot_url: str
    moved: list[str] = field(default_factory=list)  # "wanted 8082, got 40123" notes

    @property
    def health_url(self) -> str:
        return self.bot_url.rsplit("/slack/events", 1)[0] + "/healthz"

    def background(
        self, stop: asyncio.Event, *, arrivals_on: bool = True, faults: bool = True
    ) -> list[asyncio.Task[Any]]:
        """Start the bot's jobs loop and the scenario's clock-driven events."""
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(self.rt.jobs.run(stop), name="jobs")]
        if arrivals_on:
            sleep = asyncio.sleep
            tasks += [
                asyncio.create_task(
                    arrivals(self.sim, SHOPS, stop, sleep, faults=faults), name="arrivals"
                ),
                asyncio.create_task(story(self.sim, self.info, stop, sleep), name="story"),
            ]
        return tasks


async def _serve(
    app: web.Application, host: str, port: int, moved: list[str], what: str
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``port``, or on a free port when that one is taken."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        if port == 0:
            await runner.cleanup()
            raise
        await web.TCPSite(runner, host, 0).start()
    actual = int(runner.addresses[0][1])
    if port and actual != port:
        moved.append(f"{what}: port {port} is busy, using {actual}")
    return runner, actual


# One shop confirms by itself, the other only says what it would do (README "Auto-confirm").
DEMO_AUTO = {
    "main": 'auto_confirm = "dry_run"\n',
    "api": (
        'auto_confirm = "on"\n'
        "holds = { cod_over = 10000 }\n"
        'fees = { by_region = { "関東" = 600, "北海道" = 1200, "沖縄" = 1500 }, default = 800, '
        "remote_island = 1000 }\n"
    ),
}


def _fresh_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def demo_settings(
    config: DemoConfig, *, slack_api_url: str, rms_base_url: str, signing_secret: str, bot_port: int
) -> Settings:
    """Settings for the demo bot, from values only (no .env, no os.environ)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    shops_file = config.data_dir / "shops.toml"
    shops = tuple(replace(shop, extra=DEMO_AUTO.get(shop.key, "")) for shop in SHOPS)
    shops_file.write_text(shops_toml(shops), encoding="utf-8")
    database = config.data_dir / "rms-bot.sqlite3"
    _fresh_database(database)
    environ = {
        "SLACK_BOT_TOKEN": "xoxb-emulator",
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_API_URL": slack_api_url,
        "PORT": str(bot_port),
        "RMS_BASE_URL": rms_base_url,
        "RMS_ORDER_URL": rms_base_url + "/_sim/orders/{order_number}",  # the card's RMS link
        "SHOPS_FILE": str(shops_file),
        "DATABASE_URL": f"sqlite:///{database}",
        "POLL_INTERVAL_SECONDS": str(config.poll_interval_seconds),
        "SUMMARY_CHANNEL": SUMMARY_CHANNEL,
        "LANGUAGE": config.language,
        "RMS_REQUESTS_PER_SECOND": str(config.bot_requests_per_second),
        "SECRET_KEY": secrets.token_urlsafe(32),
        "LOG_LEVEL": "INFO",
    }
    settings, problems = validate_settings(env_file=None, environ=environ)
    if settings is None:
        raise RuntimeError("demo settings are invalid: " + "; ".join(problems))
    return settings


@asynccontextmanager
async def build(config: DemoConfig | None = None) -> AsyncIterator[Demo]:
    """Start simulator, emulator and bot on loopback; stop and close all of them on exit."""
    config = config or DemoConfig()
    clock = config.clock or SystemClock()
    moved: list[str] = []
    runners: list[web.AppRunner] = []
    sim = RmsSimulator(
        clock,
        requests_per_second=config.sim_requests_per_second,
        processing_delay=config.processing_delay,
        seed=config.seed,
    )
    info = seed(sim, clock.now())
    signing_secret = secrets.token_hex(32)
    slack = SlackEmulator(signing_secret=signing_secret, post_rate=PostRate())
    slack.rate_clock = lambda: clock.now().timestamp()  # Slack's per-channel rate, on our clock
    try:
        runner, rms_port = await _serve(
            sim.make_app(), config.host, config.rms_port, moved, "RMS simulator"
        )
        runners.append(runner)
        rms_url = f"http://{config.host}:{rms_port}"
        runner, slack_port = await _serve(
            slack.make_app(), config.host, config.slack_port, moved, "Slack console"
        )
        runners.append(runner)
        slack.base_url = f"http://{config.host}:{slack_port}"
        settings = demo_settings(
            config,
            slack_api_url=slack.api_url,
            rms_base_url=rms_url,
            signing_secret=signing_secret,
            bot_port=config.bot_port,
        )
        async with running(settings, clock=clock, tick=config.tick) as rt:
            runner, bot_port = await _serve(
                rt.web_app(), config.host, config.bot_port, moved, "bot"
            )
            runners.append(runner)
            slack.bot_url = f"http://{config.host}:{bot_port}/slack/events"
            try:
                yield Demo(
                    config,
                    sim,
                    slack,
                    rt,
                    info,
                    f"{slack.base_url}/",
                    rms_url,
                    slack.bot_url,
                    moved,
                )
            finally:
                await runners.pop().cleanup()  # the bot stops taking requests first
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        await slack.close()


def posts_per_channel(slack: SlackEmulator) -> dict[str, int]:
    """How many messages the bot posted in each channel (edits in place are not posts)."""
    counts: dict[str, int] = {}
    for call in slack.calls_to("chat.postMessage"):
        if call.error is None:
            channel = str(call.params.get("channel", ""))
            counts[channel] = counts.get(channel, 0) + 1
    return counts


def posts_report(demo: Demo) -> str:
    """The line ``make demo`` prints when it stops: posts per channel, by channel name."""
    counts = posts_per_channel(demo.slack)
    names = demo.slack.channels
    parts = [f"#{names.get(ch, ch)} {n}" for ch, n in sorted(counts.items())]
    return "投稿数 / posts per channel: " + (", ".join(parts) or "0")


def banner(demo: Demo) -> str:
    """What to open and what to try (Japanese first, English after)."""
    main = demo.info.shop("main")
    fee = demo.info.of_shop("fee_unset", main)[:1] or demo.info.orders["fee_unset"][:1]
    sample = demo.info.of_shop("normal", main)[0]
    in_rms = demo.info.of_shop("confirmed_in_rms", main)[0]
    lines = [
        "",
        "rms-bot デモ / demo",
        "=" * 64,
        f"  Slack コンソール (console):  {demo.console_url}",
        f"  RMS シミュレーター操作 (simulator control):  {demo.rms_url}/_sim/orders",
        f"  bot: {demo.bot_url}   (health: {demo.health_url})",
        "",
        "  試してみる / try:",
        f"    /confirm {sample}      1件の注文確認 → 楽天処理中 → 約45秒後に楽天処理済",
        "    /confirm all               全件確認 (確認ボタン付き) / confirm every awaiting order",
        "    /rms flagged               要対応の注文 / orders that need action",
        "    [送料を入力して承認…]       送料未設定 (-9,999円) のカードで送料を入力 / enter the fee"
        + (f" ({fee[0]})" if fee else ""),
        f"    /confirm {in_rms}      RMSで確認済みの注文 / already confirmed in RMS",
        "    /rms-status all            RMSステータスを取得 / re-fetch RMS status",
        "    /rms help                  使い方 / help",
        "",
        "  #shop-main = メイン店 (APIオプションなし / no API option)   "
        "#shop-second = API店 (APIオプションあり)   #managers = サマリー",
        "  新しい注文が30〜60秒ごとに届きます / new orders arrive every 30–60 s.",
        "  停止: Ctrl-C / stop with Ctrl-C",
        "=" * 64,
    ]
    lines[3:3] = [f"  ({note})" for note in demo.moved]
    return "\n".join(lines)


async def run(
    config: DemoConfig, *, seconds: float | None = None, faults: bool = True, out: Any = None
) -> int:
    """Run the demo until Ctrl-C/SIGTERM (or ``seconds``); returns the exit status."""
    out = out or sys.stdout
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        async with build(config) as demo:
            out.write(banner(demo) + "\n")
            out.flush()
            tasks = demo.background(stop, faults=faults)
            with suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await stop.wait()
            stop.set()
            out.write("\n停止しています… / stopping…\n")
            out.write(posts_report(demo) + "\n")
            out.flush()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    out.write("停止しました / stopped\n")
    out.flush()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.demo",
        description="Run the bot against the RMS simulator and the Slack emulator (loopback).",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="exit by itself after this many seconds (smoke test)",
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=None,
        metavar="N",
        help="move the ports to console N, simulator N+1, bot N+2 (also DEMO_PORT_BASE=N); "
        f"without it: console {DEFAULT_PORTS['slack']}, simulator {DEFAULT_PORTS['rms']}, "
        f"bot {DEFAULT_PORTS['bot']}; a busy port is replaced by a free one",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="where shops.toml and the (fresh) database go (default data/demo)",
    )
    parser.add_argument(
        "--no-faults", action="store_true", help="never inject QPS or maintenance errors"
    )
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    parser.add_argument(
        "--lang",
        choices=("ja", "en"),
        default="ja",
        help="language of the bot's messages (default ja)",
    )
    return parser


def config_from(args: argparse.Namespace) -> DemoConfig:
    """The DemoConfig the command line (and DEMO_PORT_BASE) asked for."""
    config = DemoConfig(data_dir=args.data_dir, language=args.lang)
    if args.port_base is not None:
        base = args.port_base
        config.slack_port, config.rms_port, config.bot_port = base, base + 1, base + 2
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry: ``make demo`` and ``python -m bot demo`` end up here."""
    if argv is None:
        argv = sys.argv[1:]
        if argv[:1] == ["demo"]:  # python -m bot demo
            argv = argv[1:]
    parser = _parser()
    args = parser.parse_args(argv)
    if args.port_base is None and os.environ.get(PORT_BASE_ENV, "").strip():
        try:
            args.port_base = int(os.environ[PORT_BASE_ENV])
        except ValueError:
            parser.error(
                f"{PORT_BASE_ENV} must be a port number, got {os.environ[PORT_BASE_ENV]!r}"
            )
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    config = config_from(args)
    try:
        return asyncio.run(run(config, seconds=args.seconds, faults=not args.no_faults))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

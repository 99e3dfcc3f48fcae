"""The whole bot on loopback: RMS simulator + Slack emulator + the real aiohttp/bolt app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from bot.settings import Settings
from bot.wiring import Runtime, running
from sandbox.rms import RmsSimulator
from sandbox.slack import SlackEmulator
from tests.fakes import FakeClock

SIGNING_SECRET = "test-signing-secret-0123456789"
SHOPS_TOML = """
[shops.main]
name = "メイン店"
service_secret = "SP-main-secret"
license_key = "SL-main-key"
api_option = false
channel = "C0SHOP1"

[shops.api]
name = "API店"
service_secret = "SP-api-secret"
license_key = "SL-api-key"
api_option = true
channel = "C0SHOP2"
"""
SHOP_IDS = {"main": "111111", "api": "222222"}


def button(blocks: Sequence[dict[str, Any]], action_id: str) -> dict[str, Any]:
    """The first button with ``action_id`` in a message's blocks."""
    return next(
        e
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )


async def confirm_all(slack: SlackEmulator, channel: str, user: str = "U0TANAKA") -> None:
    """`/confirm all` in ``channel``, then a click on the prompt's confirm-all button."""
    from handlers.render import ids

    await slack.send_command("/confirm", "all", user=user, channel=channel)
    prompt = slack.ephemerals(user, channel)[-1]
    await slack.click(
        channel=channel,
        message_ts=prompt.ts,
        action_id=ids.CONFIRM_ALL,
        value=button(prompt.blocks, ids.CONFIRM_ALL)["value"],
        user=user,
    )


@dataclass
class Stack:
    """Handles a test needs: the simulator, the emulator, the runtime and the fake clock."""

    clock: FakeClock
    sim: RmsSimulator
    slack: SlackEmulator
    rt: Runtime
    settings: Settings | None = None
    _bot: AsyncExitStack | None = None

    async def crash(self) -> None:
        """Drop the running bot and all its memory; the database file stays as committed."""
        if self._bot is not None:
            await self._bot.aclose()
            self._bot = None

    async def restart(self) -> None:
        """Start a new bot process on the same database (after ``crash``)."""
        await self.crash()
        assert self.settings is not None
        self._bot = AsyncExitStack()
        self.rt = await self._bot.enter_async_context(running(self.settings, clock=self.clock))
        bot_server = TestServer(self.rt.web_app())
        await bot_server.start_server()
        self._bot.push_async_callback(bot_server.close)
        self.slack.bot_url = str(bot_server.make_url("/slack/events"))

    def add_order(self, shop: str = "main", **kwargs: Any) -> str:
        return self.sim.add_order(SHOP_IDS[shop], **kwargs)

    async def settle(self) -> None:
        """Wait until every piece of work started after an ack has finished."""
        import asyncio

        for _ in range(200):
            if self.rt.tracker.pending == 0:
                break
            await asyncio.sleep(0.01)
        await self.rt.worker.run_once()
        await self.rt.deps.publisher.drain()


def _sqlite_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.sqlite3'}"


new_database_url: Callable[[Path], str] = _sqlite_file
"""The DATABASE_URL a stack runs on unless told: the contract suite points it at PostgreSQL."""


@asynccontextmanager
async def bot_stack(tmp_path: Path, **overrides: Any) -> AsyncIterator[Stack]:
    """Start everything on 127.0.0.1 with free ports; stop it all afterwards."""
    clock = overrides.pop("clock", None) or FakeClock()
    shops_toml = overrides.pop("shops_toml", SHOPS_TOML)
    sim = RmsSimulator(clock, requests_per_second=None)
    sim.add_shop(SHOP_IDS["main"], "SP-main-secret", "SL-main-key")
    sim.add_shop(SHOP_IDS["api"], "SP-api-secret", "SL-api-key")
    rms_server = TestServer(sim.make_app())
    await rms_server.start_server()
    slack = SlackEmulator(signing_secret=SIGNING_SECRET)
    slack_server = TestServer(slack.make_app())
    await slack_server.start_server()
    slack.base_url = str(slack_server.make_url("")).rstrip("/")
    shops = tmp_path / "shops.toml"
    shops.write_text(shops_toml, encoding="utf-8")
    values: dict[str, Any] = {
        "slack_bot_token": "xoxb-emulator",
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "rms_base_url": str(rms_server.make_url("")).rstrip("/"),
        "shops_file": shops,
        "database_url": new_database_url(tmp_path),
        "secret_key": "a-test-secret-key-for-fernet",
    }
    values.update(overrides)
    settings = Settings(_env_file=None, **values)
    stack: Stack | None = None
    try:
        async with running(settings, clock=clock) as rt:
            bot_server = TestServer(rt.web_app())
            await bot_server.start_server()
            slack.bot_url = str(bot_server.make_url("/slack/events"))
            stack = Stack(clock, sim, slack, rt, settings)
            try:
                yield stack
            finally:
                await bot_server.close()
    finally:
        if stack is not None:
            await stack.crash()
        await slack_server.close()
        await rms_server.close()

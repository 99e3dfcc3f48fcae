"""Socket Mode without the network: the real bolt handler against the emulator's WebSocket."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from core.intake import intake
from handlers.guard import Role, Verdict
from tests.stack import Stack, bot_stack
from tests.stepped_clock import SteppedClock

APP_TOKEN = "xapp-emulator-app-token"


def confirm_command(s: Stack, text: str) -> dict[str, Any]:
    """The payload of `/confirm <text>` in #shop-main, as Slack sends it over the socket."""
    return {
        "command": "/confirm",
        "text": text,
        "user_id": "U0TANAKA",
        "user_name": "tanaka",
        "channel_id": "C0SHOP1",
        "channel_name": "shop",
        "team_id": "T0EMULATOR",
        "api_app_id": "A0EMULATOR",
        "response_url": f"{s.slack.base_url}/respond/socket",
        "trigger_id": "trigger-1",
    }


async def test_socket_mode_delivers_commands_and_returns_the_ack(tmp_path):
    async with bot_stack(tmp_path, slack_app_token=APP_TOKEN, slack_signing_secret=None) as s:
        assert s.rt.settings.socket_mode
        number = s.add_order()
        await intake(s.rt.core, "main")
        handler = AsyncSocketModeHandler(s.rt.app, APP_TOKEN)
        await handler.connect_async()
        try:
            await s.slack.socket_mode.wait_connected()
            payload = confirm_command(s, number)
            ack = await s.slack.socket_mode.send("slash_commands", payload)
            assert "1件" in ack["payload"]["text"]
            await s.settle()
            assert [n for n, _ in s.sim.confirm_log] == [number]
            bad = await s.slack.socket_mode.send("slash_commands", {**payload, "text": "x-1"})
            assert "x-1" in str(bad["payload"])
        finally:
            await handler.close_async()


async def test_the_jobs_wait_while_a_command_is_being_answered(tmp_path, monkeypatch):
    """The gate of core.store.lock in Socket Mode: a bolt middleware's next() only sets a
    flag (the listener runs after the chain returns), so the gate is entered by the listener."""
    clock = SteppedClock()
    async with bot_stack(
        tmp_path, clock=clock, slack_app_token=APP_TOKEN, slack_signing_secret=None
    ) as s:
        store, steps = s.rt.core.store, []
        job_done = asyncio.Event()

        async def job() -> None:  # a unit of work of the jobs (not started by a request)
            async with store.read():
                steps.append("job")
            job_done.set()

        real_check = s.rt.deps.auth.check

        async def check(user: str, role: Role, shop: str) -> Verdict:
            # the jobs start a unit of work while the command is being answered
            asyncio.get_running_loop().create_task(job(), context=contextvars.Context())
            for _ in range(50):
                await asyncio.sleep(0)
            steps.append("answer")
            return await real_check(user, role, shop)

        monkeypatch.setattr(s.rt.deps.auth, "check", check)
        handler = AsyncSocketModeHandler(s.rt.app, APP_TOKEN)
        await handler.connect_async()
        try:
            await s.slack.socket_mode.wait_connected()
            command = confirm_command(s, s.add_order())
            ack = await s.slack.socket_mode.send("slash_commands", command)
            assert "1件" in ack["payload"]["text"]
            await asyncio.wait_for(job_done.wait(), 10)  # a safety net: the ack opened the gate
        finally:
            await handler.close_async()
        assert steps == ["answer", "job"]

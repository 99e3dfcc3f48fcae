"""The ack path of the real app: the answer goes out at the ack, and the jobs wait for it."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.listener import asyncio_runner

from handlers.guard import Role, Verdict
from tests.stack import bot_stack
from tests.stepped_clock import SteppedClock

APP_TOKEN = "xapp-emulator-app-token"


class _CountingSleeps:
    """bolt's listener runner sees this as its ``asyncio``: its sleeps are counted."""

    def __init__(self) -> None:
        self.sleeps = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float) -> None:
        self.sleeps += 1
        await asyncio.sleep(delay)


async def test_the_answer_is_sent_at_the_ack_without_polling_for_it(tmp_path, monkeypatch):
    """bolt's default mode polls every 10 ms for the ack: each answer waited ≥ 10 ms."""
    counting = _CountingSleeps()
    monkeypatch.setattr(asyncio_runner, "asyncio", counting)
    async with bot_stack(tmp_path) as s:
        number = s.add_order()
        result = await s.slack.send_command("/confirm", number)
        assert result.status == 200 and "1件" in str(result.json or result.body)
        status = await s.slack.send_command("/rms-status", number)
        assert status.status == 200
        assert counting.sleeps == 0


async def test_in_socket_mode_the_jobs_wait_while_a_command_is_being_answered(
    tmp_path, monkeypatch
):
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
            ack = await s.slack.socket_mode.send(
                "slash_commands",
                {
                    "command": "/confirm",
                    "text": s.add_order(),
                    "user_id": "U0TANAKA",
                    "user_name": "tanaka",
                    "channel_id": "C0SHOP1",
                    "channel_name": "shop",
                    "team_id": "T0EMULATOR",
                    "api_app_id": "A0EMULATOR",
                    "response_url": f"{s.slack.base_url}/respond/socket",
                    "trigger_id": "trigger-1",
                },
            )
            assert "1件" in ack["payload"]["text"]
            await asyncio.wait_for(job_done.wait(), 10)  # a safety net: the ack opened the gate
        finally:
            await handler.close_async()
        assert steps == ["answer", "job"]

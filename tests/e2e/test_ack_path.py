"""The ack path of the real app over signed HTTP: the answer goes out at the ack.

(The jobs waiting for an ack in Socket Mode: tests/e2e/test_socket_mode.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.listener import asyncio_runner

from tests.stack import bot_stack


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

"""Socket Mode without the network: the real bolt handler against the emulator's WebSocket."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from core.intake import intake
from tests.stack import bot_stack

APP_TOKEN = "xapp-emulator-app-token"


async def test_socket_mode_delivers_commands_and_returns_the_ack(tmp_path):
    async with bot_stack(tmp_path, slack_app_token=APP_TOKEN, slack_signing_secret=None) as s:
        assert s.rt.settings.socket_mode
        number = s.add_order()
        await intake(s.rt.core, "main")
        handler = AsyncSocketModeHandler(s.rt.app, APP_TOKEN)
        await handler.connect_async()
        try:
            await s.slack.socket_mode.wait_connected()
            payload = {
                "command": "/confirm",
                "text": number,
                "user_id": "U0TANAKA",
                "user_name": "tanaka",
                "channel_id": "C0SHOP1",
                "channel_name": "shop",
                "team_id": "T0EMULATOR",
                "api_app_id": "A0EMULATOR",
                "response_url": f"{s.slack.base_url}/respond/socket",
                "trigger_id": "trigger-1",
            }
            ack = await s.slack.socket_mode.send("slash_commands", payload)
            assert "1件" in ack["payload"]["text"]
            await s.settle()
            assert [n for n, _ in s.sim.confirm_log] == [number]
            bad = await s.slack.socket_mode.send("slash_commands", {**payload, "text": "x-1"})
            assert "x-1" in str(bad["payload"])
        finally:
            await handler.close_async()

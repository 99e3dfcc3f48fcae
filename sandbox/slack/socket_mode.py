"""Socket Mode for the emulator: apps.connections.open and a WebSocket that delivers envelopes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import WSMsgType, web


class SocketMode:
    """Slack's side of Socket Mode: hands out a wss URL, sends envelopes, collects the acks."""

    def __init__(self, app_token: str = "xapp-emulator-app-token") -> None:
        self.app_token = app_token
        self.base_url = "http://127.0.0.1"
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._connected = asyncio.Event()

    def add_routes(self, app: web.Application) -> None:
        """GET /link is the WebSocket the client connects to."""
        app.router.add_get("/link", self._link)

    def connections_open(self, token: str | None) -> dict[str, Any]:
        """The body of apps.connections.open for ``token``."""
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        ws_url = self.base_url.replace("http://", "ws://", 1).rstrip("/") + "/link"
        return {"ok": True, "url": ws_url}

    async def wait_connected(self, timeout: float = 5.0) -> None:
        """Return once a client has connected and received hello."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def send(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Deliver one envelope (``slash_commands``, ``interactive``, ``events_api``) and return
        the client's ack message."""
        if not self._sockets:
            raise RuntimeError("no Socket Mode client is connected")
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return await asyncio.wait_for(future, timeout)

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "connection_info": {"app_id": "A0EMULATOR"},
            }
        )
        self._connected.set()
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                ack = message.json()
                future = self._acks.pop(str(ack.get("envelope_id")), None)
                if future is not None and not future.done():
                    future.set_result(ack)
        finally:
            self._sockets.remove(ws)
        return ws

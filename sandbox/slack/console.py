"""The browser console: a Slack-like page and the JSON API it uses to act as a staff member."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sandbox.slack.emulator import Ephemeral, InboundResult, Message, SlackEmulator, View

STATIC = Path(__file__).with_name("static")
_COMMAND = re.compile(r"^(/[\w-]+)(?:\s+(.*))?$", re.DOTALL)


def add_routes(app: web.Application, emu: SlackEmulator) -> None:
    """GET / and /console/*: the page, its assets, state polling and the staff actions."""

    async def index(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(
            STATIC / "index.html", headers={"Content-Type": "text/html; charset=utf-8"}
        )

    def action(
        handler: Callable[[dict[str, Any], str], Awaitable[dict[str, Any]]],
        *,
        needs_bot: bool = True,
    ) -> Any:
        async def route(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                return _json({"error": "expected a JSON object"}, status=400)
            user = str(body.get("user") or next(iter(emu.users)))
            if needs_bot and not emu.bot_url:
                return _json({"error": "no bot_url configured"}, status=409)
            try:
                return _json(await handler(body, user))
            except (KeyError, LookupError) as exc:
                return _json({"error": f"not found: {exc}"}, status=404)

        return route

    async def command(body: dict[str, Any], user: str) -> dict[str, Any]:
        match = _COMMAND.match(str(body.get("text", "")).strip())
        if not match:
            return {"hint": "スラッシュコマンドを入力してください（例: /rms-status all）"}
        channel = str(body.get("channel") or next(iter(emu.channels)))
        return _result(await emu.send_command(match[1], match[2] or "", user=user, channel=channel))

    async def click(body: dict[str, Any], user: str) -> dict[str, Any]:
        args = {
            "action_id": str(body["action_id"]),
            "value": str(body.get("value") or ""),
            "block_id": str(body.get("block_id") or ""),
            "user": user,
        }
        if body.get("view_id"):
            return _result(await emu.click_view(str(body["view_id"]), **args))
        return _result(
            await emu.click(
                channel=str(body["channel"]), message_ts=str(body["message_ts"]), **args
            )
        )

    async def submit(body: dict[str, Any], user: str) -> dict[str, Any]:
        return _result(
            await emu.submit_view(str(body["view_id"]), body.get("values") or {}, user=user)
        )

    async def close(body: dict[str, Any], user: str) -> dict[str, Any]:
        emu.close_views(user, str(body["view_id"]) if body.get("view_id") else None)
        emu._notify()
        return {"closed": True}

    async def home(_body: dict[str, Any], user: str) -> dict[str, Any]:
        return _result(await emu.open_app_home(user))

    async def state(request: web.Request) -> web.Response:
        since = request.query.get("since")
        if since is not None and since == str(emu.version):
            return _json({"version": emu.version, "unchanged": True})
        user = request.query.get("user") or next(iter(emu.users))
        channel = request.query.get("channel") or next(iter(emu.channels))
        return _json(console_state(emu, user, channel))

    app.router.add_get("/", index)
    app.router.add_static("/console/static/", STATIC)
    app.router.add_get("/console/state", state)
    app.router.add_post("/console/command", action(command))
    app.router.add_post("/console/click", action(click))
    app.router.add_post("/console/submit", action(submit))
    app.router.add_post("/console/close", action(close, needs_bot=False))
    app.router.add_post("/console/home", action(home))


def console_state(emu: SlackEmulator, user: str, channel: str) -> dict[str, Any]:
    """Everything the page shows for ``user`` looking at ``channel``."""
    modal, home = emu.open_modal(user), emu.home(user)
    return {
        "version": emu.version,
        "team": {"id": emu.team_id, "domain": emu.team_domain},
        "bot": {"user_id": emu.bot_user_id, "name": emu.bot_name, "url": emu.bot_url},
        "users": [{"id": uid, "name": name} for uid, name in emu.users.items()],
        "channels": [
            {"id": cid, "name": name, "count": len(emu.messages(cid))}
            for cid, name in emu.channels.items()
        ],
        "user": user,
        "channel": channel,
        "messages": [_message(emu, m) for m in emu.messages(channel)],
        "ephemerals": [_ephemeral(e) for e in emu.ephemerals(user, channel)],
        "modal": _view(modal) if modal else None,
        "home": _view(home) if home else None,
    }


def _message(emu: SlackEmulator, msg: Message) -> dict[str, Any]:
    return {
        "ts": msg.ts,
        "user": msg.user,
        "user_name": emu.user_name(msg.user),
        "is_bot": msg.user == emu.bot_user_id,
        "text": msg.text,
        "blocks": msg.blocks,
        "thread_ts": msg.thread_ts,
        "edited": msg.edited,
        "replies": [_message(emu, r) for r in msg.replies],
    }


def _ephemeral(eph: Ephemeral) -> dict[str, Any]:
    return {
        "ts": eph.ts,
        "channel": eph.channel,
        "text": eph.text,
        "blocks": eph.blocks,
        "source": eph.source,
        "thread_ts": eph.thread_ts,
    }


def _view(view: View) -> dict[str, Any]:
    return {
        "id": view.id,
        "type": view.type,
        "hash": view.hash,
        "view": view.view,
        "errors": view.errors,
        "values": view.values,
    }


def _result(result: InboundResult) -> dict[str, Any]:
    return {"status": result.status, "body": result.body[:2000], "json": result.json}


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

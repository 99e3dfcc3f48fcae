"""The HTTP surface besides bolt: /healthz, and a guard that turns garbage into 4xx, not 500."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from aiohttp import web

from core.context import Core

SLACK_PATH = "/slack/events"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def health_routes(
    core: Core, *, mode: str, stalled: Callable[[], bool] | None = None
) -> list[web.RouteDef]:
    """Routes for /healthz: status only; 200 when the database answers and no job is stuck,
    503 otherwise.

    Anyone who can reach the port can read it, so it says nothing about shops (names, last
    RMS success, licence expiry); App Home and `/rms` show those to authorised users.
    """

    async def healthz(_: web.Request) -> web.Response:
        if stalled is not None and stalled():  # a shop cycle or the publisher is stuck
            return web.json_response({"ok": False}, status=503)
        try:
            ok = await core.store.ping()
        except Exception:  # a broken database is exactly what this endpoint reports
            ok = False
        return web.json_response({"ok": ok, "mode": mode}, status=200 if ok else 503)

    return [web.get("/healthz", healthz)]


def ready_routes(
    core: Core, *, role: Callable[[], str], epoch: Callable[[], int | None],
    cycle_age: Callable[[], float | None],
) -> list[web.RouteDef]:  # fmt: skip
    """GET /readyz: 200 when the database answers (503 otherwise), this replica's role
    (leader or follower), its lease epoch, and how long ago its last full cycle completed
    (null on a follower or before the first cycle)."""

    async def readyz(_: web.Request) -> web.Response:
        try:
            ok = await core.store.ping()
        except Exception:  # an unreachable database is what this endpoint reports
            ok = False
        age = cycle_age()
        body = {
            "ok": ok,
            "role": role(),
            "epoch": epoch(),
            "last_cycle_age_seconds": None if age is None else round(age, 3),
        }
        return web.json_response(body, status=200 if ok else 503)

    return [web.get("/readyz", readyz)]


def _payload_problem(body: bytes, content_type: str) -> str | None:
    """Why a Slack request body cannot be what Slack sends, or None (bolt would crash on it)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if content_type == "application/json":
        try:
            parsed = json.loads(text)
        except ValueError:
            return "body is not JSON"
        return None if isinstance(parsed, dict) else "JSON body is not an object"
    payload = parse_qs(text).get("payload")
    if payload is None:
        return None  # a slash command: plain form fields
    try:
        parsed = json.loads(payload[0])
    except ValueError:
        return "payload is not JSON"
    return None if isinstance(parsed, dict) else "payload is not a JSON object"


@web.middleware
async def slack_request_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Reject requests bolt cannot parse or verify with a clear 4xx (bolt answers 500)."""
    if request.method != "POST" or request.path != SLACK_PATH:
        return await handler(request)
    stamp = request.headers.get("X-Slack-Request-Timestamp")
    if stamp is not None and not stamp.isdigit():
        return web.json_response({"error": "invalid request"}, status=401)
    problem = _payload_problem(await request.read(), request.content_type)
    if problem is not None:
        return web.json_response({"error": f"malformed request: {problem}"}, status=400)
    return await handler(request)

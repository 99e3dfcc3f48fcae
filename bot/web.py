"""The HTTP surface: POST /slack/events into bolt (garbage gets a 4xx), /healthz, /readyz."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from core.context import Core
from core.store.lock import AckFirst

SLACK_PATH = "/slack/events"


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


def slack_route(app: AsyncApp, ack_first: AckFirst) -> web.RouteDef:
    """POST /slack/events into bolt, with a clear 4xx for what bolt cannot parse or verify.

    Bolt's own aiohttp adapter answers 500 with a traceback on a body it fails to parse, and
    bolt parses before it checks the signature. Every such body fails in the constructor of
    ``AsyncBoltRequest``, so that is where it is caught: the body is parsed once, by bolt."""

    async def slack_events(request: web.Request) -> web.StreamResponse:
        stamp = request.headers.get("X-Slack-Request-Timestamp")
        if stamp is not None and not stamp.isdigit():
            return web.json_response({"error": "invalid request"}, status=401)
        with ack_first.answering():  # from the first byte read: the jobs wait
            return await _dispatch(app, request)

    return web.post(SLACK_PATH, slack_events)


async def _dispatch(app: AsyncApp, request: web.Request) -> web.StreamResponse:
    body = await request.read()
    try:
        bolt_request = AsyncBoltRequest(
            body=body.decode("utf-8"),
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]
        )
    except UnicodeDecodeError:
        return _malformed("body is not UTF-8")
    except ValueError:  # json.JSONDecodeError
        return _malformed("body or payload is not JSON")
    except AttributeError:  # bolt read a JSON value that is not an object
        return _malformed("body or payload is not a JSON object")
    return await to_aiohttp_response(await app.async_dispatch(bolt_request))


def _malformed(problem: str) -> web.Response:
    return web.json_response({"error": f"malformed request: {problem}"}, status=400)

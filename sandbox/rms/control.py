"""A small JSON control API under /_sim/ (no auth) for the demo and manual play."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from sandbox.rms.simulator import RmsSimulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ORDER_KWARGS = frozenset(
    {
        "number",
        "progress",
        "ordered_at",
        "postage",
        "packages",
        "settlement_code",
        "prepay",
        "payment_ng",
        "orderer",
        "recipient",
        "items",
        "isolated_island",
    }
)
_FAIL_KWARGS = frozenset({"count", "status", "body", "content_type", "delay", "apply_first"})


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(
        payload, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False, default=str)
    )


def _guard(handler: Handler) -> Handler:
    """Turn a bad request into a 400/404 JSON answer instead of a 500 page."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except KeyError as exc:
            return _json({"error": str(exc.args[0] if exc.args else exc)}, 404)
        except (TypeError, ValueError, IndexError) as exc:
            return _json({"error": str(exc)}, 400)

    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    payload = await request.json()
    if not isinstance(payload, dict):
        raise TypeError("body must be a JSON object")
    return payload


def add_control_routes(app: web.Application, sim: RmsSimulator) -> None:
    async def list_orders(request: web.Request) -> web.Response:
        sim.tick()
        shop = request.query.get("shop")
        rows = [
            {
                "number": o.number,
                "shop": o.shop_id,
                "progress": o.progress,
                "postage": o.model["postagePrice"],
                "ordered_at": o.model["orderDatetime"],
            }
            for o in sim.state.orders.values()
            if shop is None or o.shop_id == shop
        ]
        return _json({"orders": rows})

    async def add_order(request: web.Request) -> web.Response:
        body = await _body(request)
        shop_id = body.pop("shop_id", None) or body.pop("shop", None)
        if not shop_id:
            raise ValueError("shop_id is required")
        unknown = set(body) - _ORDER_KWARGS
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        if isinstance(body.get("ordered_at"), str):
            body["ordered_at"] = datetime.fromisoformat(body["ordered_at"])
        return _json({"number": sim.add_order(str(shop_id), **body)}, 201)

    async def get_order(request: web.Request) -> web.Response:
        return _json(sim.order(request.match_info["number"]))

    async def set_progress(request: web.Request) -> web.Response:
        body = await _body(request)
        sim.set_progress(request.match_info["number"], int(body["progress"]))
        return _json({"ok": True})

    async def mark_paid(request: web.Request) -> web.Response:
        sim.mark_paid(request.match_info["number"])
        return _json({"ok": True})

    async def set_postage(request: web.Request) -> web.Response:
        body = await _body(request)
        sim.set_postage(
            request.match_info["number"], int(body.get("basket_index", 0)), int(body["postage"])
        )
        return _json({"ok": True})

    async def fail(request: web.Request) -> web.Response:
        body = await _body(request)
        function = body.pop("function", "*")
        unknown = set(body) - _FAIL_KWARGS
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        sim.fail_next(str(function), **body)
        return _json({"ok": True})

    async def maintenance(request: web.Request) -> web.Response:
        body = await _body(request)
        sim.set_maintenance(bool(body.get("on", True)), html=bool(body.get("html", False)))
        return _json({"ok": True})

    async def quirk(request: web.Request) -> web.Response:
        body = await _body(request)
        sim.set_quirk(str(body["name"]), bool(body.get("on", True)))
        return _json({"ok": True, "quirks": sorted(sim.state.quirks)})

    async def add_shop(request: web.Request) -> web.Response:
        body = await _body(request)
        sim.add_shop(
            str(body["shop_id"]),
            str(body["service_secret"]),
            str(body["license_key"]),
            disabled_functions=frozenset(body.get("disabled_functions", ())),
        )
        return _json({"ok": True}, 201)

    async def issue_key(request: web.Request) -> web.Response:
        body = await _body(request)
        sim.issue_key(
            str(body["shop_id"]),
            str(body["new_key"]),
            activates_after=timedelta(seconds=float(body.get("activates_after", 0))),
            old_key_dies=bool(body.get("old_key_dies", False)),
        )
        return _json({"ok": True}, 201)

    async def calls(request: web.Request) -> web.Response:
        rows = [
            {
                "function": c.function,
                "license_key": c.license_key,
                "body": c.body,
                "status": c.status,
                "at": c.at.isoformat(),
            }
            for c in sim.calls
        ]
        return _json({"calls": rows})

    routes = (
        ("GET", "/_sim/orders", list_orders),
        ("POST", "/_sim/orders", add_order),
        ("GET", "/_sim/orders/{number}", get_order),
        ("POST", "/_sim/orders/{number}/progress", set_progress),
        ("POST", "/_sim/orders/{number}/paid", mark_paid),
        ("POST", "/_sim/orders/{number}/postage", set_postage),
        ("POST", "/_sim/fail", fail),
        ("POST", "/_sim/maintenance", maintenance),
        ("POST", "/_sim/quirks", quirk),
        ("POST", "/_sim/shops", add_shop),
        ("POST", "/_sim/keys", issue_key),
        ("GET", "/_sim/calls", calls),
    )
    for method, path, handler in routes:
        app.router.add_route(method, path, _guard(handler))

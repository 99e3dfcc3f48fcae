"""The aiohttp application: RMS routes, ESA auth, QPS, maintenance and injected faults."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.rms.catalog import JST
from sandbox.rms.control import add_control_routes
from sandbox.rms.faults import (
    FUNCTION_DISABLED,
    MAINTENANCE,
    MAINTENANCE_HTML,
    QPS_EXCEEDED,
    UNAUTHORISED,
    Canned,
    Fault,
    function_disabled,
    html_page,
    results,
)
from sandbox.rms.functions import FUNCTIONS, PREFIXES
from sandbox.rms.messages import message
from sandbox.rms.simulator import SimCall

if TYPE_CHECKING:
    from sandbox.rms.records import Shop
    from sandbox.rms.simulator import RmsSimulator

ORDER_PATH = "/es/2.0/order/{function}"
LICENCE_PATH = "/es/1.0/license-management/license-key/expiry-date"
SIM_KEY = web.AppKey("rms_simulator", object)


def build_app(sim: RmsSimulator) -> web.Application:
    app = web.Application()
    app[SIM_KEY] = sim
    gateway = _Gateway(sim)
    app.router.add_route("*", ORDER_PATH + "/", gateway.order_api)
    app.router.add_route("*", ORDER_PATH, gateway.order_api)
    app.router.add_route("*", LICENCE_PATH, gateway.licence_api)
    add_control_routes(app, sim)
    return app


def _credentials(request: web.Request) -> tuple[str, str] | None:
    """Decode ``Authorization: ESA base64(serviceSecret:licenseKey)`` strictly."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme != "ESA" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    secret, sep, key = decoded.partition(":")
    return (secret, key) if sep and secret and key else None


def _response(canned: Canned) -> web.Response:
    content_type = canned.content_type
    if "charset" not in content_type:
        content_type += ";charset=utf-8"
    return web.Response(
        status=canned.status,
        body=canned.text.encode("utf-8"),
        headers={"Content-Type": content_type},
    )


class _Gateway:
    """What stands in front of the order functions: the same checks for every call."""

    def __init__(self, sim: RmsSimulator) -> None:
        self.sim = sim

    async def order_api(self, request: web.Request) -> web.StreamResponse:
        function = request.match_info["function"]
        text = await request.text()
        body = _parse(text)
        creds = _credentials(request)
        if function not in FUNCTIONS:
            canned = Canned(404, html_page(404, "Not Found"), "text/html")
        elif request.method != "POST":
            canned = Canned(405, html_page(405, "Method Not Allowed"), "text/html")
        elif (
            request.content_type != "application/json"
            or request.charset is None
            or request.charset.lower() != "utf-8"
        ):
            canned = Canned(415, html_page(415, "Unsupported Media Type"), "text/html")
        else:
            return await self._serve(
                function, creds, body, lambda shop: self._run(function, shop, body)
            )
        return self._record(function, creds, body, canned)

    async def licence_api(self, request: web.Request) -> web.StreamResponse:
        creds = _credentials(request)
        query = dict(request.query)
        if request.method != "GET":
            canned = Canned(405, html_page(405, "Method Not Allowed"), "text/html")
            return self._record("license", creds, query, canned)
        return await self._serve(
            "license", creds, query, lambda shop: self._expiry(shop, query.get("licenseKey"))
        )

    async def _serve(
        self, function: str, creds: tuple[str, str] | None, body: Any, run: Any
    ) -> web.StreamResponse:
        sim = self.sim
        if sim.maintenance:
            canned = (
                Canned(503, MAINTENANCE_HTML, "text/html")
                if sim.maintenance_html
                else Canned.of_json(503, MAINTENANCE)
            )
            return self._record(function, creds, body, canned)
        fault = sim.faults.take(function)
        if fault is not None and not (fault.apply_first or fault.passthrough):
            return await self._answer(function, creds, body, fault.canned(), fault)
        canned = self._gate(function, creds) or run(self._shop(creds))
        if fault is not None and not fault.passthrough:
            canned = fault.canned()
        return await self._answer(function, creds, body, canned, fault)

    def _gate(self, function: str, creds: tuple[str, str] | None) -> Canned | None:
        """Auth, QPS and 利用機能編集, in that order; None lets the call through."""
        shop = self._shop(creds)
        if shop is None or creds is None:
            return Canned.of_json(401, UNAUTHORISED)
        if not self.sim.bucket.allow(creds[1]):
            return Canned.of_json(self.sim.qps_status, QPS_EXCEEDED)
        if function_disabled(shop.disabled_functions, function):
            return Canned.of_json(400, FUNCTION_DISABLED)
        return None

    def _shop(self, creds: tuple[str, str] | None) -> Shop | None:
        if creds is None:
            return None
        return self.sim.state.authenticate(creds[0], creds[1], self.sim.clock.now())

    def _run(self, function: str, shop: Shop, body: Any) -> Canned:
        if not isinstance(body, dict):
            error = message(
                "ERROR",
                f"ORDER_EXT_API_{PREFIXES[function]}_ERROR_001",
                "リクエストの形式が不正です。",
            )
            return Canned.of_json(400, {"MessageModelList": [error]})
        now = self.sim.clock.now()
        self.sim.state.tick(now)
        status, payload = FUNCTIONS[function](self.sim.state, shop, body, now)
        return Canned.of_json(status, payload)

    def _expiry(self, shop: Shop, wanted: str | None) -> Canned:
        if not wanted:
            return Canned.of_json(400, results("DR0005", "licenseKey is required."))
        key = self.sim.state.keys.get(wanted)
        now = self.sim.clock.now()
        if key is None or key.shop_id != shop.shop_id or key.dead or now > key.expires:
            return Canned.of_json(401, UNAUTHORISED)
        stamp = key.expires.astimezone(JST).strftime("%Y-%m-%dT%H:%M:%S")
        return Canned.of_json(200, {"expiryDate": stamp})

    async def _answer(
        self,
        function: str,
        creds: tuple[str, str] | None,
        body: Any,
        canned: Canned,
        fault: Fault | None,
    ) -> web.StreamResponse:
        response = self._record(function, creds, body, canned)
        if fault is not None and fault.delay > 0:
            await asyncio.sleep(fault.delay)
        return response

    def _record(
        self, function: str, creds: tuple[str, str] | None, body: Any, canned: Canned
    ) -> web.Response:
        key = creds[1] if creds else None
        self.sim.calls.append(SimCall(function, key, body, canned.status, self.sim.clock.now()))
        return _response(canned)


def _parse(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text

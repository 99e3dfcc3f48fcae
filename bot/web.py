"""The HTTP surface besides Slack's: GET /healthz (database, per-shop last RMS success)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.service import Core


def health_routes(core: Core, *, mode: str) -> list[web.RouteDef]:
    """Routes for /healthz; 200 when the database answers, 503 otherwise."""

    async def healthz(_: web.Request) -> web.Response:
        try:
            db_ok = await core.store.ping()
        except Exception:  # a broken database is exactly what this endpoint reports
            db_ok = False
        shops: dict[str, Any] = {}
        for key in core.shops:
            row = await core.store.shop_row(key) if db_ok else {}
            shops[key] = {
                "last_rms_success": row.get("last_success"),
                "rms_failing": core.failing.get(key),
                "license_expires": row.get("license_expires"),
            }
        body = {"ok": db_ok, "database": db_ok, "mode": mode, "shops": shops}
        return web.json_response(body, status=200 if db_ok else 503)

    return [web.get("/healthz", healthz)]

"""Gateway behaviour: canned error bodies, injected faults (FIFO) and the per-key QPS bucket."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

FUNCTION_IDS = {
    "searchOrder": "rpay.order.searchOrder",
    "getOrder": "rpay.order.getOrder",
    "confirmOrder": "rpay.order.confirmOrder",
    "updateOrderSender": "rpay.order.updateOrderSender",
    "license": "license.expiryDate.get",
}


BATCH_400_WITH_PER_ORDER_MESSAGES = "batch_status_400_with_per_order_messages"
"""Quirk: a confirmOrder batch with any per-order ERROR comes back as HTTP 400, still carrying
one MessageModel per order (RMS does not document the status of mixed results)."""
QUIRKS = frozenset({BATCH_400_WITH_PER_ORDER_MESSAGES})


def check_quirk(name: str) -> str:
    """Return ``name`` if the simulator knows this quirk, else raise ValueError naming it."""
    if name not in QUIRKS:
        raise ValueError(f"unknown quirk {name!r}; known: {sorted(QUIRKS)}")
    return name


def results(code: str, text: str) -> dict[str, Any]:
    return {"Results": {"errorCode": code, "message": text}}


UNAUTHORISED = results("ES01-01", "Un-Authorised")
FUNCTION_DISABLED = results("ES04-01", "Bad Request")
QPS_EXCEEDED = results("QPS", "Forbidden-Exceeded QPS Limitation")
MAINTENANCE = results("MAINTENANCE", "API In Maintenance")
INTERNAL = results("SYSTEM_ERROR", "予期せぬエラーが発生しました。")
MAINTENANCE_HTML = (
    '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
    "<title>503 Service Unavailable</title></head>\n<body><h1>Service Unavailable</h1>"
    "<p>ただいまメンテナンス中です。しばらく時間をおいてから再度アクセスしてください。</p>"
    "</body></html>\n"
)


def html_page(status: int, title: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head>\n"
        f"<body><h1>{status} {title}</h1></body></html>\n"
    )


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)


@dataclass
class Canned:
    """A ready answer: status, text body and Content-Type (charset appended by the app)."""

    status: int
    text: str
    content_type: str = "application/json"

    @classmethod
    def of_json(cls, status: int, payload: Any) -> Canned:
        return cls(status, dumps(payload))


def default_fault_body(status: int, content_type: str) -> str:
    """A realistic body for an injected failure of ``status``."""
    if content_type.startswith("text/html"):
        return MAINTENANCE_HTML if status == 503 else html_page(status, "Error")
    payload = {
        400: FUNCTION_DISABLED,
        401: UNAUTHORISED,
        403: QPS_EXCEEDED,
        429: QPS_EXCEEDED,
        503: MAINTENANCE,
    }.get(status)
    if payload is None:
        payload = INTERNAL if status >= 500 else results(str(status), "Error")
    return dumps(payload)


@dataclass
class Fault:
    """One fail_next entry: the next ``count`` calls of ``function`` (or "*") answer this."""

    function: str
    count: int
    status: int
    body: str | dict[str, Any] | None
    content_type: str
    delay: float
    apply_first: bool

    @property
    def passthrough(self) -> bool:
        """status 200 without a body only delays the real answer."""
        return self.status == 200 and self.body is None

    def canned(self) -> Canned:
        if self.body is None:
            return Canned(
                self.status, default_fault_body(self.status, self.content_type), self.content_type
            )
        text = self.body if isinstance(self.body, str) else dumps(self.body)
        return Canned(self.status, text, self.content_type)


class FaultQueue:
    def __init__(self) -> None:
        self.entries: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.count > 0:
            self.entries.append(fault)

    def take(self, function: str) -> Fault | None:
        """Pop one use of the oldest entry that matches ``function``."""
        for fault in self.entries:
            if fault.function in (function, "*"):
                fault.count -= 1
                if fault.count <= 0:
                    self.entries.remove(fault)
                return fault
        return None


class TokenBucket:
    """Per-licenceKey token bucket: ``rate`` tokens a second, at most ``burst`` stored."""

    def __init__(self, now: Callable[[], datetime], rate: float | None, burst: int) -> None:
        self._now = now
        self.rate = rate
        self.burst = max(burst, 1)
        self._buckets: dict[str, tuple[float, datetime]] = {}

    def allow(self, key: str) -> bool:
        if self.rate is None:
            return True
        now = self._now()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        elapsed = max((now - last).total_seconds(), 0.0)
        tokens = min(float(self.burst), tokens + elapsed * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True


def function_disabled(disabled: frozenset[str], function: str) -> bool:
    return function in disabled or FUNCTION_IDS.get(function) in disabled

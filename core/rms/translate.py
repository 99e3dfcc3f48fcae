"""Translate one RMS HTTP answer into its JSON or into core.errors, exactly once."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import (
    RmsAuthError,
    RmsFunctionDisabledError,
    RmsMaintenanceError,
    RmsProtocolError,
    RmsRateLimitedError,
    RmsRejectedError,
    RmsUnavailableError,
)
from core.rms.per_order import names_orders
from core.rms.retry import parse_retry_after
from core.rms.wire import Envelope, GatewayError, Results

_LOG = logging.getLogger(__name__)
_M = TypeVar("_M", bound=BaseModel)


def interpret(
    function: str,
    status: int,
    body: bytes,
    retry_after: str | None,
    now: datetime,
    redact: tuple[str, ...],
    *,
    per_order: bool = False,
) -> Any:
    """Map one HTTP answer to its JSON, or raise the matching error by HTTP status.

    With ``per_order`` (batch writes), an answer of any status whose MessageModelList names
    orders is returned as data: RMS may have acted on some orders, so the caller reads it order
    by order instead of failing the whole call.
    """
    text = body.decode("utf-8", errors="replace")
    broken: ValueError | None = None
    try:
        data = json.loads(text)
    except ValueError as exc:
        data, broken = None, exc
    is_json = broken is None
    results = _results(data)
    code = results.error_code if results else ""
    detail = _scrub(results.text if results else text, redact)
    where = f"RMS {function}: HTTP {status}"
    if code.startswith("ES04-01"):
        raise RmsFunctionDisabledError(f"{where} {code} {detail}", code=code, status=status)
    if status == 401 or code.startswith(("ES01", "GA")):
        raise RmsAuthError(f"{where} {code} {detail}".rstrip(), code=code or None, status=status)
    if per_order and _names_orders(data):
        if status >= 300:
            _LOG.warning("RMS %s answered HTTP %d with per-order results", function, status)
        return data
    if status in (403, 429) or ((status >= 300 or not is_json) and "QPS" in text):
        wait = parse_retry_after(retry_after, now=now)
        raise RmsRateLimitedError(f"{where} rate limited", status=status, retry_after=wait)
    if status == 503:
        raise RmsMaintenanceError(f"{where} maintenance or overload", status=status)
    if status >= 500:
        raise RmsUnavailableError(f"{where} {detail}", status=status)
    if status >= 400 or code:
        codes = _error_codes(data) or ((code,) if code else ())
        raise RmsRejectedError(f"{where} {', '.join(codes) or detail}", codes=codes, status=status)
    if not 200 <= status < 300 or not is_json:
        raise RmsProtocolError(f"{where} answer is not JSON: {detail}", status=status) from broken
    return data


def _results(data: Any) -> Results | None:
    if not isinstance(data, dict) or not isinstance(data.get("Results"), dict):
        return None
    try:
        return GatewayError.model_validate(data).results
    except ValidationError:
        return None


def _names_orders(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    try:
        return names_orders(Envelope.model_validate(data).messages)
    except ValidationError:
        return False


def _error_codes(data: Any) -> tuple[str, ...]:
    if not isinstance(data, dict):
        return ()
    try:
        return Envelope.model_validate(data).error_codes()
    except ValidationError:
        return ()


def _scrub(text: str, secrets: tuple[str, ...], limit: int = 200) -> str:
    """A short one-line excerpt with every credential masked (messages end up in logs and Slack)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:limit]


def validate(model: type[_M], data: Any, function: str) -> _M:
    """Parse JSON into ``model``; a mismatch is RmsProtocolError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RmsProtocolError(
            f"RMS {function}: answer does not match the documented shape "
            f"({exc.error_count()} problem(s), first at {where or 'top level'}: {first['type']})"
        ) from exc

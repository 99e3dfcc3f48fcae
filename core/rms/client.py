"""Async RMS RakutenPay order client: every call goes through one ``_request``."""

from __future__ import annotations

import base64
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel

from core.errors import (
    RmsError,
    RmsRejectedError,
    RmsUnavailableError,
)
from core.model import MAX_NUMBERS_PER_CALL, ConfirmResult, RmsOrder
from core.ports import Clock
from core.rms.limiter import RateLimiter
from core.rms.per_order import confirm_results
from core.rms.retry import backoff_delay
from core.rms.translate import interpret, validate
from core.rms.wire import (
    JST,
    MAX_RETRIEVABLE,
    PAGE_SIZE,
    Envelope,
    GetOrderResponse,
    LicenseExpiryResponse,
    SearchOrderResponse,
    format_rms_datetime,
    halve,
    search_windows,
    update_sender_body,
)

_LOG = logging.getLogger(__name__)
_M = TypeVar("_M", bound=BaseModel)

SEARCH_PATH = "/es/2.0/order/searchOrder/"
GET_PATH = "/es/2.0/order/getOrder/"
CONFIRM_PATH = "/es/2.0/order/confirmOrder/"
SENDER_PATH = "/es/2.0/order/updateOrderSender/"
LICENSE_PATH = "/es/1.0/license-management/license-key/expiry-date"
_FUNCTIONS = {
    SEARCH_PATH: "searchOrder",
    GET_PATH: "getOrder",
    CONFIRM_PATH: "confirmOrder",
    SENDER_PATH: "updateOrderSender",
    LICENSE_PATH: "license",
}
_CONTENT_TYPE = "application/json; charset=utf-8"


class RmsHttpClient:
    """:class:`core.ports.RmsApi` over HTTP for one shop's credentials and rate limit.

    Reads are retried on retryable errors with jittered backoff; writes get exactly one
    attempt.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        service_secret: str,
        license_key: str | Callable[[], str],
        clock: Clock,
        limiter: RateLimiter | None = None,
        requests_per_second: float = 1.0,
        timeout: float = 30.0,
        max_read_attempts: int = 4,
        max_backoff: float = 60.0,
        rng: random.Random | None = None,
        get_order_version: int = 10,
        gate: Callable[[], object] | None = None,
        observe: Callable[[str, str], None] | None = None,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._secret = service_secret
        self._key: Callable[[], str] = (
            license_key if callable(license_key) else (lambda: license_key)
        )
        self._clock = clock
        self._limiter = limiter or RateLimiter(clock, rate=requests_per_second)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_read_attempts = max(1, max_read_attempts)
        self._max_backoff = max_backoff
        self._rng = rng or random.Random()
        self._version = get_order_version
        # gate: asked right before every call leaves (after the pacing wait); it raises to
        # stop the call (a leader that may no longer act). observe: (function, outcome).
        self._gate = gate
        self._observe = observe

    async def search_order_numbers(
        self, *, progress: Sequence[int], start: datetime, end: datetime
    ) -> list[str]:
        """searchOrder by order date over [start, end], all windows and pages, de-duplicated."""
        found: dict[str, None] = {}
        pending = search_windows(start, end)
        while pending:
            window = pending.pop(0)
            numbers = await self._search_window(progress, *window)
            if numbers is None:  # more than RMS can return: search each half instead
                pending[:0] = halve(*window)
                continue
            found.update(dict.fromkeys(numbers))
        return list(found)

    async def _search_window(
        self, progress: Sequence[int], start: datetime, end: datetime
    ) -> list[str] | None:
        numbers: list[str] = []
        page = 1
        while True:
            body: dict[str, Any] = {
                "dateType": 1,
                "startDatetime": format_rms_datetime(start),
                "endDatetime": format_rms_datetime(end),
                "PaginationRequestModel": {
                    "requestRecordsAmount": PAGE_SIZE,
                    "requestPage": page,
                    "SortModelList": [{"sortColumn": 1, "sortDirection": 1}],
                },
            }
            if progress:
                body["orderProgressList"] = list(progress)
            answer = await self._request(
                "POST", SEARCH_PATH, json=body, write=False, model=SearchOrderResponse
            )
            pages = answer.pagination.total_pages if answer.pagination else None
            total = answer.pagination.total_records if answer.pagination else None
            if page == 1 and (total or 0) > MAX_RETRIEVABLE and len(halve(start, end)) == 2:
                return None
            numbers += answer.numbers
            if not answer.numbers or page >= (pages or 0):
                return numbers
            page += 1

    async def get_orders(self, numbers: Sequence[str]) -> list[RmsOrder]:
        """getOrder in chunks of 100; numbers RMS does not know are absent from the result."""
        unique = list(dict.fromkeys(numbers))
        orders: list[RmsOrder] = []
        for i in range(0, len(unique), MAX_NUMBERS_PER_CALL):
            body = {
                "orderNumberList": unique[i : i + MAX_NUMBERS_PER_CALL],
                "version": self._version,
            }
            answer = await self._request(
                "POST", GET_PATH, json=body, write=False, model=GetOrderResponse
            )
            orders += answer.to_domain()
        return orders

    async def confirm_orders(self, numbers: Sequence[str]) -> list[ConfirmResult]:
        """confirmOrder for 1–100 numbers in one call (never retried); one result per number.

        An answer that names orders is read per order whatever its HTTP status (a batch with
        one bad order may come back as 400); numbers it leaves unclear have ``clear=False``.
        """
        unique = list(dict.fromkeys(numbers))
        if not unique or len(unique) > MAX_NUMBERS_PER_CALL:
            raise ValueError(
                f"confirmOrder takes 1–{MAX_NUMBERS_PER_CALL} numbers, got {len(unique)}"
            )
        answer = await self._request(
            "POST",
            CONFIRM_PATH,
            json={"orderNumberList": unique},
            write=True,
            model=Envelope,
            per_order=True,
        )
        return confirm_results(unique, answer.messages)

    async def update_postage(self, order: RmsOrder, postage_by_basket: Mapping[int, int]) -> None:
        """updateOrderSender with ``order.raw`` and only the given baskets' postage changed.

        Raises RmsRejectedError unless RMS answers ``…_INFO_101``; never retried.
        """
        body = update_sender_body(order.raw, postage_by_basket)
        answer = await self._request("POST", SENDER_PATH, json=body, write=True, model=Envelope)
        errors = answer.error_codes()
        if not errors and any(
            m.message_type == "INFO" and m.message_code.endswith("_INFO_101")
            for m in answer.messages
        ):
            return
        codes = errors or tuple(m.message_code for m in answer.messages)
        raise RmsRejectedError(
            f"updateOrderSender refused {order.number}: {', '.join(codes) or 'no result'}",
            codes=codes,
            status=200,
        )

    async def license_expiry(self) -> datetime:
        """When the licence key expires, as an aware JST datetime."""
        answer = await self._request(
            "GET",
            LICENSE_PATH,
            params={"licenseKey": self._key()},
            write=False,
            model=LicenseExpiryResponse,
        )
        return answer.expiry.astimezone(JST)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        write: bool,
        model: type[_M],
        per_order: bool = False,
    ) -> _M:
        """Send one call (reads: with retries), translating every failure into core.errors."""
        function = _FUNCTIONS.get(path, path)
        attempts = 1 if write else self._max_read_attempts
        attempt = 1
        while True:
            try:
                data = await self._send(method, path, function, json, params, per_order)
                result = validate(model, data, function)
            except RmsError as exc:
                if self._observe is not None:
                    self._observe(function, exc.kind)
                if not exc.retryable or attempt >= attempts:
                    raise
                delay = backoff_delay(
                    attempt, rng=self._rng, cap=self._max_backoff, retry_after=exc.retry_after
                )
                _LOG.info(
                    "RMS %s failed (%s); retry %d of %d in %.1fs",
                    function, exc.kind, attempt, attempts - 1, delay,
                )  # fmt: skip
                await self._clock.sleep(delay)
                attempt += 1
                continue
            if self._observe is not None:
                self._observe(function, "ok")
            return result

    async def _send(
        self,
        method: str,
        path: str,
        function: str,
        payload: Any,
        params: Mapping[str, str] | None,
        per_order: bool = False,
    ) -> Any:
        await self._limiter.acquire()
        if self._gate is not None:
            self._gate()
        key = self._key()
        token = base64.b64encode(f"{self._secret}:{key}".encode()).decode("ascii")
        headers = {"Authorization": f"ESA {token}", "Content-Type": _CONTENT_TYPE}
        data = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        try:
            async with self._session.request(
                method,
                self._base_url + path,
                data=data,
                params=params,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                body = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as exc:
            raise RmsUnavailableError(
                f"RMS {function}: no answer within {self._timeout.total}s"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise RmsUnavailableError(
                f"RMS {function}: connection failed ({type(exc).__name__})"
            ) from exc
        finally:
            self._limiter.finished()
        redact = (self._secret, key, token)
        return interpret(
            function, status, body, retry_after, self._clock.now(), redact, per_order=per_order
        )

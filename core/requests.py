"""Requests stored before their ack: submitted by handlers, executed and resumed by the worker.

The ack path stores one row and answers Slack; everything after it happens here, from the
database, so a restart at any point resumes the request instead of losing it, and its report
is written in the same transaction that finishes it (posted once by the publisher).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from core.bundles import bundle
from core.confirm import confirm
from core.context import Core
from core.events import EventKind
from core.model import ALL_ORDERS, Request, RequestKind
from core.outcomes import ErrorInfo, OrderOutcome, Outcome, Reason, Report
from core.refetch import refetch
from core.shipping import resolve_fee
from core.store.codec import dump_report
from core.store.requests import finish_request, insert_request, open_requests, start_request

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # a request that fails this often is finished with an error, never looped on


class Authorize(Protocol):
    """May ``actor`` still do ``kind`` in ``shop``? Asked again right before the effect:
    None when allowed, otherwise why not (NOT_ALLOWED, or ROLE_UNKNOWN when it could not be
    checked — refused too, never guessed)."""

    def __call__(self, actor: str, kind: RequestKind, shop: str) -> Awaitable[Reason | None]: ...


Progress = Callable[[Request, int, int], Awaitable[None]]


async def submit(core: Core, request: Request) -> tuple[Request, bool]:
    """Store a request: one INSERT committed on its own (the ack path does O(1) work).
    False: Slack redelivered it, or the same request is still open."""
    async with core.store.statement() as tx:
        return await insert_request(tx, request)


class RequestWorker:
    """Executes stored requests in order; after a restart, the unfinished ones first."""

    def __init__(
        self, core: Core, authorize: Authorize, *, progress: Progress | None = None
    ) -> None:
        self.core = core
        self.authorize = authorize
        self.progress = progress
        self._lock = asyncio.Lock()

    async def run_once(self) -> int:
        """Run every unfinished request; returns how many finished."""
        finished = 0
        async with self._lock:
            while True:
                async with self.core.store.read() as r:
                    batch = await open_requests(r)
                if not batch:
                    return finished
                for request in batch:
                    finished += await self._run(request)

    async def _run(self, request: Request) -> int:
        now = self.core.clock.now()
        async with self.core.store.tx() as tx:
            await start_request(tx, request.id, now)
        refused: Reason | None = None
        try:
            if request.attempts >= MAX_ATTEMPTS:
                report = _failed(request, ErrorInfo("unknown", None, "gave up after retries"))
            elif refused := await self.authorize(request.actor, request.kind, request.shop):
                logger.info(
                    "refused %s to %s at the effect (%s)", request.kind, request.actor, refused
                )
                report = _refused(request, refused)
            else:
                report = await self._execute(request)
        except Exception:
            logger.exception("request %d (%s) failed; it will be resumed", request.id, request.kind)
            return 0
        now = self.core.clock.now()
        async with self.core.store.tx() as tx:  # the outcome, its audit and its report: one unit
            if await finish_request(tx, request.id, now, dump_report(report)):
                if refused is not None:
                    await tx.audit(
                        request.shop,
                        request.actor,
                        request.kind.value,
                        "denied",
                        now,
                        detail={"reason": refused.value, "request": request.id},
                    )
                await tx.add_event(
                    request.shop, EventKind.REQUEST_DONE, None, now, {"request": request.id}
                )
        return 1

    async def _execute(self, request: Request) -> Report:
        core, shop, actor = self.core, request.shop, request.actor
        if request.kind is RequestKind.CONFIRM:

            async def on_progress(done: int, of: int) -> None:
                if self.progress is not None:
                    await self.progress(request, done, of)

            return await confirm(
                core, shop, request.numbers, actor, request_id=request.id, on_progress=on_progress
            )
        if request.kind is RequestKind.REFETCH:
            return await refetch(core, shop, request.numbers, actor)
        if request.kind is RequestKind.BUNDLE:
            return await bundle(core, shop, _numbers(request), actor)
        number = request.numbers[0]
        fees: Mapping[int, str] = {int(k): str(v) for k, v in request.payload["fees"].items()}
        return await resolve_fee(core, shop, number, fees, actor, request_id=request.id)


def _numbers(request: Request) -> tuple[str, ...]:
    return () if request.numbers == ALL_ORDERS else tuple(request.numbers)


def _refused(request: Request, reason: Reason) -> Report:
    outcomes = tuple(OrderOutcome(n, Outcome.REFUSED, reason=reason) for n in _numbers(request))
    return Report(request.shop, request.actor, request.kind.value, outcomes)


def _failed(request: Request, info: ErrorInfo) -> Report:
    outcomes = tuple(OrderOutcome(n, Outcome.FAILED, error=info) for n in _numbers(request))
    return Report(request.shop, request.actor, request.kind.value, outcomes)

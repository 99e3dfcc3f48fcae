"""Requests stored before their ack: submitted by handlers, executed and resumed by the worker.

The ack path stores one row and answers Slack; everything after it happens here, from the
database, so a restart at any point resumes the request instead of losing it, and its report
is written in the same transaction that finishes it (posted once by the publisher).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Protocol

from core import auto
from core.bundles import bundle
from core.confirm import confirm
from core.context import Core
from core.events import EventKind
from core.leader import LeaseLostError, fence
from core.model import ALL_ORDERS, Request, RequestKind, Stage
from core.outcomes import ErrorInfo, OrderOutcome, Outcome, Reason, Report
from core.refetch import refetch
from core.shipping import resolve_fee
from core.store.codec import dump_report
from core.store.requests import claim_request, finish_request

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # a request that fails this often is finished with an error, never looped on
CURRENT_REQUEST: ContextVar[int | None] = ContextVar("current_request", default=None)
"""The stored request the worker is carrying out (log lines name it; see bot/logs.py)."""


class Authorize(Protocol):
    """May ``actor`` still do ``kind`` in ``shop``? Asked again right before the effect:
    None when allowed, otherwise why not (NOT_ALLOWED, or ROLE_UNKNOWN when it could not be
    checked — refused too, never guessed)."""

    def __call__(self, actor: str, kind: RequestKind, shop: str) -> Awaitable[Reason | None]: ...


Progress = Callable[[Request, int, int], Awaitable[None]]
OnReport = Callable[[Request, Report], object]  # a finished request's report (metrics)


async def submit(core: Core, request: Request) -> tuple[Request, bool]:
    """Store a request: committed before this returns, in one INSERT with the requests
    submitted beside it (the ack path does O(1) work). False: Slack redelivered it, or the
    same request is still open."""
    return await core.inbox.submit(core.store, request)


class RequestWorker:
    """Executes stored requests in order; after a restart, the unfinished ones first."""

    def __init__(
        self,
        core: Core,
        authorize: Authorize,
        *,
        progress: Progress | None = None,
        on_report: OnReport | None = None,
    ) -> None:
        self.core = core
        self.authorize = authorize
        self.progress = progress
        self.on_report = on_report
        self._lock = asyncio.Lock()

    async def run_once(self) -> int:
        """Run every unfinished request; returns how many finished."""
        finished = 0
        failed: set[int] = set()  # raised this turn: resumed at the next one, not in a loop
        async with self._lock:
            while True:
                async with self.core.store.tx() as tx:
                    await fence(self.core.lease, tx)  # the request claim: only the leader runs it
                    request = await claim_request(tx, self.core.clock.now(), skip=failed)
                if request is None:
                    return finished
                assert request.id is not None
                token = CURRENT_REQUEST.set(request.id)
                try:
                    ran = await self._run(request)
                finally:
                    CURRENT_REQUEST.reset(token)
                if ran:
                    finished += 1
                else:
                    failed.add(request.id)

    async def _run(self, request: Request) -> bool:
        """Execute a claimed request (marked running) and finish it with its report."""
        refused: Reason | None = None
        try:
            if request.attempts >= MAX_ATTEMPTS:
                info = ErrorInfo("unknown", None, "gave up after retries")
                report = _report(request, await self._numbers(request), Outcome.FAILED, error=info)
            elif request.actor == auto.AUTO_ACTOR and not await auto.may_run(self.core, request):
                # paused or switched off since intake decided: nothing reaches RMS
                refused = Reason.AUTO_STOPPED
                report = _report(
                    request, await self._numbers(request), Outcome.REFUSED, reason=refused
                )
            elif request.actor != auto.AUTO_ACTOR and (
                refused := await self.authorize(request.actor, request.kind, request.shop)
            ):
                logger.info(
                    "refused %s to %s at the effect (%s)", request.kind, request.actor, refused
                )
                numbers = await self._numbers(request)
                report = _report(request, numbers, Outcome.REFUSED, reason=refused)
            else:
                report = await self._execute(request)
        except LeaseLostError as exc:  # the new leader resumes it; nothing more happens here
            logger.warning("request %d (%s) left to the leader: %s", request.id, request.kind, exc)
            return False
        except Exception:
            logger.exception("request %d (%s) failed; it will be resumed", request.id, request.kind)
            return False
        now = self.core.clock.now()
        async with self.core.store.tx() as tx:  # the outcome, its audit and its report: one unit
            await fence(self.core.lease, tx)
            if await finish_request(tx, request.id, now, dump_report(report)):
                if refused is Reason.AUTO_STOPPED:
                    await auto.stopped_in(tx, await self._numbers(request))
                await auto.finished_in(tx, request, report, now)
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
        if self.on_report is not None:
            self.on_report(request, report)
        return True

    async def _numbers(self, request: Request) -> Sequence[str]:
        """The orders a request is about; for "all", those it would confirm now."""
        if request.numbers != ALL_ORDERS:
            return request.numbers
        return await self.core.store.numbers_in_stages(request.shop, [Stage.AWAITING])

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
            return await bundle(core, shop, await self._numbers(request), actor)
        number = request.numbers[0]
        fees: Mapping[int, str] = {int(k): str(v) for k, v in request.payload["fees"].items()}
        shown = request.payload.get("seen")  # recorded fees the form showed (older requests: none)
        seen = {int(k): int(v) for k, v in shown.items()} if isinstance(shown, dict) else None
        return await resolve_fee(core, shop, number, fees, actor, request_id=request.id, seen=seen)


def _report(
    request: Request,
    numbers: Sequence[str],
    outcome: Outcome,
    *,
    reason: Reason | None = None,
    error: ErrorInfo | None = None,
) -> Report:
    """The same outcome for every order of a request that was not carried out."""
    outcomes = tuple(OrderOutcome(n, outcome, reason=reason, error=error) for n in numbers)
    return Report(request.shop, request.actor, request.kind.value, outcomes)

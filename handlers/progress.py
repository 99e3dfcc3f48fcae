"""Progress of a bulk confirmation: the request's own outbox message, edited in place."""

from __future__ import annotations

from collections.abc import Callable

from core.model import Request
from core.ports import Clock
from core.store.sqlite import Store
from handlers.render.i18n import Lang
from handlers.render.reports import progress_message
from handlers.render.request_posts import request_key

BULK = 100  # more orders than one confirmOrder call takes: show progress


class BulkProgress:
    """The worker's progress port. The message is keyed by the request, so its report later
    replaces it (one message per bulk confirmation, first counting up, then the result)."""

    def __init__(self, store: Store, clock: Clock, lang: Lang, wake: Callable[[], None]) -> None:
        self.store, self.clock, self.lang, self.wake = store, clock, lang, wake

    async def __call__(self, request: Request, done: int, of: int) -> None:
        if of <= BULK or not request.channel:
            return
        payload: dict[str, object] = {"messages": [progress_message(done, of, self.lang)]}
        if request.thread_ts:
            payload["thread_ts"] = request.thread_ts
        key, now = request_key(request.id), self.clock.now()
        async with self.store.tx() as tx:
            if not await tx.update_message(key, payload, at=now):
                await tx.enqueue_message(
                    key, request.shop, request.channel, "request", payload, at=now
                )
        self.wake()  # the publisher posts it now, not at its next tick

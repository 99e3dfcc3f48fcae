"""Progress of a bulk confirmation: one message, posted once and edited in place."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from core.model import Request
from core.store.sqlite import SqliteStore
from handlers.poster import SlackPoster
from handlers.render.i18n import Lang
from handlers.render.reports import progress_message

logger = logging.getLogger(__name__)
BULK = 100  # more orders than one confirmOrder call takes: show progress


def progress_ref(request_id: int) -> str:
    """The refs key of a request's progress message ("channel|ts")."""
    return f"progress:{request_id}"


class BulkProgress:
    """The worker's progress port: a courtesy, never a reason for the confirmation to fail.

    The report of the request later replaces this message (see Publisher), so the channel
    shows one message per bulk confirmation, first counting up, then the result."""

    def __init__(self, store: SqliteStore, poster: SlackPoster, lang: Lang) -> None:
        self.store = store
        self.poster = poster
        self.lang = lang

    async def __call__(self, request: Request, done: int, of: int) -> None:
        if of <= BULK or not request.channel:
            return
        message = progress_message(done, of, self.lang)
        ref = await self.store.get_ref(progress_ref(request.id))
        try:
            if ref is None:
                ts = await self.poster.post(request.channel, message, thread_ts=request.thread_ts)
                await self.store.set_ref(progress_ref(request.id), f"{request.channel}|{ts}")
            else:
                channel, _, ts = ref.partition("|")
                await self.poster.update(channel, ts, message)
        except SlackApiError as exc:
            logger.info(
                "progress of request %d not shown: %s", request.id, exc.response.get("error")
            )

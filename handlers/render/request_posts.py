"""Where and how the report of a finished request is shown (pure: values → posts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.model import OrderRecord, Request, RequestKind, ShopConfig
from core.outcomes import Outcome, Report
from handlers.render.bundles import bundle_report
from handlers.render.cards import flag_card
from handlers.render.i18n import Lang
from handlers.render.reports import confirm_report, refetch_report

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Post:
    """One thing to send: a new post (in a thread), an edit in place, or a response_url reply."""

    channel: str
    messages: list[Message]
    thread_ts: str | None = None
    update_ts: str | None = None
    response_url: str | None = None


def request_key(request_id: int) -> str:
    """The outbox key of a request's report (and of its progress, edited in place)."""
    return f"request:{request_id}"


def request_report_posts(
    request: Request,
    report: Report,
    record: OrderRecord | None,
    shop: ShopConfig,
    lang: Lang,
    now: datetime,
) -> list[Post]:
    """The posts that report a request: re-fetches answer the requester only; confirmations
    go where they were asked for; a fee approval edits its card and reports in its thread."""
    channel = request.channel or shop.channel
    if request.kind is RequestKind.REFETCH:
        messages = refetch_report(report, lang, shop_name=shop.name)[:4]
        if request.response_url:
            return [Post(channel, [m], response_url=request.response_url) for m in messages]
        return [Post(channel, messages)]
    if request.kind is RequestKind.BUNDLE:
        message = bundle_report(report, lang, shop_name=shop.name)
        if request.response_url:
            return [Post(channel, [message], response_url=request.response_url)]
        return [Post(channel, [message])]
    if request.kind is RequestKind.CONFIRM:
        return [Post(channel, confirm_report(report, lang, shop_name=shop.name), request.thread_ts)]
    posts: list[Post] = []
    outcome = report.outcomes[0]
    if request.channel and request.thread_ts and record is not None:
        card = flag_card(
            record,
            shop.name,
            shop.api_option,
            lang,
            resolved=outcome,
            now=now,
            actor=request.actor,
            fees=outcome.fees,
        )
        posts.append(Post(request.channel, [card], update_ts=request.thread_ts))
    if request.channel and outcome.outcome is not Outcome.FEE_RECORDED:
        messages = confirm_report(report, lang, shop_name=shop.name)
        posts.append(Post(request.channel, messages, thread_ts=request.thread_ts))
    return posts

"""Where and how the report of a finished request is shown (pure: values → posts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.model import OrderRecord, Request, RequestKind, ShopConfig
from core.outcomes import Outcome, Report
from handlers.render.blocks import section
from handlers.render.bundles import bundle_report
from handlers.render.cards import flag_card, outcome_line
from handlers.render.i18n import Lang, t
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
    replace: bool = False  # a response_url answer that replaces the requester's placeholder
    ephemeral_user: str | None = None  # only this person sees it (chat.postEphemeral)


def request_key(request_id: int) -> str:
    """The outbox key of a request's report (and of its progress, edited in place)."""
    return f"request:{request_id}"


_NOOP = frozenset({Outcome.REFUSED, Outcome.ALREADY_CONFIRMED})
"""Outcomes that changed nothing: only the requester hears about them."""


def request_report_posts(
    request: Request,
    report: Report,
    record: OrderRecord | None,
    shop: ShopConfig,
    lang: Lang,
    now: datetime,
    *,
    carded: bool = False,
) -> list[Post]:
    """The posts that report a request. Re-fetches and results that changed nothing answer the
    requester only (replacing the placeholder); orders with a living card are reported by
    their card (``carded``: every order has one), so a card's button or a fee approval posts
    nothing more; other confirmations go where they were asked for."""
    channel = request.channel or shop.channel
    url = request.response_url
    placeholder = request.delivery_key.startswith("command:")  # an ack to replace, not a card
    if request.kind is RequestKind.REFETCH:
        messages = refetch_report(report, lang, shop_name=shop.name)[:4]
        if url:
            return [
                Post(channel, [m], response_url=url, replace=placeholder and i == 0)
                for i, m in enumerate(messages)
            ]
        return [] if carded else [Post(channel, messages)]
    if request.kind is RequestKind.BUNDLE:
        message = bundle_report(report, lang, shop_name=shop.name)
        if url:
            return [Post(channel, [message], response_url=url, replace=placeholder)]
        return [Post(channel, [message])]
    noop = bool(report.outcomes) and all(o.outcome in _NOOP for o in report.outcomes)
    if request.kind is RequestKind.CONFIRM:
        messages = confirm_report(report, lang, shop_name=shop.name)
        if noop and url:
            return [Post(channel, messages[:1], response_url=url, replace=placeholder)]
        if carded and all(o.outcome is Outcome.CONFIRMED for o in report.outcomes):
            # the card shows who confirmed it and moves on; a command's asker gets the result
            # instead of the placeholder
            return (
                [Post(channel, messages[:1], response_url=url, replace=True)]
                if placeholder and url
                else []
            )
        reported = [Post(channel, messages, request.thread_ts)]
        if url:
            done = {"text": t("report_posted", lang)}
            reported.append(Post(channel, [done], response_url=url, replace=placeholder))
        return reported
    posts: list[Post] = []
    outcome = report.outcomes[0]
    if noop and request.channel:  # a stale form: only its sender hears why nothing happened
        line = outcome_line(record, outcome, shop.api_option, lang) if record else ""
        text = line or confirm_report(report, lang, shop_name=shop.name)[0].get("text", "")
        return [
            Post(
                request.channel,
                [{"text": text, "blocks": [section(text)]}],
                ephemeral_user=request.actor,
            )
        ]
    if carded:
        return posts  # the card is re-rendered with what the approval did
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
        if noop and url:
            posts.append(Post(channel, messages[:1], response_url=url, replace=placeholder))
        else:
            posts.append(Post(request.channel, messages, thread_ts=request.thread_ts))
    return posts

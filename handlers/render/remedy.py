"""Remediation as Slack blocks: steps, what the bot did, Retry / Re-fetch buttons, error cards."""

from __future__ import annotations

from collections.abc import Sequence

from core.outcomes import ErrorInfo
from core.remediation import Remediation, Text, lookup
from handlers.render import ids
from handlers.render.blocks import (
    Block,
    Message,
    actions,
    button,
    context,
    divider,
    escape,
    header,
    line_sections,
    message,
    section,
    split_blocks,
    truncate,
)
from handlers.render.i18n import Lang, count, t

INLINE_ORDERS = 20
"""At most this many order lines per section in a main message; the rest go to the thread."""


def numbered(steps: Sequence[Text], lang: Lang) -> str:
    """1. … newline 2. … — the steps as a numbered list."""
    return "\n".join(f"{i}. {step.get(lang)}" for i, step in enumerate(steps, 1))


def inline_steps(steps: Sequence[Text], lang: Lang) -> str:
    """The steps on one line: ① … → ② …"""
    marks = "①②③④⑤⑥⑦⑧⑨⑩"
    return " → ".join(
        f"{marks[i] if i < len(marks) else i + 1} {s.get(lang)}" for i, s in enumerate(steps)
    )


def entry_for(error: ErrorInfo) -> Remediation:
    """The catalogue entry for an error: by its key, else by its raw RMS code."""
    entry = lookup(error.key)
    if entry.key == "unknown" and error.code:
        entry = lookup(error.code)
    return entry


def bot_did_text(bot_did: Sequence[str], lang: Lang) -> str:
    """「自動で3回再試行しました・RMSステータスを取得しました」 from ErrorInfo.bot_did."""
    said: list[str] = []
    for item in bot_did:
        name, _, arg = item.partition(":")
        if name == "retried":
            said.append(t("did_retried", lang, n=arg or "1"))
        elif name in ("refetched", "will_reconcile", "paused"):
            said.append(t(f"did_{name}", lang))
        else:
            said.append(escape(item))
    sep = "、" if lang == "ja" else "; "
    return sep.join(said) if said else t("did_nothing", lang)


def raw_error_lines(error: ErrorInfo, lang: Lang) -> list[str]:
    """The RMS code and message, kept verbatim (escaped) so support can trace them."""
    lines = []
    if error.code:
        lines.append(t("rms_code", lang, code=escape(error.code).replace("`", "'")))
    if error.message:
        lines.append(t("rms_message", lang, message=escape(truncate(error.message, 500))))
    return lines


def remedy_blocks(error: ErrorInfo, lang: Lang, *, with_title: bool = True) -> list[Block]:
    """何が起きたか / ボットが行ったこと / 対応方法 for one error."""
    entry = entry_for(error)
    happened = [entry.cause.get(lang), *raw_error_lines(error, lang)]
    blocks: list[Block] = []
    if with_title:
        blocks.append(section(f"*❌ {escape(entry.title.get(lang))}*"))
    blocks += [
        section(f"*{t('what_happened', lang)}*\n" + "\n".join(happened)),
        section(f"*{t('bot_did', lang)}*\n{bot_did_text(error.bot_did, lang)}"),
        section(f"*{t('how_to_fix', lang)}*\n{numbered(entry.steps, lang)}"),
    ]
    return blocks


def number_buttons(
    shop: str, numbers: Sequence[str], lang: Lang, *, retry: bool, refetch: bool
) -> list[Block]:
    """Retry / Re-fetch buttons carrying every number, split so each value stays ≤ 2000.

    One actions block per chunk of numbers keeps each block small enough for split_blocks
    to spread long lists over several messages (a value counts toward the message size).
    """
    if not numbers or not (retry or refetch):
        return []
    values = ids.chunk_numbers(shop, numbers)
    kinds = [
        (key, action)
        for key, action, on in (
            ("btn_retry", ids.RETRY_CONFIRM, retry),
            ("btn_refetch", ids.REFETCH_MANY, refetch),
        )
        if on
    ]
    blocks = []
    for i, value in enumerate(values, 1):
        elements = []
        for key, action_id in kinds:
            label = t(key, lang)
            if len(values) > 1:
                label = t("btn_part", lang, label=label, i=i, n=len(values))
            style = "primary" if action_id == ids.RETRY_CONFIRM else None
            elements.append(button(label, action_id, value, style=style))
        blocks.append(actions(*elements))
    return blocks


def order_lines_split(
    lines: Sequence[str], lang: Lang, *, inline: int = INLINE_ORDERS
) -> tuple[list[Block], list[str]]:
    """The first ``inline`` lines as sections (plus a 「他N件はスレッド」 note) and the rest."""
    head, rest = list(lines[:inline]), list(lines[inline:])
    blocks = line_sections(head)
    if rest:
        blocks.append(context(t("more_in_thread", lang, n=len(rest))))
    return blocks, rest


def thread_blocks(title: str, rest: Sequence[str], lang: Lang) -> list[Block]:
    """Blocks listing ``rest`` under 「title (続き)」, for the thread."""
    if not rest:
        return []
    return [section(f"*{t('continued', lang, title=title)}*"), *line_sections(rest)]


def as_messages(blocks: Sequence[Block], fallback: str) -> list[Message]:
    """As many messages as ``blocks`` need, each within the block and size limits."""
    return [message(fallback, chunk) for chunk in split_blocks(blocks)] if blocks else []


def remediation_card(
    error: ErrorInfo,
    order_numbers: Sequence[str],
    shop_name: str,
    lang: Lang = "ja",
    *,
    shop: str | None = None,
) -> list[Message]:
    """One card for one error kind over many orders: [main, *thread replies].

    ``shop`` is the shop key carried in button values (defaults to ``shop_name``).
    """
    entry = entry_for(error)
    title = f"❌ {entry.title.get(lang)} — {shop_name}"
    lines = [f"• `{n}`" for n in order_numbers]
    listed, rest = order_lines_split(lines, lang)
    blocks: list[Block] = [
        header(title),
        *remedy_blocks(error, lang, with_title=False),
        divider(),
        section(f"*{t('affected', lang, count=count(len(order_numbers), lang))}*"),
        *listed,
        *number_buttons(
            shop or shop_name, order_numbers, lang, retry=entry.retry, refetch=entry.refetch
        ),
    ]
    chunks = split_blocks(blocks)
    fallback = f"{title} ({count(len(order_numbers), lang)})"
    main = [message(fallback, chunks[0])]
    extra = [message(fallback, chunk) for chunk in chunks[1:]]
    thread = thread_blocks(entry.title.get(lang), rest, lang)
    return main + extra + as_messages(thread, t("continued", lang, title=fallback))

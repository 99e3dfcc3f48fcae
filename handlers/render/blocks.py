"""Tiny pure builders for Block Kit dicts that enforce Slack's limits."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Block = dict[str, Any]
Message = dict[str, Any]

MAX_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MAX_TEXT = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_VALUE = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS = 25
MAX_MODAL_TITLE = 24
MAX_FALLBACK = 3000
MAX_MESSAGE_CHARS = 11_000
"""Slack rejects messages well below the per-block limits (msg_blocks_too_long near 13k)."""

ELLIPSIS = "…"


def escape(text: object) -> str:
    """Escape &, < and > so user data cannot form links, mentions or broadcasts in mrkdwn."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with "…" when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def plain(text: str, limit: int = MAX_TEXT) -> dict[str, Any]:
    """A plain_text object (emoji on)."""
    return {"type": "plain_text", "text": truncate(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = MAX_TEXT) -> dict[str, Any]:
    """A mrkdwn text object."""
    return {"type": "mrkdwn", "text": truncate(text, limit) or " "}


def header(text: str) -> Block:
    """A header block (plain text, ≤ 150 characters)."""
    return {"type": "header", "text": plain(text, MAX_HEADER)}


def section(
    text: str, *, accessory: Mapping[str, Any] | None = None, block_id: str | None = None
) -> Block:
    """A mrkdwn section (≤ 3000 characters), with an optional accessory element."""
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = dict(accessory)
    if block_id:
        block["block_id"] = block_id[:255]
    return block


def fields(items: Sequence[str], *, text: str | None = None) -> Block:
    """A section of up to 10 mrkdwn fields (≤ 2000 characters each); extra items are dropped."""
    block: Block = {
        "type": "section",
        "fields": [mrkdwn(item, MAX_FIELD) for item in items[:MAX_FIELDS]],
    }
    if text:
        block["text"] = mrkdwn(text)
    return block


def context(*texts: str) -> Block:
    """A context block of up to 10 mrkdwn elements."""
    return {"type": "context", "elements": [mrkdwn(t) for t in texts[:MAX_CONTEXT_ELEMENTS]]}


def divider() -> Block:
    """A divider block."""
    return {"type": "divider"}


def actions(*elements: Mapping[str, Any], block_id: str | None = None) -> Block:
    """An actions block of up to 25 elements."""
    block: Block = {"type": "actions", "elements": [dict(e) for e in elements[:MAX_ACTIONS]]}
    if block_id:
        block["block_id"] = block_id[:255]
    return block


def confirm_dialog(
    title: str, text: str, confirm: str, deny: str, *, style: str | None = None
) -> dict[str, Any]:
    """A confirmation dialog for a button (title ≤ 100, text ≤ 300, buttons ≤ 30)."""
    dialog: dict[str, Any] = {
        "title": plain(title, 100),
        "text": plain(text, 300),
        "confirm": plain(confirm, 30),
        "deny": plain(deny, 30),
    }
    if style in ("primary", "danger"):
        dialog["style"] = style
    return dialog


def button(
    text: str,
    action_id: str,
    value: str,
    style: str | None = None,
    confirm: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A button (text ≤ 75). Raises ValueError when ``value`` exceeds 2000 characters.

    A value is never truncated: a cut list of order numbers would silently drop orders.
    """
    if len(value) > MAX_VALUE:
        raise ValueError(f"button value is {len(value)} characters; Slack allows {MAX_VALUE}")
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text, MAX_BUTTON_TEXT),
        "action_id": action_id,
        "value": value,
    }
    if style in ("primary", "danger"):
        element["style"] = style
    if confirm is not None:
        element["confirm"] = dict(confirm)
    return element


def text_input(
    block_id: str,
    action_id: str,
    label: str,
    *,
    initial: str | None = None,
    placeholder: str | None = None,
    hint: str | None = None,
    max_length: int | None = None,
) -> Block:
    """An input block holding one plain_text_input."""
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id}
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    if max_length:
        element["max_length"] = max_length
    block: Block = {
        "type": "input",
        "block_id": block_id[:255],
        "label": plain(label, 2000),
        "element": element,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def modal(
    callback_id: str,
    title: str,
    blocks: Sequence[Block],
    *,
    submit: str | None = None,
    close: str | None = None,
    private_metadata: str = "",
) -> dict[str, Any]:
    """A modal view (title/submit/close ≤ 24, ≤ 100 blocks, private_metadata ≤ 3000)."""
    if len(private_metadata) > MAX_TEXT:
        raise ValueError("private_metadata exceeds 3000 characters")
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, MAX_MODAL_TITLE),
        "blocks": list(blocks)[:MAX_MODAL_BLOCKS],
        "private_metadata": private_metadata,
    }
    if submit:
        view["submit"] = plain(submit, MAX_MODAL_TITLE)
    if close:
        view["close"] = plain(close, MAX_MODAL_TITLE)
    return view


def message(text: str, blocks: Iterable[Block]) -> Message:
    """A message dict: fallback ``text`` (for notifications) plus ``blocks``."""
    return {"text": truncate(text, MAX_FALLBACK), "blocks": list(blocks)}


def line_sections(lines: Iterable[str], *, limit: int = MAX_TEXT) -> list[Block]:
    """Pack lines into as few sections as fit (each ≤ ``limit``); an overlong line is cut."""
    blocks: list[Block] = []
    chunk: list[str] = []
    size = 0
    for line in lines:
        line = truncate(line, limit)
        if chunk and size + 1 + len(line) > limit:
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
        size += len(line) + (1 if chunk else 0)
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks


def block_size(block: Block) -> int:
    """Characters a block adds to a message, as Slack counts them (roughly: its JSON)."""
    return len(json.dumps(block, ensure_ascii=False))


def split_blocks(
    blocks: Sequence[Block],
    *,
    max_blocks: int = MAX_BLOCKS,
    max_chars: int = MAX_MESSAGE_CHARS,
) -> list[list[Block]]:
    """Split blocks into a first message and thread continuations, each within the limits.

    A trailing header or divider moves to the next message so a heading never ends a message.
    """
    chunks: list[list[Block]] = []
    current: list[Block] = []
    size = 0
    for block in blocks:
        extra = block_size(block)
        if current and (len(current) >= max_blocks or size + extra > max_chars):
            carried: list[Block] = []
            while len(current) > 1 and current[-1]["type"] in ("header", "divider"):
                carried.insert(0, current.pop())
            chunks.append(current)
            current, size = carried, sum(block_size(b) for b in carried)
        current.append(block)
        size += extra
    if current:
        chunks.append(current)
    return chunks

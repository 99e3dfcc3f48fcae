"""action_id / callback_id / block_id constants shared by the renderers and the handlers."""

from __future__ import annotations

from collections.abc import Iterable

# Buttons (action_id). Values are "|"-joined; see pack_value / unpack_value.
CONFIRM_ORDER = "confirm_order"  # value "shop|order_number"
CONFIRM_ALL = "confirm_all"  # value "shop|count|token"
CANCEL_ALL = "cancel_confirm_all"  # value "shop|count|token"
REFETCH_ORDER = "refetch_order"  # value "shop|order_number"
RETRY_CONFIRM = "retry_confirm"  # value "shop|n1,n2,…"
REFETCH_MANY = "refetch_many"  # value "shop|n1,n2,…"
OPEN_FEE_MODAL = "open_fee_modal"  # value "shop|order_number"
SHOW_DETAILS = "show_details"  # value "shop|order_number"

# Modals (callback_id) and their inputs.
FEE_MODAL = "fee_modal"
FEE_BLOCK_PREFIX = "fee_"  # block_id f"fee_{basketId}"
FEE_INPUT = "fee_input"
LICENSE_MODAL = "license_modal"
LICENSE_BLOCK = "license_key"
LICENSE_INPUT = "license_input"

# App Home buttons.
HOME_PENDING = "home_pending"
HOME_FLAGGED = "home_flagged"
HOME_SUMMARY = "home_summary"

SEPARATOR = "|"
LIST_SEPARATOR = ","
MAX_VALUE = 2000
"""Slack's limit for a button value."""


def fee_block_id(basket_id: int) -> str:
    """Return the fee modal's block_id for one package."""
    return f"{FEE_BLOCK_PREFIX}{basket_id}"


def basket_id_of(block_id: str) -> int | None:
    """Return the basketId in a fee block_id, or None when it is not one."""
    if not block_id.startswith(FEE_BLOCK_PREFIX):
        return None
    tail = block_id[len(FEE_BLOCK_PREFIX) :]
    return int(tail) if tail.isdigit() else None


def pack_value(*parts: object) -> str:
    """Join parts with "|" (lists and tuples are comma-joined first)."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, list | tuple):
            out.append(LIST_SEPARATOR.join(str(p) for p in part))
        else:
            out.append(str(part))
    return SEPARATOR.join(out)


def unpack_value(value: str, n: int) -> tuple[str, ...]:
    """Split a packed value into exactly ``n`` parts (the last part keeps any extra "|").

    Raises ValueError when the value has fewer than ``n`` parts (a forged or stale button).
    """
    parts = (value or "").split(SEPARATOR, n - 1)
    if len(parts) != n:
        raise ValueError(f"expected {n} parts in button value, got {len(parts)}")
    return tuple(parts)


def unpack_numbers(field: str) -> tuple[str, ...]:
    """Split a comma-joined list of order numbers, dropping empties."""
    return tuple(p for p in (field or "").split(LIST_SEPARATOR) if p)


def chunk_numbers(shop: str, numbers: Iterable[str], *, limit: int = MAX_VALUE) -> list[str]:
    """Pack "shop|n1,n2,…" values, each at most ``limit`` characters, covering every number."""
    values: list[str] = []
    current: list[str] = []
    size = len(shop) + 1
    for number in numbers:
        extra = len(number) + (1 if current else 0)
        if current and size + extra > limit:
            values.append(pack_value(shop, current))
            current, size, extra = [], len(shop) + 1, len(number)
        current.append(number)
        size += extra
    if current:
        values.append(pack_value(shop, current))
    return values

"""Pure parsing of command text into requests; bad input names the bad token."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from core.errors import InvalidInputError

ORDER_NUMBER = re.compile(r"^([0-9]{6,7})-([0-9]{8})-([0-9]{8}|[0-9]{10})$")
ALL_WORDS = frozenset({"all", "全部", "すべて", "全て"})
MAX_NUMBERS = 500  # per command: 5 confirmOrder calls; bigger runs use `all`
SEPARATORS = re.compile(r"[\s,、，;；・]+")
_DASHES = str.maketrans(dict.fromkeys("‐‑‒–—―−ー－", "-"))
SUBCOMMANDS = (
    "help",
    "pending",
    "flagged",
    "bundle",
    "unbundle",
    "candidates",
    "summary",
    "license",
)


@dataclass(frozen=True, slots=True)
class OrdersRequest:
    """`/confirm …` or `/rms-status …`: order numbers (or all) for one shop."""

    shop: str
    numbers: tuple[str, ...] = ()
    all: bool = False


@dataclass(frozen=True, slots=True)
class RmsRequest:
    """`/rms <subcommand> …`."""

    verb: str
    shop: str
    numbers: tuple[str, ...] = ()


def normalise(text: str) -> list[str]:
    """Split command text into tokens: full-width digits, dashes and separators are accepted."""
    text = unicodedata.normalize("NFKC", text or "").translate(_DASHES)
    return [t for t in SEPARATORS.split(text.strip()) if t]


def is_order_number(token: str) -> bool:
    """Pattern SHOPID-YYYYMMDD-SERIAL with a real calendar date."""
    match = ORDER_NUMBER.match(token)
    if not match:
        return False
    try:
        datetime.strptime(match.group(2), "%Y%m%d")  # noqa: DTZ007 - a calendar check only
    except ValueError:
        return False
    return True


def _shop_of(
    tokens: list[str], shops: Collection[str], channel_shop: str | None
) -> tuple[str, list[str]]:
    named = [t for t in tokens if t in shops]
    rest = [t for t in tokens if t not in shops]
    if len(set(named)) > 1:
        raise InvalidInputError(f"shops:{','.join(dict.fromkeys(named))}")
    if named:
        return named[0], rest
    if channel_shop:
        return channel_shop, rest
    if len(shops) == 1:
        return next(iter(shops)), rest
    raise InvalidInputError(f"which_shop:{','.join(shops)}")


def parse_orders(
    text: str, shops: Collection[str], *, channel_shop: str | None = None
) -> OrdersRequest:
    """Parse `/confirm` and `/rms-status` text. Raises InvalidInputError("kind:detail")."""
    tokens = normalise(text)
    if not tokens:
        raise InvalidInputError("empty:")
    shop, rest = _shop_of(tokens, shops, channel_shop)
    words = [t for t in rest if t.lower() in ALL_WORDS]
    numbers = [t for t in rest if t.lower() not in ALL_WORDS]
    bad = [t for t in numbers if not is_order_number(t)]
    if bad:
        shown = " ".join(_clip(t) for t in bad[:5])
        more = f" (+{len(bad) - 5})" if len(bad) > 5 else ""
        raise InvalidInputError(f"bad_numbers:{shown}{more}")
    if words and numbers:
        raise InvalidInputError("all_and_numbers:")
    if words:
        return OrdersRequest(shop=shop, all=True)
    unique = tuple(dict.fromkeys(numbers))
    if len(unique) > MAX_NUMBERS:
        raise InvalidInputError(f"too_many:{len(unique)}")
    if not unique:
        raise InvalidInputError("empty:")
    return OrdersRequest(shop=shop, numbers=unique)


def parse_rms(text: str, shops: Collection[str], *, channel_shop: str | None = None) -> RmsRequest:
    """Parse `/rms <subcommand> [orders…] [shop]`."""
    tokens = normalise(text)
    verb = tokens[0].lower() if tokens else "help"
    if verb not in SUBCOMMANDS:
        raise InvalidInputError(f"unknown_subcommand:{_clip(verb)}")
    shop, rest = _shop_of(tokens[1:], shops, channel_shop)
    bad = [t for t in rest if not is_order_number(t)]
    if bad:
        raise InvalidInputError(f"bad_numbers:{' '.join(_clip(t) for t in bad[:5])}")
    numbers = tuple(dict.fromkeys(rest))
    if verb == "bundle" and len(numbers) < 2:
        raise InvalidInputError("bundle_needs_two:")
    if verb == "unbundle" and len(numbers) != 1:
        raise InvalidInputError("unbundle_needs_one:")
    return RmsRequest(verb=verb, shop=shop, numbers=numbers)


def _clip(token: str) -> str:
    return token if len(token) <= 40 else token[:39] + "…"

"""Pure parsing of command text into requests; bad input names the bad token."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from core.errors import InvalidInputError
from handlers.render.ids import pack_value

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
    "auto",
    "held",
)
AUTO_ACTIONS = {"on": "on", "off": "off", "dry-run": "dry_run", "dry_run": "dry_run"}
AUTO_ACTIONS |= {"status": "status", "pause": "pause", "resume": "resume"}


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
    arg: str = ""  # /rms auto: on | off | dry_run | status | pause | resume


def normalise(text: str) -> list[str]:
    """Split command text into tokens: full-width digits, dashes and separators are accepted."""
    text = unicodedata.normalize("NFKC", text or "").translate(_DASHES)
    return [t for t in SEPARATORS.split(text.strip()) if t]


def is_order_number(token: str) -> bool:
    """Pattern SHOPID-YYYYMMDD-SERIAL with a real calendar date."""
    match = ORDER_NUMBER.match(token)
    if not match:
        return False
    day = match.group(2)
    try:  # on the ack path: date() is ~20× cheaper than strptime
        date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except ValueError:
        return False
    return True


ChannelNames = Mapping[str, str]  # Slack channel ID → its name without "#" (as Slack knows it)
_CHANNEL_MENTION = re.compile(r"^<#([A-Za-z0-9]+)(?:\|[^>]*)?>$")  # how Slack escapes #channel


def shop_names(
    shops: Collection[str] | Mapping[str, object], channel_names: ChannelNames | None = None
) -> dict[str, str]:
    """Every name a shop can be called by (key, display name, channel ID and name) → its key."""
    names: dict[str, str] = {}
    for key in shops:
        names[_fold(key)] = key
        if isinstance(shops, Mapping):
            display = getattr(shops[key], "name", "")
            if isinstance(display, str) and display:
                names[_fold(" ".join(normalise(display)))] = key
            channel = getattr(shops[key], "channel", "")
            if isinstance(channel, str) and channel:
                names.setdefault(_fold(channel), key)
                called = (channel_names or {}).get(channel, "")
                if called:
                    names.setdefault(_fold(" ".join(normalise(called))), key)
    return names


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def _as_name(token: str) -> str:
    """`<#C123|shop-second>` → C123, `#shop-second` → shop-second (folded), else the token."""
    mention = _CHANNEL_MENTION.match(token)
    if mention:
        return _fold(mention.group(1))
    return _fold(token[1:] if token.startswith("#") and len(token) > 1 else token)


def _usable(
    shops: Collection[str] | Mapping[str, object], channel_names: ChannelNames | None = None
) -> str:
    """「main (メイン店, #shop-main), api (API店)」: what may be typed, for an error message."""
    parts = []
    for key in shops:
        display = getattr(shops[key], "name", "") if isinstance(shops, Mapping) else ""
        channel = getattr(shops[key], "channel", "") if isinstance(shops, Mapping) else ""
        called = (channel_names or {}).get(channel, "") if isinstance(channel, str) else ""
        also = [n for n in (display if display != key else "", f"#{called}" if called else "") if n]
        parts.append(f"{key} ({', '.join(also)})" if also else key)
    return ", ".join(parts)


def _looks_like_shop(token: str) -> bool:
    """Not an order number attempt: order numbers start with digits."""
    return not token[:1].isdigit() and token.casefold() not in ALL_WORDS


def _shop_of(
    tokens: list[str],
    shops: Collection[str] | Mapping[str, object],
    channel_shop: str | None,
    channel_names: ChannelNames | None = None,
) -> tuple[str, list[str]]:
    names = shop_names(shops, channel_names)
    named = [names[_as_name(t)] for t in tokens if _as_name(t) in names]
    rest = [t for t in tokens if _as_name(t) not in names]
    if len(set(named)) > 1:
        raise InvalidInputError(f"shops:{','.join(dict.fromkeys(named))}")
    unknown = [t for t in rest if _looks_like_shop(t)]
    if unknown:
        usable = _usable(shops, channel_names)
        raise InvalidInputError(f"unknown_shop:{_clip(unknown[0])}|{usable}")
    if named:
        return named[0], rest
    if channel_shop:
        return channel_shop, rest
    if len(shops) == 1:
        return next(iter(shops)), rest
    raise InvalidInputError(f"which_shop:{_usable(shops, channel_names)}")


def parse_orders(
    text: str,
    shops: Collection[str] | Mapping[str, object],
    *,
    channel_shop: str | None = None,
    channel_names: ChannelNames | None = None,
) -> OrdersRequest:
    """Parse `/confirm` and `/rms-status` text. Raises InvalidInputError("kind:detail")."""
    tokens = normalise(text)
    if not tokens:
        raise InvalidInputError("empty:")
    shop, rest = _shop_of(tokens, shops, channel_shop, channel_names)
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


def parse_rms(
    text: str,
    shops: Collection[str] | Mapping[str, object],
    *,
    channel_shop: str | None = None,
    channel_names: ChannelNames | None = None,
) -> RmsRequest:
    """Parse `/rms <subcommand> [orders…] [shop]`."""
    tokens = normalise(text)
    verb = tokens[0].lower() if tokens else "help"
    if verb not in SUBCOMMANDS:
        raise InvalidInputError(f"unknown_subcommand:{_clip(verb)}")
    if verb == "auto":
        return _parse_auto(tokens[1:], shops, channel_shop)
    shop, rest = _shop_of(tokens[1:], shops, channel_shop, channel_names)
    bad = [t for t in rest if not is_order_number(t)]
    if bad:
        raise InvalidInputError(f"bad_numbers:{' '.join(_clip(t) for t in bad[:5])}")
    numbers = tuple(dict.fromkeys(rest))
    if verb == "bundle" and len(numbers) < 2:
        raise InvalidInputError("bundle_needs_two:")
    if verb == "unbundle" and len(numbers) != 1:
        raise InvalidInputError("unbundle_needs_one:")
    return RmsRequest(verb=verb, shop=shop, numbers=numbers)


def _parse_auto(tokens: list[str], shops: Collection[str], channel_shop: str | None) -> RmsRequest:
    """`/rms auto [shop] on|off|dry-run|status` or `/rms auto pause|resume` (every shop)."""
    actions = [AUTO_ACTIONS[t.lower()] for t in tokens if t.lower() in AUTO_ACTIONS]
    others = [t for t in tokens if t.lower() not in AUTO_ACTIONS]
    if len(actions) > 1 or any(t not in shops for t in others):
        raise InvalidInputError(f"auto_usage:{_clip(' '.join(tokens))}")
    action = actions[0] if actions else "status"
    if action in ("pause", "resume") or (action == "status" and not others):
        if others:
            raise InvalidInputError(f"auto_usage:{_clip(' '.join(tokens))}")
        return RmsRequest(verb="auto", shop="", arg=action)
    shop, _rest = _shop_of(others, shops, channel_shop)
    return RmsRequest(verb="auto", shop=shop, arg=action)


def _clip(token: str) -> str:
    return token if len(token) <= 40 else token[:39] + "…"


# ---------------------------------------------------------------- shipping fees (the fee modal)

FEE_ERRORS = ("fee_empty", "fee_negative", "fee_decimal", "fee_too_high", "fee_not_number")
"""The kinds of InvalidInputError parse_fee raises (message keys in handlers.messages)."""

_YEN_MARK = re.compile(r"^[¥\\]\s*|\s*円$")  # NFKC turns ￥ into ¥; a JIS keyboard types \ for ¥
_PLAIN = re.compile(r"^[0-9]+$")
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+$")
_NEGATIVE = re.compile(r"^[-−‐‑–—ー▲△]\s*[0-9][0-9,]*(\.[0-9]+)?$")
_DECIMAL = re.compile(r"^[0-9][0-9,]*\.[0-9]+$")
_MAX_DIGITS = 12  # far above any cap; longer digit runs are refused before int() sees them


def parse_fee(text: str | None, cap: int) -> int:
    """A fee typed by staff → whole yen in 0…cap.

    Understands full-width digits, thousands commas, 円 / ¥ and spaces around them
    ("１，０００円", "¥1,000", "1000 円"). Raises InvalidInputError("fee_<kind>:<as typed>").
    """
    typed = unicodedata.normalize("NFKC", text or "").strip()
    if not typed:
        raise InvalidInputError("fee_empty:")
    number = _YEN_MARK.sub("", typed).strip()
    shown = _clip(typed)
    if _NEGATIVE.match(number):
        raise InvalidInputError(f"fee_negative:{shown}")
    if _DECIMAL.match(number):
        raise InvalidInputError(f"fee_decimal:{shown}")
    if not (_PLAIN.match(number) or _GROUPED.match(number)):
        raise InvalidInputError(f"fee_not_number:{shown}")
    digits = number.replace(",", "").lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS or int(digits) > cap:
        raise InvalidInputError(f"fee_too_high:{shown}")
    return int(digits)


def parse_fees(
    entered: Mapping[int, str | None], baskets: Iterable[int], cap: int
) -> tuple[dict[int, int], dict[int, InvalidInputError]]:
    """Every package's fee (basketId → yen), and the problem of each package that has one."""
    fees: dict[int, int] = {}
    problems: dict[int, InvalidInputError] = {}
    for basket in baskets:
        try:
            fees[basket] = parse_fee(entered.get(basket), cap)
        except InvalidInputError as exc:
            problems[basket] = exc
    return fees, problems


@dataclass(frozen=True, slots=True)
class FeeModalState:
    """The fee modal's private_metadata: where the card is and, once checked, the fees.

    ``fees`` is None on the entry step and set on the confirmation step (確定). ``seen`` holds
    the fees already recorded when the form was opened (a later record by someone else wins).
    """

    shop: str
    number: str
    channel: str = ""
    ts: str = ""
    fees: Mapping[int, int] | None = None
    seen: Mapping[int, int] | None = None

    def pack(self, fees: Mapping[int, int] | None = None) -> str:
        """The metadata string; with ``fees`` it is the confirmation step's."""
        parts: list[object] = [self.shop, self.number, self.channel, self.ts]
        if self.seen is not None:
            parts.append(SEEN_MARK + _pairs(self.seen))
        chosen = self.fees if fees is None else fees
        if chosen is not None:  # last, as before ``seen`` was added
            parts.append(_pairs(chosen))
        return pack_value(*parts)


SEEN_MARK = "@"  # marks the metadata part with the fees the form showed when opened


def _pairs(fees: Mapping[int, int]) -> str:
    return ",".join(f"{b}={v}" for b, v in fees.items())


def _read_pairs(text: str) -> dict[int, int]:
    fees: dict[int, int] = {}
    for pair in filter(None, text.split(",")):
        basket, _, value = pair.partition("=")
        if not (basket.isdigit() and value.isdigit()):
            raise ValueError("bad fee in fee modal metadata")
        fees[int(basket)] = int(value)
    return fees


def parse_fee_state(metadata: str) -> FeeModalState:
    """Read the fee modal's private_metadata; ValueError when we did not write it."""
    parts = (metadata or "").split("|")
    if len(parts) not in (4, 5, 6):
        raise ValueError(f"expected 4 to 6 parts in fee modal metadata, got {len(parts)}")
    fees: dict[int, int] | None = None
    seen: dict[int, int] | None = None
    for extra in parts[4:]:
        if extra.startswith(SEEN_MARK) and seen is None and fees is None:
            seen = _read_pairs(extra[len(SEEN_MARK) :])
        elif not extra.startswith(SEEN_MARK) and fees is None:
            fees = _read_pairs(extra)
        else:
            raise ValueError("unexpected part in fee modal metadata")
    return FeeModalState(parts[0], parts[1], parts[2], parts[3], fees, seen)

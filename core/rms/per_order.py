"""Read a confirmOrder answer order by order; anything unclear is left for getOrder."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.model import ConfirmResult
from core.rms.wire import MessageModel

CONFIRMED = "ORDER_EXT_API_CONFIRM_ORDER_INFO_101"
MISSING_RESULT = "MISSING_RESULT"
# The per-order refusals whose meaning is known: cancelled, not in 100, -9999.
KNOWN_REFUSALS = frozenset(
    {
        "ORDER_EXT_API_CONFIRM_ORDER_ERROR_102",
        "ORDER_EXT_API_CONFIRM_ORDER_ERROR_103",
        "ORDER_EXT_API_CONFIRM_ORDER_ERROR_105",
    }
)


def names_orders(messages: Iterable[MessageModel]) -> bool:
    """True when at least one message is about a single order (it carries an orderNumber)."""
    return any(m.order_number for m in messages)


def confirm_results(
    numbers: Sequence[str], messages: Iterable[MessageModel]
) -> list[ConfirmResult]:
    """One result per requested number, in order, from the messages that name it."""
    by_number: dict[str, list[MessageModel]] = {}
    for message in messages:
        if message.order_number:
            by_number.setdefault(message.order_number, []).append(message)
    return [_one(number, by_number.get(number, [])) for number in numbers]


def _one(number: str, messages: list[MessageModel]) -> ConfirmResult:
    """Clear: INFO_101 without an ERROR (confirmed), or only known refusals (refused).

    Everything else — not named, an unknown code, a WARNING, INFO and ERROR together — is not
    clear: RMS may or may not have confirmed the order, so only getOrder can tell.
    """
    if not messages:
        return ConfirmResult(
            number, False, MISSING_RESULT, "RMS returned no result for this order", clear=False
        )
    errors = [m for m in messages if m.is_error]
    confirmed = [m for m in messages if m.message_type == "INFO" and m.message_code == CONFIRMED]
    if confirmed and not errors:
        return ConfirmResult(number, True, confirmed[0].message_code, confirmed[0].message)
    if errors and not confirmed and all(m.message_code in KNOWN_REFUSALS for m in errors):
        return ConfirmResult(number, False, errors[0].message_code, errors[0].message)
    shown = errors[0] if errors else messages[0]
    return ConfirmResult(number, False, shown.message_code, shown.message, clear=False)

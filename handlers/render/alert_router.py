"""Map a shop-level outbox event (licence, RMS health, acquisition) to its alert message."""

from __future__ import annotations

from typing import Any

from core.events import Event, EventKind
from handlers.render.blocks import message, section
from handlers.render.i18n import Lang


def alert_message(event: Event, shop_name: str, lang: Lang) -> dict[str, Any] | None:
    """The message for an alert event, or None when it needs no post."""
    text = f"{shop_name}: {event.kind.value} {dict(event.data)}"
    if event.kind in (EventKind.RMS_UNHEALTHY, EventKind.RMS_RECOVERED):
        text = f"{shop_name}: RMS {event.kind.value}"
    return message(text, [section(text)])

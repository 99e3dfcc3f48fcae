"""Map a shop-level outbox event (licence, RMS health, acquisition) to its alert message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.events import Event, EventKind
from handlers.render import alerts
from handlers.render.i18n import Lang


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def alert_message(event: Event, shop_name: str, lang: Lang) -> dict[str, Any] | None:
    """The message for an alert event, or None when it needs no post."""
    data = event.data
    kind = event.kind
    if kind is EventKind.LICENSE_EXPIRING:
        return alerts.license_warning(
            shop_name, int(data.get("days_left", 0)), _when(data.get("expires_at")), lang
        )
    if kind is EventKind.LICENSE_EXPIRED:
        return alerts.license_expired(shop_name, _when(data.get("expires_at")), lang)
    if kind is EventKind.LICENSE_RENEWED:
        return alerts.license_renewed(shop_name, _when(data.get("expires_at")), lang)
    if kind is EventKind.LICENSE_CHECK_FAILED:
        return alerts.license_check_failed(shop_name, str(data.get("error_key", "unknown")), lang)
    if kind is EventKind.RMS_UNHEALTHY:
        return alerts.rms_unhealthy(
            shop_name, str(data.get("error_key", "unknown")), data.get("code"), lang
        )
    if kind is EventKind.RMS_RECOVERED:
        return alerts.rms_recovered(shop_name, data.get("was"), lang)
    if kind is EventKind.ACQUISITION_WARNING:
        return alerts.acquisition_warning(
            shop_name, int(data.get("progress", 100)), int(data.get("days_back", 14)), lang
        )
    return None

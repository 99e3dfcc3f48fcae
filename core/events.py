"""Outbox events: what the core says happened. handlers/ decides how it looks in Slack."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """Every kind of event the core writes to the outbox."""

    ORDER_NEW = "order_new"  # a new order entered 注文確認待ち (digest line only)
    ORDER_FLAGGED = "order_flagged"  # 要対応: data.reason in FlagReason; a flag card is posted
    ORDER_CONFIRMED = "order_confirmed"  # confirmOrder accepted → 楽天処理中 (data.actor)
    ORDER_ADOPTED = "order_adopted"  # confirmed in RMS directly: adopted, no confirmOrder sent
    ORDER_PROCESSED = "order_processed"  # 楽天処理済: safe to ship
    ORDER_CANCELLED = "order_cancelled"  # キャンセル (data.progress 800/900)
    ORDER_ERROR = "order_error"  # エラー: data.error_kind, data.code, data.message, data.bot_did
    ORDER_STUCK = "order_stuck"  # in 楽天処理中 longer than the threshold (data.hours)
    ORDER_FEE_RESOLVED = "order_fee_resolved"  # -9999 fixed (data.fees, data.actor, data.via_api)
    CANCEL_DEADLINE_NEAR = "cancel_deadline_near"  # unconfirmed, ≤ 2 days to auto-cancel (data.due)
    ACQUISITION_WARNING = "acquisition_warning"  # shop fetches from a status other than 100
    LICENSE_EXPIRING = "license_expiring"  # data.days_left, data.expires_at
    LICENSE_EXPIRED = "license_expired"
    LICENSE_RENEWED = "license_renewed"  # data.expires_at
    LICENSE_CHECK_FAILED = "license_check_failed"  # data.error_kind
    RMS_UNHEALTHY = "rms_unhealthy"  # shop-level failure (intake/poll): data.error_kind
    RMS_RECOVERED = "rms_recovered"
    REQUEST_DONE = "request_done"  # a stored request finished: its report is posted (data.request)
    ORDER_HELD = "order_held"  # auto-confirm held it: data.reasons, data.proposal (a held card)
    AUTO_DRY_RUN = "auto_dry_run"  # dry run: data.confirm (numbers), data.held (number → reasons)
    AUTO_MODE_CHANGED = "auto_mode_changed"  # /rms auto: data.mode, data.actor (or data.paused)
    WATCHDOG_ALERT = "watchdog_alert"  # data.check (silent|failing|held), data.detail
    WATCHDOG_RECOVERED = "watchdog_recovered"  # data.check


class FlagReason(StrEnum):
    """Why an order is 要対応."""

    SHIPPING_FEE_UNSET = "shipping_fee_unset"  # -9999 in a fee field
    BUNDLE_RULE = "bundle_rule"  # an edit on a bundled order: unbundle first
    UNKNOWN_ERROR = "unknown_error"  # RMS answered with a code we do not know


@dataclass(frozen=True, slots=True)
class Event:
    """One outbox row. ``data`` is JSON-serialisable; ``order_number`` is None for shop events."""

    id: int
    shop: str
    kind: EventKind
    order_number: str | None
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

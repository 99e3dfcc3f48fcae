"""Values the services return: decisions and per-order results, never exceptions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.model import Stage


class Outcome(StrEnum):
    """What happened to one order in a confirm / re-fetch / fee request."""

    CONFIRMED = "confirmed"  # confirmOrder accepted it now → 楽天処理中
    ALREADY_CONFIRMED = "already_confirmed"  # an intent exists: never sent twice (by, at)
    ADOPTED = "adopted"  # RMS shows it confirmed outside the bot; adopted without confirmOrder
    REFUSED = "refused"  # the rules refuse it (reason); nothing sent to RMS
    FAILED = "failed"  # RMS failed or refused it (error)
    PENDING = "pending"  # outcome unknown for now; the bot reconciles it with getOrder itself
    REFRESHED = "refreshed"  # re-fetched from RMS (stage shows the result)
    FEE_RECORDED = "fee_recorded"  # fee recorded; staff must fix it in RMS (no API option)
    BUNDLED = "bundled"
    UNBUNDLED = "unbundled"


class Reason(StrEnum):
    """Why the rules refuse an order (a value, shown to staff with its explanation)."""

    UNKNOWN_ORDER = "unknown_order"  # not found in RMS for this shop
    NOT_ALLOWED = "not_allowed"  # the requester may no longer do this (checked at the effect)
    ROLE_UNKNOWN = "role_unknown"  # the role could not be checked (user-group lookup failed)
    FEE_UNSET = "fee_unset"  # -9999: resolve the fee first
    BUNDLED = "bundled"  # 同梱済: no confirmation on bundled orders; unbundle to edit
    CANCELLED = "cancelled"  # キャンセル
    IN_FLIGHT = "in_flight"  # a confirmation for it is being sent right now
    NOT_CONFIRMED = "not_confirmed"  # bundling needs every member confirmed (楽天処理中/済)
    SHIPPED = "shipped"  # RMS shows it past 発送待ち (orderProgress 400–700): too late to bundle
    ALREADY_BUNDLED = "already_bundled"
    NOT_BUNDLED = "not_bundled"
    TOO_FEW = "too_few"  # a bundle needs two or more orders
    DIFFERENT_DESTINATION = "different_destination"  # bundle members must share orderer/address
    OTHER_MEMBER = "other_member"  # fine itself, but another member of the bundle was refused
    NO_FEE_NEEDED = "no_fee_needed"  # the order has no -9999 fee
    FEE_RECORDED = "fee_recorded"  # someone recorded a fee after this form was opened
    BAD_FEE = "bad_fee"  # fee must be an integer yen ≥ 0 for every package
    FEE_STILL_UNSET = "fee_still_unset"  # RMS still reports -9999 after the update
    AUTO_STOPPED = "auto_stopped"  # auto-confirm was paused or switched off before the effect


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An RMS failure attached to an order: ``key`` selects the remediation entry.

    ``bot_did`` lists what the bot already did (e.g. "retried:3", "refetched", "will_reconcile").
    """

    key: str
    code: str | None = None
    message: str = ""
    bot_did: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """The result for one order number."""

    order_number: str
    outcome: Outcome
    stage: Stage | None = None
    reason: Reason | None = None
    error: ErrorInfo | None = None
    by: str | None = None  # who confirmed (ALREADY_CONFIRMED) — a Slack user id, or "rms"
    at: datetime | None = None  # when it was confirmed
    detail: str = ""
    fees: Mapping[int, int] | None = None  # basketId → yen entered for a -9999 order


@dataclass(frozen=True, slots=True)
class Report:
    """Results of one request (confirm, re-fetch, fee, bundle) for one shop."""

    shop: str
    actor: str
    action: str  # "confirm" | "refetch" | "fee" | "bundle" | "unbundle"
    outcomes: tuple[OrderOutcome, ...] = ()
    rms_calls: int = 0

    def by_outcome(self, outcome: Outcome) -> list[OrderOutcome]:
        """Return the outcomes of one kind, in request order."""
        return [o for o in self.outcomes if o.outcome is outcome]

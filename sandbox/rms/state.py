"""The simulator's state machine: shops, licence keys, orders and timed transitions (no I/O)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sandbox.rms.catalog import JST, as_aware, fmt_datetime
from sandbox.rms.orders import build_order_model
from sandbox.rms.records import LicenceKey, Shop, SimOrder, key_expiry
from sandbox.rms.totals import recompute_totals

CANCEL_AFTER = timedelta(days=14)
OPEN_PROGRESS = frozenset({100, 200})

CONFIRM_OK = ("ORDER_EXT_API_CONFIRM_ORDER_INFO_101", "注文確認に成功しました。")
CONFIRM_UNKNOWN = ("ORDER_EXT_API_CONFIRM_ORDER_ERROR_101", "指定された注文番号は存在しません。")
CONFIRM_CANCELLED = (
    "ORDER_EXT_API_CONFIRM_ORDER_ERROR_102",
    "指定された注文番号は既にキャンセルされています。",
)
CONFIRM_NOT_100 = (
    "ORDER_EXT_API_CONFIRM_ORDER_ERROR_103",
    "該当の注文は注文確認ができる状態ではありませんでした。",
)
CONFIRM_NO_POSTAGE = (
    "ORDER_EXT_API_CONFIRM_ORDER_ERROR_105",
    "送料が未設定のため注文確認ができませんでした。",
)


@dataclass
class RmsState:
    processing_delay: timedelta = timedelta(minutes=30)
    seed: int = 0
    quirks: set[str] = field(default_factory=set)  # faults.QUIRKS switched on
    shops: dict[str, Shop] = field(default_factory=dict)
    keys: dict[str, LicenceKey] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    confirm_log: list[tuple[str, datetime]] = field(default_factory=list)
    sender_updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._next_id = self.rng.randrange(2_000_000, 3_000_000)
        self._open: dict[str, None] = {}

    # --- shops and keys -------------------------------------------------------------------
    def add_shop(
        self,
        shop_id: str,
        secret: str,
        key: str,
        now: datetime,
        *,
        expires: datetime | date | None,
        disabled: frozenset[str],
    ) -> None:
        serial = self.rng.randrange(10**8, 10**9)
        self.shops[shop_id] = Shop(shop_id, secret, frozenset(disabled), serial)
        self.keys[key] = LicenceKey(shop_id, key, key_expiry(expires, now), now - timedelta(days=1))

    def issue_key(
        self,
        shop_id: str,
        key: str,
        now: datetime,
        *,
        activates_after: timedelta,
        old_key_dies: bool,
        expires: datetime | date | None,
    ) -> None:
        self._shop(shop_id)
        if old_key_dies:
            for old in self.keys.values():
                if old.shop_id == shop_id:
                    old.dead = True
        self.keys[key] = LicenceKey(shop_id, key, key_expiry(expires, now), now + activates_after)

    def authenticate(self, secret: str, key: str, now: datetime) -> Shop | None:
        found = self.keys.get(key)
        if found is None or not found.usable(now):
            return None
        shop = self.shops[found.shop_id]
        return shop if shop.service_secret == secret else None

    # --- orders ---------------------------------------------------------------------------
    def add_order(
        self,
        shop_id: str,
        now: datetime,
        *,
        number: str | None,
        progress: int,
        ordered_at: datetime | None,
        postage: int | list[int],
        packages: int,
        settlement_code: int,
        prepay: bool,
        payment_ng: bool,
        orderer: dict[str, Any] | None,
        recipient: dict[str, Any] | None,
        items: int,
        isolated_island: bool,
    ) -> str:
        shop = self._shop(shop_id)
        at = as_aware(ordered_at) if ordered_at is not None else now
        if number is None:
            shop.serial += self.rng.randrange(1, 40)
            number = f"{shop_id}-{at.astimezone(JST):%Y%m%d}-{shop.serial % 10**10:010d}"
        if number in self.orders:
            raise ValueError(f"order {number} already exists")
        postages = list(postage) if isinstance(postage, list) else [postage] * max(packages, 1)
        model = build_order_model(
            self.rng,
            self._take_id,
            number=number,
            ordered_at=at,
            postages=postages,
            settlement_code=settlement_code,
            prepay=prepay,
            orderer=orderer,
            recipient=recipient,
            items=items,
            isolated_island=isolated_island,
        )
        order = SimOrder(shop_id, model, at, prepay=prepay, payment_ng=payment_ng)
        self.orders[number] = order
        self._open[number] = None
        if progress != 100:
            self.set_progress(number, progress, now)
        return number

    def get(self, number: str) -> SimOrder:
        try:
            return self.orders[number]
        except KeyError:
            raise KeyError(f"unknown order {number}") from None

    def find(self, shop: Shop, number: Any) -> SimOrder | None:
        order = self.orders.get(number) if isinstance(number, str) else None
        return order if order is not None and order.shop_id == shop.shop_id else None

    def set_progress(self, number: str, progress: int, now: datetime) -> None:
        """Move an order as if it happened in RMS's screens (or Rakuten's back office)."""
        order = self.get(number)
        model = order.model
        if progress == 100:
            order.confirmed_at = None
            for key in ("shopOrderCfmDatetime", "orderFixDatetime", "shippingInstDatetime"):
                model[key] = None
            due = order.ordered_at.astimezone(JST).date() + CANCEL_AFTER
            model["cancelDueDate"] = due.isoformat()
        elif progress in (200, 300, 400, 500, 600, 700) and order.confirmed_at is None:
            self._mark_confirmed(order, now)
        if progress in (300, 400, 500, 600, 700) and model["orderFixDatetime"] is None:
            model["orderFixDatetime"] = model["shippingInstDatetime"] = fmt_datetime(now)
        if progress in (500, 600, 700) and model["shippingCmplRptDatetime"] is None:
            model["shippingCmplRptDatetime"] = fmt_datetime(now)
        if progress in (800, 900) and order.progress not in (800, 900):
            _change(model, 1, now)
            model["cancelDueDate"] = None
        self._set(order, progress)

    def mark_paid(self, number: str, now: datetime) -> None:
        self.get(number).paid_at = now

    def set_postage(self, number: str, basket_index: int, postage: int) -> None:
        model = self.get(number).model
        model["PackageModelList"][basket_index]["postagePrice"] = postage
        recompute_totals(model)

    def confirm(self, shop: Shop, number: Any, now: datetime) -> tuple[bool, str, str]:
        """confirmOrder for one number: (ok, messageCode, message)."""
        order = self.find(shop, number)
        if order is None:
            return (False, *CONFIRM_UNKNOWN)
        if order.progress in (800, 900):
            return (False, *CONFIRM_CANCELLED)
        if order.progress != 100:
            return (False, *CONFIRM_NOT_100)
        if order.postage_unset():
            return (False, *CONFIRM_NO_POSTAGE)
        self._mark_confirmed(order, now)
        self._set(order, 200)
        self.confirm_log.append((order.number, now))
        return (True, *CONFIRM_OK)

    # --- time -----------------------------------------------------------------------------
    def tick(self, now: datetime) -> None:
        """Apply every transition that is due by ``now``, stamped with the time it was due."""
        for number in list(self._open):
            order = self.orders[number]
            if order.progress == 100:
                due = _cancel_deadline(order)
                if due is not None and now > due:
                    cancelled_at = due + timedelta(seconds=1)
                    _change(order.model, 1, cancelled_at)
                    order.model["cancelDueDate"] = None
                    self._set(order, 900)
            elif order.progress == 200 and order.confirmed_at is not None:
                ready = order.confirmed_at + self.processing_delay
                if order.payment_ng:
                    if now >= ready:
                        _change(order.model, 1, ready)
                        self._set(order, 900)
                    continue
                if order.prepay:
                    if order.paid_at is None:
                        continue
                    ready = max(ready, order.paid_at)
                if now >= ready:
                    order.model["orderFixDatetime"] = fmt_datetime(ready)
                    order.model["shippingInstDatetime"] = fmt_datetime(ready)
                    self._set(order, 300)

    # --- helpers --------------------------------------------------------------------------
    def _shop(self, shop_id: str) -> Shop:
        try:
            return self.shops[shop_id]
        except KeyError:
            raise KeyError(f"unknown shop {shop_id}") from None

    def _take_id(self) -> int:
        self._next_id += self.rng.randrange(1, 7)
        return self._next_id

    def _set(self, order: SimOrder, progress: int) -> None:
        order.model["orderProgress"] = progress
        if progress in OPEN_PROGRESS:
            self._open[order.number] = None
        else:
            self._open.pop(order.number, None)

    def _mark_confirmed(self, order: SimOrder, now: datetime) -> None:
        order.confirmed_at = now
        order.model["shopOrderCfmDatetime"] = fmt_datetime(now)
        order.model["cancelDueDate"] = None
        _change(order.model, 8, now)


def _cancel_deadline(order: SimOrder) -> datetime | None:
    due = order.model.get("cancelDueDate")
    if not due:
        return None
    day = datetime.fromisoformat(due).date()
    return datetime.combine(day, time(23, 59, 59), tzinfo=JST)


def _change(model: dict[str, Any], change_type: int, at: datetime) -> None:
    """Append a ChangeReasonModel (8 注文確認, 1 キャンセル確定) applied and completed at ``at``."""
    stamp = fmt_datetime(at)
    model["ChangeReasonModelList"].append(
        {
            "changeId": len(model["ChangeReasonModelList"]) + 1,
            "changeType": change_type,
            "changeTypeDetail": None,
            "changeReason": None,
            "changeReasonDetail": None,
            "changeApplyDatetime": stamp,
            "changeFixDatetime": stamp,
            "changeCmplDatetime": stamp,
        }
    )

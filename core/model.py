"""Domain values: RMS order snapshots, stages and results as frozen dataclasses (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import Any

UNSET_FEE = -9999
"""RMS's sentinel for an amount it could not determine (送料未設定 shows as -9,999円)."""

MAX_NUMBERS_PER_CALL = 100
"""getOrder and confirmOrder accept at most this many order numbers per call."""


class Progress(IntEnum):
    """RMS orderProgress codes."""

    AWAITING_CONFIRMATION = 100  # 注文確認待ち
    RAKUTEN_PROCESSING = 200  # 楽天処理中
    AWAITING_SHIPMENT = 300  # 発送待ち
    AWAITING_CHANGE = 400  # 変更確定待ち
    SHIPPED = 500  # 発送済
    PAYMENT_IN_PROGRESS = 600  # 支払手続き中
    PAYMENT_DONE = 700  # 支払手続き済
    CANCEL_PENDING = 800  # キャンセル確定待ち
    CANCELLED = 900  # キャンセル確定


CANCELLED_PROGRESS = frozenset({800, 900})


class Stage(StrEnum):
    """The stage staff see, derived from orderProgress plus our own records."""

    NEEDS_ACTION = "needs_action"  # 要対応
    AWAITING = "awaiting"  # 注文確認待ち
    SENDING = "sending"  # 確認送信中
    PROCESSING = "processing"  # 楽天処理中
    PROCESSED = "processed"  # 楽天処理済
    CANCELLED = "cancelled"  # キャンセル
    ERROR = "error"  # エラー


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address as RMS splits it."""

    zip_code: str = ""
    prefecture: str = ""
    city: str = ""
    sub_address: str = ""

    def one_line(self) -> str:
        """Return the address as one line, the way a clerk reads it."""
        head = f"〒{self.zip_code} " if self.zip_code else ""
        return f"{head}{self.prefecture}{self.city}{self.sub_address}".strip()


@dataclass(frozen=True, slots=True)
class Person:
    """An orderer (OrdererModel) or recipient (SenderModel)."""

    family_name: str = ""
    first_name: str = ""
    family_name_kana: str = ""
    first_name_kana: str = ""
    phone: str = ""
    address: Address = field(default_factory=Address)

    @property
    def name(self) -> str:
        """Full name, family name first."""
        return f"{self.family_name} {self.first_name}".strip()


@dataclass(frozen=True, slots=True)
class Item:
    """One ordered item (ItemModel)."""

    item_detail_id: int
    name: str
    item_number: str = ""
    units: int = 1
    price: int = 0
    price_tax_incl: int = 0
    selected_choice: str = ""


@dataclass(frozen=True, slots=True)
class Package:
    """One destination basket (PackageModel)."""

    basket_id: int
    postage_price: int
    delivery_price: int = 0
    recipient: Person = field(default_factory=Person)
    isolated_island: bool = False
    items: tuple[Item, ...] = ()


@dataclass(frozen=True, slots=True)
class RmsOrder:
    """A getOrder snapshot of one order, reduced to what the workflow needs.

    ``raw`` keeps the full OrderModel JSON so updateOrderSender can send back the
    whole models with only the fee changed. It lives only in
    memory: the store keeps a minimal snapshot (core/store/codec.py), and the fee write
    re-reads the order from RMS first.
    """

    number: str
    progress: int
    ordered_at: datetime
    orderer: Person = field(default_factory=Person)
    confirmed_at: datetime | None = None
    fixed_at: datetime | None = None
    cancel_due: date | None = None
    settlement: str = ""
    settlement_code: int | None = None
    delivery_name: str = ""
    goods_price: int = 0
    postage_price: int = 0
    delivery_price: int = 0
    payment_charge: int = 0
    total_price: int = 0
    request_price: int = 0
    packages: tuple[Package, ...] = ()
    remarks: str = ""
    # The other terms of 請求額 (None: RMS did not tell us, e.g. a snapshot from an old version)
    wrapping_price: int | None = 0
    buyer_fee: int | None = 0  # additionalFeeOccurAmountToUser
    coupon_total: int | None = 0  # couponAllTotalPrice
    points_used: int | None = 0  # PointModel.usedPoint
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def unset_fee_fields(self) -> tuple[str, ...]:
        """Name every fee field that RMS reports as -9999 (empty when all fees are set)."""
        found = [
            name
            for name in ("postagePrice", "deliveryPrice", "paymentCharge")
            if getattr(self, _FIELD_BY_WIRE[name]) == UNSET_FEE
        ]
        found += [
            f"PackageModelList[{p.basket_id}].postagePrice"
            for p in self.packages
            if p.postage_price == UNSET_FEE
        ]
        return tuple(found)

    @property
    def fee_unset(self) -> bool:
        """True when any fee is -9999 (送料未設定)."""
        return bool(self.unset_fee_fields())


_FIELD_BY_WIRE = {
    "postagePrice": "postage_price",
    "deliveryPrice": "delivery_price",
    "paymentCharge": "payment_charge",
}


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    """RMS's per-order answer to confirmOrder (one MessageModel with an orderNumber).

    ``clear`` is False when the answer does not say what happened to the order (not named, or a
    message the bot does not know): it must be reconciled with getOrder, never taken as failed.
    """

    order_number: str
    ok: bool
    code: str
    message: str
    clear: bool = True


@dataclass(frozen=True, slots=True)
class ShopConfig:
    """What the core knows about a shop; credentials stay in the RMS adapter."""

    key: str
    name: str
    channel: str
    api_option: bool = False
    acquisition_progress: int = 100
    days_back: int = 14


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """Our record of one order: the latest RMS snapshot plus the stage and our own facts."""

    number: str
    shop: str
    stage: Stage
    snapshot: RmsOrder
    stage_since: datetime
    flag_reason: str | None = None  # events.FlagReason value when stage is NEEDS_ACTION
    error_key: str | None = None  # remediation key when stage is ERROR
    error_code: str | None = None
    error_message: str = ""
    bundle_id: str | None = None
    confirmed_by: str | None = None  # Slack user id, or "rms" when confirmed outside the bot
    confirmed_at: datetime | None = None
    intended_fees: Mapping[int, int] | None = None  # basketId → yen recorded without API option
    polling: bool = False  # in result polling (楽天処理中 or a re-fetch request)
    next_poll_at: datetime | None = None
    deadline_warned: bool = False
    stuck_reported: bool = False
    version: int = 0  # row version: bumped by every write; a read applies only if unchanged

    @property
    def progress(self) -> int:
        """RMS orderProgress of the latest snapshot."""
        return self.snapshot.progress


class RequestKind(StrEnum):
    """What a stored Slack request asks the worker to do."""

    CONFIRM = "confirm"  # 注文確認通知 (numbers, or "all" awaiting orders)
    REFETCH = "refetch"  # RMSステータスを取得
    FEE = "fee"  # approve a -9,999 order with the fees entered in the modal
    BUNDLE = "bundle"  # 同梱: members are re-read from RMS first


ALL_ORDERS = "all"


@dataclass(frozen=True, slots=True)
class Request:
    """A request acknowledged to Slack: stored first, executed by the worker, reported once.

    ``delivery_key`` is unique forever (a Slack redelivery finds the row); ``open_key`` is unique
    among unfinished requests (a double click while the first still runs is the same request).
    """

    kind: RequestKind
    shop: str
    numbers: tuple[str, ...] | str  # order numbers, or ALL_ORDERS
    actor: str
    received_at: datetime
    delivery_key: str
    open_key: str | None = None
    channel: str = ""
    thread_ts: str | None = None
    response_url: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    id: int = 0
    state: str = "queued"  # queued | running | done
    attempts: int = 0

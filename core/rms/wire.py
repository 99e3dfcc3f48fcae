"""RMS wire format: pydantic models in RMS's casing, request builders, and JST datetime rules."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)

from core.model import UNSET_FEE, Address, Item, Package, Person, RmsOrder

JST = ZoneInfo("Asia/Tokyo")
MAX_WINDOW = timedelta(days=63)
"""searchOrder: endDatetime may be at most 63 days after startDatetime."""
MAX_RETRIEVABLE = 15_000
"""searchOrder cannot return results beyond the 15,000th."""
PAGE_SIZE = 1000


def to_jst(moment: datetime) -> datetime:
    """Convert to JST; a naive datetime is taken to be JST already (RMS's own convention)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=JST)
    return moment.astimezone(JST)


def format_rms_datetime(moment: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss+0900``: JST, no colon in the offset, no fraction."""
    return to_jst(moment).strftime("%Y-%m-%dT%H:%M:%S%z")


def search_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Split [start, end] into consecutive inclusive windows of at most 63 days (to the second)."""
    first, last = to_jst(start).replace(microsecond=0), to_jst(end).replace(microsecond=0)
    if last < first:
        raise ValueError("end is before start")
    windows: list[tuple[datetime, datetime]] = []
    cursor = first
    while True:
        stop = min(last, cursor + MAX_WINDOW)
        windows.append((cursor, stop))
        if stop >= last:
            return windows
        cursor = stop + timedelta(seconds=1)


def halve(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Split an inclusive window into two halves; a window of one second cannot be split."""
    span = int((end - start).total_seconds())
    if span < 1:
        return [(start, end)]
    middle = start + timedelta(seconds=span // 2)
    return [(start, middle), (middle + timedelta(seconds=1), end)]


def update_sender_body(
    raw: Mapping[str, Any], postage_by_basket: Mapping[int, int]
) -> dict[str, Any]:
    """updateOrderSender body: the getOrder models sent back whole, only package postage changed."""
    packages = [copy.deepcopy(dict(p)) for p in raw.get("PackageModelList") or []]
    unknown = set(postage_by_basket) - {p.get("basketId") for p in packages}
    if unknown:
        raise ValueError(f"order {raw.get('orderNumber')} has no basket {sorted(unknown)}")
    for package in packages:
        if package.get("basketId") in postage_by_basket:
            package["postagePrice"] = postage_by_basket[package["basketId"]]
    body: dict[str, Any] = {"orderNumber": raw["orderNumber"], "PackageModelList": packages}
    for key in ("WrappingModel1", "WrappingModel2", "CouponModelList"):
        if raw.get(key) is not None:
            body[key] = copy.deepcopy(raw[key])
    return body


def _rms_datetime(value: Any) -> Any:
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())  # accepts +0900 and +09:00 (3.11+)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=JST)
    return value


def _or(default: Any) -> BeforeValidator:
    return BeforeValidator(lambda value: default if value is None else value)


RmsDatetime = Annotated[datetime, BeforeValidator(_rms_datetime)]
Text = Annotated[str, _or("")]
Flag = Annotated[int, _or(0)]
Money = Annotated[int, _or(0)]
Postage = Annotated[int, _or(UNSET_FEE)]  # a null postage is as undetermined as -9999


class Wire(BaseModel):
    """Base for RMS payloads: unknown keys ignored, fields named as RMS spells them.

    A validation error never repeats the input: it would carry customers' names and addresses
    into tracebacks and logs.
    """

    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, frozen=True, hide_input_in_errors=True
    )


class MessageModel(Wire):
    """One entry of MessageModelList."""

    message_type: Text = Field("", alias="messageType")
    message_code: Text = Field("", alias="messageCode")
    message: Text = Field("", alias="message")
    order_number: str | None = Field(None, alias="orderNumber")

    @property
    def is_error(self) -> bool:
        """True for messageType ERROR."""
        return self.message_type == "ERROR"


class Envelope(Wire):
    """What every RakutenPay order response carries."""

    messages: Annotated[list[MessageModel], _or([])] = Field(alias="MessageModelList")

    def error_codes(self) -> tuple[str, ...]:
        """The messageCode of every ERROR entry, in order."""
        return tuple(m.message_code for m in self.messages if m.is_error)


class Results(Wire):
    """Gateway error body ``{"Results": {"errorCode": …, "message"|"errorMessage": …}}``."""

    error_code: Text = Field("", alias="errorCode")
    message: str | None = Field(None, alias="message")
    error_message: str | None = Field(None, alias="errorMessage")

    @property
    def text(self) -> str:
        """The message under whichever key RMS used."""
        return self.message or self.error_message or ""


class GatewayError(Wire):
    """A body that may hold ``Results`` (auth, function disabled)."""

    results: Results | None = Field(None, alias="Results")


class Pagination(Wire):
    """PaginationResponseModel; all three values are null when nothing matched."""

    total_records: int | None = Field(None, alias="totalRecordsAmount")
    total_pages: int | None = Field(None, alias="totalPages")
    page: int | None = Field(None, alias="requestPage")


class SearchOrderResponse(Envelope):
    """searchOrder answer."""

    numbers: Annotated[list[str], _or([])] = Field(alias="orderNumberList")
    pagination: Pagination | None = Field(None, alias="PaginationResponseModel")


class PersonModel(Wire):
    """OrdererModel / SenderModel (only what the workflow shows)."""

    zip1: Text = Field("", alias="zipCode1")
    zip2: Text = Field("", alias="zipCode2")
    prefecture: Text = ""
    city: Text = ""
    sub_address: Text = Field("", alias="subAddress")
    family_name: Text = Field("", alias="familyName")
    first_name: Text = Field("", alias="firstName")
    family_name_kana: Text = Field("", alias="familyNameKana")
    first_name_kana: Text = Field("", alias="firstNameKana")
    phone1: Text = Field("", alias="phoneNumber1")
    phone2: Text = Field("", alias="phoneNumber2")
    phone3: Text = Field("", alias="phoneNumber3")
    isolated_island: Flag = Field(0, alias="isolatedIslandFlag")

    def to_domain(self) -> Person:
        """Convert to :class:`core.model.Person`."""
        zip_code = "-".join(z for z in (self.zip1, self.zip2) if z)
        return Person(
            family_name=self.family_name,
            first_name=self.first_name,
            family_name_kana=self.family_name_kana,
            first_name_kana=self.first_name_kana,
            phone="-".join(p for p in (self.phone1, self.phone2, self.phone3) if p),
            address=Address(zip_code, self.prefecture, self.city, self.sub_address),
        )


class ItemModel(Wire):
    """ItemModel."""

    item_detail_id: Money = Field(0, alias="itemDetailId")
    name: Text = Field("", alias="itemName")
    item_number: Text = Field("", alias="itemNumber")
    units: Money = 1
    price: Money = 0
    price_tax_incl: Money = Field(0, alias="priceTaxIncl")
    selected_choice: Text = Field("", alias="selectedChoice")

    def to_domain(self) -> Item:
        """Convert to :class:`core.model.Item`."""
        return Item(
            self.item_detail_id, self.name, self.item_number, self.units,
            self.price, self.price_tax_incl, self.selected_choice,
        )  # fmt: skip


class PackageModel(Wire):
    """PackageModel: one destination basket."""

    basket_id: int = Field(alias="basketId")
    postage_price: Postage = Field(UNSET_FEE, alias="postagePrice")
    delivery_price: Money = Field(0, alias="deliveryPrice")
    sender: PersonModel | None = Field(None, alias="SenderModel")
    items: Annotated[list[ItemModel], _or([])] = Field([], alias="ItemModelList")

    def to_domain(self) -> Package:
        """Convert to :class:`core.model.Package`."""
        sender = self.sender or PersonModel()
        return Package(
            basket_id=self.basket_id,
            postage_price=self.postage_price,
            delivery_price=self.delivery_price,
            recipient=sender.to_domain(),
            isolated_island=bool(sender.isolated_island),
            items=tuple(i.to_domain() for i in self.items),
        )


class SettlementModel(Wire):
    """SettlementModel (payment method)."""

    code: int | None = Field(None, alias="settlementMethodCode")
    name: Text = Field("", alias="settlementMethod")


class DeliveryModel(Wire):
    """DeliveryModel (shop-defined delivery method)."""

    name: Text = Field("", alias="deliveryName")


class OrderModel(Wire):
    """OrderModel; keeps the JSON it was read from for updateOrderSender."""

    number: str = Field(alias="orderNumber")
    progress: int = Field(alias="orderProgress")
    ordered_at: RmsDatetime = Field(alias="orderDatetime")
    confirmed_at: RmsDatetime | None = Field(None, alias="shopOrderCfmDatetime")
    fixed_at: RmsDatetime | None = Field(None, alias="orderFixDatetime")
    cancel_due: date | None = Field(None, alias="cancelDueDate")
    orderer: PersonModel | None = Field(None, alias="OrdererModel")
    settlement: SettlementModel | None = Field(None, alias="SettlementModel")
    delivery: DeliveryModel | None = Field(None, alias="DeliveryModel")
    goods_price: Money = Field(0, alias="goodsPrice")
    postage_price: Postage = Field(UNSET_FEE, alias="postagePrice")
    delivery_price: Money = Field(0, alias="deliveryPrice")
    payment_charge: Money = Field(0, alias="paymentCharge")
    total_price: Money = Field(0, alias="totalPrice")
    request_price: Money = Field(0, alias="requestPrice")
    packages: Annotated[list[PackageModel], _or([])] = Field([], alias="PackageModelList")
    remarks: Text = ""
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        model = handler(data)
        if isinstance(data, dict):
            model._raw = data
        return model

    def to_domain(self) -> RmsOrder:
        """Convert to :class:`core.model.RmsOrder` (``raw`` = the OrderModel JSON)."""
        settlement = self.settlement or SettlementModel()
        return RmsOrder(
            number=self.number,
            progress=self.progress,
            ordered_at=self.ordered_at,
            orderer=(self.orderer or PersonModel()).to_domain(),
            confirmed_at=self.confirmed_at,
            fixed_at=self.fixed_at,
            cancel_due=self.cancel_due,
            settlement=settlement.name,
            settlement_code=settlement.code,
            delivery_name=(self.delivery or DeliveryModel()).name,
            goods_price=self.goods_price,
            postage_price=self.postage_price,
            delivery_price=self.delivery_price,
            payment_charge=self.payment_charge,
            total_price=self.total_price,
            request_price=self.request_price,
            packages=tuple(p.to_domain() for p in self.packages),
            remarks=self.remarks,
            wrapping_price=_wrapping(self._raw),
            buyer_fee=_amount(self._raw.get("additionalFeeOccurAmountToUser", 0)),
            coupon_total=_amount(self._raw.get("couponAllTotalPrice", 0)),
            points_used=_amount((self._raw.get("PointModel") or {}).get("usedPoint", 0)),
            raw=self._raw,
        )


def _amount(value: object) -> int | None:
    """A yen amount of the OrderModel; None when it is not a number or is -9999."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if int(value) == UNSET_FEE else int(value)


def _wrapping(raw: dict[str, Any]) -> int | None:
    """Gift wrapping charged to the buyer (WrappingModel1/2 not deleted)."""
    total = 0
    for key in ("WrappingModel1", "WrappingModel2"):
        model = raw.get(key)
        if isinstance(model, dict) and not model.get("deleteWrappingFlag"):
            price = _amount(model.get("price", 0))
            if price is None:
                return None
            total += price
    return total


class GetOrderResponse(Envelope):
    """getOrder answer; unknown numbers come back as per-order INFO_102 messages."""

    version: int | None = None
    orders: Annotated[list[OrderModel], _or([])] = Field(alias="OrderModelList")

    def to_domain(self) -> list[RmsOrder]:
        """Every returned order as a domain value."""
        return [o.to_domain() for o in self.orders]


class LicenseExpiryResponse(Wire):
    """License Management API answer; ``expiryDate`` has no zone and means JST."""

    expiry: RmsDatetime = Field(alias="expiryDate")

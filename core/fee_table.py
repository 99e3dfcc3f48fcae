"""Fee proposals for -9,999 orders from a shop's fee table (pure): how much, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.model import RmsOrder

REGIONS: Mapping[str, tuple[str, ...]] = {
    "北海道": ("北海道",),
    "東北": ("青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県"),
    "関東": ("茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県"),
    "中部": (
        "新潟県",
        "富山県",
        "石川県",
        "福井県",
        "山梨県",
        "長野県",
        "岐阜県",
        "静岡県",
        "愛知県",
    ),
    "近畿": ("三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県"),
    "中国": ("鳥取県", "島根県", "岡山県", "広島県", "山口県"),
    "四国": ("徳島県", "香川県", "愛媛県", "高知県"),
    "九州": ("福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県"),
    "沖縄": ("沖縄県",),
}
REGION_OF = {pref: region for region, prefs in REGIONS.items() for pref in prefs}


@dataclass(frozen=True, slots=True)
class FeeTable:
    """``[shops.<key>.fees]``: the first of delivery method → prefecture → region → default that
    names a fee is the base; a remote island adds its surcharge; goods at or over ``free_over``
    ship free (the surcharge still applies, as most shops charge it)."""

    by_delivery: Mapping[str, int] = field(default_factory=dict)
    by_prefecture: Mapping[str, int] = field(default_factory=dict)
    by_region: Mapping[str, int] = field(default_factory=dict)
    default: int | None = None
    remote_island: int | None = None  # surcharge; None: a remote island cannot be decided
    free_over: int | None = None


@dataclass(frozen=True, slots=True)
class Proposal:
    """The proposed fee per package (basketId → yen) and one line per package saying why."""

    fees: Mapping[int, int]
    how: tuple[str, ...]


def propose(order: RmsOrder, table: FeeTable | None) -> Proposal | None:
    """A fee for every -9,999 package, or None when the table cannot decide one of them."""
    if table is None:
        return None
    fees: dict[int, int] = {}
    how: list[str] = []
    free = table.free_over is not None and order.goods_price >= table.free_over
    for package in order.packages:
        pref = package.recipient.address.prefecture or order.orderer.address.prefecture
        base = _base(table, order.delivery_name, pref)
        if base is None:
            return None
        amount, why = (0, f"送料無料 (商品 ¥{table.free_over:,} 以上)") if free else base
        if package.isolated_island:
            if table.remote_island is None:
                return None
            amount += table.remote_island
            why += f" + 離島 ¥{table.remote_island:,}"
        fees[package.basket_id] = amount
        how.append(f"{package.basket_id}: ¥{amount:,} = {why}")
    return Proposal(fees, tuple(how)) if fees else None


def _base(table: FeeTable, delivery: str, prefecture: str) -> tuple[int, str] | None:
    if delivery and delivery in table.by_delivery:
        return table.by_delivery[delivery], f"{delivery} ¥{table.by_delivery[delivery]:,}"
    if prefecture in table.by_prefecture:
        return table.by_prefecture[prefecture], f"{prefecture} ¥{table.by_prefecture[prefecture]:,}"
    region = REGION_OF.get(prefecture)
    if region is not None and region in table.by_region:
        return table.by_region[region], f"{region} ¥{table.by_region[region]:,}"
    if table.default is not None:
        return table.default, f"全国一律 ¥{table.default:,}"
    return None

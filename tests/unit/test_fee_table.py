"""Fee proposals from a shop's fee table (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.fee_table import FeeTable, propose
from core.model import Address, Package, Person, RmsOrder


def _order(
    pref: str, *, island: bool = False, goods: int = 3_000, delivery: str = "宅配便"
) -> RmsOrder:
    to = Person("山田", "太郎", address=Address(prefecture=pref))
    return RmsOrder(
        "111111-20261201-0000000001",
        100,
        datetime(2026, 12, 1, tzinfo=UTC),
        packages=(Package(7, -9999, recipient=to, isolated_island=island),),
        goods_price=goods,
        delivery_name=delivery,
    )


TABLE = FeeTable(
    by_prefecture={"北海道": 1_200},
    by_region={"関東": 600, "沖縄": 1_500},
    default=800,
    remote_island=1_000,
    free_over=10_000,
    by_delivery={"メール便": 300},
)


def test_prefecture_beats_region_beats_default() -> None:
    assert propose(_order("北海道"), TABLE).fees == {7: 1_200}  # type: ignore[union-attr]
    assert propose(_order("東京都"), TABLE).fees == {7: 600}  # type: ignore[union-attr]
    assert propose(_order("大阪府"), TABLE).fees == {7: 800}  # type: ignore[union-attr]


def test_delivery_method_first_and_the_how_says_so() -> None:
    proposal = propose(_order("東京都", delivery="メール便"), TABLE)
    assert proposal is not None and proposal.fees == {7: 300}
    assert "メール便" in proposal.how[0]


def test_remote_island_adds_its_surcharge_and_free_over_keeps_it() -> None:
    assert propose(_order("沖縄県", island=True), TABLE).fees == {7: 2_500}  # type: ignore[union-attr]
    free = propose(_order("沖縄県", island=True, goods=10_000), TABLE)
    assert free is not None and free.fees == {7: 1_000}
    assert "送料無料" in free.how[0] and "離島" in free.how[0]


def test_what_the_table_cannot_decide_stays_undecided() -> None:
    assert propose(_order("大阪府"), FeeTable(by_region={"関東": 600})) is None
    assert propose(_order("沖縄県", island=True), FeeTable(default=800)) is None
    assert propose(_order("東京都"), None) is None

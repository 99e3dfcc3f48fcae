"""SHOPS_FILE tables for auto-confirm: ``[shops.<key>.holds]``, ``.fees`` and ``.watchdog``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.auto import AutoConfig, AutoMode
from core.fee_table import REGIONS, FeeTable
from core.holds import HoldRules
from core.watchdog import WatchdogConfig

AutoConfirm = Literal["off", "dry_run", "on"]
Yen = int


def auto_mode(value: Any) -> Any:
    """Accept "dry-run" for "dry_run" (the /rms auto spelling)."""
    return value.strip().lower().replace("-", "_") if isinstance(value, str) else value


class HoldSettings(BaseModel):
    """``[shops.<key>.holds]``: every rule except the -9,999 fee (always on) can be changed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    remarks: bool = True
    remarks_keywords: tuple[str, ...] = ()
    total_at_least: Yen | None = Field(None, ge=0)
    payment_methods: tuple[int, ...] = ()
    cod_over: Yen | None = Field(None, ge=0)
    items: tuple[str, ...] = ()
    remote_island: bool = True
    gift: bool = True
    bundle_candidate: bool = True
    caution: bool = True
    reservation: bool = True
    blocklist: tuple[str, ...] = ()

    def rules(self) -> HoldRules:
        """The core's value."""
        return HoldRules(**self.model_dump())


class FeeSettings(BaseModel):
    """``[shops.<key>.fees]``: the fee table that proposes a fee for -9,999 orders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Yen | None = Field(None, ge=0)
    by_prefecture: dict[str, Yen] = {}
    by_region: dict[str, Yen] = {}
    by_delivery: dict[str, Yen] = {}
    remote_island: Yen | None = Field(None, ge=0)
    free_over: Yen | None = Field(None, ge=0)

    @field_validator("by_region")
    @classmethod
    def _known_regions(cls, value: dict[str, Yen]) -> dict[str, Yen]:
        unknown = [r for r in value if r not in REGIONS]
        if unknown:
            raise ValueError(f"unknown region {unknown[0]} (one of {', '.join(REGIONS)})")
        return value

    def table(self) -> FeeTable:
        """The core's value."""
        return FeeTable(**self.model_dump())


class WatchdogSettings(BaseModel):
    """``[shops.<key>.watchdog]``: when a quiet or failing shop is worth an alert."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    silent_floor_minutes: float = Field(120, gt=0)
    failing_minutes: float = Field(30, gt=0)
    held_percent: float = Field(50, gt=0, le=100)
    held_min_orders: int = Field(10, ge=1)

    def config(self) -> WatchdogConfig:
        """The core's value."""
        return WatchdogConfig(**self.model_dump())


def automation(
    mode: str,
    auto_fee: bool,
    holds: HoldSettings | None,
    fees: FeeSettings | None,
    watchdog: WatchdogSettings | None,
) -> AutoConfig:
    """One shop's AutoConfig from its settings."""
    return AutoConfig(
        mode=AutoMode(mode),
        auto_fee=auto_fee,
        holds=(holds or HoldSettings()).rules(),
        fees=fees.table() if fees is not None else None,
        watchdog=(watchdog or WatchdogSettings()).config(),
    )

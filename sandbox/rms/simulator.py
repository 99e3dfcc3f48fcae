"""RmsSimulator: the Python face of the simulated RMS (setup, fault knobs, call records)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sandbox.rms.faults import Fault, FaultQueue, TokenBucket, check_quirk
from sandbox.rms.state import RmsState
from sandbox.rms.versions import version_view

if TYPE_CHECKING:
    from aiohttp import web


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class SimCall:
    """One API request as the simulator answered it."""

    function: str
    license_key: str | None
    body: Any
    status: int
    at: datetime


class RmsSimulator:
    """A stateful RakutenPay Order API on a controllable clock."""

    def __init__(
        self,
        clock: Clock,
        *,
        qps_clock: Clock | None = None,
        requests_per_second: float | None = 1.0,
        burst: int = 1,
        processing_delay: timedelta = timedelta(minutes=30),
        seed: int = 0,
        qps_status: int = 403,
    ) -> None:
        self.clock = clock
        self.state = RmsState(processing_delay=processing_delay, seed=seed)
        self.bucket = TokenBucket((qps_clock or clock).now, requests_per_second, burst)
        self.qps_status = qps_status
        self.faults = FaultQueue()
        self.maintenance = False
        self.maintenance_html = False
        self.calls: list[SimCall] = []
        self.confirm_log: list[tuple[str, datetime]] = self.state.confirm_log
        self.sender_updates: list[tuple[str, dict[str, Any]]] = self.state.sender_updates

    # --- setup ----------------------------------------------------------------------------
    def add_shop(
        self,
        shop_id: str,
        service_secret: str,
        license_key: str,
        *,
        key_expires: datetime | date | None = None,
        disabled_functions: frozenset[str] = frozenset(),
    ) -> None:
        """Register a shop and its first key (default expiry: 90 days, 23:59:59 JST)."""
        self.state.add_shop(
            shop_id,
            service_secret,
            license_key,
            self.clock.now(),
            expires=key_expires,
            disabled=disabled_functions,
        )

    def set_disabled_functions(self, shop_id: str, functions: frozenset[str]) -> None:
        """Change which functions are switched off in 利用機能編集 (short names or IDs)."""
        self.state.shops[shop_id].disabled_functions = frozenset(functions)

    def issue_key(
        self,
        shop_id: str,
        new_key: str,
        *,
        activates_after: timedelta = timedelta(0),
        old_key_dies: bool = False,
        expires: datetime | date | None = None,
    ) -> None:
        """Issue a new licenceKey; it answers 401 until ``activates_after`` has passed."""
        self.state.issue_key(
            shop_id,
            new_key,
            self.clock.now(),
            activates_after=activates_after,
            old_key_dies=old_key_dies,
            expires=expires,
        )

    def add_order(
        self,
        shop_id: str,
        *,
        number: str | None = None,
        progress: int = 100,
        ordered_at: datetime | None = None,
        postage: int | list[int] = 500,
        packages: int = 1,
        settlement_code: int = 1,
        prepay: bool = False,
        payment_ng: bool = False,
        orderer: dict[str, Any] | None = None,
        recipient: dict[str, Any] | None = None,
        items: int = 1,
        isolated_island: bool = False,
    ) -> str:
        """Create an order and return its number (SHOPID-YYYYMMDD-##########)."""
        return self.state.add_order(
            shop_id,
            self.clock.now(),
            number=number,
            progress=progress,
            ordered_at=ordered_at,
            postage=postage,
            packages=packages,
            settlement_code=settlement_code,
            prepay=prepay,
            payment_ng=payment_ng,
            orderer=orderer,
            recipient=recipient,
            items=items,
            isolated_island=isolated_island,
        )

    # --- inspection and manual changes (each applies due transitions first) ---------------
    def tick(self) -> None:
        self.state.tick(self.clock.now())

    def order(self, number: str) -> dict[str, Any]:
        """The OrderModel getOrder (version 10) would return now."""
        self.tick()
        return version_view(self.state.get(number).model, 10)

    def set_progress(self, number: str, progress: int) -> None:
        self.tick()
        self.state.set_progress(number, progress, self.clock.now())

    def mark_paid(self, number: str) -> None:
        self.tick()
        self.state.mark_paid(number, self.clock.now())

    def set_postage(self, number: str, basket_index: int, postage: int) -> None:
        self.tick()
        self.state.set_postage(number, basket_index, postage)

    # --- faults ---------------------------------------------------------------------------
    def fail_next(
        self,
        function: str,
        count: int = 1,
        *,
        status: int = 500,
        body: str | dict[str, Any] | None = None,
        content_type: str = "application/json",
        delay: float = 0.0,
        apply_first: bool = False,
    ) -> None:
        """Make the next ``count`` calls of ``function`` (or "*") fail like this.

        status 200 with no body only delays the real answer by ``delay`` real seconds.
        """
        self.faults.add(Fault(function, count, status, body, content_type, delay, apply_first))

    def set_quirk(self, name: str, on: bool = True) -> None:
        """Switch one of ``faults.QUIRKS`` (an undocumented RMS behaviour) on or off."""
        if on:
            self.state.quirks.add(check_quirk(name))
        else:
            self.state.quirks.discard(check_quirk(name))

    def set_maintenance(self, on: bool, *, html: bool = False) -> None:
        self.maintenance = on
        self.maintenance_html = html

    # --- records --------------------------------------------------------------------------
    def calls_to(self, function: str) -> list[SimCall]:
        return [c for c in self.calls if c.function == function]

    def make_app(self) -> web.Application:
        from sandbox.rms.app import build_app

        return build_app(self)

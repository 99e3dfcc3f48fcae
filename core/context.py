"""The core's shared context (Core) and how long it retries refused writes (RetryPolicy)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.leader import Lease
from core.lifecycle import Policy
from core.model import ShopConfig
from core.ports import Clock, RmsApi
from core.rms.retry import backoff_delay
from core.store.requests import Inbox
from core.store.sqlite import Store

if TYPE_CHECKING:
    from core.auto import AutoConfig


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long the core keeps retrying writes RMS refused before processing (QPS, maintenance)."""

    attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 120.0
    max_total: timedelta = timedelta(minutes=15)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Jittered exponential backoff, never shorter than Retry-After (even past the cap)."""
        jittered = backoff_delay(attempt, rng=rng, base=self.base_delay, cap=self.max_delay)
        return max(jittered, retry_after or 0.0)


@dataclass
class Core:
    """Everything a core service needs; built once by bot/wiring.py."""

    store: Store
    clock: Clock
    shops: Mapping[str, ShopConfig]
    rms: Mapping[str, RmsApi]
    policy: Policy = field(default_factory=Policy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    in_flight: set[str] = field(default_factory=set)  # order numbers being confirmed right now
    failing: dict[str, str] = field(default_factory=dict)  # shop → error kind while RMS fails
    succeeded: dict[str, datetime] = field(default_factory=dict)  # shop → last_success written
    inbox: Inbox = field(default_factory=Inbox)  # the ack path's group commit
    automation: Mapping[str, AutoConfig] = field(default_factory=dict)  # shop → SHOPS_FILE
    lease: Lease | None = None  # this replica's leadership; None: no election (tests, benches)

    def __post_init__(self) -> None:
        self.store.ack_first.clock = self.clock  # the jobs' bounded wait behind the acks

    def shop(self, key: str) -> ShopConfig:
        """Return a shop's configuration (KeyError names the unknown shop)."""
        return self.shops[key]

    def api(self, shop: str) -> RmsApi:
        """Return the RMS client of a shop."""
        return self.rms[shop]

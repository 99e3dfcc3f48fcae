"""This process's leadership: the epoch it leads under, its own deadline, and the fence."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.store.lease import lease_held
from core.store.tx import Tx

JOBS_LEASE = "jobs"


class LeaseLostError(Exception):
    """This process no longer leads (or may not act any more): the unit of work is refused."""


@dataclass
class Lease:
    """What this replica knows of its lease: the epoch of its term, and until when it may act.

    ``valid_until`` is on this process's monotonic clock, counted from when the last
    successful renewal was *sent*, minus a margin: a leader that cannot renew stops starting
    RMS calls and units of work before the database can hand the lease to anyone else.
    """

    holder: str
    ttl: float  # seconds
    margin: float  # seconds before the database's expiry at which this process stops
    name: str = JOBS_LEASE
    monotonic: Callable[[], float] = time.monotonic
    epoch: int | None = None
    valid_until: float = 0.0

    def leading(self) -> bool:
        """True while this process leads and its own deadline has not passed."""
        return self.epoch is not None and self.monotonic() < self.valid_until

    def check(self) -> int:
        """The epoch to act under; raises LeaseLostError when this process may not act."""
        if self.epoch is None or not self.leading():
            raise LeaseLostError(f"not leading ({self.name}, epoch {self.epoch})")
        return self.epoch

    def renewed(self, epoch: int, sent_at: float) -> None:
        """A renewal sent at ``sent_at`` (monotonic) returned ``epoch``."""
        self.epoch = epoch
        self.valid_until = sent_at + self.ttl - self.margin

    def lost(self) -> None:
        """The database says another holder leads (or this one let go)."""
        self.epoch = None
        self.valid_until = 0.0


async def fence(lease: Lease | None, tx: Tx) -> None:
    """Refuse a leader-only unit of work unless this process still leads under its epoch.

    Checked inside the unit's transaction, so a write under an old epoch rolls back whole.
    ``None``: no election runs (the core stepped directly, as tests and benchmarks do).
    """
    if lease is None:
        return
    epoch = lease.check()
    if not await lease_held(tx, lease.name, lease.holder, epoch):
        lease.lost()
        raise LeaseLostError(f"epoch {epoch} of {lease.name} is over")

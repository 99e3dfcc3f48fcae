"""Per-licence-key token bucket: RMS allows about one request a second per shop."""

from __future__ import annotations

import asyncio

from core.ports import Clock

_EPSILON = 1e-9


class RateLimiter:
    """An async token bucket on a :class:`Clock`, shared by every call made with one licence key.

    ``acquire`` waits (through ``clock.sleep``) instead of failing. The lock is held while
    waiting so concurrent callers are served one after another, in arrival order.
    """

    def __init__(self, clock: Clock, *, rate: float = 1.0, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._clock = clock
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = clock.now()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock.now()
        # max(0, …): a wall clock stepping backwards must not drain the bucket.
        elapsed = max(0.0, (now - self._stamp).total_seconds())
        self._stamp = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)

    async def acquire(self) -> None:
        """Take one token, waiting until the bucket has one."""
        async with self._lock:
            self._refill()
            while self._tokens < 1.0 - _EPSILON:
                await self._clock.sleep((1.0 - self._tokens) / self.rate)
                self._refill()
            self._tokens = max(0.0, self._tokens - 1.0)

    def finished(self) -> None:
        """A request's answer arrived. With ``burst`` 1 the next request starts no sooner than
        1/rate after it: requests leave 1/rate apart, but a loaded machine or network can
        deliver them closer together, and RMS counts arrivals (a 403 we provoked)."""
        if self.burst == 1:
            self._refill()
            self._tokens = min(self._tokens, 0.0)

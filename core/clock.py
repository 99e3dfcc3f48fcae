"""The one module that reads the wall clock or sleeps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime


class SystemClock:
    """Real time: aware UTC ``now`` and ``asyncio.sleep``."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        await asyncio.sleep(max(0.0, seconds))

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

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        """Wait until ``event`` is set or ``seconds`` have passed, whichever is first.

        ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` returns normally
        when the event is set in the same turn as a cancel, and the cancel is lost."""
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await event.wait()
        except TimeoutError:
            return

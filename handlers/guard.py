"""Who may do what (CONFIRMERS / ADMINS, user groups through a short cache), and click dedup."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)

GroupMembers = Callable[[str], Awaitable[Sequence[str]]]


class Role(StrEnum):
    """What an action needs."""

    ANYONE = "anyone"  # read-only: status, lists, summary, re-fetch
    CONFIRMER = "confirmer"  # confirm, approve fees, bundle
    ADMIN = "admin"  # licence keys


@dataclass
class Authorizer:
    """Checks a Slack user against configured user IDs and user-group IDs (empty = everyone)."""

    confirmers: Sequence[str]
    admins: Sequence[str]
    members_of: GroupMembers  # usergroups.users.list
    ttl: float = 60.0
    monotonic: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    async def allowed(self, user: str, role: Role) -> bool:
        """True when ``user`` may act in ``role``. Admins may also confirm."""
        if role is Role.ANYONE:
            return True
        ids = list(self.admins) if role is Role.ADMIN else [*self.confirmers, *self.admins]
        if role is Role.CONFIRMER and not self.confirmers:
            return True
        if role is Role.ADMIN and not self.admins:
            return True
        if user in ids:
            return True
        for group in (i for i in ids if i.startswith("S")):
            if user in await self._members(group):
                return True
        return False

    async def _members(self, group: str) -> frozenset[str]:
        now = self.monotonic()
        cached = self._cache.get(group)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        try:
            members = frozenset(await self.members_of(group))
        except Exception:  # Slack down or no usergroups: deny rather than guess
            logger.warning("could not read members of user group %s", group)
            return cached[1] if cached else frozenset()
        self._cache[group] = (now, members)
        return members


@dataclass
class ClickDedup:
    """Drops the same click repeated within ``window`` seconds (double clicks, Slack retries)."""

    window: float = 10.0
    monotonic: Callable[[], float] = time.monotonic
    _seen: dict[str, float] = field(default_factory=dict)

    def first(self, key: str) -> bool:
        """True the first time ``key`` is seen within the window."""
        now = self.monotonic()
        if len(self._seen) > 10_000:
            self._seen = {k: t for k, t in self._seen.items() if now - t < self.window}
        seen = self._seen.get(key)
        self._seen[key] = now
        return seen is None or now - seen >= self.window


Listener = Callable[..., Awaitable[None]]


def guarded(listener: Listener, apology: str) -> Listener:
    """Run a listener so that no exception reaches bolt: before the ack, Slack gets the apology
    at once (not a 3 s timeout); after it, the failure is logged. Bolt still injects the
    listener's own arguments (it reads them through ``__wrapped__``)."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Exception:  # the edge of the app: log it, answer the user, keep serving
            logger.exception("listener %s failed", getattr(listener, "__name__", "?"))
            ack = kwargs.get("ack")
            if ack is not None and getattr(ack, "response", None) is None:
                await ack(text=apology)

    return run

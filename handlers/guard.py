"""Who may do what (CONFIRMERS / ADMINS per shop, user groups cached briefly), and click dedup."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from slack_sdk.errors import SlackApiError

from core.context import Core
from handlers.messages import say
from handlers.render.i18n import Lang

logger = logging.getLogger(__name__)

GroupMembers = Callable[[str], Awaitable[Sequence[str]]]


class Role(StrEnum):
    """What an action needs."""

    ANYONE = "anyone"  # read-only: status, lists, summary, re-fetch
    CONFIRMER = "confirmer"  # confirm, approve fees, bundle
    ADMIN = "admin"  # licence keys


class Verdict(StrEnum):
    """What the check found; only ALLOWED lets an effect happen."""

    ALLOWED = "allowed"
    DENIED = "denied"
    UNKNOWN = "unknown"  # a user-group lookup failed: refused, and the user is told why
    NO_ADMINS = "no_admins"  # ADMINS is empty: admin-only effects are off


@dataclass(frozen=True)
class Roles:
    """Who may confirm and who may administer (user IDs and user-group IDs)."""

    confirmers: Sequence[str] = ()
    admins: Sequence[str] = ()


@dataclass
class Authorizer:
    """Checks a Slack user against a shop's roles (its own, else the global ones); user groups
    are read through a short cache. Empty confirmers = everyone; empty admins = nobody."""

    roles: Roles
    members_of: GroupMembers  # usergroups.users.list
    shops: Mapping[str, Roles] = field(default_factory=dict)
    ttl: float = 60.0
    monotonic: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    async def check(self, user: str, role: Role, shop: str) -> Verdict:
        """May ``user`` act in ``role`` for ``shop`` now? Called at the door and again right
        before each effect. Admins may also confirm."""
        if role is Role.ANYONE:
            return Verdict.ALLOWED
        roles = self.shops.get(shop, self.roles)
        if role is Role.ADMIN and not roles.admins:
            return Verdict.NO_ADMINS
        if role is Role.CONFIRMER and not roles.confirmers:
            return Verdict.ALLOWED
        ids = list(roles.admins) if role is Role.ADMIN else [*roles.confirmers, *roles.admins]
        if user in ids:
            return Verdict.ALLOWED
        unknown = False
        for group in (i for i in ids if i.startswith("S")):
            members = await self._members(group)
            if members is None:
                unknown = True
            elif user in members:
                return Verdict.ALLOWED
        return Verdict.UNKNOWN if unknown else Verdict.DENIED

    async def _members(self, group: str) -> frozenset[str] | None:
        """The group's members, or None when Slack would not say (never a stale list)."""
        now = self.monotonic()
        cached = self._cache.get(group)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        try:
            members = frozenset(await self.members_of(group))
        except Exception as exc:  # Slack down, missing scope, no such group: unknown, so refused
            why = type(exc).__name__
            if isinstance(exc, SlackApiError):
                why = str(exc.response.get("error"))
            logger.warning("could not read members of user group %s (%s)", group, why)
            self._cache.pop(group, None)
            return None
        self._cache[group] = (now, members)
        return members


_REFUSALS = {
    Verdict.DENIED: "not_allowed",
    Verdict.UNKNOWN: "roles_unknown",
    Verdict.NO_ADMINS: "admins_unset",
}


def refusal(verdict: Verdict, lang: Lang) -> str:
    """What to tell a user whose action the check refused."""
    return say(_REFUSALS.get(verdict, "not_allowed"), lang)


async def audit_refusal(core: Core, shop: str, user: str, what: str, verdict: Verdict) -> None:
    """Log and audit a refused action (who, what, why)."""
    logger.info("refused %s to %s (%s)", what, user, verdict.value)
    async with core.store.tx() as tx:
        why = {"verdict": verdict.value}  # denied, unknown (lookup failed) or no_admins
        await tx.audit(shop, user, what, "denied", core.clock.now(), detail=why)


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


Listener = Callable[..., Coroutine[Any, Any, None]]


def guarded(listener: Listener, apology: str) -> Listener:
    """Run a listener so that no exception reaches bolt: before the ack, Slack gets the apology
    at once (not a 3 s timeout); after it, the failure is logged. It takes the listener's
    own arguments by name (handlers.routes reads them from the listener's signature)."""

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

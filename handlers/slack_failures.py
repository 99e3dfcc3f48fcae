"""Slack's answers to a post, classified: retry later, dead-letter, or pause all delivery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from core.rms.retry import parse_retry_after

PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "restricted_action_thread_locked",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "thread_not_found",
    }
)
"""Slack will never take this message in this channel: retrying only repeats the error."""

WORKSPACE_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
        "org_login_required",
    }
)
"""The token or the app is wrong, not the message: every post fails until an operator fixes
it (and restarts). Dead-lettering would throw every message away, so delivery pauses."""

TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "message_limit_exceeded",
    }
)
UNKNOWN_ERROR_ATTEMPTS = 5
"""An error Slack names but we do not know is tried this often, then dead-lettered."""


class Verdict(StrEnum):
    """What a failed attempt means for the message."""

    RETRY = "retry"  # later, with backoff (Slack down, 5xx, 429, a timeout)
    DEAD = "dead"  # never: dead-letter it and tell the admins
    PAUSE = "pause"  # nothing can be posted at all (token): stop, count no attempt


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed attempt, classified."""

    error: str
    verdict: Verdict
    retry_after: float | None = None
    maybe_posted: bool = False  # the outcome is unknown: look in Slack before posting again


def classify(error: str, status: int, attempts: int) -> Verdict:
    """The verdict for Slack's ``error`` at HTTP ``status`` on attempt number ``attempts``."""
    if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
        return Verdict.RETRY
    if error in WORKSPACE_ERRORS:
        return Verdict.PAUSE
    if error in PERMANENT_ERRORS:
        return Verdict.DEAD
    return Verdict.DEAD if attempts >= UNKNOWN_ERROR_ATTEMPTS else Verdict.RETRY


def failure_of(exc: Exception, attempts: int, now: datetime) -> Failure | None:
    """Classify what a post raised; None for exceptions that are bugs, not Slack's answers."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(getattr(response, "status_code", 200) or 200)
        error = str(response.get("error") or f"http_{status}")
        headers: Mapping[str, Any] = getattr(response, "headers", None) or {}
        wait = next((str(v) for k, v in headers.items() if k.lower() == "retry-after"), None)
        return Failure(
            error,
            classify(error, status, attempts),
            retry_after=parse_retry_after(wait, now=now) if status == 429 else None,
            maybe_posted=status >= 500,
        )
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return Failure(type(exc).__name__, Verdict.RETRY, maybe_posted=True)
    return None

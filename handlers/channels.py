"""Channel membership: join the public channels at start-up, say which ones need an invitation."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.poster import slack_error

logger = logging.getLogger(__name__)

# Refusals that hold for every channel alike: one line says it, the other channels are not tried.
WORKSPACE_WIDE = frozenset(
    {"missing_scope", "invalid_auth", "not_authed", "account_inactive", "token_revoked"}
)
INVITE = "a private channel the bot has not been invited to (type /invite @bot in it)"
UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError)


def _why(error: str, scope: str) -> str:
    """What an error of conversations.join/info means for the person running the bot."""
    return {
        "channel_not_found": f"not visible to the bot: a wrong channel ID, or {INVITE}",
        "method_not_supported_for_channel_type": "private: the bot must be invited (/invite @bot)",
        "is_archived": "archived: the bot cannot post there; configure another channel",
        "missing_scope": f"the app lacks the {scope} scope: reinstall it from slack-manifest.yml",
    }.get(error, error)


async def join_channels(client: AsyncWebClient, channels: Iterable[str]) -> list[str]:
    """Join each public channel so the bot can read its history (to recover interrupted posts).
    Never raises: returns, and logs, one line per channel it could not join."""
    problems: list[str] = []
    for channel in dict.fromkeys(channels):
        try:
            await client.conversations_join(channel=channel)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in WORKSPACE_WIDE:
                problems.append(f"no channel joined ({error}): {_why(error, 'channels:join')}")
                logger.warning("%s", problems[-1])
                break
            problems.append(f"{channel}: cannot join ({error}): {_why(error, 'channels:join')}")
            logger.warning("%s", problems[-1])
        except UNREACHABLE as exc:
            problems.append(f"no channel joined: Slack not reachable ({type(exc).__name__})")
            logger.warning("%s", problems[-1])
            break
    return problems


async def channel_report(client: AsyncWebClient, channels: Iterable[str]) -> tuple[list[str], bool]:
    """One line per channel saying whether the bot can post and read there (conversations.info),
    and False when one of them needs a person to act (invite, unarchive, fix the ID or token).
    Connection errors propagate: the caller says Slack was not reachable."""
    try:
        await client.auth_test()
    except SlackApiError as exc:
        return [f"Slack refused SLACK_BOT_TOKEN ({slack_error(exc)})"], False
    lines, ok = [], True
    for channel in dict.fromkeys(channels):
        try:
            info = (await client.conversations_info(channel=channel))["channel"]
        except SlackApiError as exc:
            error = slack_error(exc)
            if error == "missing_scope":
                lines.append(f"channels not checked: {_why(error, 'channels:read/groups:read')}")
                return lines, False
            lines.append(f"{channel}: {_why(error, 'channels:read')}")
            ok = False
            continue
        where = f"{channel} #{info.get('name', '?')}"
        if info.get("is_archived"):
            lines.append(f"{where}: {_why('is_archived', '')}")
            ok = False
        elif info.get("is_private") and info.get("is_member"):
            lines.append(f"{where}: private, the bot is a member")
        elif info.get("is_private"):
            lines.append(f"{where}: {INVITE}")
            ok = False
        elif info.get("is_member"):
            lines.append(f"{where}: public, the bot is a member")
        else:
            lines.append(f"{where}: public, the bot joins it at start-up")
    return lines, ok

"""Pure builders of the payloads real Slack sends to an app, request signing, Block Kit limits."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

MESSAGE_BLOCK_LIMIT = 50
SURFACE_BLOCK_LIMIT = 100  # modals and the Home tab


def sign(secret: str, body: bytes | str, timestamp: int | str) -> dict[str, str]:
    """The two headers Slack adds: v0=HMAC-SHA256(secret, "v0:{ts}:{raw body}")."""
    raw = body if isinstance(body, bytes) else body.encode()
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def _payload_form(payload: Mapping[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def command_body(
    *,
    command: str,
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    channel_name: str,
    team_id: str,
    team_domain: str,
    api_app_id: str,
    response_url: str,
    trigger_id: str,
    token: str = "emulator-verification",
) -> bytes:
    """A slash command, form-encoded as Slack posts it."""
    return urlencode(
        {
            "token": token,
            "team_id": team_id,
            "team_domain": team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    ).encode()


def block_actions_body(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    team_domain: str,
    api_app_id: str,
    trigger_id: str,
    action: Mapping[str, Any],
    action_ts: str,
    channel_id: str | None = None,
    channel_name: str = "",
    message_ts: str | None = None,
    message: Mapping[str, Any] | None = None,
    is_ephemeral: bool = False,
    response_url: str | None = None,
    view: Mapping[str, Any] | None = None,
    state_values: Mapping[str, Any] | None = None,
) -> bytes:
    """A button click: in a message (ephemeral or not) or, with ``view``, in a modal/Home tab."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "emulator-verification",
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "trigger_id": trigger_id,
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view["id"]}
        payload["view"] = dict(view)
    else:
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        }
        payload["channel"] = {"id": channel_id, "name": channel_name}
        if message is not None and not is_ephemeral:
            payload["message"] = dict(message)
        payload["state"] = {"values": dict(state_values or {})}
        payload["response_url"] = response_url
    payload["actions"] = [{**action, "action_ts": action_ts}]
    return _payload_form(payload)


def view_submission_body(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    team_domain: str,
    api_app_id: str,
    trigger_id: str,
    view: Mapping[str, Any],
) -> bytes:
    """A modal's Submit: ``view.state.values`` carries the inputs."""
    return _payload_form(
        {
            "type": "view_submission",
            "token": "emulator-verification",
            "team": {"id": team_id, "domain": team_domain},
            "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
            "api_app_id": api_app_id,
            "trigger_id": trigger_id,
            "view": dict(view),
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
    )


def event_body(
    *,
    event: Mapping[str, Any],
    team_id: str,
    api_app_id: str,
    bot_user_id: str,
    event_id: str,
    event_time: int,
) -> bytes:
    """An Events API delivery (JSON, not form-encoded)."""
    return json.dumps(
        {
            "token": "emulator-verification",
            "team_id": team_id,
            "api_app_id": api_app_id,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id,
            "event_time": event_time,
            "event_context": f"EC{event_id}",
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        },
        ensure_ascii=False,
    ).encode()


def app_home_opened(
    *, user: str, channel: str, event_ts: str, view: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": "home",
        "event_ts": event_ts,
    }
    if view is not None:
        event["view"] = dict(view)
    return event


def find_action(
    blocks: Sequence[Mapping[str, Any]], action_id: str, block_id: str = ""
) -> tuple[Mapping[str, Any], str] | None:
    """The interactive element with ``action_id`` (and block_id if given), and its block_id."""
    for index, block in enumerate(blocks):
        bid = block.get("block_id") or f"b{index}"
        if block_id and bid != block_id:
            continue
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, Mapping) and element.get("action_id") == action_id:
                return element, bid
    return None


def action_from_element(
    element: Mapping[str, Any] | None, *, action_id: str, block_id: str, value: str
) -> dict[str, Any]:
    """The ``actions[0]`` entry Slack sends for a click on ``element``."""
    element = element or {}
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": element.get("type", "button"),
        "text": element.get("text") or {"type": "plain_text", "text": action_id, "emoji": True},
    }
    action["value"] = value or element.get("value", "")
    if element.get("style"):
        action["style"] = element["style"]
    return action


# -- Block Kit limits (what Slack rejects) ---------------------------------------------------


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, Mapping) else 0


def block_errors(blocks: Any, *, limit: int = MESSAGE_BLOCK_LIMIT) -> list[str]:
    """Slack-style error strings for ``blocks``; empty when Slack would accept them."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"must be less than {limit + 1} items [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        errors.extend(f"{e} [json-pointer:/blocks/{i}{p}]" for e, p in _one_block(block))
    return errors


def _one_block(block: Any) -> list[tuple[str, str]]:
    if not isinstance(block, Mapping) or not block.get("type"):
        return [("missing required field: type", "")]
    out: list[tuple[str, str]] = []
    kind = block["type"]
    if len(str(block.get("block_id", ""))) > 255:
        out.append(("must be less than 256 characters", "/block_id"))
    if kind == "section":
        if "text" not in block and "fields" not in block:
            out.append(("must provide either text or fields", ""))
        if _text_len(block.get("text")) > 3000:
            out.append(("must be less than 3001 characters", "/text/text"))
        fields = block.get("fields") or []
        if len(fields) > 10:
            out.append(("must be less than 11 items", "/fields"))
        out.extend(
            ("must be less than 2001 characters", f"/fields/{j}/text")
            for j, f in enumerate(fields)
            if _text_len(f) > 2000
        )
    elif kind == "header" and _text_len(block.get("text")) > 150:
        out.append(("must be less than 151 characters", "/text/text"))
    elif kind == "context" and len(block.get("elements") or []) > 10:
        out.append(("must be less than 11 items", "/elements"))
    elif kind == "actions" and len(block.get("elements") or []) > 25:
        out.append(("must be less than 26 items", "/elements"))
    elif kind == "markdown" and len(block.get("text", "")) > 12000:
        out.append(("must be less than 12001 characters", "/text"))
    elements = [*(block.get("elements") or []), block.get("accessory")]
    for j, element in enumerate(elements):
        if isinstance(element, Mapping) and element.get("type") == "button":
            where = f"/elements/{j}" if j < len(elements) - 1 else "/accessory"
            if _text_len(element.get("text")) > 75:
                out.append(("must be less than 76 characters", f"{where}/text/text"))
            if len(str(element.get("value", ""))) > 2000:
                out.append(("must be less than 2001 characters", f"{where}/value"))
            if len(str(element.get("action_id", ""))) > 255:
                out.append(("must be less than 256 characters", f"{where}/action_id"))
    return out


def view_errors(view: Any) -> list[str]:
    """Errors Slack reports for a modal or Home tab view."""
    if not isinstance(view, Mapping):
        return ["must be an object [json-pointer:/view]"]
    errors = [
        e.replace("/blocks", "/view/blocks", 1)
        for e in block_errors(view.get("blocks", []), limit=SURFACE_BLOCK_LIMIT)
    ]
    if view.get("type") == "modal":
        for key in ("title", "submit", "close"):
            if _text_len(view.get(key)) > 24:
                errors.append(f"must be less than 25 characters [json-pointer:/view/{key}/text]")
        if not view.get("title"):
            errors.append("missing required field: title [json-pointer:/view]")
    if len(view.get("private_metadata", "")) > 3000:
        errors.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    return errors

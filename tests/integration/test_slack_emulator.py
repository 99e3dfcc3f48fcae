"""The Slack emulator behaves like Slack for our bot: Web API, signed inbound requests, console."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import PostRate, SlackEmulator
from sandbox.slack import payloads as p

SECRET = "test-signing-secret"
Reply = web.Response | dict[str, Any] | str | None


class FakeBot:
    """A tiny app behind a signed endpoint: records what Slack sent and answers per payload type."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Reply]]] = {}
        self.verifier = SignatureVerifier(SECRET)
        self.client: AsyncWebClient

    def on(self, kind: str) -> Callable[[Callable[[dict[str, Any]], Awaitable[Reply]]], Any]:
        def register(fn: Callable[[dict[str, Any]], Awaitable[Reply]]) -> Any:
            self.handlers[kind] = fn
            return fn

        return register

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if not self.verifier.is_valid(
            raw,
            request.headers.get("X-Slack-Request-Timestamp", ""),
            request.headers.get("X-Slack-Signature", ""),
        ):
            return web.json_response({"error": "invalid request"}, status=401)
        if request.content_type == "application/json":
            body = json.loads(raw)
        else:
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            body = json.loads(form["payload"]) if "payload" in form else form
        self.received.append(body)
        kind = body.get("command") or (body.get("event") or {}).get("type") or body.get("type", "")
        reply = await self.handlers[kind](body) if kind in self.handlers else None
        if isinstance(reply, web.Response):
            return reply
        if isinstance(reply, dict):
            return web.json_response(reply)
        return web.Response(text=reply or "")


@pytest.fixture
async def slack() -> AsyncIterator[tuple[SlackEmulator, FakeBot]]:
    bot = FakeBot()
    bot_app = web.Application()
    bot_app.router.add_post("/slack/events", bot.handle)
    bot_server = TestServer(bot_app, host="127.0.0.1")
    await bot_server.start_server()
    emu = SlackEmulator(
        signing_secret=SECRET, bot_url=f"http://127.0.0.1:{bot_server.port}/slack/events"
    )
    server = TestServer(emu.make_app(), host="127.0.0.1")
    await server.start_server()
    emu.base_url = f"http://127.0.0.1:{server.port}"
    bot.client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
    yield emu, bot
    await server.close()
    await bot_server.close()


def button(action_id: str, value: str, text: str = "確認", **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": text},
        **extra,
    }


CARD = [
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*要対応* 注文 123456-20261128-00000001"},
    },
    {
        "type": "actions",
        "block_id": "order",
        "elements": [
            button("approve", "123456-20261128-00000001", style="primary"),
            button("reject", "123456-20261128-00000001", "却下", style="danger"),
        ],
    },
]


# -- payloads (pure) ------------------------------------------------------------------------


def test_signature_is_what_bolt_verifies() -> None:
    headers = p.sign(SECRET, b"a=1&b=%E7%94%B0", 1_764_300_000)
    expected = SignatureVerifier(SECRET).generate_signature(
        timestamp="1764300000", body=b"a=1&b=%E7%94%B0"
    )
    assert headers == {"X-Slack-Request-Timestamp": "1764300000", "X-Slack-Signature": expected}


def test_command_body_carries_every_slack_field() -> None:
    body = p.command_body(
        command="/confirm",
        text="all 本店",
        user_id="U1",
        user_name="田中",
        channel_id="C1",
        channel_name="shop",
        team_id="T1",
        team_domain="d",
        api_app_id="A1",
        response_url="http://x/respond/1",
        trigger_id="t.1",
    )
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert {k: form[k] for k in ("command", "text", "user_name", "trigger_id")} == {
        "command": "/confirm",
        "text": "all 本店",
        "user_name": "田中",
        "trigger_id": "t.1",
    }
    assert {
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "api_app_id",
        "response_url",
    } <= form.keys()


def test_block_errors_name_the_limits_slack_enforces() -> None:
    assert p.block_errors([{"type": "divider"}] * 50) == []
    assert p.block_errors([{"type": "divider"}] * 51) == [
        "must be less than 51 items [json-pointer:/blocks]"
    ]
    long = [{"type": "section", "text": {"type": "mrkdwn", "text": "あ" * 3001}}]
    assert p.block_errors(long) == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    assert p.view_errors(
        {
            "type": "modal",
            "title": {"type": "plain_text", "text": "x" * 25},
            "blocks": [{"type": "divider"}] * 100,
        }
    ) == ["must be less than 25 characters [json-pointer:/view/title/text]"]


# -- Web API ---------------------------------------------------------------------------------


async def test_auth_test_answers_as_the_bot(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, bot = slack
    resp = await bot.client.auth_test()
    assert (resp["ok"], resp["user_id"], resp["team_id"], resp["bot_id"]) == (
        True,
        "U0BOT",
        "T0EMULATOR",
        "B0BOT",
    )
    assert emu.calls_to("auth.test")[0].token == "xoxb-emulator"


async def test_post_update_and_ephemeral_round_trip(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, bot = slack
    first = await bot.client.chat_postMessage(channel="C0SHOP1", text="確認中", blocks=CARD)
    second = await bot.client.chat_postMessage(
        channel="#shop-main", text="スレッド", thread_ts=first["ts"]
    )
    assert float(second["ts"]) > float(first["ts"])
    await bot.client.chat_postMessage(channel="C0SHOP1", text="返信の返信", thread_ts=second["ts"])
    await bot.client.chat_update(channel="C0SHOP1", ts=first["ts"], text="確認済み ✅", blocks=[])
    eph = await bot.client.chat_postEphemeral(
        channel="C0SHOP1", user="U0SATO", text="権限がありません"
    )

    [msg] = emu.messages("C0SHOP1")
    assert (msg.text, msg.blocks, msg.edited) == ("確認済み ✅", [], True)
    assert [(r.text, r.thread_ts) for r in msg.replies] == [
        ("スレッド", first["ts"]),
        ("返信の返信", first["ts"]),
    ]
    assert [e.text for e in emu.ephemerals("U0SATO")] == ["権限がありません"]
    assert emu.ephemerals("U0SATO")[0].ts == eph["message_ts"]
    assert emu.calls_to("chat.update")[0].params["blocks"] == []


async def test_web_api_errors_match_slack(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, bot = slack
    cases = [
        (bot.client.chat_update(channel="C0SHOP1", ts="1.000000", text="x"), "message_not_found"),
        (bot.client.chat_postMessage(channel="C0NOPE", text="x"), "channel_not_found"),
        (bot.client.usergroups_users_list(usergroup="S0NOPE"), "no_such_subteam"),
        (bot.client.api_call("chat.nonsense"), "unknown_method"),
        (AsyncWebClient(token="xoxb-wrong", base_url=emu.api_url).auth_test(), "invalid_auth"),
    ]
    for call, error in cases:
        with pytest.raises(SlackApiError) as info:
            await call
        assert info.value.response["error"] == error
    managers = await bot.client.usergroups_users_list(usergroup="S0MANAGERS")
    assert managers["users"] == ["U0SUZUKI"]


async def test_block_limits_are_enforced(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, bot = slack
    too_many = [{"type": "divider"}] * 51
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    for blocks in (too_many, too_long):
        with pytest.raises(SlackApiError) as info:
            await bot.client.chat_postMessage(channel="C0SHOP1", text="digest", blocks=blocks)
        assert info.value.response["error"] == "invalid_blocks"
    assert emu.messages("C0SHOP1") == []


async def test_rate_limit_then_success_through_the_retry_handler(
    slack: tuple[SlackEmulator, FakeBot], monkeypatch: pytest.MonkeyPatch
) -> None:
    emu, _bot = slack
    monkeypatch.setattr(random, "random", lambda: 0.0)  # the handler's jitter: no real sleep
    client = AsyncWebClient(
        token=emu.bot_token,
        base_url=emu.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    emu.fail_next("chat.postMessage", retry_after=0)
    resp = await client.chat_postMessage(channel="C0SHOP2", text="ダイジェスト")
    assert resp["ok"]
    assert [c.error for c in await emu.wait_for("chat.postMessage", count=2)] == [
        "ratelimited",
        None,
    ]
    emu.fail_next("chat.postMessage", status=200, error="fatal_error")
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0SHOP2", text="x")
    assert info.value.response["error"] == "fatal_error"


async def test_wait_for_gives_up_with_what_it_saw(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, _bot = slack
    with pytest.raises(TimeoutError, match=r"chat.update: wanted 1"):
        await emu.wait_for("chat.update", timeout=0)


# -- membership, history pages, post rate: what Slack does that the bot must cope with -------


async def slack_error(call: Awaitable[Any]) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


async def test_history_needs_membership_which_a_join_gives(
    slack: tuple[SlackEmulator, FakeBot],
) -> None:
    emu, bot = slack
    posted = await bot.client.chat_postMessage(channel="C0SHOP1", text="x")  # chat:write.public
    assert await slack_error(bot.client.conversations_history(channel="C0SHOP1")) == (
        "not_in_channel"
    )
    info = await bot.client.conversations_info(channel="C0SHOP1")
    assert (info["channel"]["is_member"], info["channel"]["is_private"]) == (False, False)
    joined = await bot.client.conversations_join(channel="C0SHOP1")
    assert joined["channel"]["is_member"] and "warning" not in joined
    again = await bot.client.conversations_join(channel="#shop-main")
    assert again["warning"] == "already_in_channel"
    history = await bot.client.conversations_history(channel="C0SHOP1")
    assert [m["ts"] for m in history["messages"]] == [posted["ts"]]
    emu.chat_write_public = False  # an app installed without the scope
    assert await slack_error(bot.client.chat_postMessage(channel="C0SHOP2", text="x")) == (
        "not_in_channel"
    )
    assert (await bot.client.chat_postMessage(channel="C0SHOP1", text="member"))["ok"]


async def test_a_private_channel_is_invisible_until_the_bot_is_invited(
    slack: tuple[SlackEmulator, FakeBot],
) -> None:
    emu, bot = slack
    emu.private.add("C0SUMMARY")
    client = bot.client
    for call in (
        client.chat_postMessage(channel="C0SUMMARY", text="x"),
        client.conversations_join(channel="C0SUMMARY"),
        client.conversations_info(channel="C0SUMMARY"),
        client.conversations_history(channel="C0SUMMARY"),
    ):
        assert await slack_error(call) == "channel_not_found"
    emu.member_of.add("C0SUMMARY")  # someone typed /invite @rms-bot
    assert (await client.chat_postMessage(channel="C0SUMMARY", text="x"))["ok"]
    info = await client.conversations_info(channel="C0SUMMARY")
    assert (info["channel"]["is_private"], info["channel"]["is_member"]) == (True, True)
    assert await slack_error(client.conversations_join(channel="C0SUMMARY")) == (
        "method_not_supported_for_channel_type"
    )
    emu.archived.add("C0SHOP2")
    assert await slack_error(client.chat_postMessage(channel="C0SHOP2", text="x")) == (
        "is_archived"
    )
    assert await slack_error(client.conversations_join(channel="C0SHOP2")) == "is_archived"


async def test_history_comes_in_pages_bounded_by_oldest_and_latest(
    slack: tuple[SlackEmulator, FakeBot],
) -> None:
    emu, bot = slack
    emu.member_of.add("C0SHOP1")
    sent = [emu.post("C0SHOP1", "U0TANAKA", f"m{i}", []).ts for i in range(250)]
    newest_first = sent[::-1]
    first = await bot.client.conversations_history(channel="C0SHOP1")
    assert [m["ts"] for m in first["messages"]] == newest_first[:100]  # default limit 100
    assert first["has_more"] and first["response_metadata"]["next_cursor"]
    seen, cursor, pages = [], None, 0
    while True:
        page = await bot.client.conversations_history(
            channel="C0SHOP1", limit=100, **({"cursor": cursor} if cursor else {})
        )
        seen += [m["ts"] for m in page["messages"]]
        pages += 1
        if not page["has_more"]:
            assert not (page.get("response_metadata") or {}).get("next_cursor")
            break
        cursor = page["response_metadata"]["next_cursor"]
    assert (pages, seen) == (3, newest_first)
    everything = await bot.client.conversations_history(channel="C0SHOP1", limit=5000)
    assert len(everything["messages"]) == 250 and not everything["has_more"]  # at most 999
    window = await bot.client.conversations_history(
        channel="C0SHOP1", oldest=sent[10], latest=sent[20], limit=999
    )
    assert [m["ts"] for m in window["messages"]] == sent[19:10:-1]  # both ends exclusive
    inclusive = await bot.client.conversations_history(
        channel="C0SHOP1", oldest=sent[10], latest=sent[20], inclusive=True
    )
    assert [m["ts"] for m in inclusive["messages"]] == sent[20:9:-1]
    assert await slack_error(
        bot.client.conversations_history(channel="C0SHOP1", cursor="not-a-cursor")
    ) == ("invalid_cursor")


async def test_metadata_is_checked_and_read_back_only_when_asked(
    slack: tuple[SlackEmulator, FakeBot],
) -> None:
    emu, bot = slack
    emu.member_of.add("C0SHOP1")
    metadata = {"event_type": "rms_bot_post", "event_payload": {"key": "digest:1"}}
    await bot.client.chat_postMessage(channel="C0SHOP1", text="x", metadata=metadata)
    for wrong in (
        {"event_type": "x"},
        {"event_payload": {}},
        {"event_type": "", "event_payload": {}},
    ):
        assert await slack_error(
            bot.client.chat_postMessage(channel="C0SHOP1", text="x", metadata=wrong)
        ) == ("invalid_metadata_format")
    plain = await bot.client.conversations_history(channel="C0SHOP1")
    assert "metadata" not in plain["messages"][0]
    full = await bot.client.conversations_history(channel="C0SHOP1", include_all_metadata=True)
    assert [m["metadata"] for m in full["messages"]] == [metadata]


async def test_posting_faster_than_a_channel_allows_is_answered_429(
    slack: tuple[SlackEmulator, FakeBot],
) -> None:
    emu, bot = slack
    now = [1_000.0]
    emu.post_rate, emu.rate_clock = PostRate(per_second=1.0, burst=2), lambda: now[0]
    for _ in range(2):  # the burst allowance
        await bot.client.chat_postMessage(channel="C0SHOP1", text="x")
    with pytest.raises(SlackApiError) as info:
        await bot.client.chat_postMessage(channel="C0SHOP1", text="too fast")
    response = info.value.response
    assert (response.status_code, response["error"]) == (429, "ratelimited")
    assert response.headers["Retry-After"] == "1"
    assert (await bot.client.chat_postMessage(channel="C0SHOP2", text="x"))["ok"]  # per channel
    now[0] += 1.0
    assert (await bot.client.chat_postMessage(channel="C0SHOP1", text="x"))["ok"]
    assert len(emu.messages("C0SHOP1")) == 3


# -- inbound: signed requests into the bot --------------------------------------------------


async def test_signed_command_reaches_the_bot_and_its_ack_is_shown(
    slack: tuple[SlackEmulator, FakeBot],
) -> None:
    emu, bot = slack

    @bot.on("/rms-status")
    async def _status(_body: dict[str, Any]) -> str:
        return "確認しています…"

    result = await emu.send_command("/rms-status", "all", user="U0SATO", channel="C0SHOP2")
    assert (result.status, result.body) == (200, "確認しています…")
    [body] = bot.received
    assert {
        k: body[k]
        for k in (
            "command",
            "text",
            "user_id",
            "user_name",
            "channel_id",
            "channel_name",
            "team_id",
        )
    } == {
        "command": "/rms-status",
        "text": "all",
        "user_id": "U0SATO",
        "user_name": "佐藤",
        "channel_id": "C0SHOP2",
        "channel_name": "shop-second",
        "team_id": "T0EMULATOR",
    }
    assert body["response_url"].startswith(f"{emu.base_url}/respond/")
    assert body["trigger_id"]
    [eph] = emu.ephemerals("U0SATO")
    assert (eph.text, eph.channel, eph.source) == ("確認しています…", "C0SHOP2", "ack")


async def test_response_url_posts_in_channel_and_replaces_the_ephemeral(
    slack: tuple[SlackEmulator, FakeBot],
) -> None:
    emu, bot = slack

    @bot.on("/confirm")
    async def _confirm(_body: dict[str, Any]) -> dict[str, Any]:
        return {"text": "処理中 0/2"}

    await emu.send_command("/confirm", "all")
    url = bot.received[0]["response_url"]
    async with aiohttp.ClientSession() as http:
        await http.post(url, json={"replace_original": True, "text": "処理中 2/2"})
        await http.post(url, json={"response_type": "in_channel", "text": "2件 確認しました"})
    assert [e.text for e in emu.ephemerals("U0TANAKA")] == ["処理中 2/2"]
    assert [m.text for m in emu.messages("C0SHOP1")] == ["2件 確認しました"]
    assert len(await emu.wait_for("response_url", count=2)) == 2


async def test_a_bad_signature_shows_slacks_failure(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, bot = slack
    emu.signing_secret = "not-the-bots-secret"
    result = await emu.send_command("/confirm", "all")
    assert result.status == 401
    assert bot.received == []
    assert "failed with the error" in emu.ephemerals("U0TANAKA")[0].text


async def test_click_on_a_message_button_then_replace_original(
    slack: tuple[SlackEmulator, FakeBot],
) -> None:
    emu, bot = slack
    posted = await bot.client.chat_postMessage(channel="C0SHOP1", text="要対応", blocks=CARD)

    @bot.on("block_actions")
    async def _approve(body: dict[str, Any]) -> None:
        async with aiohttp.ClientSession() as http:
            await http.post(
                body["response_url"], json={"replace_original": True, "text": "承認済み（田中）"}
            )

    result = await emu.click(channel="C0SHOP1", message_ts=posted["ts"], action_id="approve")
    assert result.status == 200
    [body] = bot.received
    assert body["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C0SHOP1",
        "is_ephemeral": False,
    }
    assert body["message"]["ts"] == posted["ts"]
    assert body["message"]["blocks"] == CARD
    action = body["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "approve",
        "order",
        "123456-20261128-00000001",
        "button",
    )
    assert body["user"]["id"] == "U0TANAKA"
    [msg] = emu.messages("C0SHOP1")
    assert (msg.text, msg.blocks, msg.edited) == ("承認済み（田中）", [], True)


async def test_click_on_an_ephemeral_button(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, bot = slack
    eph = await bot.client.chat_postEphemeral(
        channel="C0SHOP1",
        user="U0TANAKA",
        text="本当に確認しますか？",
        blocks=[{"type": "actions", "elements": [button("confirm_all", "batch-7", "はい")]}],
    )

    @bot.on("block_actions")
    async def _yes(body: dict[str, Any]) -> None:
        async with aiohttp.ClientSession() as http:
            await http.post(body["response_url"], json={"delete_original": True})

    await emu.click(channel="C0SHOP1", message_ts=eph["message_ts"], action_id="confirm_all")
    [body] = bot.received
    assert body["container"]["is_ephemeral"] is True
    assert "message" not in body
    assert body["actions"][0]["value"] == "batch-7"
    assert emu.ephemerals("U0TANAKA") == []


MODAL = {
    "type": "modal",
    "callback_id": "license",
    "private_metadata": "shop=main",
    "title": {"type": "plain_text", "text": "ライセンスキー"},
    "submit": {"type": "plain_text", "text": "保存"},
    "blocks": [
        {
            "type": "input",
            "block_id": "key",
            "label": {"type": "plain_text", "text": "licenseKey"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}


async def test_modal_open_errors_then_success(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, bot = slack

    @bot.on("/rms")
    async def _open(body: dict[str, Any]) -> None:
        await bot.client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        with pytest.raises(SlackApiError, match="expired_trigger_id"):
            await bot.client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @bot.on("view_submission")
    async def _submit(body: dict[str, Any]) -> dict[str, Any] | None:
        value = body["view"]["state"]["values"]["key"]["value"]["value"]
        if not value.startswith("SP"):
            return {"response_action": "errors", "errors": {"key": "SPで始まるキーです"}}
        return None

    await emu.send_command("/rms", "license")
    modal = emu.open_modal("U0TANAKA")
    assert modal is not None
    assert modal.id.startswith("V") and modal.callback_id == "license"

    await emu.submit_view(modal.id, {"key": {"value": {"type": "plain_text_input", "value": "x"}}})
    assert modal.errors == {"key": "SPで始まるキーです"}
    assert emu.open_modal("U0TANAKA") is modal
    submitted = bot.received[-1]["view"]
    assert (submitted["private_metadata"], submitted["callback_id"]) == ("shop=main", "license")

    await emu.submit_view(
        modal.id, {"key": {"value": {"type": "plain_text_input", "value": "SP123"}}}
    )
    assert emu.open_modal("U0TANAKA") is None
    assert emu.views[modal.id].closed


async def test_modal_update_and_clear_acks(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, bot = slack
    answers: list[dict[str, Any]] = [
        {
            "response_action": "update",
            "view": {
                **MODAL,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "保存しました"}}],
            },
        },
        {"response_action": "clear"},
    ]

    @bot.on("/rms")
    async def _open(body: dict[str, Any]) -> None:
        await bot.client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @bot.on("view_submission")
    async def _submit(_body: dict[str, Any]) -> dict[str, Any]:
        return answers.pop(0)

    await emu.send_command("/rms", "license")
    modal = emu.open_modal("U0TANAKA")
    assert modal is not None
    await emu.submit_view(modal.id, {})
    assert modal.blocks[0]["text"]["text"] == "保存しました"
    updated = await bot.client.views_update(view_id=modal.id, view=MODAL)
    assert updated["view"]["id"] == modal.id
    await emu.submit_view(modal.id, {})
    assert emu.open_modal("U0TANAKA") is None


async def test_app_home_opened_and_published(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, bot = slack

    @bot.on("app_home_opened")
    async def _home(body: dict[str, Any]) -> None:
        await bot.client.views_publish(
            user_id=body["event"]["user"],
            view={
                "type": "home",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "未確認 3件"}}
                ],
            },
        )

    result = await emu.open_app_home("U0SUZUKI")
    assert result.status == 200
    event = bot.received[0]
    assert (event["type"], event["event"]["tab"], event["event"]["user"]) == (
        "event_callback",
        "home",
        "U0SUZUKI",
    )
    home = emu.home("U0SUZUKI")
    assert home is not None
    assert home.blocks[0]["text"]["text"] == "未確認 3件"
    assert emu.views[home.id] is home


# -- console JSON API -----------------------------------------------------------------------


async def test_console_state_and_actions(slack: tuple[SlackEmulator, FakeBot]) -> None:
    emu, bot = slack

    @bot.on("/rms-status")
    async def _status(_body: dict[str, Any]) -> str:
        return "全3件: 楽天処理済 1件"

    posted = await bot.client.chat_postMessage(channel="C0SHOP1", text="要対応", blocks=CARD)
    async with aiohttp.ClientSession(base_url=emu.base_url) as http:
        page = await http.get("/")
        html = await page.text()
        assert "charset=utf-8" in page.headers["Content-Type"].lower()
        assert 'data-testid="message-input"' in html
        assert (await http.get("/console/static/console.js")).status == 200

        sent = await http.post(
            "/console/command",
            json={"user": "U0SATO", "channel": "C0SHOP1", "text": "/rms-status all"},
        )
        assert (await sent.json())["status"] == 200
        hint = await (await http.post("/console/command", json={"text": "hello"})).json()
        assert "hint" in hint

        state = await (
            await http.get("/console/state", params={"user": "U0SATO", "channel": "C0SHOP1"})
        ).json()
        assert [m["ts"] for m in state["messages"]] == [posted["ts"]]
        assert state["messages"][0]["blocks"] == CARD
        assert [e["text"] for e in state["ephemerals"]] == ["全3件: 楽天処理済 1件"]
        assert {c["id"]: c["name"] for c in state["channels"]} == {
            "C0SHOP1": "shop-main",
            "C0SHOP2": "shop-second",
            "C0SUMMARY": "managers",
        }
        assert {"U0TANAKA", "U0SATO", "U0SUZUKI"} <= {u["id"] for u in state["users"]}
        assert state["modal"] is None

        same = await (
            await http.get("/console/state", params={"since": str(state["version"])})
        ).json()
        assert same == {"version": state["version"], "unchanged": True}

        clicked = await http.post(
            "/console/click",
            json={
                "user": "U0SATO",
                "channel": "C0SHOP1",
                "message_ts": posted["ts"],
                "action_id": "reject",
            },
        )
        assert (await clicked.json())["status"] == 200
    assert bot.received[-1]["actions"][0]["action_id"] == "reject"
    assert bot.received[-1]["user"]["id"] == "U0SATO"

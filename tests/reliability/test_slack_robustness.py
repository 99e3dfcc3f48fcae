"""The Slack edge under abuse: redeliveries, click storms, bad signatures, broken bodies.

Everything goes over loopback into the real aiohttp/bolt app (tests/stack.py). Slash-command
signature checks and a double click on "confirm all" are in tests/e2e; this file covers the
rest: every redelivery and repeated click acts once; forged or stale signatures are rejected.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession

from core.context import RetryPolicy
from core.intake import intake
from core.model import Stage
from handlers.render import ids
from sandbox.slack import payloads
from tests.stack import Stack, bot_stack

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


async def post(
    s: Stack,
    body: bytes,
    *,
    content_type: str = FORM,
    signed: bool = True,
    secret: str | None = None,
    timestamp: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """POST raw bytes to /slack/events, signed like Slack (or not); return status and text."""
    sent = {"Content-Type": content_type}
    if signed:
        stamp = int(time.time()) if timestamp is None else timestamp
        sent.update(payloads.sign(secret or s.slack.signing_secret, body, stamp))
    sent.update(headers or {})
    async with (
        ClientSession() as session,
        session.post(s.slack.bot_url, data=body, headers=sent) as resp,
    ):
        return resp.status, await resp.text()


def button_body(s: Stack, action_id: str, value: str, *, user: str = "U0TANAKA") -> bytes:
    """A block_actions payload for a button in a shop channel message."""
    return payloads.block_actions_body(
        user_id=user,
        user_name=user,
        team_id=s.slack.team_id,
        team_domain="emulator",
        api_app_id=s.slack.app_id,
        trigger_id=s.slack.new_trigger(user),
        action={"type": "button", "action_id": action_id, "block_id": "b", "value": value},
        action_ts=f"{time.time():.6f}",
        channel_id="C0SHOP1",
        channel_name="shop-main",
        message_ts="1764300000.000100",
        message={"type": "message", "ts": "1764300000.000100", "text": "", "blocks": []},
        response_url=f"{s.slack.base_url}/respond/nowhere",
    )


def home_event(s: Stack, event_id: str, user: str = "U0TANAKA") -> bytes:
    event = payloads.app_home_opened(
        user=user, channel=f"D0{user[1:]}", event_ts=f"{time.time():.6f}"
    )
    return payloads.event_body(
        event=event,
        team_id=s.slack.team_id,
        api_app_id=s.slack.app_id,
        bot_user_id=s.slack.bot_user_id,
        event_id=event_id,
        event_time=int(time.time()),
    )


def with_home(s: Stack) -> None:
    """The App Home hook, when the composition root has not wired one (yet)."""

    async def home(user: str) -> dict[str, Any]:
        return {
            "type": "home",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"home of {user}"}}],
        }

    s.rt.deps.home = s.rt.deps.home or home


async def still_serves(s: Stack) -> None:
    """After the abuse: a normal /confirm is acked, confirmed once, and reported."""
    number = s.add_order()
    await intake(s.rt.core, "main")
    before = len(s.sim.confirm_log)
    result = await s.slack.send_command("/confirm", number, channel="C0SHOP1")
    assert result.status == 200
    await s.settle()
    assert [n for n, _ in s.sim.confirm_log[before:]] == [number]
    assert (await s.rt.core.store.get_order(number)).stage is Stage.PROCESSING


def server_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR
        and r.name.startswith(("aiohttp", "slack_bolt", "handlers", "asyncio"))
    ]


# --- Slack retries and double clicks ------------------------------------------------------------


async def test_event_redelivered_with_retry_num_publishes_the_home_tab_once(tmp_path):
    async with bot_stack(tmp_path) as s:
        with_home(s)
        body = home_event(s, "Ev0RETRY0001")
        assert (await post(s, body, content_type=JSON))[0] == 200
        await s.slack.wait_for("views.publish", 1)
        for retry in ("1", "2"):  # Slack's retries after a slow or lost ack
            status, _ = await post(
                s,
                body,
                content_type=JSON,
                headers={"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"},
            )
            assert status == 200
        await s.settle()
        await asyncio.sleep(0.1)
        assert len(s.slack.calls_to("views.publish")) == 1


async def test_concurrent_original_and_retry_of_an_event_publish_once(tmp_path):
    async with bot_stack(tmp_path) as s:
        with_home(s)
        body = home_event(s, "Ev0RACE00001")
        retries = [
            {"X-Slack-Retry-Num": str(i), "X-Slack-Retry-Reason": "http_timeout"} for i in (1, 2, 3)
        ]
        results = await asyncio.gather(
            post(s, body, content_type=JSON),
            *(post(s, body, content_type=JSON, headers=h) for h in retries),
        )
        assert {status for status, _ in results} == {200}
        await s.slack.wait_for("views.publish", 1)
        await s.settle()
        await asyncio.sleep(0.1)
        assert len(s.slack.calls_to("views.publish")) == 1


async def test_a_retry_of_an_event_never_seen_is_still_handled(tmp_path):
    """The first delivery was lost: the retry is the only copy and must not be dropped."""
    async with bot_stack(tmp_path) as s:
        with_home(s)
        status, _ = await post(
            s,
            home_event(s, "Ev0LOST00001"),
            content_type=JSON,
            headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"},
        )
        assert status == 200
        await s.slack.wait_for("views.publish", 1)


async def failed_confirm_card(s: Stack) -> tuple[str, Any]:
    """An order whose confirmOrder hit maintenance: its remediation card has a retry button."""
    s.rt.core.retry = RetryPolicy(attempts=1)
    number = s.add_order()
    await intake(s.rt.core, "main")
    s.sim.fail_next("confirmOrder", status=503)
    await s.slack.send_command("/confirm", number, channel="C0SHOP1")
    await s.settle()
    assert (await s.rt.core.store.get_order(number)).stage is Stage.ERROR
    for message in reversed(s.slack.messages("C0SHOP1")):
        found = payloads.find_action(message.blocks, ids.RETRY_CONFIRM)
        if found is not None:
            return number, (message, found[0])
    raise AssertionError("no retry button on any message in the shop channel")


@pytest.mark.parametrize("clickers", ["one user", "twenty users"])
async def test_twenty_concurrent_clicks_on_one_confirm_button_send_one_confirm(tmp_path, clickers):
    async with bot_stack(tmp_path) as s:
        number, (card, button) = await failed_confirm_card(s)
        users = (
            ["U0TANAKA"] * 20 if clickers == "one user" else [f"U0CLICK{i:03d}" for i in range(20)]
        )
        started = time.monotonic()
        results = await asyncio.gather(
            *(
                s.slack.click(
                    channel="C0SHOP1",
                    message_ts=card.ts,
                    action_id=ids.RETRY_CONFIRM,
                    value=button["value"],
                    user=user,
                )
                for user in users
            )
        )
        assert time.monotonic() - started < 3  # every click acked within Slack's 3 seconds
        assert {r.status for r in results} == {200}
        await s.settle()
        assert len(s.sim.calls_to("confirmOrder")) == 2  # the failed one + exactly one retry
        assert [n for n, _ in s.sim.confirm_log] == [number]
        assert (await s.rt.core.store.get_order(number)).stage is Stage.PROCESSING
        # the same storm on a plain confirm button of that order, now confirmed: no call at all
        value = ids.pack_value("main", number)
        again = await asyncio.gather(
            *(
                s.slack.click(
                    channel="C0SHOP1",
                    message_ts=card.ts,
                    action_id=ids.CONFIRM_ORDER,
                    value=value,
                    user=f"U0LATE{i:03d}",
                )
                for i in range(20)
            )
        )
        assert {r.status for r in again} == {200}
        await s.settle()
        assert len(s.sim.calls_to("confirmOrder")) == 2
        await still_serves(s)


# --- signatures on every kind of request ---------------------------------------------------------


def _cases(s: Stack) -> dict[str, tuple[bytes, str]]:
    number = "111111-20261128-0000000001"
    return {
        "block_actions": (button_body(s, ids.CONFIRM_ORDER, f"main|{number}"), FORM),
        "view_submission": (
            payloads.view_submission_body(
                user_id="U0TANAKA",
                user_name="田中",
                team_id=s.slack.team_id,
                team_domain="emulator",
                api_app_id=s.slack.app_id,
                trigger_id="1.2.3",
                view={
                    "id": "V0X",
                    "type": "modal",
                    "callback_id": ids.LICENSE_MODAL,
                    "private_metadata": "main",
                    "state": {"values": {}},
                },
            ),
            FORM,
        ),
        "event": (home_event(s, "Ev0FORGED001"), JSON),
    }


@pytest.mark.parametrize("kind", ["block_actions", "view_submission", "event"])
async def test_forged_stale_tampered_and_missing_signatures_get_401(tmp_path, kind, caplog):
    async with bot_stack(tmp_path) as s:
        with_home(s)
        body, content_type = _cases(s)[kind]
        now = int(time.time())
        other = body.replace(b"U0TANAKA", b"U0ATTACK")
        attempts = {
            "forged": {"secret": "not-the-signing-secret"},
            "stale": {"timestamp": now - 6 * 60},
            "future": {"timestamp": now + 6 * 60},
            "missing": {"signed": False},
        }
        for name, how in attempts.items():
            status, _ = await post(s, body, content_type=content_type, **how)
            assert status == 401, (kind, name)
        # a body changed after signing (signature of the original replayed)
        sent = {"Content-Type": content_type, **payloads.sign(s.slack.signing_secret, body, now)}
        async with (
            ClientSession() as session,
            session.post(s.slack.bot_url, data=other, headers=sent) as resp,
        ):
            assert resp.status == 401, (kind, "tampered")
        await asyncio.sleep(0.05)
        assert s.sim.calls == []
        assert s.slack.calls_to("views.publish") == []
        assert server_errors(caplog) == []
        await still_serves(s)


@pytest.mark.parametrize("stamp", ["abc", "", "1e3", "-5", "１７６４３０００００"])
async def test_forged_request_with_a_non_numeric_timestamp_gets_401_quietly(
    tmp_path, stamp, caplog
):
    """bolt's verifier did int(timestamp) unguarded: 200 and an ERROR traceback, not 401."""
    async with bot_stack(tmp_path) as s:
        body = button_body(s, ids.CONFIRM_ORDER, "main|111111-20261128-0000000001")
        status, _ = await post(s, body, secret="forged", timestamp=stamp)
        assert s.sim.calls == []  # whatever the status: the request did nothing
        assert (status, server_errors(caplog)) == (401, [])


# --- oversized and malformed bodies --------------------------------------------------------------


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
async def test_an_oversized_body_is_refused_with_413_and_the_app_keeps_serving(
    tmp_path, signed, caplog
):
    async with bot_stack(tmp_path) as s:
        huge = urlencode(
            {
                "command": "/confirm",
                "user_id": "U0TANAKA",
                "channel_id": "C0SHOP1",
                "text": "1" * (2 * 1024 * 1024),
            }
        ).encode()
        status, text = await post(s, huge, signed=signed)
        assert status == 413, text
        assert s.sim.calls == []
        assert server_errors(caplog) == []
        await still_serves(s)


CLEARLY_REFUSED = {  # malformed, but bolt already answers them with a 4xx
    "empty body": (b"", FORM),
    "form without command or payload": (b"text=hello&user_id=U0TANAKA", FORM),
    "payload {}": (b"payload=%7B%7D", FORM),
    "block_actions without actions": (
        b"payload=" + json.dumps({"type": "block_actions", "user": {"id": "U0X"}}).encode(),
        FORM,
    ),
    "event without event": (json.dumps({"type": "event_callback"}).encode(), JSON),
    "payload key %-encoded": (b"%70ayload=not-json", FORM),  # bolt takes it for form fields
}
CRASHING = {  # malformed bodies bolt itself fails to parse (500 + a traceback without a guard)
    "payload=not-json": (b"payload=not-json", FORM),
    "payload is a JSON array": (b"payload=%5B1%2C2%5D", FORM),
    "bytes that are not UTF-8": (bytes(range(256)), FORM),
    "invalid JSON body": (b"{not json", JSON),
    "JSON array body": (b"[1, 2]", JSON),
    "empty payload": (b"payload=", FORM),  # bolt keeps blank values, then parses ""
    "form body that starts with {": (b"{not json", FORM),  # bolt reads it as JSON
}


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("case", list(CLEARLY_REFUSED))
async def test_malformed_payload_gets_a_clear_4xx(tmp_path, case, signed, caplog):
    async with bot_stack(tmp_path) as s:
        body, content_type = CLEARLY_REFUSED[case]
        status, text = await post(s, body, content_type=content_type, signed=signed)
        assert 400 <= status < 500, (status, text)
        assert s.sim.calls == []
        assert server_errors(caplog) == []
        await still_serves(s)


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("case", list(CRASHING))
async def test_unparseable_payload_gets_a_clear_4xx_not_500(tmp_path, case, signed, caplog):
    """bolt parses the body before it checks the signature and does not catch parse errors."""
    async with bot_stack(tmp_path) as s:
        body, content_type = CRASHING[case]
        status, text = await post(s, body, content_type=content_type, signed=signed)
        assert s.sim.calls == []
        await still_serves(s)  # the app survives either way …
        assert 400 <= status < 500, (status, text)  # … but should say "bad request"
        assert server_errors(caplog) == []


async def unhandled_task_errors(s: Stack, body: bytes) -> tuple[int, float, list[str]]:
    """POST ``body``, let every task finish; return the status, the seconds to the answer and
    what asyncio saw nobody retrieve."""
    loop = asyncio.get_running_loop()
    gc.collect()  # garbage from earlier tests must not count here
    unhandled: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    try:
        started = time.monotonic()
        status, _ = await post(s, body)
        took = time.monotonic() - started
        await s.settle()
        await asyncio.sleep(0.1)
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    return status, took, [f"{c.get('message')}: {c.get('exception')!r}" for c in unhandled]


@pytest.mark.parametrize(
    "value", ["no-separator", "", "nowhere|111111-20261128-0000000001", "main|" + "9" * 5000]
)
async def test_a_button_with_a_mangled_value_is_ignored(tmp_path, value):
    async with bot_stack(tmp_path) as s:
        status, _took, unhandled = await unhandled_task_errors(
            s, button_body(s, ids.CONFIRM_ORDER, value)
        )
        assert (status, unhandled) == (200, [])
        assert s.sim.calls_to("confirmOrder") == []
        await still_serves(s)


async def test_a_listener_failing_after_its_ack_still_answers_200_at_once(tmp_path):
    async with bot_stack(tmp_path) as s:

        def boom(_key: str) -> bool:
            raise RuntimeError("a bug in a listener, after ack()")

        s.rt.deps.dedup.first = boom  # type: ignore[method-assign]
        body = button_body(s, ids.CONFIRM_ORDER, "main|111111-20261128-0000000001")
        status, took, unhandled = await unhandled_task_errors(s, body)
        assert s.sim.calls_to("confirmOrder") == []
        assert (status, unhandled) == (200, [])
        assert took < 1.0

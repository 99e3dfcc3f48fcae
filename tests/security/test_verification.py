"""Only Slack reaches the bot: forged, stale and replayed requests have no effect in either mode.

Every request goes over loopback into the real aiohttp web app built by bot.wiring (HTTP mode: the
bolt app behind it; Socket Mode: health endpoints only). Effects are read from the RMS simulator's
and the Slack emulator's call logs (a forged ``response_url`` points at the emulator, which logs
every post to it).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from core.intake import intake
from core.model import Stage
from handlers.render import ids
from sandbox.slack import payloads
from tests.stack import SIGNING_SECRET, Stack, bot_stack

APP_TOKEN = "xapp-emulator-app-token"
FORM = "application/x-www-form-urlencoded"
KINDS = ("confirm command", "confirm click", "fee modal submission")
REJECTED = {"http": 401, "socket": 404}  # Socket Mode: the HTTP route does not exist at all


@asynccontextmanager
async def stack_in(mode: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """The whole bot in HTTP mode (signing secret) or Socket Mode (app token, no secret)."""
    if mode == "http":
        async with bot_stack(tmp_path) as s:
            yield s
    else:
        async with bot_stack(tmp_path, slack_app_token=APP_TOKEN, slack_signing_secret=None) as s:
            assert s.rt.settings.socket_mode
            yield s


async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with (
        ClientSession() as session,
        session.post(url, data=body, headers={"Content-Type": FORM, **headers}) as resp,
    ):
        return resp.status


def forgeries(body: bytes) -> dict[str, dict[str, str]]:
    """What an attacker can send: no signature, a guessed one, an old one, an old one re-dated."""
    now = int(time.time())  # bolt checks the timestamp against the real clock
    captured = payloads.sign(SIGNING_SECRET, body, now - 600)
    return {
        "unsigned": {},
        "wrong signature": payloads.sign("not-the-signing-secret", body, now),
        "stale timestamp": payloads.sign(SIGNING_SECRET, body, now - 6 * 60),
        "replayed with another timestamp": {**captured, "X-Slack-Request-Timestamp": str(now)},
    }


async def forged_body(s: Stack, kind: str) -> tuple[bytes, str]:
    """A body that, if the bot believed it, would confirm (and for fees write) an order."""
    who: dict[str, Any] = {
        "user_id": "U0TANAKA",
        "user_name": "tanaka",
        "team_id": s.slack.team_id,
        "team_domain": s.slack.team_domain,
        "api_app_id": s.slack.app_id,
        "trigger_id": "1.T0EMULATOR.forged",
    }
    response_url = f"{s.slack.base_url}/respond/forged-{kind.replace(' ', '-')}"
    if kind == "confirm command":
        number = s.add_order("main")
        await intake(s.rt.core, "main")
        body = payloads.command_body(
            command="/confirm",
            text=number,
            channel_id="C0SHOP1",
            channel_name="shop-main",
            response_url=response_url,
            **who,
        )
    elif kind == "confirm click":
        number = s.add_order("main")
        await intake(s.rt.core, "main")
        action = {"action_id": ids.CONFIRM_ORDER, "block_id": "b0", "type": "button"}
        body = payloads.block_actions_body(
            action={**action, "value": ids.pack_value("main", number)},
            action_ts=f"{time.time():.6f}",
            channel_id="C0SHOP1",
            channel_name="shop-main",
            message_ts="1764460800.000100",
            response_url=response_url,
            **who,
        )
    else:
        number = s.add_order("api", postage=-9999)
        await intake(s.rt.core, "api")
        record = await s.rt.core.store.get_order(number)
        assert record is not None
        basket = record.snapshot.packages[0].basket_id
        fee = {ids.FEE_INPUT: {"type": "plain_text_input", "value": "800"}}
        view = {
            "id": "V0FORGED",
            "type": "modal",
            "callback_id": ids.FEE_MODAL,
            # the confirmation step (確定): this submission would write the fee
            "private_metadata": ids.pack_value("api", number, "", "", f"{basket}=800"),
            "state": {"values": {ids.fee_block_id(basket): fee}},
        }
        body = payloads.view_submission_body(view=view, **who)
    await s.settle()
    return body, number


def effects(s: Stack, number: str) -> dict[str, Any]:
    """Everything a request could have caused: RMS calls, Slack calls, response_url posts."""
    return {
        "rms calls": len(s.sim.calls),
        "confirmed": [n for n, _ in s.sim.confirm_log if n == number],
        "fee written": [n for n, _ in s.sim.sender_updates if n == number],
        "slack calls": len(s.slack.calls),
        "response_url posts": [c for c in s.slack.calls if c.method == "response_url"],
    }


async def stage_of(s: Stack, number: str) -> Stage:
    record = await s.rt.core.store.get_order(number)
    assert record is not None
    return record.stage


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_forged_stale_and_replayed_requests_have_no_effect(tmp_path, mode, kind):
    async with stack_in(mode, tmp_path) as s:
        body, number = await forged_body(s, kind)
        before = effects(s, number)
        assert not before["confirmed"] and not before["fee written"]
        stage = await stage_of(s, number)
        assert stage in (Stage.AWAITING, Stage.NEEDS_ACTION)
        for name, headers in forgeries(body).items():
            status = await post(s.slack.bot_url, body, headers)
            await s.settle()
            assert effects(s, number) == before, (mode, kind, name)
            assert status == REJECTED[mode], (mode, kind, name, status)
        assert await stage_of(s, number) is stage

        # The same body, correctly signed: HTTP mode acts on it (so the checks above can
        # fail); in Socket Mode nothing over HTTP is Slack, whatever its signature.
        signed = payloads.sign(SIGNING_SECRET, body, int(time.time()))
        status = await post(s.slack.bot_url, body, signed)
        await s.settle()
        if mode == "http":
            assert status == 200
            assert effects(s, number)["confirmed"] == [number]
            if kind == "fee modal submission":
                assert effects(s, number)["fee written"] == [number]
        else:
            assert status == 404
            assert effects(s, number) == before


async def test_socket_mode_port_serves_health_but_no_slack_route(tmp_path):
    async with stack_in("socket", tmp_path) as s:
        base = s.slack.bot_url.rsplit("/slack/events", 1)[0]
        async with ClientSession() as session:
            async with session.get(f"{base}/healthz") as resp:
                assert resp.status == 200
            for method in ("GET", "POST"):
                async with session.request(method, f"{base}/slack/events") as resp:
                    assert resp.status == 404, method


async def test_socket_mode_bolt_app_verifies_even_if_mounted_over_http(tmp_path):
    """No code path builds an unverified app: Socket Mode's bolt app, served over HTTP by
    mistake, still refuses unsigned requests and every signature (its secret is random)."""
    async with stack_in("socket", tmp_path) as s:
        body, number = await forged_body(s, "confirm command")
        before = effects(s, number)
        server = TestServer(s.rt.app.web_app(path="/slack/events"))
        await server.start_server()
        try:
            url = str(server.make_url("/slack/events"))
            signed = payloads.sign(SIGNING_SECRET, body, int(time.time()))
            cases = {**forgeries(body), "signed with the HTTP-mode secret": signed}
            for name, headers in cases.items():
                assert await post(url, body, headers) == 401, name
            await s.settle()
        finally:
            await server.close()
        assert effects(s, number) == before


async def test_http_mode_bolt_app_verifies_with_the_signing_secret(tmp_path):
    async with stack_in("http", tmp_path) as s:
        body, number = await forged_body(s, "confirm command")
        server = TestServer(s.rt.app.web_app(path="/slack/events"))
        await server.start_server()
        try:
            url = str(server.make_url("/slack/events"))
            assert await post(url, body, {}) == 401
            signed = payloads.sign(SIGNING_SECRET, body, int(time.time()))
            assert await post(url, body, signed) == 200
            await s.settle()
        finally:
            await server.close()
        assert effects(s, number)["confirmed"] == [number]


DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}")


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_healthz_says_status_only(tmp_path, mode):
    async with stack_in(mode, tmp_path) as s:
        for shop in ("main", "api"):
            await intake(s.rt.core, shop)  # records a last RMS success per shop
        assert (await s.rt.core.store.shop_row("main")).get("last_success")
        url = s.slack.bot_url.replace("/slack/events", "/healthz")
        async with ClientSession() as session, session.get(url) as resp:
            text = await resp.text()
            body = await resp.json()
        assert resp.status == 200
        assert body["ok"] is True
        for secret in ("main", "api", "メイン店", "API店", "111111", "222222", "C0SHOP"):
            assert secret not in text, secret
        assert not DATE.search(text), text


async def test_healthz_is_503_when_the_database_is_down(tmp_path):
    async with stack_in("http", tmp_path) as s:
        url = s.slack.bot_url.replace("/slack/events", "/healthz")
        await s.rt.core.store._db.close()  # the real failure: the connection is gone
        async with ClientSession() as session, session.get(url) as resp:
            body = await resp.json()
        assert resp.status == 503
        assert body["ok"] is False

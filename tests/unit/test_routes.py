"""Routes: one bolt listener per kind routes each delivery to the listener of its id."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest

from handlers.routes import Listener, Routes
from handlers.tasks import TaskTracker
from sandbox.slack.payloads import block_actions_body, command_body, sign

SECRET = "routes-test-secret"
TEAM = {"team_id": "T0", "team_domain": "shop", "api_app_id": "A0"}


async def _authorize(**_: Any) -> AuthorizeResult:  # no auth.test call: nothing to reach
    return AuthorizeResult(enterprise_id=None, team_id="T0", bot_token="xoxb-0", bot_id="B0")


def _app(routes: Routes) -> AsyncApp:
    app = AsyncApp(signing_secret=SECRET, authorize=_authorize, process_before_response=True)
    routes.install(app)
    return app


def _no_wrap(listener: Listener) -> Listener:
    return listener


def _routes(tasks: TaskTracker | None = None) -> Routes:
    return Routes(_no_wrap, (tasks or TaskTracker()).spawn)


async def _dispatch(app: AsyncApp, body: bytes) -> Any:
    headers = {k: [v] for k, v in sign(SECRET, body, int(time.time())).items()}
    headers["content-type"] = ["application/x-www-form-urlencoded"]
    return await app.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=headers))


def _click(action_id: str, value: str) -> bytes:
    return block_actions_body(
        user_id="U0TANAKA", user_name="tanaka", trigger_id="1.2", action_ts="1.0",
        action={"action_id": action_id, "value": value, "type": "button", "block_id": "b"},
        **TEAM,
    )  # fmt: skip


async def test_each_delivery_reaches_the_listener_of_its_id_with_the_arguments_it_names():
    seen: list[tuple[str, Any]] = []
    routes = _routes()

    async def first(ack: AsyncAck, action: dict[str, Any]) -> None:
        seen.append(("first", action["value"]))
        await ack()

    async def second(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        seen.append(("second", (body["user"]["id"], action["value"])))
        await ack()

    async def confirm(ack: AsyncAck, command: dict[str, Any]) -> None:
        seen.append(("confirm", command["text"]))
        await ack(text="受け付けました")

    routes.action("first_button", first)
    routes.action("second_button", second)
    routes.command("/confirm", confirm)
    app = _app(routes)

    assert (await _dispatch(app, _click("second_button", "v2"))).status == 200
    assert (await _dispatch(app, _click("first_button", "v1"))).status == 200
    answer = await _dispatch(
        app,
        command_body(
            command="/confirm",
            text="all",
            user_id="U0TANAKA",
            user_name="tanaka",
            channel_id="C0",
            channel_name="shop",
            response_url="http://x/r",
            trigger_id="1.3",
            **TEAM,
        ),  # fmt: skip
    )
    assert answer.status == 200 and "受け付けました" in answer.body
    assert seen == [("second", ("U0TANAKA", "v2")), ("first", "v1"), ("confirm", "all")]


async def test_an_id_nobody_registered_stays_unhandled():
    routes = _routes()
    called: list[str] = []

    async def listener(ack: AsyncAck) -> None:
        called.append("x")
        await ack()

    routes.action("confirm_order", listener)
    app = _app(routes)
    for unknown in ("confirm_order_x", "x_confirm_order", "confirm"):  # exact ids only
        assert (await _dispatch(app, _click(unknown, "v"))).status == 404
    assert called == []


def test_two_listeners_for_one_id_are_refused():
    routes = _routes()

    async def listener(ack: AsyncAck) -> None:
        await ack()

    routes.action("refetch_order", listener)
    routes.view("refetch_order", listener)  # another kind: its own table
    with pytest.raises(ValueError, match="refetch_order"):
        routes.action("refetch_order", listener)


async def test_the_answer_goes_out_at_the_ack_and_the_rest_runs_on_tracked():
    tasks = TaskTracker()
    routes = _routes(tasks)
    release = asyncio.Event()
    steps: list[str] = []

    async def cancel_all(ack: AsyncAck, action: dict[str, Any]) -> None:
        await ack(text="取り消しました")
        steps.append("acked")
        await release.wait()  # a response_url post, a modal: after the answer
        steps.append("finished")

    async def silent(action: dict[str, Any]) -> None:  # forgot to ack: answered when it ends
        steps.append("silent")

    routes.action("cancel_all", cancel_all)
    routes.action("silent", silent)
    app = _app(routes)

    answer = await _dispatch(app, _click("cancel_all", "v"))
    assert answer.status == 200 and "取り消しました" in answer.body
    assert steps == ["acked"] and tasks.pending == 1  # still running, and tracked
    release.set()
    await tasks.drain()
    assert steps == ["acked", "finished"] and tasks.pending == 0
    assert (await _dispatch(app, _click("silent", "v"))).status == 404  # bolt's, without 3 s
    assert steps[-1] == "silent"

"""Post recovery as real Slack allows it: membership, history pages, 429s, and `bot check`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from slack_sdk.web.async_client import AsyncWebClient

from bot.__main__ import main as bot_main
from core.intake import intake
from handlers.channels import channel_report, join_channels
from handlers.poster import SlackPoster
from handlers.publisher import Publisher
from sandbox.slack import PostRate, SlackEmulator
from tests.stack import SIGNING_SECRET, Stack, bot_stack

CARD_TITLE = "要対応: 送料未設定"


class DiesAfterSlackAccepted(SlackPoster):
    async def post(self, *args: Any, **kwargs: Any) -> str:
        await super().post(*args, **kwargs)
        raise RuntimeError("process killed right after Slack accepted the post")


def cards(s: Stack, channel: str = "C0SHOP1") -> list[Any]:
    return [
        m
        for m in s.slack.messages(channel)
        if m.blocks and CARD_TITLE in str(m.blocks[0].get("text", {}).get("text", ""))
    ]


async def interrupted_card(s: Stack) -> None:
    """A flag card reaches Slack, then the process dies before it is recorded."""
    s.add_order(postage=-9999)
    await intake(s.rt.core, "main")
    dying = Publisher(s.rt.core, DiesAfterSlackAccepted(s.rt.slack, s.clock), lang="ja")
    with pytest.raises(ExceptionGroup):
        await dying.drain()
    assert len(cards(s)) == 1
    async with s.rt.core.store.read() as r:  # begun, its outcome not recorded
        rows = await r.rows("SELECT posting_at, ts FROM messages WHERE kind = 'card'")
    assert [(row["posting_at"] is not None, row["ts"]) for row in rows] == [(True, None)]


def chatter(s: Stack, count: int, channel: str = "C0SHOP1") -> None:
    for i in range(count):
        s.slack.post(channel, "U0TANAKA", f"雑談 {i}", [])


# -- recovery after a crash between Slack's answer and our record -------------------------------


async def test_a_card_three_pages_back_is_found_not_posted_again(tmp_path: Path) -> None:
    async with bot_stack(tmp_path) as s:
        s.slack.member_of.add("C0SHOP1")
        await interrupted_card(s)
        chatter(s, 450)  # staff kept talking: the card is now on page 3 of 200
        await s.rt.deps.publisher.drain()  # the restarted publisher
        assert len(cards(s)) == 1
        assert await s.rt.core.store.refs_with_prefix("posting:") == {}
        assert await s.rt.core.store.unposted_events() == []
        pages = s.slack.calls_to("conversations.history")
        assert len(pages) == 3 and all(int(c.params["limit"]) <= 200 for c in pages)
        assert all(float(c.params["oldest"]) > 0 for c in pages)  # bounded, not the whole channel


async def test_a_bot_that_is_not_a_member_joins_then_recovers(tmp_path: Path) -> None:
    async with bot_stack(tmp_path) as s:
        s.slack.member_of.discard("C0SHOP1")  # removed from the channel, or the join failed
        await interrupted_card(s)  # posting needs no membership (chat:write.public)
        await s.rt.deps.publisher.drain()
        assert len(cards(s)) == 1
        assert "C0SHOP1" in s.slack.member_of
        assert [c.error for c in s.slack.calls_to("conversations.history")] == [
            "not_in_channel",
            None,
        ]


async def test_unreadable_history_reposts_under_the_same_key_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When Slack will not show the history even after a join, a duplicate is better than a
    confirmation report nobody sees: post again, same metadata key, and a warning that says
    how to fix it."""
    async with bot_stack(tmp_path) as s:
        s.slack.member_of.discard("C0SHOP1")
        await interrupted_card(s)
        s.slack.fail_next("conversations.join", status=200, error="missing_scope")
        caplog.set_level(logging.WARNING)
        await s.rt.deps.publisher.drain()
        posted = cards(s)
        assert len(posted) == 2
        assert posted[0].metadata == posted[1].metadata  # the same key: recognisably a repeat
        said = "\n".join(r.getMessage() for r in caplog.records)
        assert "C0SHOP1" in said and "missing_scope" in said and "/invite" in said


# -- Slack's per-channel rate, on the bot's clock ------------------------------------------------


async def test_a_429_waits_retry_after_on_the_clock_not_in_real_time(tmp_path: Path) -> None:
    async with bot_stack(tmp_path) as s:
        poster = s.rt.deps.poster
        s.slack.fail_next("chat.postMessage", status=429, retry_after=30)
        started = time.monotonic()
        async with asyncio.timeout(5):
            ts = await poster.post("C0SHOP1", {"text": "ダイジェスト"})
            before = s.clock.now()
            await poster.post("C0SHOP2", {"text": "別のチャンネル"})  # not held by C0SHOP1's 429
            assert s.clock.now() == before
        assert time.monotonic() - started < 5
        assert 30 in s.clock.slept
        assert [m.ts for m in s.slack.messages("C0SHOP1")] == [ts]


async def test_two_posters_on_one_channel_are_slowed_by_429s_and_lose_nothing(
    tmp_path: Path,
) -> None:
    async with bot_stack(tmp_path) as s:
        s.slack.post_rate = PostRate(per_second=1.0, burst=1)
        s.slack.rate_clock = lambda: s.clock.now().timestamp()
        other = SlackPoster(s.rt.slack, s.clock)  # e.g. a second task with its own pacing
        async with asyncio.timeout(5):
            await asyncio.gather(
                *(
                    p.post("C0SHOP1", {"text": f"{n}-{i}"})
                    for i in range(3)
                    for n, p in (("a", s.rt.deps.poster), ("b", other))
                )
            )
        assert len(s.slack.messages("C0SHOP1")) == 6
        errors = [c.error for c in s.slack.calls_to("chat.postMessage")]
        assert "ratelimited" in errors  # Slack did push back, and every 429 was retried


async def test_the_poster_alone_keeps_under_slacks_rate(tmp_path: Path) -> None:
    async with bot_stack(tmp_path) as s:
        s.slack.post_rate = PostRate(per_second=1.0, burst=1)
        s.slack.rate_clock = lambda: s.clock.now().timestamp()
        for i in range(5):
            await s.rt.deps.poster.post("C0SHOP1", {"text": str(i)})
        assert [c.error for c in s.slack.calls_to("chat.postMessage")] == [None] * 5


# -- membership at start-up and in `bot check` ---------------------------------------------------


async def test_start_up_joins_every_shop_channel_and_the_summary_channel(tmp_path: Path) -> None:
    async with bot_stack(tmp_path, summary_channel="C0SUMMARY") as s:
        joined = [c.params["channel"] for c in s.slack.calls_to("conversations.join")]
        assert sorted(joined) == ["C0SHOP1", "C0SHOP2", "C0SUMMARY"]
        assert s.slack.member_of == {"C0SHOP1", "C0SHOP2", "C0SUMMARY"}


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[SlackEmulator, AsyncWebClient]]:
    emu = SlackEmulator(signing_secret=SIGNING_SECRET, channels=("C0SHOP1", "C0SHOP2", "C0PRIV"))
    server = TestServer(emu.make_app())
    await server.start_server()
    emu.base_url = str(server.make_url("")).rstrip("/")
    yield emu, AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
    await server.close()


async def test_joining_at_start_up_logs_one_line_per_channel_it_cannot_join(
    emulator: tuple[SlackEmulator, AsyncWebClient], caplog: pytest.LogCaptureFixture
) -> None:
    emu, client = emulator
    emu.private.add("C0PRIV")
    emu.archived.add("C0SHOP2")
    caplog.set_level(logging.INFO)
    problems = await join_channels(client, ["C0SHOP1", "C0SHOP2", "C0PRIV", "C0SHOP1"])
    assert emu.member_of == {"C0SHOP1"}
    assert [p.split(":")[0] for p in problems] == ["C0SHOP2", "C0PRIV"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2
    assert "archived" in warnings[0] and "/invite" in warnings[1]


async def test_joining_stops_at_the_first_workspace_wide_refusal(
    emulator: tuple[SlackEmulator, AsyncWebClient],
) -> None:
    emu, client = emulator
    emu.fail_next("conversations.join", status=200, error="missing_scope")
    problems = await join_channels(client, ["C0SHOP1", "C0SHOP2", "C0PRIV"])
    assert len(problems) == 1 and "channels:join" in problems[0]
    assert len(emu.calls_to("conversations.join")) == 1


async def test_joining_when_slack_is_unreachable_is_one_line_and_not_fatal() -> None:
    client = AsyncWebClient(token="xoxb-x", base_url="http://127.0.0.1:9/api/", retry_handlers=[])
    problems = await join_channels(client, ["C0SHOP1", "C0SHOP2"])
    assert len(problems) == 1 and "not reachable" in problems[0]


async def test_channel_report_names_the_private_channel_to_invite_the_bot_to(
    emulator: tuple[SlackEmulator, AsyncWebClient],
) -> None:
    emu, client = emulator
    emu.private.add("C0PRIV")
    emu.member_of.add("C0SHOP1")
    lines, ok = await channel_report(client, ["C0SHOP1", "C0SHOP2", "C0PRIV"])
    assert not ok
    assert lines[0].startswith("C0SHOP1 #shop-main: public, the bot is a member")
    assert lines[1].startswith("C0SHOP2 #shop-second: public, the bot joins it at start-up")
    assert lines[2].startswith("C0PRIV: not visible to the bot") and "/invite" in lines[2]
    emu.member_of.add("C0PRIV")  # invited
    lines, ok = await channel_report(client, ["C0PRIV"])
    assert ok and lines == ["C0PRIV #c0priv: private, the bot is a member"]
    bad = AsyncWebClient(token="xoxb-wrong", base_url=emu.api_url)
    lines, ok = await channel_report(bad, ["C0SHOP1"])
    assert not ok and lines == ["Slack refused SLACK_BOT_TOKEN (invalid_auth)"]


def test_bot_check_says_so_when_slack_cannot_be_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "shops.toml").write_text(
        '[shops.main]\nservice_secret = "SP-x"\nlicense_key = "SL-x"\nchannel = "C0SHOP1"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    env = {
        "SLACK_BOT_TOKEN": "xoxb-check",
        "SLACK_SIGNING_SECRET": "s" * 32,
        "SHOPS_FILE": "shops.toml",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing listens on port 9
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert bot_main(["check", "--env-file", ""]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("configuration OK")
    assert out[1].startswith("Slack not reachable at http://127.0.0.1:9/api/")
    assert "xoxb-check" not in "\n".join(out)


async def test_a_thread_reply_interrupted_after_slack_took_it_is_found_in_its_thread(
    tmp_path: Path,
) -> None:
    """A report posted as a reply (a card's thread) is not in the channel's history: it is
    looked up with conversations.replies, not posted twice."""
    async with bot_stack(tmp_path) as s:
        s.slack.member_of.add("C0SHOP1")
        parent = s.slack.post("C0SHOP1", "U0BOT", "カード", [])
        async with s.rt.core.store.tx() as tx:
            payload = {"messages": [{"text": "注文確認通知の結果"}], "thread_ts": parent.ts}
            await tx.enqueue_message(
                "request:7", "main", "C0SHOP1", "request", payload, at=s.clock.now()
            )
        dying = Publisher(s.rt.core, DiesAfterSlackAccepted(s.rt.slack, s.clock), lang="ja")
        with pytest.raises(ExceptionGroup):
            await dying.drain(digests=False)
        await s.rt.deps.publisher.drain(digests=False)  # the restarted publisher
        thread = s.slack.find_message("C0SHOP1", parent.ts)
        assert thread is not None
        assert [r.text for r in thread.replies] == ["注文確認通知の結果"]
        assert s.slack.calls_to("conversations.replies")

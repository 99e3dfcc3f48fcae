"""Operations: `check` on a PaaS disk, log lines naming the request, /readyz and /metrics."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import aiohttp
import pytest

from bot.__main__ import main
from bot.coordinator import Coordinator
from bot.logs import RequestIdFilter
from core.leader import Lease, LeaseLostError
from core.requests import CURRENT_REQUEST
from core.store.migrations import MIGRATIONS
from tests.fakes import FakeClock
from tests.pg import PgDatabases
from tests.stack import bot_stack
from tests.unit.test_settings import COMPLETE, NO_SLACK


def complete_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in COMPLETE.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SLACK_API_URL", NO_SLACK)  # nothing listens there


@pytest.mark.parametrize("variable", ["DYNO", "RENDER", "FLY_APP_NAME", "K_SERVICE"])
def test_check_refuses_sqlite_on_an_ephemeral_platform_disk(
    variable: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    complete_environment(monkeypatch)
    monkeypatch.setenv(variable, "web.1")
    assert main(["check", "--env-file", ""]) == 2
    err = capsys.readouterr().err
    assert "wiped by every deploy" in err and "SQLITE_ON_VOLUME=true" in err
    monkeypatch.setenv("SQLITE_ON_VOLUME", "true")  # the operator says: a mounted volume
    assert main(["check", "--env-file", ""]) == 0


def test_log_lines_carry_the_request_being_carried_out() -> None:
    record = logging.LogRecord("core.confirm", logging.INFO, __file__, 1, "x", None, None)
    RequestIdFilter().filter(record)
    assert record.request_id == "-"
    token = CURRENT_REQUEST.set(42)
    try:
        RequestIdFilter().filter(record)
    finally:
        CURRENT_REQUEST.reset(token)
    assert record.request_id == "42"


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def test_readyz_says_role_and_cycle_age_and_metrics_count_rms_calls(tmp_path: Path):
    async with bot_stack(tmp_path, metrics=True) as s:
        base = s.slack.bot_url.replace("/slack/events", "")
        status, body = await get(f"{base}/readyz")
        assert status == 200
        assert '"role": "leader"' in body and '"last_cycle_age_seconds": null' in body
        number = s.add_order()
        await s.rt.jobs.cycle()
        assert (await s.slack.send_command("/confirm", number)).status == 200
        await s.settle()
        status, body = await get(f"{base}/readyz")
        assert json.loads(body)["last_cycle_age_seconds"] >= 0.0  # a cycle completed
        status, text = await get(f"{base}/metrics")
        assert status == 200
        assert 'rmsbot_rms_calls_total{function="confirmOrder",outcome="ok"} 1.0' in text
        assert 'rmsbot_confirm_outcomes_total{outcome="confirmed"} 1.0' in text
        assert "rmsbot_requests_waiting 0.0" in text
        assert "rmsbot_dead_letters 0.0" in text


async def test_readyz_is_503_when_the_database_is_gone_and_metrics_are_off_by_default(
    tmp_path: Path,
):
    async with bot_stack(tmp_path) as s:
        base = s.slack.bot_url.replace("/slack/events", "")
        assert (await get(f"{base}/metrics"))[0] == 404
        await s.rt.core.store._db.close()  # the database went away
        status, body = await get(f"{base}/readyz")
        assert status == 503 and '"ok": false' in body


def test_check_says_postgresql_is_reachable_and_how_far_it_is_migrated(
    pg: PgDatabases, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    complete_environment(monkeypatch)
    monkeypatch.setenv("DYNO", "web.1")  # PostgreSQL on Heroku: no disk involved
    monkeypatch.setenv("DATABASE_URL", pg.fresh())
    assert main(["check", "--env-file", ""]) == 0
    assert f"schema version {len(MIGRATIONS)} (migrated)" in capsys.readouterr().out
    monkeypatch.setenv("DATABASE_URL", pg.empty())
    assert main(["check", "--env-file", ""]) == 0
    assert f"{len(MIGRATIONS)} migration(s) pending" in capsys.readouterr().out


def test_check_fails_when_postgresql_does_not_answer_and_never_shows_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    complete_environment(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:S3cretPw@127.0.0.1:9/bot")
    assert main(["check", "--env-file", ""]) == 3
    err = capsys.readouterr().err
    assert "PostgreSQL not reachable" in err and "S3cretPw" not in err


async def test_a_replica_that_does_not_lead_starts_no_job_and_posts_nothing(tmp_path: Path):
    async with bot_stack(tmp_path) as s:
        s.add_order()
        s.rt.core.lease = Lease(holder="me", ttl=20, margin=5)  # never acquired: a follower
        await s.rt.jobs.cycle()
        assert s.sim.calls == []
        assert all(c.failing == "LeaseLostError" for c in s.rt.jobs.coordinators.values())
        assert s.slack.calls_to("chat.postMessage") == []


async def test_a_lost_lease_is_logged_without_a_traceback_even_from_several_tasks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def delivery_round() -> None:
        raise ExceptionGroup("channels", [LeaseLostError("epoch 1 is over")] * 2)

    job = Coordinator("publisher", delivery_round, 15.0, FakeClock())
    assert not await job.async_refresh()
    assert [r.exc_info for r in caplog.records if r.name == "bot.coordinator"] == [None]


async def test_healthz_is_503_for_a_stuck_leader_never_for_a_follower_or_a_replica_that_lost(
    tmp_path: Path,
):
    async with bot_stack(tmp_path) as s:
        url = s.slack.bot_url.replace("/slack/events", "/healthz")
        now = [0.0]
        lease = Lease(holder="me", ttl=20, margin=5, monotonic=lambda: now[0])
        s.rt.core.lease = lease
        assert (await s.slack.send_command("/confirm", s.add_order())).status == 200
        for job in s.rt.jobs._coordinators():  # jobs began, none completed since
            job.started = s.clock.now()
        s.clock.advance(hours=1)
        assert (await get(url))[0] == 200  # a follower: its jobs do not run

        lease.renewed(1, sent_at=now[0])
        assert (await get(url))[0] == 503  # the leader's cycles are stuck: it says so

        now[0] = 15.0  # its own deadline passed (frozen, or the database away): it stopped
        assert (await get(url))[0] == 200
        lease.renewed(1, sent_at=now[0])
        lease.lost()  # another replica leads now; the jobs are not stopped yet
        assert (await get(url))[0] == 200

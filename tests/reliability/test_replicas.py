"""Several real `python -m bot serve` replicas on one database: one leader, fenced, handed over.

Each test runs on SQLite (one WAL file shared by the processes of one host) and on PostgreSQL
(the session's throwaway server). Short leases (LEADER_LEASE_SECONDS=2) keep them fast; every
wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.replicas import CHANNEL, SHOP_ID, Cluster, poll
from sandbox.postgres import find_bindir, temp_postgres
from tests.pg import PgDatabases

TTL = 2.0
FAILOVER_BOUND = 1.5 * TTL + 1.0  # the design's 30 s for 20 s, plus one cycle on a busy CI box


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    pg: PgDatabases = request.getfixturevalue("pg")
    return pg.fresh()


def query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one query, read by the test itself (not through the bot)."""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            return db.execute(sql).fetchall()
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(sql.encode()).fetchall()


def audit_count(database_url: str) -> int:
    return int(query(database_url, "SELECT COUNT(*) FROM audit")[0][0])


async def two_replicas(cluster: Cluster) -> tuple[str, str]:
    a = await cluster.start("a")
    assert (await cluster.wait_leader()).name == a.name
    await cluster.start("b")
    return "a", "b"


def confirmed_once(cluster: Cluster, numbers: list[str]) -> None:
    counts = Counter(n for n, _ in cluster.sim.confirm_log)
    assert {n: counts[n] for n in numbers} == dict.fromkeys(numbers, 1)
    assert set(counts) <= set(numbers)


async def test_leader_killed_mid_bulk_confirm_every_order_confirmed_once(tmp_path, database_url):
    async with Cluster(tmp_path, database_url, ttl=TTL) as cluster:
        numbers = [cluster.sim.add_order(SHOP_ID) for _ in range(250)]
        cluster.sim.fail_next("confirmOrder", 3, status=200, delay=0.5)  # slow answers
        a, b = await two_replicas(cluster)
        body = cluster.command(" ".join(numbers), trigger="t-all")
        assert await cluster.post(cluster.replicas[b], body) == 200  # a follower stores it
        await poll(lambda: _true(cluster.calls("confirmOrder", a) >= 1), timeout=30)
        killed = time.monotonic()
        await cluster.kill(a)  # mid bulk: its first confirmOrder is still unanswered
        new = await cluster.wait_leader(timeout=30)
        took = time.monotonic() - killed
        assert new.name == b
        assert took <= FAILOVER_BOUND, f"first cycle of the new leader after {took:.1f} s"
        await poll(lambda: _true(len(cluster.sim.confirm_log) >= len(numbers)), timeout=60)
        confirmed_once(cluster, numbers)


async def test_frozen_leader_acts_no_more_under_its_old_epoch(tmp_path, database_url):
    async with Cluster(tmp_path, database_url, ttl=TTL) as cluster:
        numbers = [cluster.sim.add_order(SHOP_ID) for _ in range(250)]
        cluster.sim.fail_next("confirmOrder", 3, status=200, delay=0.5)
        a, b = await two_replicas(cluster)
        body = cluster.command(" ".join(numbers), trigger="t1")
        assert await cluster.post(cluster.replicas[a], body) == 200
        await poll(lambda: _true(cluster.calls("confirmOrder", a) >= 1), timeout=30)
        cluster.signal(a, signal.SIGSTOP)  # frozen past its TTL, its confirmOrder unanswered
        assert (await cluster.wait_leader(timeout=30)).name == b
        await poll(lambda: _true(len(cluster.sim.confirm_log) >= len(numbers)), timeout=60)
        await poll(lambda: _true("request 1" not in _open(database_url)), timeout=30)
        audits = audit_count(database_url)
        resumed = time.monotonic()
        cluster.signal(a, signal.SIGCONT)
        await poll(lambda: _true("jobs stopped" in cluster.replicas[a].output()), timeout=30)
        state = await cluster.ready(cluster.replicas[a])
        assert state is not None and state["role"] == "follower"
        assert [c for c in cluster.rms_log if c.replica == a and c.at >= resumed] == []
        assert audit_count(database_url) == audits  # its late answer was not recorded
        confirmed_once(cluster, numbers)
        assert "Traceback" not in cluster.replicas[a].output()


async def test_same_confirm_on_two_replicas_at_once_is_one_confirm_order(tmp_path, database_url):
    async with Cluster(tmp_path, database_url, ttl=TTL) as cluster:
        number = cluster.sim.add_order(SHOP_ID)
        a, b = await two_replicas(cluster)
        body = cluster.command(number, trigger="same-trigger")
        statuses = await asyncio.gather(
            cluster.post(cluster.replicas[a], body), cluster.post(cluster.replicas[b], body)
        )
        assert statuses == [200, 200]
        await poll(lambda: _true(cluster.sim.confirm_log), timeout=30)
        await poll(lambda: _true(not _open(database_url)), timeout=30)
        assert cluster.calls("confirmOrder") == 1
        assert _requests(database_url) == 1


async def test_slack_retry_to_the_other_replica_is_processed_once(tmp_path, database_url):
    async with Cluster(tmp_path, database_url, ttl=TTL) as cluster:
        number = cluster.sim.add_order(SHOP_ID)
        a, b = await two_replicas(cluster)
        body = cluster.command(number, trigger="retried-trigger")
        assert await cluster.post(cluster.replicas[b], body) == 200
        retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        assert await cluster.post(cluster.replicas[a], body, retry) == 200
        await poll(lambda: _true(cluster.sim.confirm_log), timeout=30)
        await poll(lambda: _true(not _open(database_url)), timeout=30)
        assert cluster.calls("confirmOrder") == 1
        assert _requests(database_url) == 1


async def _true(value: object) -> bool:
    return bool(value)


def _open(database_url: str) -> str:
    rows = query(database_url, "SELECT id FROM requests WHERE state != 'done'")
    return " ".join(f"request {r[0]}" for r in rows)


def _requests(database_url: str) -> int:
    return int(query(database_url, "SELECT COUNT(*) FROM requests")[0][0])


def summaries(cluster: Cluster) -> list[str]:
    """The daily summaries posted to the shop channel (their header's text)."""
    headers = [
        m.blocks[0]["text"]["text"]
        for m in cluster.slack.messages(CHANNEL)
        if m.blocks and m.blocks[0]["type"] == "header"
    ]
    return [h for h in headers if "サマリー" in h]


async def test_rolling_restart_while_orders_flow_loses_nothing_and_answers_no_5xx(
    tmp_path, database_url
):
    summary_due = {"DAILY_SUMMARY_AT": "00:00", "TIMEZONE": "UTC"}  # today's is due at once
    async with Cluster(tmp_path, database_url, ttl=TTL, env=summary_due) as cluster:
        await two_replicas(cluster)
        numbers: list[str] = []
        statuses: list[int] = []
        flowing = asyncio.Event()
        done = asyncio.Event()

        async def orders_flow() -> None:
            while not done.is_set():
                number = cluster.sim.add_order(SHOP_ID)
                body = cluster.command(number, trigger=f"flow-{len(numbers)}")
                status = 0
                for replica in [r for r in cluster.replicas.values() if r.proc.returncode is None]:
                    status = await cluster.post(replica, body)  # the router: a live replica
                    if status:
                        break
                numbers.append(number)
                statuses.append(status)
                flowing.set()
                await asyncio.sleep(0.05)

        flow = asyncio.create_task(orders_flow())
        await flowing.wait()
        for old, new in (("a", "c"), ("b", "d")):
            await cluster.start(new)
            assert await cluster.stop(old) == 0
        done.set()
        await flow
        await cluster.wait_leader()
        await poll(lambda: _true(len(cluster.sim.confirm_log) >= len(numbers)), timeout=60)
        await poll(lambda: _true(not _open(database_url)), timeout=30)
        assert len(numbers) >= 10
        assert set(statuses) == {200}, statuses  # every command answered, none with a 5xx
        confirmed_once(cluster, numbers)
        await poll(lambda: _true(summaries(cluster)), timeout=30)
        assert len(summaries(cluster)) == 1


async def test_postgresql_restart_replicas_reconnect_and_one_leads(tmp_path):
    if find_bindir() is None:
        pytest.skip("no PostgreSQL server binaries")  # tests/pg.py fails instead under CI
    with temp_postgres() as server:
        url = server.create_database("restarted")
        async with Cluster(tmp_path, url, ttl=TTL) as cluster:
            a, b = await two_replicas(cluster)
            data, log = str(server.dir / "data"), str(server.dir / "server.log")
            server._run("pg_ctl", "-D", data, "-l", log, "-m", "fast", "-w", "restart")
            restarted = time.monotonic()

            async def one_leader_after_restart() -> bool:
                states = [await cluster.ready(r) for r in cluster.replicas.values()]
                if not all(s and s["ok"] for s in states):
                    return False
                leaders = [s for s in states if s and s["role"] == "leader"]
                return len(leaders) == 1 and leaders[0]["last_cycle_age_seconds"] is not None

            await poll(one_leader_after_restart, timeout=60, every=0.1)
            number = cluster.sim.add_order(SHOP_ID)
            body = cluster.command(number, trigger="after-restart")
            assert await cluster.post(cluster.replicas[b], body) == 200
            await poll(lambda: _true(cluster.sim.confirm_log), timeout=30)
            assert cluster.calls("confirmOrder", since=restarted) == 1
            states = [await cluster.ready(r) for r in cluster.replicas.values()]
            assert sorted(s["role"] for s in states if s) == ["follower", "leader"]

"""Prometheus metrics (METRICS=true): counters fed by hooks, gauges read at scrape time."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import generate_latest

from core.context import Core
from core.model import Request, RequestKind
from core.outcomes import Report
from core.store.backlog import read_backlog


class Metrics:
    """One registry per running bot (several bots in one test process never collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.rms_calls = Counter(
            "rmsbot_rms_calls", "RMS calls by function and outcome", ["function", "outcome"],
            registry=r,
        )  # fmt: skip
        self.confirm_outcomes = Counter(
            "rmsbot_confirm_outcomes", "Orders per confirm outcome", ["outcome"], registry=r
        )
        self.requests_waiting = Gauge(
            "rmsbot_requests_waiting", "Stored Slack requests not finished yet", registry=r
        )
        self.outbox_backlog = Gauge(
            "rmsbot_outbox_backlog", "Slack messages waiting to be delivered", registry=r
        )
        self.dead_letters = Gauge(
            "rmsbot_dead_letters", "Slack messages given up on (dead-lettered)", registry=r
        )
        self.poll_lag = Gauge(
            "rmsbot_poll_lag_seconds", "How overdue the most overdue result poll is", registry=r
        )
        self.leader = Gauge("rmsbot_leader", "1 while this replica leads the jobs", registry=r)
        self.cycle_age = Gauge(
            "rmsbot_last_cycle_age_seconds",
            "Seconds since every shop's cycle last completed on this replica (-1: none yet)",
            registry=r,
        )

    def rms_call(self, function: str, outcome: str) -> None:
        """RmsHttpClient's observe hook."""
        self.rms_calls.labels(function, outcome).inc()

    def report(self, request: Request, report: Report) -> None:
        """RequestWorker's on_report hook: one count per order of a confirm request."""
        if request.kind is RequestKind.CONFIRM:
            for outcome in report.outcomes:
                self.confirm_outcomes.labels(outcome.outcome.value).inc()

    def leading(self, now: bool) -> None:
        """The election's on_change hook."""
        self.leader.set(1 if now else 0)

    def routes(self, core: Core, cycle_age: Callable[[], float | None]) -> list[web.RouteDef]:
        """GET /metrics in the Prometheus text format (the gauges are read from the database
        when scraped, so every replica shows the same backlog)."""

        async def metrics(_: web.Request) -> web.Response:
            async with core.store.read() as r:
                backlog = await read_backlog(r, core.clock.now())
            self.requests_waiting.set(backlog.requests_waiting)
            self.outbox_backlog.set(backlog.outbox_pending)
            self.dead_letters.set(backlog.dead_letters)
            self.poll_lag.set(backlog.poll_lag_seconds)
            age = cycle_age()
            self.cycle_age.set(-1 if age is None else age)
            body = generate_latest(self.registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        return [web.get("/metrics", metrics)]

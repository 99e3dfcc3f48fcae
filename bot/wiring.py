"""Composition root: the only place that reads Settings, opens sessions and starts tasks."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.daily import Daily
from bot.jobs import Jobs
from bot.leader import Election, new_lease
from bot.metrics import Metrics
from bot.settings import Settings
from bot.web import health_routes, ready_routes, slack_route
from core.auto import pause_state
from core.clock import SystemClock
from core.context import Core
from core.home import gather_home
from core.leader import Lease
from core.licenses import KeyVault, choose_key, current_key, submit_new_key
from core.lifecycle import Policy
from core.model import RequestKind
from core.outcomes import Reason
from core.ports import Clock, RmsApi
from core.requests import RequestWorker
from core.rms.client import RmsHttpClient
from core.store.open import open_store
from handlers.app import create_app
from handlers.channels import join_channels
from handlers.deps import HandlerDeps
from handlers.guard import Authorizer, Role, Roles, Verdict
from handlers.poster import SlackPoster
from handlers.progress import BulkProgress
from handlers.publisher import Publisher
from handlers.render.held import with_pause_notice
from handlers.render.home import home_view
from handlers.render.i18n import Lang
from handlers.tasks import TaskTracker

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything the running bot is made of (tests reach in through this)."""

    settings: Settings
    core: Core
    slack: AsyncWebClient
    app: AsyncApp
    deps: HandlerDeps
    jobs: Jobs
    tracker: TaskTracker
    session: aiohttp.ClientSession
    worker: RequestWorker
    extra: dict[str, object] = field(default_factory=dict)
    metrics: Metrics | None = None  # METRICS=true

    def role(self) -> str:
        """leader or follower (a bot without an election leads: tests step its jobs)."""
        lease = self.core.lease
        return "leader" if lease is None or lease.leading() else "follower"

    def _routes(self, mode: str) -> list[web.RouteDef]:
        lease = self.core.lease
        routes = health_routes(self.core, mode=mode, stalled=self.jobs.stalled)
        routes += ready_routes(
            self.core,
            role=self.role,
            epoch=lambda: lease.epoch if lease is not None and lease.leading() else None,
            cycle_age=self.jobs.cycle_age,
        )
        if self.metrics is not None:
            routes += self.metrics.routes(self.core, self.jobs.cycle_age)
        return routes

    def web_app(self) -> web.Application:
        """The aiohttp app: GET /healthz, /readyz (and /metrics with METRICS=true), and POST
        /slack/events (bolt) in HTTP mode only.

        In Socket Mode Slack talks over the WebSocket; an HTTP route for Slack there would
        only be a door for requests nobody signed, so it does not exist (404).
        """
        if self.settings.socket_mode:
            application = web.Application()
            application.add_routes(self._routes("socket"))
            return application
        application = web.Application()
        application.add_routes(
            [slack_route(self.app, self.core.store.ack_first), *self._routes("http")]
        )
        return application


def _policy(settings: Settings) -> Policy:
    interval = timedelta(seconds=settings.poll_interval_seconds)
    return Policy(
        poll_interval=interval,
        young_interval=min(interval, timedelta(seconds=60)),
        stuck_after=timedelta(hours=settings.stuck_after_hours),
        max_postage_yen=settings.max_postage_yen,
        bundle_window=timedelta(hours=settings.bundle_window_hours),
    )


@asynccontextmanager
async def running(
    settings: Settings,
    *,
    clock: Clock | None = None,
    rms: Mapping[str, RmsApi] | None = None,
    tick: float = 15.0,
    lease: Lease | None = None,
    request_poll: float | None = None,
) -> AsyncIterator[Runtime]:
    """Open the store and sessions, build the core and the Slack app; close all on exit.

    With a ``lease`` (serve), RMS calls and leader-only units of work are refused unless this
    replica leads; ``request_poll`` is how often the leader looks for requests other replicas
    stored (default: every ``tick``).
    """
    clock = clock or SystemClock()
    metrics = Metrics() if settings.metrics else None
    shops = settings.shops()
    session = aiohttp.ClientSession()
    tracker = TaskTracker()
    try:
        async with open_store(settings.store_target()) as store:
            vault = None
            if settings.secret_key is not None:
                vault = KeyVault(
                    settings.secret_key.get_secret_value(),
                    {s.key: s.license_key.get_secret_value() for s in shops},
                )
                await vault.load(store, [s.key for s in shops])
            clients: dict[str, RmsApi] = dict(rms or {})
            rates = {}
            for shop in shops:
                rates[shop.key] = shop.requests_per_second or settings.rms_requests_per_second
                await store.upsert_shop(shop.config())
                if shop.key in clients:
                    continue
                key: str | Callable[[], str] = shop.license_key.get_secret_value()
                if vault is not None:
                    key = current_key(vault, shop.key)
                clients[shop.key] = RmsHttpClient(
                    session,
                    base_url=settings.rms_base_url,
                    service_secret=shop.service_secret.get_secret_value(),
                    license_key=key,
                    clock=clock,
                    requests_per_second=rates[shop.key],
                    gate=lease.check if lease is not None else None,
                    observe=metrics.rms_call if metrics is not None else None,
                )
            core = Core(
                store=store,
                clock=clock,
                shops={s.key: s.config() for s in shops},
                rms=clients,
                policy=_policy(settings),
                rng=random.Random(),
                automation={s.key: s.automation() for s in shops},
                lease=lease,
            )
            slack = AsyncWebClient(
                token=settings.slack_bot_token.get_secret_value(),
                base_url=settings.slack_api_url,
                session=session,  # one connection pool; without it every call opens a session
                retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
            )
            poster = SlackPoster(slack, clock)
            auth = Authorizer(
                Roles(settings.confirmers, settings.admins),
                members_of=lambda g: _group_members(slack, g),
                shops={key: Roles(*roles) for key, roles in settings.shop_roles().items()},
                monotonic=lambda: clock.now().timestamp(),  # the bot's clock (tests move it)
            )
            for line in settings.warnings():  # said once, at start-up
                logger.warning("%s", line)
            publisher = Publisher(
                core,
                poster,
                lang=settings.language,
                summary_channel=settings.summary_channel,
                order_url=settings.rms_order_url,
            )
            deps = HandlerDeps(
                core=core,
                poster=poster,
                auth=auth,
                publisher=publisher,
                lang=settings.language,
                tasks=tracker,
            )
            secrets_by_shop = {s.key: s.service_secret.get_secret_value() for s in shops}

            async def probe(shop: str, candidate: str) -> datetime:
                client = RmsHttpClient(
                    session,
                    base_url=settings.rms_base_url,
                    service_secret=secrets_by_shop[shop],
                    license_key=candidate,
                    clock=clock,
                    requests_per_second=rates[shop],
                    max_read_attempts=1,
                )
                return await client.license_expiry()

            if vault is not None:  # RMS_LICENSE_KEY changed? use the key RMS accepts for longer
                for shop in shops:
                    await choose_key(store, vault, shop.key, partial(probe, shop.key))

            daily = Daily(
                core,
                poster,
                settings.summary_time(),
                settings.tz(),
                lang=settings.language,
                summary_channel=settings.summary_channel,
                vault=vault,
                probe=probe,
                retention_days=settings.retention_days,
                order_url=settings.rms_order_url,
            )
            deps.summary = daily.summary_now
            deps.home = partial(_home, core, settings.language)
            if vault is not None:
                deps.license = partial(_submit_key, core, vault, tracker, daily)
            jobs = Jobs(
                core,
                timedelta(seconds=settings.poll_interval_seconds),
                tick=tick,
                rates=rates,
                periodic=[("publisher", publisher.drain, tick), ("daily", daily, tick)],
            )
            progress = BulkProgress(
                store, clock, settings.language, partial(jobs.wake, "publisher")
            )
            worker = RequestWorker(
                core,
                partial(_may, auth),
                progress=progress,
                on_report=metrics.report if metrics is not None else None,
            )
            # Stored requests run at once (the ack wakes the worker in this replica), and at
            # least every request_poll (requests another replica stored).
            jobs.periodic.insert(
                0, ("requests", partial(_run_requests, worker, jobs), request_poll or tick)
            )
            deps.wake = partial(jobs.wake, "requests")
            app = create_app(deps, slack, settings.slack_signing_secret)
            # Members can read history, which recovering an interrupted post needs; never fatal.
            summary = [settings.summary_channel] if settings.summary_channel else []
            await join_channels(slack, [s.channel for s in shops] + summary)
            try:
                yield Runtime(
                    settings, core, slack, app, deps, jobs, tracker, session, worker,
                    metrics=metrics,
                )  # fmt: skip
            finally:
                await tracker.drain()
    finally:
        await session.close()


async def _run_requests(worker: RequestWorker, jobs: Jobs) -> None:
    if await worker.run_once():  # reports to post: the publisher runs now
        jobs.wake("publisher")


ROLE_OF = {
    RequestKind.CONFIRM: Role.CONFIRMER,
    RequestKind.FEE: Role.CONFIRMER,
    RequestKind.BUNDLE: Role.CONFIRMER,
    RequestKind.REFETCH: Role.ANYONE,
}


async def _may(auth: Authorizer, actor: str, kind: RequestKind, shop: str) -> Reason | None:
    """The worker's check at the effect: the actor's role now, not when Slack was acked."""
    verdict = await auth.check(actor, ROLE_OF[kind], shop)
    if verdict is Verdict.ALLOWED:
        return None
    return Reason.ROLE_UNKNOWN if verdict is Verdict.UNKNOWN else Reason.NOT_ALLOWED


async def _home(core: Core, lang: Lang, _user: str) -> dict[str, object]:
    view = home_view(await gather_home(core), lang, core.clock.now())
    paused, by, at = await pause_state(core)
    return with_pause_notice(view, by, at, lang) if paused else view


async def _submit_key(
    core: Core, vault: KeyVault, tracker: TaskTracker, daily: Daily, shop: str, key: str, actor: str
) -> str:
    """Store the pasted key encrypted, then probe it at once (and every 5 minutes after)."""
    status = await submit_new_key(core, vault, shop, key, actor)
    if core.lease is None or core.lease.leading():  # else the leader probes it within 5 min
        daily.next_probe_now()
        tracker.spawn(daily(), "license-probe")
    return status.value


def tune_gc() -> None:
    """Shorter, rarer GC pauses under load: start-up objects are frozen (never scanned again)
    and young collections run less often (ack latency matters more than a few MB)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def _group_members(slack: AsyncWebClient, group: str) -> list[str]:
    response = await slack.usergroups_users_list(usergroup=group)
    return list(response.get("users") or [])


REQUEST_POLL_SECONDS = 1.0  # the leader looks for requests stored by other replicas this often


async def serve(settings: Settings) -> None:
    """Run the bot until SIGTERM/SIGINT: Slack (HTTP or Socket Mode), /healthz, /readyz, and
    the jobs while this replica holds the leader lease.

    On SIGTERM the jobs stop and the lease is released first (another replica leads within
    a second), then Socket Mode and the HTTP server close, finishing requests in flight.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    lease = new_lease(settings.leader_lease_seconds)
    poll = min(REQUEST_POLL_SECONDS, settings.leader_lease_seconds / 4)
    async with running(settings, lease=lease, request_poll=poll) as rt:
        runner = web.AppRunner(rt.web_app())
        await runner.setup()
        site = web.TCPSite(runner, "0.0.0.0", settings.port)
        await site.start()
        socket_handler = None
        if settings.socket_mode and settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(
                rt.app, settings.slack_app_token.get_secret_value()
            )
            await socket_handler.connect_async()  # type: ignore[no-untyped-call]
        logger.info(
            "rms-bot running: %s mode, port %d, %d shop(s)",
            "Socket" if socket_handler else "HTTP",
            settings.port,
            len(rt.core.shops),
        )
        tune_gc()
        on_change = rt.metrics.leading if rt.metrics is not None else None
        election = Election(rt.core.store, lease, rt.jobs, on_change=on_change)
        electing = asyncio.create_task(election.run(stop), name="election")
        await stop.wait()
        logger.info("shutting down: stopping the jobs, releasing the lease")
        await electing  # steps down and releases the lease (the run ends when stop is set)
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()

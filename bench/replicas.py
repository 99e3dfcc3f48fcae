"""Several real ``python -m bot serve`` replicas on one database, the RMS simulator and the
Slack emulator in this process (the failover bench and the replica failure tests use it).

Each replica reaches RMS through its own port of the one simulator, so every RMS call is
recorded with the replica that made it (``Cluster.rms_log``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.clock import SystemClock
from sandbox.rms import RmsSimulator
from sandbox.slack import SlackEmulator

ROOT = Path(__file__).resolve().parents[1]
SHOP_ID = "111111"
SECRET = "SP-replica-secret"
KEY = "SL-replica-key"
SIGNING = "replica-signing-secret"
CHANNEL = "C0SHOP1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class RmsCall:
    """One RMS call as it arrived: which replica, which function, when (monotonic)."""

    replica: str
    function: str
    at: float


@dataclass
class Replica:
    """One bot process."""

    name: str
    port: int
    log: Path
    proc: asyncio.subprocess.Process
    rms: TestServer

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


async def poll(
    predicate: Callable[[], Awaitable[Any]], *, timeout: float, every: float = 0.02
) -> Any:
    """Await ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:.1f} s")
        await asyncio.sleep(every)


@dataclass
class Cluster:
    """The outside world plus any number of replicas sharing ``database_url``."""

    tmp: Path
    database_url: str
    ttl: float = 2.0
    env: Mapping[str, str] = field(default_factory=dict)  # more settings for every replica
    sim: RmsSimulator = field(init=False)
    slack: SlackEmulator = field(init=False)
    replicas: dict[str, Replica] = field(default_factory=dict, init=False)
    rms_log: list[RmsCall] = field(default_factory=list, init=False)
    _slack_server: TestServer | None = field(default=None, init=False)
    _session: aiohttp.ClientSession | None = field(default=None, init=False)
    _count: int = field(default=0, init=False)

    async def __aenter__(self) -> Cluster:
        self.sim = RmsSimulator(SystemClock(), requests_per_second=None)
        self.sim.add_shop(SHOP_ID, SECRET, KEY)
        self.slack = SlackEmulator(signing_secret=SIGNING)
        self._slack_server = TestServer(self.slack.make_app())
        await self._slack_server.start_server()
        self.slack.base_url = str(self._slack_server.make_url("")).rstrip("/")
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, kind: object, *_: object) -> None:
        for replica in list(self.replicas.values()):
            if kind is not None:  # a failure: show what every replica said
                sys.stdout.write(f"--- {replica.name} ---\n{replica.output()[-6000:]}\n")
            await self.kill(replica.name)
            await replica.rms.close()
        if self._session is not None:
            await self._session.close()
        if self._slack_server is not None:
            await self._slack_server.close()

    def _tagged_rms(self, name: str) -> web.Application:
        app = self.sim.make_app()
        log = self.rms_log

        @web.middleware
        async def tag(request: web.Request, handler: Any) -> web.StreamResponse:
            function = request.path.rstrip("/").rsplit("/", 1)[-1]
            log.append(RmsCall(name, function, time.monotonic()))
            return await handler(request)  # type: ignore[no-any-return]

        app.middlewares.append(tag)
        return app

    async def start(self, name: str | None = None) -> Replica:
        """Start one more replica (it becomes healthy; it may or may not lead)."""
        self._count += 1
        name = name or f"r{self._count}"
        rms = TestServer(self._tagged_rms(name))
        await rms.start_server()
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "SLACK_BOT_TOKEN": "xoxb-emulator",
            "SLACK_SIGNING_SECRET": SIGNING,
            "SLACK_API_URL": self.slack.api_url,
            "RMS_BASE_URL": str(rms.make_url("")).rstrip("/"),
            "RMS_SERVICE_SECRET": SECRET,
            "RMS_LICENSE_KEY": KEY,
            "SLACK_CHANNEL": CHANNEL,
            "PORT": str(port),
            "DATABASE_URL": self.database_url,
            "POLL_INTERVAL_SECONDS": "300",
            "LEADER_LEASE_SECONDS": str(self.ttl),
            "RMS_REQUESTS_PER_SECOND": "20",
            **self.env,
        }
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", "--env-file", "", cwd=ROOT, env=env,
                stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        replica = Replica(name, port, log, proc, rms)
        self.replicas[name] = replica
        await poll(lambda: self._healthy(replica), timeout=60, every=0.05)
        return replica

    async def _healthy(self, replica: Replica) -> bool:
        if replica.proc.returncode is not None:
            raise AssertionError(f"{replica.name} exited:\n{replica.output()}")
        return await self.ready(replica) is not None

    async def ready(self, replica: Replica) -> dict[str, Any] | None:
        """The replica's /readyz, or None when it does not answer."""
        assert self._session is not None
        try:
            async with self._session.get(
                f"http://127.0.0.1:{replica.port}/readyz", timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                return dict(await response.json())
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def leader(self, *, cycled: bool = True) -> Replica | None:
        """The replica that leads (and, with ``cycled``, completed a full cycle), if any."""
        for replica in self.replicas.values():
            if replica.proc.returncode is not None:
                continue
            state = await self.ready(replica)
            if (
                state
                and state["role"] == "leader"
                and (not cycled or state["last_cycle_age_seconds"] is not None)
            ):
                return replica
        return None

    async def wait_leader(self, *, timeout: float = 30.0) -> Replica:
        """The leader once it completed its first cycle."""
        return await poll(self.leader, timeout=timeout)  # type: ignore[no-any-return]

    def signal(self, name: str, sig: signal.Signals) -> None:
        self.replicas[name].proc.send_signal(sig)

    async def kill(self, name: str) -> None:
        replica = self.replicas[name]
        if replica.proc.returncode is None:
            with suppress(ProcessLookupError):
                replica.proc.send_signal(signal.SIGCONT)
                replica.proc.kill()
            await replica.proc.wait()

    async def stop(self, name: str, *, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the exit status."""
        replica = self.replicas[name]
        replica.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(replica.proc.wait(), timeout)

    def calls(self, function: str, replica: str | None = None, since: float = 0.0) -> int:
        return sum(
            1
            for c in self.rms_log
            if c.function == function and c.at >= since and replica in (None, c.replica)
        )

    async def post(
        self, replica: Replica, body: bytes, headers: Mapping[str, str] | None = None
    ) -> int:
        """POST a Slack-signed form body to a replica: the HTTP status (0: no answer)."""
        return (await self.exchange(replica, body, headers))[0]

    async def exchange(
        self, replica: Replica, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """POST a Slack-signed form body to a replica: the HTTP status (0: no answer) and the
        body of its answer (the ack's message, e.g. a confirm-all prompt)."""
        from sandbox.slack import payloads

        assert self._session is not None
        signed = {
            "Content-Type": "application/x-www-form-urlencoded",
            **payloads.sign(SIGNING, body, int(time.time())),
            **(headers or {}),
        }
        try:
            async with self._session.post(replica.slack_url, data=body, headers=signed) as resp:
                return resp.status, await resp.read()
        except aiohttp.ClientError:
            return 0, b""

    def click(self, blocks: Any, action_id: str, *, trigger: str, user: str = "U0TANAKA") -> bytes:
        """The body Slack sends when ``user`` clicks the ``action_id`` button of an ephemeral
        message with ``blocks`` (e.g. the confirm-all prompt)."""
        from sandbox.slack import payloads

        found = payloads.find_action(blocks, action_id)
        if found is None:
            raise AssertionError(f"no {action_id} button in {blocks!r}"[:500])
        element, block_id = found
        return payloads.block_actions_body(
            **self._sender(user, trigger),
            action=payloads.action_from_element(
                element, action_id=action_id, block_id=block_id, value=""
            ),
            action_ts=f"{time.time():.6f}",
            is_ephemeral=True,
        )

    def command(self, text: str, *, trigger: str, user: str = "U0TANAKA") -> bytes:
        """A /confirm body as Slack sends it (``trigger`` is Slack's retry key)."""
        from sandbox.slack import payloads

        return payloads.command_body(command="/confirm", text=text, **self._sender(user, trigger))

    def _sender(self, user: str, trigger: str) -> dict[str, Any]:
        """Who sends a command or a click, from where (the shop's channel, a new response_url)."""
        return {
            "user_id": user,
            "user_name": "tanaka",
            "team_id": "T0EMU",
            "team_domain": "emu",
            "api_app_id": "A0EMU",
            "trigger_id": trigger,
            "channel_id": CHANNEL,
            "channel_name": "shop",
            "response_url": self.slack._new_origin(user, CHANNEL)[1],
        }

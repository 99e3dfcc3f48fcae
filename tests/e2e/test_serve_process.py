"""`python -m bot serve` as a real process: HTTP mode, /healthz, a signed /confirm, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from core.clock import SystemClock
from sandbox.rms import RmsSimulator
from sandbox.slack import SlackEmulator

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(url: str, proc: asyncio.subprocess.Process) -> dict:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):  # up to ~30 s for a cold start on a busy CI machine
            assert proc.returncode is None, "the bot exited during start-up"
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return await response.json()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the bot never became healthy")


async def test_serve_answers_slack_and_stops_cleanly_on_sigterm(tmp_path):
    sim = RmsSimulator(SystemClock(), requests_per_second=None)
    sim.add_shop("111111", "SP-proc-secret", "SL-proc-key")
    number = sim.add_order("111111")
    rms = TestServer(sim.make_app())
    await rms.start_server()
    slack = SlackEmulator(signing_secret="proc-signing-secret")
    slack_server = TestServer(slack.make_app())
    await slack_server.start_server()
    slack.base_url = str(slack_server.make_url("")).rstrip("/")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": "xoxb-emulator",
        "SLACK_SIGNING_SECRET": "proc-signing-secret",
        "SLACK_API_URL": slack.api_url,
        "RMS_BASE_URL": str(rms.make_url("")).rstrip("/"),
        "RMS_SERVICE_SECRET": "SP-proc-secret",
        "RMS_LICENSE_KEY": "SL-proc-key",
        "SLACK_CHANNEL": "C0SHOP1",
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "POLL_INTERVAL_SECONDS": "300",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--env-file",
        "",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        health = await wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        assert health["mode"] == "http"
        slack.bot_url = f"http://127.0.0.1:{port}/slack/events"
        ack = await slack.send_command("/confirm", number, channel="C0SHOP1")
        assert ack.status == 200
        await slack.wait_until(lambda: len(sim.confirm_log) == 1, timeout=15)
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, output.decode()
        assert b"Traceback" not in output
        assert [n for n, _ in sim.confirm_log] == [number]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await slack_server.close()
        await rms.close()

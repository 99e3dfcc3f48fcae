"""Run the Slack emulator alone: python -m sandbox.slack --port 8082 --bot-url URL."""

from __future__ import annotations

import argparse
import os

from aiohttp import web

from sandbox.slack.emulator import SlackEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.slack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument(
        "--bot-url",
        default="http://127.0.0.1:3000/slack/events",
        help="where signed commands, clicks and submissions are POSTed",
    )
    parser.add_argument(
        "--signing-secret",
        default=os.environ.get("SLACK_SIGNING_SECRET", "emulator-signing-secret"),
    )
    parser.add_argument("--bot-token", default=os.environ.get("SLACK_BOT_TOKEN", "xoxb-emulator"))
    args = parser.parse_args(argv)

    emulator = SlackEmulator(
        signing_secret=args.signing_secret, bot_url=args.bot_url, bot_token=args.bot_token
    )
    emulator.base_url = f"http://{args.host}:{args.port}"
    print(
        f"Slack emulator: console {emulator.base_url}/  Web API {emulator.api_url}"
        f"  → bot {args.bot_url}",
        flush=True,
    )
    web.run_app(emulator.make_app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()

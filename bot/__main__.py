"""Command line: ``python -m bot [serve | check | demo | migrate-sqlite-to-postgres]`` (serve when
no command is given)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from bot.settings import Settings, validate_settings

EXIT_CONFIG = 2
"""Exit status when the configuration is unusable (like argparse's usage errors)."""
EXIT_SLACK = 1
"""Exit status when Slack says a configured channel or the token cannot be used as it is."""
SLACK_CHECK_SECONDS = 30.0
EXIT_DATABASE = 3
"""Exit status when the PostgreSQL database does not answer."""
DATABASE_CHECK_SECONDS = 10.0

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--env-file",
        default=".env",
        metavar="PATH",
        help="dotenv file read under the environment (default: .env; '' reads none)",
    )
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Slack bot for Rakuten RMS order confirmation."
    )
    parser.set_defaults(command="serve", env_file=".env")
    commands = parser.add_subparsers(
        dest="command", metavar="{serve,check,demo,migrate-sqlite-to-postgres}"
    )
    commands.add_parser("serve", parents=[common], help="run the bot (the default)")
    commands.add_parser(
        "check",
        parents=[common],
        help="validate the configuration, ask Slack about the channels, and exit",
    )
    commands.add_parser("demo", help="run the bot against the RMS simulator and Slack emulator")
    move = commands.add_parser(
        "migrate-sqlite-to-postgres",
        help="copy every table of a SQLite database into PostgreSQL (one transaction)",
    )
    move.add_argument("--from", dest="source", required=True, metavar="PATH", help="SQLite file")
    move.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="postgresql://… database"
    )
    move.add_argument(
        "--replace",
        action="store_true",
        help="delete the rows the PostgreSQL database holds first (refused otherwise)",
    )
    return parser


# Platforms whose own disk is wiped by every deploy or restart, and how each is recognised.
EPHEMERAL_PLATFORMS = {
    "DYNO": "Heroku",
    "RENDER": "Render",
    "FLY_APP_NAME": "Fly",
    "K_SERVICE": "Cloud Run",
}


def ephemeral_disk(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """Why SQLite here would lose every record at the next deploy, or None (pure)."""
    if settings.is_postgres or settings.sqlite_on_volume:
        return None
    for variable, platform in EPHEMERAL_PLATFORMS.items():
        if environ.get(variable):
            return (
                f"DATABASE_URL is SQLite on {platform} ({variable} is set), whose disk is wiped "
                "by every deploy: intents, requests, the outbox and renewed licence keys would "
                "be lost. Use PostgreSQL, or set SQLITE_ON_VOLUME=true if the file is on a "
                "mounted volume"
            )
    return None


def _load(env_file: str | None) -> Settings | None:
    settings, problems = validate_settings(env_file=env_file)
    for line in problems:
        sys.stderr.write(f"{line}\n")
    return settings


def _check(env_file: str | None) -> int:
    settings = _load(env_file)
    if settings is None:
        return EXIT_CONFIG
    sys.stdout.write(f"{settings.describe()}\n")
    if (problem := ephemeral_disk(settings, os.environ)) is not None:
        sys.stderr.write(f"{problem}\n")
        return EXIT_CONFIG
    for line in settings.warnings():
        sys.stderr.write(f"warning: {line}\n")
    if settings.is_postgres:
        line, reachable = asyncio.run(_postgres(settings.database_url))
        (sys.stdout if reachable else sys.stderr).write(f"{line}\n")
        if not reachable:
            return EXIT_DATABASE
    lines, ok = asyncio.run(_slack_channels(settings))
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0 if ok else EXIT_SLACK


async def _postgres(url: str) -> tuple[str, bool]:
    """Whether PostgreSQL answers and how far it is migrated (one line; never the password)."""
    from core.store.probe import postgres_schema  # late: a bad config needs no driver

    try:
        async with asyncio.timeout(DATABASE_CHECK_SECONDS):
            applied, latest = await postgres_schema(url, timeout=DATABASE_CHECK_SECONDS)
    except Exception as exc:  # refused, DNS, auth, timeout: a diagnosis, not a crash
        first = (str(exc).strip().splitlines() or [""])[0]
        password = urlsplit(url).password
        if password:
            first = first.replace(password, "***")
        return f"PostgreSQL not reachable ({type(exc).__name__}: {first})", False
    if applied > latest:  # a newer release migrated it; migrations only expand
        return (
            f"PostgreSQL reachable: schema version {applied} is newer than this release's "
            f"{latest} (fine during a rolling deploy or a rollback)",
            True,
        )
    if applied < latest:
        return (
            f"PostgreSQL reachable: schema version {applied} of {latest} "
            f"({latest - applied} migration(s) pending; serve applies them at start-up)",
            True,
        )
    return f"PostgreSQL reachable: schema version {applied} (migrated)", True


async def _slack_channels(settings: Settings) -> tuple[list[str], bool]:
    """Ask Slack (conversations.info) whether the bot can use every configured channel."""
    from slack_sdk.web.async_client import AsyncWebClient  # late: a bad config needs no SDK

    from handlers.channels import channel_report

    channels = [shop.channel for shop in settings.shops()]
    if settings.summary_channel:
        channels.append(settings.summary_channel)
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[],  # a diagnosis: one try per call, no backoff
    )
    try:
        async with asyncio.timeout(SLACK_CHECK_SECONDS):
            lines, ok = await channel_report(client, channels)
    except Exception as exc:  # no network, DNS, proxy, timeout: a diagnosis, not a crash
        return [
            f"Slack not reachable at {settings.slack_api_url} ({type(exc).__name__}): "
            "channels not checked"
        ], True
    return [f"Slack: {line}" if not line.startswith("Slack") else line for line in lines], ok


def _serve(env_file: str | None) -> int:
    settings = _load(env_file)
    if settings is None:
        return EXIT_CONFIG
    importlib.import_module("bot.logs").configure(settings.log_level)
    log.info("%s", settings.describe())
    if (platform := ephemeral_disk(settings, os.environ)) is not None:
        log.warning("%s", platform)
    wiring = importlib.import_module("bot.wiring")  # imported late: check must not need it
    try:
        asyncio.run(wiring.serve(settings))
    except KeyboardInterrupt:
        log.info("stopped")
    return 0


def _demo() -> int:
    demo = importlib.import_module("sandbox.demo")
    outcome = demo.main()
    if inspect.iscoroutine(outcome):
        outcome = asyncio.run(outcome)
    return outcome if isinstance(outcome, int) else 0


def _migrate_to_postgres(source: str, target: str, *, replace: bool) -> int:
    """Copy a SQLite file into PostgreSQL and print each table's row counts."""
    from pathlib import Path

    from core.store.open import is_postgres

    if not is_postgres(target):
        sys.stderr.write("--to must be a postgresql:// or postgres:// URL\n")
        return EXIT_CONFIG
    path = Path(source.removeprefix("sqlite:///"))
    if not path.is_file():
        sys.stderr.write(f"--from: no SQLite file at {path}\n")
        return EXIT_CONFIG
    transfer = importlib.import_module("core.store.transfer")
    try:
        copied = asyncio.run(transfer.copy_sqlite_file(path, target, replace=replace))
    except transfer.TransferError as exc:
        sys.stderr.write(f"nothing copied: {exc}\n")
        return 1
    width = max(len(c.table) for c in copied)
    for c in copied:
        sys.stdout.write(f"{c.table:<{width}}  sqlite {c.source:>9}  postgresql {c.target:>9}\n")
    total = sum(c.target for c in copied)
    sys.stdout.write(f"copied {total} rows in {len(copied)} tables; counts match\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return the process exit status."""
    args = _parser().parse_args(argv)
    env_file: str | None = args.env_file or None
    if args.command == "demo":
        return _demo()
    if args.command == "check":
        return _check(env_file)
    if args.command == "migrate-sqlite-to-postgres":
        return _migrate_to_postgres(args.source, args.target, replace=args.replace)
    return _serve(env_file)


if __name__ == "__main__":
    raise SystemExit(main())

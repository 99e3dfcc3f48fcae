"""No secret in any log record, Slack call, Slack message or stored row.

The whole bot runs with recognisable fake secrets (RMS serviceSecret and licenceKey per shop,
the Slack bot token and signing secret, SECRET_KEY, a licence key renewed through the modal)
through representative scenarios: intake, /confirm, the -9,999 fee modal, the licence check
and a key renewal, a 401 auth failure, RMS error bodies that *echo* the credentials, status
re-fetch, App Home and /rms. Then every log record (DEBUG, all loggers, tracebacks included),
every call the bot made to the Slack Web API and response_url, every message, ephemeral, view
and ack Slack showed, and every cell of every table of the SQLite file is searched for the
secrets — and for the ESA Authorization token, base64(serviceSecret:licenseKey).

The same run is searched for the customers' personal data the RMS simulator generated
(issue 10 item 7): no e-mail address or phone number in any log record or anything sent to
Slack (cards show the orderer's name and the recipient's address, never how to reach them), no
e-mail address in the database, and no customer name in the bot's own log records.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import sqlite3
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.__main__ import main as bot_main
from core.errors import RmsUnavailableError
from core.intake import intake
from core.licenses import KeyVault, check_license, probe_pending_key, submit_new_key
from core.rms.client import LICENSE_PATH, RmsHttpClient
from handlers.render import ids
from sandbox.rms import RmsSimulator
from tests.fakes import FakeClock
from tests.stack import SHOP_IDS, Stack, bot_stack

SERVICE_SECRET = "SP-SECRET-SENTINEL-9f3a"
LICENSE_KEY = "SL-LICENSE-SENTINEL-77c1"
API_SERVICE_SECRET = "SP-APISHOP-SENTINEL-31d0"
API_LICENSE_KEY = "SL-APISHOP-SENTINEL-c4e2"
RENEWED_KEY = "SL-RENEWED-SENTINEL-5e2d"
BOT_TOKEN = "xoxb-SLACK-SENTINEL"
SIGNING_SECRET = "SIGNING-SENTINEL"
SECRET_KEY = "SECRET-KEY-SENTINEL-0b7e"
PAIRS = [
    (SERVICE_SECRET, LICENSE_KEY),
    (API_SERVICE_SECRET, API_LICENSE_KEY),
    (SERVICE_SECRET, RENEWED_KEY),
]
TOKENS = [base64.b64encode(f"{s}:{k}".encode()).decode() for s, k in PAIRS]
SENTINELS = [
    SERVICE_SECRET,
    LICENSE_KEY,
    API_SERVICE_SECRET,
    API_LICENSE_KEY,
    RENEWED_KEY,
    BOT_TOKEN,
    SIGNING_SECRET,
    SECRET_KEY,
    *TOKENS,
]
LEAK_MARKERS = [*SENTINELS, "SENTINEL"]  # also catches a secret cut short or re-encoded

SHOPS_TOML = f"""
[shops.main]
name = "メイン店"
service_secret = "{SERVICE_SECRET}"
license_key = "{LICENSE_KEY}"
api_option = false
channel = "C0SHOP1"

[shops.api]
name = "API店"
service_secret = "{API_SERVICE_SECRET}"
license_key = "{API_LICENSE_KEY}"
api_option = true
channel = "C0SHOP2"
"""


def leaks(
    where: str, text: str, personal: list[str] = (), markers: list[str] = LEAK_MARKERS
) -> list[str]:
    """What of the secrets (``markers``) and of the ``personal`` data appears in ``text``."""
    return [f"{where}: {marker!r} in {text[:300]!r}" for marker in markers if marker in text] + [
        f"{where}: customer data {value!r}" for value in personal if value in text
    ]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def rms_access_log(record: logging.LogRecord) -> bool:
    """The RMS simulator's own access log (RMS's side of the wire, not the bot's)."""
    return record.name == "aiohttp.access" and "/es/" in record.getMessage()


def everything_the_bot_said(
    s: Stack, records: list[logging.LogRecord], db: Path, customers: Customers | None = None
) -> list[str]:
    found: list[str] = []
    reach = customers.contacts if customers else []  # e-mail addresses and phone numbers
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in records:
        if not rms_access_log(record):
            line = formatter.format(record)
            found += leaks(f"log {record.name}", line, reach)
            if customers and record.name.split(".")[0] in OWN_LOGGERS:
                found += leaks(f"log {record.name} (a name)", line, customers.names, markers=[])
    for call in s.slack.calls:  # the bot's requests, response_url posts included
        found += leaks(f"slack {call.method}", _dumps(call.params), reach)
    for channel in s.slack.channels:
        for message in s.slack.messages(channel):
            for shown in (message, *message.replies):
                found += leaks(f"message {channel}", shown.text + _dumps(shown.blocks), reach)
    for user in [*s.slack.users, "U0ADMIN"]:
        for eph in s.slack.ephemerals(user):
            found += leaks(f"ephemeral {user}", eph.text + _dumps(eph.blocks), reach)
    for view in s.slack.views.values():  # what the bot put on screen (not what staff typed)
        found += leaks(f"view {view.id}", _dumps(view.view) + _dumps(view.errors), reach)
    for kind, result in s.slack.inbound:
        found += leaks(f"ack {kind}", result.body, reach)
    emails = customers.emails if customers else []
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608
                found += leaks(f"db {table}", _dumps(row), emails)
    return found


OWN_LOGGERS = {"bot", "core", "handlers"}


@dataclass
class Customers:
    """The personal data of every order the RMS simulator generated in a run."""

    emails: list[str]
    phones: list[str]
    names: list[str]

    @property
    def contacts(self) -> list[str]:
        return self.emails + self.phones

    @classmethod
    def of(cls, sim: RmsSimulator) -> Customers:
        emails, phones, names = set(), set(), set()
        for number in sim.state.orders:
            order = sim.order(number)
            people = [order["OrdererModel"]]
            people += [p["SenderModel"] for p in order["PackageModelList"]]
            for person in people:
                digits = [person[f"phoneNumber{i}"] or "" for i in (1, 2, 3)]
                phones |= {"-".join(digits), "".join(digits)}  # as shown, and as typed
                names.add(f"{person['familyName']} {person['firstName']}")
                names.add(f"{person['familyNameKana']} {person['firstNameKana']}")
            emails.add(order["OrdererModel"]["emailAddress"])
        assert emails and phones and names
        return cls(sorted(emails), sorted(phones), sorted(names))


async def scenarios(s: Stack, tmp_path: Path) -> None:
    core, slack, sim = s.rt.core, s.slack, s.sim
    plain = s.add_order("main")
    unset = s.add_order("api", postage=-9999)
    doomed = s.add_order("main")
    s.add_order("main", packages=2, postage=[500, -9999])  # a gift: a second recipient
    s.add_order("api", isolated_island=True, postage=-9999)
    for shop in ("main", "api"):
        assert (await intake(core, shop)).error is None
    await s.rt.deps.publisher.drain()

    # /confirm, then the same order again (refused, says who and when)
    await slack.send_command("/confirm", plain, channel="C0SHOP1")
    await s.settle()
    await slack.send_command("/confirm", plain, user="U0SATO", channel="C0SHOP1")
    await s.settle()
    assert [n for n, _ in sim.confirm_log] == [plain]

    # the -9,999 fee modal with the API option: updateOrderSender, then confirmOrder
    card = next(m for m in slack.messages("C0SHOP2") if unset in m.text + str(m.blocks))
    await slack.click(
        channel="C0SHOP2", message_ts=card.ts, action_id=ids.OPEN_FEE_MODAL, value=f"api|{unset}"
    )
    await slack.wait_for("views.open")  # opened after the ack
    modal = slack.open_modal("U0TANAKA")
    assert modal is not None, [c.method for c in slack.calls][-5:]
    block = next(b["block_id"] for b in modal.view["blocks"] if b["type"] == "input")
    await slack.submit_view(
        modal.id, {block: {ids.FEE_INPUT: {"type": "plain_text_input", "value": "800"}}}
    )
    await slack.submit_view(modal.id, {})  # 確定 on the confirmation step
    await s.settle()
    assert unset in [n for n, _ in sim.confirm_log]

    # 詳細 on a flag card: everything about the order, sent only to the clicker
    flagged = next(m for m in slack.messages("C0SHOP1") if "main|" in _dumps(m.blocks))
    value = next(
        e["value"]
        for b in flagged.blocks
        for e in b.get("elements", [])
        if e.get("action_id") == ids.SHOW_DETAILS
    )
    await slack.click(
        channel="C0SHOP1", message_ts=flagged.ts, action_id=ids.SHOW_DETAILS, value=value
    )
    await s.settle()
    details = [_dumps(c.params) for c in slack.calls if c.method == "response_url"]
    assert any(value.split("|")[1] in d and "送付先 2" in d for d in details)

    # 401 on confirmOrder (the licence remediation card), then RMS error bodies that echo the
    # credentials back — a JSON message and an HTML error page
    core.retry = type(core.retry)(attempts=1)
    sim.fail_next(
        "confirmOrder",
        status=401,
        body={"Results": {"errorCode": "ES01-01", "message": f"Un-Authorised key={LICENSE_KEY}"}},
    )
    await slack.send_command("/confirm", doomed, channel="C0SHOP1")
    await s.settle()
    sim.fail_next(
        "getOrder",
        4,
        status=500,
        body={
            "Results": {
                "errorCode": "SYSTEM_ERROR",
                "message": f"Authorization: ESA {TOKENS[0]} "
                f"secret={SERVICE_SECRET} key={LICENSE_KEY}",
            }
        },
    )
    await slack.send_command("/rms-status", doomed, channel="C0SHOP1")
    await s.settle()
    sim.fail_next(
        "confirmOrder",
        status=503,
        content_type="text/html",
        body=f"<html><body>503 for ESA {TOKENS[0]} ({LICENSE_KEY})</body></html>",
    )
    await slack.send_command("/confirm", doomed, channel="C0SHOP1")
    await s.settle()

    # the daily licence check (one shop answers 401), and a key renewed through the modal
    sim.fail_next("license", status=401)
    for shop in ("main", "api"):
        await check_license(core, shop, core.clock.now())
    vault = KeyVault(SECRET_KEY, {"main": LICENSE_KEY, "api": API_LICENSE_KEY})

    async def renew(shop: str, key: str, user: str) -> str:
        return (await submit_new_key(core, vault, shop, key, user)).value

    s.rt.deps.license = s.rt.deps.license or renew
    await slack.send_command("/rms", "license main", user="U0ADMIN", channel="C0SHOP1")
    await slack.wait_for("views.open", 2)
    modal = slack.open_modal("U0ADMIN")
    assert modal is not None, [e.text for e in slack.ephemerals("U0ADMIN")]
    await slack.submit_view(
        modal.id,
        {
            ids.LICENSE_BLOCK: {
                ids.LICENSE_INPUT: {"type": "plain_text_input", "value": RENEWED_KEY}
            }
        },
        user="U0ADMIN",
    )
    await s.settle()  # the bot's own first probe runs (and fails: not issued yet)
    sim.issue_key(SHOP_IDS["main"], RENEWED_KEY, expires=datetime(2027, 2, 26))
    async with aiohttp.ClientSession() as session:

        async def probe(key: str) -> datetime:
            client = RmsHttpClient(
                session,
                base_url=s.rt.settings.rms_base_url,
                service_secret=SERVICE_SECRET,
                license_key=key,
                clock=core.clock,
                requests_per_second=1000.0,
            )
            return await client.license_expiry()

        assert await probe_pending_key(core, vault, "main", probe)
    await check_license(core, "main", core.clock.now())

    # read-only surfaces: status of everything, lists, summary, App Home, health
    await slack.send_command("/rms-status", "all", channel="C0SHOP1")
    for text in ("pending", "flagged", "summary", "help", "candidates"):
        await slack.send_command("/rms", text, channel="C0SHOP1")
    await slack.open_app_home("U0TANAKA")
    await s.settle()
    await s.rt.deps.publisher.drain()
    url = slack.bot_url.replace("/slack/events", "/healthz")
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        health = await response.text()
    assert not leaks("healthz", health)


async def test_no_secret_in_logs_slack_or_the_database(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    shops = tmp_path / "shops-sentinel.toml"
    shops.write_text(SHOPS_TOML, encoding="utf-8")
    async with bot_stack(
        tmp_path,
        shops_file=shops,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        secret_key=SECRET_KEY,
        log_level="DEBUG",
        admins="U0ADMIN",  # empty ADMINS = nobody may renew a key
    ) as s:
        s.slack.bot_token = BOT_TOKEN
        s.slack.signing_secret = SIGNING_SECRET
        s.sim.add_shop(SHOP_IDS["main"], SERVICE_SECRET, LICENSE_KEY)
        s.sim.add_shop(SHOP_IDS["api"], API_SERVICE_SECRET, API_LICENSE_KEY)
        await scenarios(s, tmp_path)
        # the scenarios really ran with these credentials
        assert {c.license_key for c in s.sim.calls} >= {LICENSE_KEY, API_LICENSE_KEY, RENEWED_KEY}
        assert s.slack.calls and all(
            c.token == BOT_TOKEN for c in s.slack.calls if c.method != "response_url"
        )
        db = Path(str(s.rt.settings.database_path()))
        customers = Customers.of(s.sim)
        shown = _dumps([m.blocks for c in s.slack.channels for m in s.slack.messages(c)])
        assert any(name in shown for name in customers.names)  # the scan can find them
        found = everything_the_bot_said(s, caplog.records, db, customers)
    assert found == []


# --- python -m bot check -------------------------------------------------------------------------


def _env(tmp_path: Path, shops_toml: str, **extra: str) -> str:
    shops = tmp_path / "shops.toml"
    shops.write_text(shops_toml, encoding="utf-8")
    values = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SECRET_KEY": SECRET_KEY,
        "SHOPS_FILE": str(shops),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
        **extra,
    }
    env = tmp_path / "check.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return str(env)


BROKEN = {
    "secrets longer than RMS allows": SHOPS_TOML.replace(
        SERVICE_SECRET, SERVICE_SECRET * 3
    ).replace(LICENSE_KEY, LICENSE_KEY * 3),
    "a secret of the wrong type": SHOPS_TOML.replace(f'"{LICENSE_KEY}"', f'["{LICENSE_KEY}"]'),
    "a misspelt key holding the secret": SHOPS_TOML.replace("license_key", "licence_key"),
    "an unterminated string": SHOPS_TOML.replace(f'"{SERVICE_SECRET}"', f'"{SERVICE_SECRET}'),
    "a missing secret": SHOPS_TOML.replace(f'license_key = "{API_LICENSE_KEY}"', ""),
}


@pytest.mark.parametrize("case", ["valid", *BROKEN])
def test_bot_check_never_prints_a_secret(tmp_path, capsys, caplog, case):
    caplog.set_level(logging.DEBUG)
    extra = (
        {}
        if case == "valid"
        else {"SLACK_APP_TOKEN": "xoxb-APP-SENTINEL-not-xapp", "SECRET_KEY": "SENTINEL-short"}
    )
    env = _env(tmp_path, SHOPS_TOML if case == "valid" else BROKEN[case], **extra)
    status = bot_main(["check", "--env-file", env])
    out, err = capsys.readouterr()
    assert status == (0 if case == "valid" else 2), (out, err)
    assert (out if case == "valid" else err).strip()  # it says something either way
    said = out + err + "\n".join(r.getMessage() for r in caplog.records)
    assert leaks(f"check ({case})", said) == []


@pytest.mark.parametrize("failure", ["closed port", "no answer", "dropped connection"])
async def test_licence_check_failures_carry_no_key_even_in_their_traceback(failure):
    """GET …/expiry-date puts the key in the query string: no exception may repeat the URL."""

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(0.5)
        return web.json_response({"expiryDate": "2027-02-26T23:59:59"})

    async def drop(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    app = web.Application()
    app.router.add_get(
        LICENSE_PATH, {"no answer": slow, "dropped connection": drop}.get(failure, slow)
    )
    server = TestServer(app)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    if failure == "closed port":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = f"http://127.0.0.1:{probe.getsockname()[1]}"
    try:
        async with aiohttp.ClientSession() as session:
            client = RmsHttpClient(
                session,
                base_url=base,
                service_secret=SERVICE_SECRET,
                license_key=LICENSE_KEY,
                clock=FakeClock(),
                timeout=0.2,
                max_read_attempts=1,
            )
            with pytest.raises(RmsUnavailableError) as caught:
                await client.license_expiry()
    finally:
        await server.close()
    text = "".join(traceback.format_exception(caught.value))
    assert leaks(failure, text) == []

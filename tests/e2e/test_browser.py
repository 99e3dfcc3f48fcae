"""A person in a real browser: headless Chromium drives the Slack console against the real bot.

Needs Debian's ``chromium`` and ``fonts-noto-cjk`` and the Python ``playwright`` package; it never
lets playwright download a browser. When any of them is missing the test is *skipped* with the
reason (visible with ``pytest -rs``). Screenshots land in tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from core.model import Stage
from sandbox.demo import DemoConfig, build
from sandbox.scenario import API, MAIN
from tests.fakes import FakeClock

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT_MS = 15_000
BAD_NUMBER = "12345-2026-1"


def _why_no_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError as exc:
        return f"the Python playwright package is not installed ({exc})"
    if shutil.which("fc-list"):
        found = subprocess.run(
            ["fc-list", ":lang=ja", "family"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if not found:
            return "no Japanese font (apt-get install fonts-noto-cjk): text would render as boxes"
    return None


@pytest.fixture
async def browser():
    reason = _why_no_browser()
    if reason:
        pytest.skip(reason)
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        try:
            chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        except PlaywrightError as exc:
            pytest.skip(f"playwright cannot launch {CHROMIUM}: {str(exc).splitlines()[0]}")
        try:
            yield chromium
        finally:
            await chromium.close()


def stepped_demo(tmp_path: Path, clock: FakeClock) -> DemoConfig:
    """The demo on free ports and a clock the test moves (the jobs loop does not run)."""
    return DemoConfig(
        data_dir=tmp_path / "demo",
        slack_port=0,
        rms_port=0,
        bot_port=0,
        clock=clock,
        sim_requests_per_second=None,
    )


async def carried_out(demo) -> None:
    """The request a click or command stored is run by the worker (the jobs loop is not
    running in this test: time is a FakeClock the test moves), and its report posted."""
    for _ in range(400):  # the browser's request reaches the bot in a few ms
        if await demo.rt.worker.run_once():
            await demo.rt.deps.publisher.drain(digests=False)
            return
        await asyncio.sleep(0.025)
    raise AssertionError("no request was stored")


async def test_staff_confirm_fix_a_fee_and_see_errors_in_the_browser(tmp_path, browser):
    from playwright.async_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    clock = FakeClock()
    async with build(stepped_demo(tmp_path, clock)) as demo:
        await demo.rt.jobs.cycle()  # the first intake: flag cards and a digest per shop
        page = await browser.new_page(
            viewport={"width": 1280, "height": 1500}, locale="ja-JP", timezone_id="Asia/Tokyo"
        )
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        try:
            await page.goto(demo.console_url)
            messages = page.get_by_test_id("message")
            fee_number = demo.info.of_shop("fee_unset", MAIN)[0]
            await expect(
                messages.filter(has_text="送料未設定").filter(has_text=fee_number).first
            ).to_be_visible()
            await page.screenshot(path=ARTIFACTS / "01-digest-and-flag-cards.png")

            # /confirm one awaiting order: 楽天処理中, then RMS finishes: 楽天処理済
            number = demo.info.of_shop("normal", MAIN)[0]
            await page.get_by_test_id("message-input").fill(f"/confirm {number}")
            await page.get_by_test_id("message-send").click()
            await carried_out(demo)
            await expect(
                messages.filter(has_text=number).filter(has_text="楽天処理中").first
            ).to_be_visible()
            await page.screenshot(path=ARTIFACTS / "02-confirm-processing.png")
            clock.advance(minutes=2)  # past the simulator's processing delay and the poll time
            await demo.rt.jobs.cycle()
            await expect(
                messages.filter(has_text=number).filter(has_text="楽天処理済").first
            ).to_be_visible()
            # the API shop confirms its clean orders by itself (auto_confirm on); main only once
            main_confirmed = [n for n, _ in demo.sim.confirm_log if n.startswith(MAIN.shop_id)]
            assert main_confirmed == [number]

            # 送料を入力して承認… on a -9999 multi-package card of the API-option shop
            await page.get_by_test_id(f"channel-{API.channel}").click()
            fee_order = demo.info.of_shop("fee_unset_packages", API)[0]
            card = messages.filter(has_text=fee_order).filter(has_text="送料未設定").first
            await card.get_by_test_id("button-open_fee_modal").click()
            modal = page.get_by_test_id("modal")
            await expect(modal).to_be_visible()
            inputs = modal.locator('[data-testid^="modal-input-fee_"]')
            await expect(inputs.first).to_be_visible()
            for i in range(await inputs.count()):  # the packages whose fee is not set
                if not await inputs.nth(i).input_value():
                    await inputs.nth(i).fill("800")
            await page.screenshot(path=ARTIFACTS / "03-fee-modal.png")
            await page.get_by_test_id("modal-submit").click()  # 次へ: the new total, then 確定
            await expect(modal).to_contain_text("請求額")
            await expect(modal).to_contain_text("RMSに送料を書き込み")
            await page.screenshot(path=ARTIFACTS / "03b-fee-review.png")
            await page.get_by_test_id("modal-submit").click()
            await expect(modal).to_have_count(0)
            await carried_out(demo)
            resolved = messages.filter(has_text=fee_order).filter(has_text="反映し")
            await expect(resolved.first).to_be_visible()
            await resolved.first.scroll_into_view_if_needed()
            await page.screenshot(path=ARTIFACTS / "04-fee-resolved.png")
            fees = [p["postagePrice"] for p in demo.sim.order(fee_order)["PackageModelList"]]
            # the scenario's [-9999, 500, -9999], fixed with the fee table's proposal the modal
            # was prefilled with (関東 600 in the demo's SHOPS_FILE), or 800 where it had none
            assert fees[1] == 500 and {fees[0], fees[2]} <= {600, 800, 1200, 1500}, fees
            assert fee_order in [n for n, _ in demo.sim.confirm_log]

            # a mistyped order number is refused by name and nothing reaches RMS
            calls = len(demo.sim.calls)
            await page.get_by_test_id(f"channel-{MAIN.channel}").click()
            await page.get_by_test_id("message-input").fill(f"/confirm {BAD_NUMBER}")
            await page.get_by_test_id("message-send").click()
            error = page.get_by_test_id("ephemeral").filter(has_text=BAD_NUMBER)
            await expect(error.first).to_be_visible()
            await expect(error.first).to_contain_text("形式")
            await page.screenshot(path=ARTIFACTS / "05-bad-order-number.png")
            await asyncio.sleep(0)
            assert len(demo.sim.calls) == calls
        except Exception:
            await page.screenshot(path=ARTIFACTS / "failure.png")
            raise
        finally:
            await page.close()


async def test_a_clerks_morning_in_the_browser(tmp_path, browser):
    """Issue 12's walk: /rms help, a shop by display name, confirm all, a fee in both API-option
    modes, a fix in RMS re-fetched then confirmed with one click, and a stale approval."""
    from playwright.async_api import expect

    from tests.e2e.test_channel_experience import approve_fee

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    clock = FakeClock()
    async with build(stepped_demo(tmp_path, clock)) as demo:
        await demo.rt.jobs.cycle()
        page = await browser.new_page(
            viewport={"width": 1280, "height": 1500}, locale="ja-JP", timezone_id="Asia/Tokyo"
        )
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        messages = page.get_by_test_id("message")
        ephemerals = page.get_by_test_id("ephemeral")

        async def type_command(text: str) -> None:
            await page.get_by_test_id("message-input").fill(text)
            await page.get_by_test_id("message-send").click()

        async def card(number: str):
            return messages.filter(has_text=number).first  # a locator: found again each time

        try:
            await page.goto(demo.console_url)
            await page.get_by_test_id(f"channel-{MAIN.channel}").click()

            # /rms help lists every command, with candidates
            await type_command("/rms help")
            await expect(ephemerals.filter(has_text="/rms candidates").first).to_be_visible()
            await page.screenshot(path=ARTIFACTS / "10-help.png")

            # a shop named by its display name, from the other shop's channel
            # (the API shop confirms clean orders by itself: one it held is still awaiting)
            store = demo.rt.core.store
            api_order = (await store.numbers_in_stages(API.key, [Stage.AWAITING]))[0]
            await type_command("/rms pending API店")
            listed = ephemerals.filter(has_text=api_order).first
            await expect(listed).to_be_visible()
            await expect(listed).to_contain_text("注文から")
            await page.screenshot(path=ARTIFACTS / "11-pending-by-display-name.png")

            # no API option: record the fee, fix it in RMS, re-fetch, then one click confirms
            manual = demo.info.of_shop("fee_unset", MAIN)[0]
            manual_card = await card(manual)
            await expect(manual_card).to_contain_text("送料はRMSで修正してください")
            await manual_card.get_by_test_id("button-open_fee_modal").click()
            modal = page.get_by_test_id("modal")
            inputs = modal.locator('[data-testid^="modal-input-fee_"]')
            await expect(inputs.first).to_be_visible()
            for i in range(await inputs.count()):
                if not await inputs.nth(i).input_value():
                    await inputs.nth(i).fill("800")
            await page.get_by_test_id("modal-submit").click()
            await expect(modal).to_contain_text("請求額")
            await page.get_by_test_id("modal-submit").click()
            await expect(modal).to_have_count(0)
            await carried_out(demo)
            await expect(await card(manual)).to_contain_text("記録しました")
            for index, package in enumerate(demo.sim.order(manual)["PackageModelList"]):
                if package["postagePrice"] == -9999:
                    demo.sim.set_postage(manual, index, 800)  # the clerk fixes it in RMS
            await (await card(manual)).get_by_test_id("button-refetch_order").click()
            await carried_out(demo)
            ready = await card(manual)
            await expect(ready).to_contain_text("注文確認待ち")
            await page.screenshot(path=ARTIFACTS / "12-fixed-in-rms-ready.png")
            await ready.get_by_test_id("button-confirm_order").click()  # the dialog is accepted
            await carried_out(demo)
            await expect(await card(manual)).to_contain_text("楽天処理中")
            # once, and the only order of its shop confirmed (the API shop confirms by itself)
            main_shop = [n for n, _ in demo.sim.confirm_log if n.startswith(MAIN.shop_id)]
            assert main_shop == [manual]
            await page.screenshot(path=ARTIFACTS / "13-one-click-confirm.png")

            # confirm all, after the dialog
            await type_command("/confirm all")
            await ephemerals.get_by_test_id("button-confirm_all").first.click()
            await carried_out(demo)
            report = messages.filter(has_text="注文確認通知の結果").first
            await expect(report).to_be_visible()
            await page.screenshot(path=ARTIFACTS / "14-confirm-all.png")
            assert len(demo.sim.confirm_log) > 5

            # API option: the bot writes the fee and confirms; the card says so
            await page.get_by_test_id(f"channel-{API.channel}").click()
            written, stale = demo.info.of_shop("fee_unset", API)[:2]
            api_card = await card(written)
            await api_card.get_by_test_id("button-open_fee_modal").click()
            await expect(inputs.first).to_be_visible()
            await inputs.first.fill("800")
            await page.get_by_test_id("modal-submit").click()
            await expect(modal).to_contain_text("RMSに送料を書き込み")
            await page.get_by_test_id("modal-submit").click()
            await expect(modal).to_have_count(0)
            await carried_out(demo)
            done = await card(written)
            await expect(done).to_contain_text("楽天処理中")
            await expect(done).to_contain_text("田中")
            await page.screenshot(path=ARTIFACTS / "15-api-fee-written.png")

            # a stale approval: 佐藤 approves while 田中's form is open
            await (await card(stale)).get_by_test_id("button-open_fee_modal").click()
            await expect(inputs.first).to_be_visible()
            await inputs.first.fill("700")
            await approve_fee(_Seat(demo), API.channel, API.key, stale, "900", user="U0SATO")
            await page.get_by_test_id("modal-submit").click()
            await expect(modal).to_contain_text("請求額")
            await page.get_by_test_id("modal-submit").click()
            await carried_out(demo)
            told = ephemerals.filter(has_text="反映していません").first
            await expect(told).to_be_visible()
            await expect(told).to_contain_text("900円")
            await expect(told).to_contain_text("700円")
            await page.screenshot(path=ARTIFACTS / "16-stale-approval.png")
        except Exception:
            await page.screenshot(path=ARTIFACTS / "failure-morning.png")
            raise
        finally:
            await page.close()


class _Seat:
    """Another person at the emulator's API (not the browser), for tests.e2e helpers."""

    def __init__(self, demo) -> None:
        self.slack = demo.slack
        self._demo = demo

    async def settle(self) -> None:
        await carried_out(self._demo)

"""Auto-confirm settings: SHOPS_FILE tables and AUTO_CONFIRM, with a clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import validate_settings
from core.auto import AutoMode
from core.holds import HoldRules

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
SHOP = """
[shops.main]
service_secret = "SP-1"
license_key = "SL-1"
channel = "C0MAIN"
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def load(tmp_path: Path, extra: str):
    path = tmp_path / "shops.toml"
    path.write_text(SHOP + extra, encoding="utf-8")
    return validate_settings(env_file=None, environ={**BASE, "SHOPS_FILE": str(path)})


def test_auto_confirm_is_off_by_default_with_every_hold_rule_on(tmp_path: Path) -> None:
    settings, problems = load(tmp_path, "")
    assert problems == [] and settings is not None
    auto = settings.shops()[0].automation()
    assert auto.mode is AutoMode.OFF and auto.holds == HoldRules() and auto.fees is None


def test_the_example_tables_are_read(tmp_path: Path) -> None:
    settings, problems = load(
        tmp_path,
        'auto_confirm = "dry-run"\nauto_fee = true\n'
        '[shops.main.holds]\ncod_over = 10000\nitems = ["tea"]\nremarks_keywords = ["至急"]\n'
        '[shops.main.fees]\nby_region = { "関東" = 600 }\ndefault = 800\nremote_island = 1000\n'
        "[shops.main.watchdog]\nheld_percent = 30\n",
    )
    assert problems == [] and settings is not None
    auto = settings.shops()[0].automation()
    assert auto.mode is AutoMode.DRY_RUN and auto.auto_fee
    assert auto.holds.cod_over == 10_000 and auto.holds.items == ("tea",)
    assert auto.fees is not None and auto.fees.by_region == {"関東": 600}
    assert auto.watchdog.held_percent == 30


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('auto_confirm = "sometimes"\n', "auto_confirm"),
        ('[shops.main.fees]\nby_region = { "火星" = 1 }\n', "unknown region 火星"),
        ("[shops.main.holds]\ncod_over = -1\n", "holds.cod_over"),
        ("[shops.main.holds]\nfee_unset = false\n", "holds.fee_unset"),
    ],
)
def test_a_mistake_is_one_line_naming_it(tmp_path: Path, extra: str, named: str) -> None:
    settings, problems = load(tmp_path, extra)
    assert settings is None
    assert len(problems) == 1 and named in problems[0], problems


def test_single_shop_auto_confirm_from_the_environment() -> None:
    env = {**BASE, "RMS_SERVICE_SECRET": "SP-1", "RMS_LICENSE_KEY": "SL-1"}
    settings, problems = validate_settings(
        env_file=None, environ={**env, "SLACK_CHANNEL": "C0MAIN", "AUTO_CONFIRM": "on"}
    )
    assert problems == [] and settings is not None
    assert settings.shops()[0].automation().mode is AutoMode.ON
    _, bad = validate_settings(
        env_file=None, environ={**env, "SLACK_CHANNEL": "C0MAIN", "AUTO_CONFIRM": "yes"}
    )
    assert len(bad) == 1 and "AUTO_CONFIRM" in bad[0], bad

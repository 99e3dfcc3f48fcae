"""Settings: defaults, one shop or many, and one clear line per problem without secrets."""

from __future__ import annotations

import sys
from datetime import time
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from bot.__main__ import main
from bot.settings import Settings, SettingsError, ShopSettings, validate_settings
from core.model import ShopConfig

SERVICE_SECRET = "SP-SECRET-SENTINEL-123"
LICENSE_KEY = "SL-SECRET-SENTINEL-456"
BOT_TOKEN = "xoxb-SECRET-SENTINEL-789"
SIGNING_SECRET = "SIGNING-SECRET-SENTINEL-000"
SENTINELS = ("SENTINEL", SERVICE_SECRET, LICENSE_KEY, BOT_TOKEN, SIGNING_SECRET)

SIGNING_MISSING = (
    "SLACK_SIGNING_SECRET is missing (needed in HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)"
)
EMPTY_ENVIRONMENT_PROBLEMS = [
    "SLACK_BOT_TOKEN is missing",
    SIGNING_MISSING,
    'RMS_SERVICE_SECRET is missing for shop "main"',
    'RMS_LICENSE_KEY is missing for shop "main"',
    'SLACK_CHANNEL is missing for shop "main"',
]
CHANNEL_HINT = "is not a Slack channel ID (C… or G…, see the channel details)"

COMPLETE = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "RMS_SERVICE_SECRET": SERVICE_SECRET,
    "RMS_LICENSE_KEY": LICENSE_KEY,
    "SLACK_CHANNEL": "C0ORDERS1",
}

TWO_SHOPS = f"""
[shops.main]
name = "本店"
service_secret = "{SERVICE_SECRET}"
license_key = "{LICENSE_KEY}"
api_option = true
channel = "C0MAIN001"

[shops.second]
service_secret = "SP-SECOND-SENTINEL"
license_key = "SL-SECOND-SENTINEL"
channel = "C0SECOND1"
acquisition_progress = 300
days_back = 30
requests_per_second = 0.5
"""


@pytest.fixture(autouse=True)
def _no_settings_in_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer .env (we run in tmp_path) and no setting from the real environment."""
    monkeypatch.chdir(tmp_path)
    for env in Settings.env_names().values():
        monkeypatch.delenv(env, raising=False)


def check(**env: str) -> list[str]:
    """The problems of an environment, asserting that no secret leaks into them."""
    settings, problems = validate_settings(env_file=None, environ=env)
    assert (settings is None) == bool(problems)
    for line in problems:
        assert "\n" not in line
        for secret in SENTINELS:
            assert secret not in line, line
    return problems


def settings_from(**env: str) -> Settings:
    settings, problems = validate_settings(env_file=None, environ=env)
    assert problems == []
    assert settings is not None
    return settings


def test_defaults_follow_the_design() -> None:
    settings = Settings(_env_file=None, slack_bot_token=SecretStr(BOT_TOKEN))
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.port == 3000
    assert settings.rms_base_url == "https://api.rms.rakuten.co.jp"
    assert settings.rms_shop_name == "main"
    assert settings.rms_api_option is False
    assert settings.shops_file is None
    assert settings.database_url == "sqlite:///data/rms-bot.sqlite3"
    assert settings.database_path() == Path("data/rms-bot.sqlite3")
    assert settings.poll_interval_seconds == 300
    assert settings.summary_time() == time(18, 0)
    assert settings.tz() == ZoneInfo("Asia/Tokyo")
    assert settings.summary_channel is None
    assert settings.confirmers == ()
    assert settings.admins == ()
    assert settings.language == "ja"
    assert settings.rms_requests_per_second == 1.0
    assert settings.secret_key is None
    assert settings.stuck_after_hours == 2
    assert settings.log_level == "INFO"
    assert settings.socket_mode is False


def test_single_shop_comes_from_the_rms_keys_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {**COMPLETE, "RMS_SHOP_NAME": "honten", "RMS_API_OPTION": "true"}.items():
        monkeypatch.setenv(key, value)
    settings, problems = validate_settings(env_file=None)
    assert problems == []
    assert settings is not None
    [shop] = settings.shops()
    assert (shop.key, shop.name, shop.channel, shop.api_option) == (
        "honten",
        "honten",
        "C0ORDERS1",
        True,
    )
    assert shop.service_secret.get_secret_value() == SERVICE_SECRET
    assert shop.license_key.get_secret_value() == LICENSE_KEY
    assert (shop.acquisition_progress, shop.days_back, shop.requests_per_second) == (100, 14, None)
    assert [s.config() for s in settings.shops()] == [
        ShopConfig(key="honten", name="honten", channel="C0ORDERS1", api_option=True)
    ]


def test_the_env_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lines = [f"{key}={value}" for key, value in COMPLETE.items()]
    (tmp_path / "custom.env").write_text("\n".join([*lines, "PORT=8080", "UNRELATED=1"]) + "\n")
    monkeypatch.setenv("PORT", "9090")
    settings, problems = validate_settings(env_file=str(tmp_path / "custom.env"))
    assert problems == []
    assert settings is not None
    assert settings.port == 9090
    assert settings.slack_channel == "C0ORDERS1"


def test_a_given_environ_replaces_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not a number")
    assert settings_from(**COMPLETE).port == 3000


def test_pasted_whitespace_is_trimmed_and_blank_means_unset() -> None:
    settings = settings_from(**{**COMPLETE, "RMS_LICENSE_KEY": f"  {LICENSE_KEY}\n"})
    assert settings.shops()[0].license_key.get_secret_value() == LICENSE_KEY
    assert check(**{**COMPLETE, "SLACK_BOT_TOKEN": "   "}) == ["SLACK_BOT_TOKEN is missing"]


def test_shops_file_with_two_shops(tmp_path: Path) -> None:
    (tmp_path / "shops.toml").write_text(TWO_SHOPS, encoding="utf-8")
    settings = settings_from(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SHOPS_FILE="shops.toml"
    )
    main_shop, second = settings.shops()
    assert (main_shop.key, main_shop.name, main_shop.api_option) == ("main", "本店", True)
    assert (second.key, second.name, second.api_option) == ("second", "second", False)
    assert (second.acquisition_progress, second.days_back) == (300, 30)
    assert second.requests_per_second == 0.5
    assert second.license_key.get_secret_value() == "SL-SECOND-SENTINEL"
    assert [c.channel for c in (s.config() for s in settings.shops())] == ["C0MAIN001", "C0SECOND1"]
    assert (
        settings.describe() == "configuration OK: 2 shop(s) [main, second], HTTP mode on port 3000"
    )


def test_socket_mode_needs_no_signing_secret() -> None:
    settings = settings_from(
        **{**COMPLETE, "SLACK_SIGNING_SECRET": "", "SLACK_APP_TOKEN": "xapp-SENTINEL-1"}
    )
    assert settings.socket_mode is True
    assert settings.describe() == "configuration OK: 1 shop(s) [main], Socket Mode"


def test_an_empty_environment_names_every_missing_key() -> None:
    assert check() == EMPTY_ENVIRONMENT_PROBLEMS


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"TIMEZONE": "Mars/Olympus"}, 'TIMEZONE "Mars/Olympus" is not a known time zone'),
        ({"DAILY_SUMMARY_AT": "25:00"}, 'DAILY_SUMMARY_AT "25:00" is not a time of day (HH:MM)'),
        ({"DAILY_SUMMARY_AT": "6pm"}, 'DAILY_SUMMARY_AT "6pm" is not a time of day (HH:MM)'),
        ({"POLL_INTERVAL_SECONDS": "-5"}, "POLL_INTERVAL_SECONDS must be greater than 0 (got -5)"),
        (
            {"POLL_INTERVAL_SECONDS": "often"},
            'POLL_INTERVAL_SECONDS must be a number (got "often")',
        ),
        (
            {"RMS_REQUESTS_PER_SECOND": "0"},
            "RMS_REQUESTS_PER_SECOND must be greater than 0 (got 0)",
        ),
        ({"STUCK_AFTER_HOURS": "0"}, "STUCK_AFTER_HOURS must be greater than 0 (got 0)"),
        ({"PORT": "http"}, 'PORT must be a whole number (got "http")'),
        ({"PORT": "70000"}, "PORT must be at most 65535 (got 70000)"),
        (
            {"CONFIRMERS": "U0123ABC, bob"},
            'CONFIRMERS: "bob" is not a Slack user ID (U…/W…) or user-group ID (S…)',
        ),
        (
            {"ADMINS": "@alice"},
            'ADMINS: "@alice" is not a Slack user ID (U…/W…) or user-group ID (S…)',
        ),
        ({"LANGUAGE": "fr"}, 'LANGUAGE must be ja or en (got "fr")'),
        ({"RMS_API_OPTION": "maybe"}, 'RMS_API_OPTION must be true or false (got "maybe")'),
        (
            {"LOG_LEVEL": "LOUD"},
            'LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got "LOUD")',
        ),
        ({"SLACK_API_URL": "slack.com/api"}, 'SLACK_API_URL "slack.com/api" is not an http(s) URL'),
        ({"RMS_BASE_URL": "ftp://rms"}, 'RMS_BASE_URL "ftp://rms" is not an http(s) URL'),
        (
            {"SUMMARY_CHANNEL": "#managers"},
            f'SUMMARY_CHANNEL "#managers" {CHANNEL_HINT}',
        ),
        (
            {"SLACK_CHANNEL": "#orders"},
            f'SLACK_CHANNEL "#orders" {CHANNEL_HINT}',
        ),
        ({"SECRET_KEY": "SENTINEL-short"}, "SECRET_KEY must be at least 16 characters when set"),
        (
            {"RMS_LICENSE_KEY": "SL-SECRET-SENTINEL-" + "x" * 40},
            "RMS_LICENSE_KEY is longer than 50 characters (the RMS limit)",
        ),
        (
            {"RMS_SERVICE_SECRET": "SP-SECRET-SENTINEL-" + "x" * 40},
            "RMS_SERVICE_SECRET is longer than 50 characters (the RMS limit)",
        ),
        (
            {"RMS_SHOP_NAME": "my shop"},
            'RMS_SHOP_NAME "my shop" must be one word (it names the shop in commands)',
        ),
        (
            {"SLACK_APP_TOKEN": "xoxb-SENTINEL-wrong"},
            "SLACK_APP_TOKEN must be an app-level token starting with xapp-",
        ),
        (
            {"SLACK_BOT_TOKEN": "xapp-SENTINEL-wrong"},
            "SLACK_BOT_TOKEN is an app-level token (xapp-…); use the bot token",
        ),
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN is missing"),
        (
            {"SLACK_SIGNING_SECRET": ""},
            SIGNING_MISSING,
        ),
        ({"RMS_LICENSE_KEY": ""}, 'RMS_LICENSE_KEY is missing for shop "main"'),
        ({"RMS_SERVICE_SECRET": ""}, 'RMS_SERVICE_SECRET is missing for shop "main"'),
        ({"SLACK_CHANNEL": ""}, 'SLACK_CHANNEL is missing for shop "main"'),
        (
            {"DATABASE_URL": "mysql://bot:SENTINEL@db/rms"},
            "DATABASE_URL must be sqlite:///path (e.g. sqlite:///data/rms-bot.sqlite3, "
            "sqlite:///:memory:) or postgresql://user:password@host:port/database "
            '(got scheme "mysql")',
        ),
        (
            {"DATABASE_URL": "postgresql://"},
            "DATABASE_URL has no host or database after postgresql://",
        ),
        ({"DATABASE_URL": "sqlite:///"}, "DATABASE_URL has no file path after sqlite:///"),
    ],
)
def test_each_problem_is_one_line_naming_the_key(changes: dict[str, str], expected: str) -> None:
    assert check(**{**COMPLETE, **changes}) == [expected]


def test_every_problem_is_reported_at_once_and_invalid_keys_are_not_also_missing() -> None:
    problems = check(
        SLACK_CHANNEL="#orders",
        TIMEZONE="Mars/Olympus",
        CONFIRMERS="bob,U0OK1,carol",
        RMS_LICENSE_KEY="SL-SECRET-SENTINEL-" + "x" * 40,
    )
    assert problems == [
        "SLACK_BOT_TOKEN is missing",
        f'SLACK_CHANNEL "#orders" {CHANNEL_HINT}',
        'TIMEZONE "Mars/Olympus" is not a known time zone',
        'CONFIRMERS: "bob" is not a Slack user ID (U…/W…) or user-group ID (S…)',
        'CONFIRMERS: "carol" is not a Slack user ID (U…/W…) or user-group ID (S…)',
        SIGNING_MISSING,
        'RMS_SERVICE_SECRET is missing for shop "main"',
        "RMS_LICENSE_KEY is longer than 50 characters (the RMS limit)",
    ]


def test_people_ids_split_on_commas_and_spaces() -> None:
    settings = settings_from(**COMPLETE, CONFIRMERS="U0AAA1, W0BBB2  S0CCC3,", ADMINS=" U0AAA1 ")
    assert settings.confirmers == ("U0AAA1", "W0BBB2", "S0CCC3")
    assert settings.admins == ("U0AAA1",)


def test_language_and_log_level_are_normalised() -> None:
    settings = settings_from(**COMPLETE, LANGUAGE="EN", LOG_LEVEL="debug")
    assert (settings.language, settings.log_level) == ("en", "DEBUG")


def shops_problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "shops.toml").write_text(text, encoding="utf-8")
    return check(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SHOPS_FILE="shops.toml"
    )


def test_shops_file_names_the_shop_and_the_missing_field(tmp_path: Path) -> None:
    text = TWO_SHOPS.replace('license_key = "SL-SECOND-SENTINEL"\n', "")
    assert shops_problems(tmp_path, text) == [
        'SHOPS_FILE shops.toml: shop "second": license_key is missing'
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("days_back = 30", "days_back = 999", "days_back must be at most 730 (got 999)"),
        ("days_back = 30", "days_back = 0", "days_back must be at least 1 (got 0)"),
        (
            "acquisition_progress = 300",
            "acquisition_progress = 150",
            "acquisition_progress must be an RMS orderProgress 100, 200, … 900 "
            "(100 = 注文確認待ち) (got 150)",
        ),
        ("days_back = 30", "lisence_key = 'SL-SENTINEL'", "lisence_key is not a known setting"),
        (
            'license_key = "SL-SECOND-SENTINEL"',
            f'license_key = "SL-SECOND-SENTINEL{"x" * 40}"',
            "license_key is longer than 50 characters (the RMS limit)",
        ),
        (
            'service_secret = "SP-SECOND-SENTINEL"',
            "service_secret = 12345",
            "service_secret is not valid: input should be a valid string",
        ),
        ('channel = "C0SECOND1"', 'channel = "general"', 'channel "general" is not a Slack'),
    ],
)
def test_shops_file_field_problems(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in TWO_SHOPS
    [line] = shops_problems(tmp_path, TWO_SHOPS.replace(old, new))
    assert line.startswith(f'SHOPS_FILE shops.toml: shop "second": {expected}')


def test_shops_file_that_does_not_exist() -> None:
    assert check(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET="s", SHOPS_FILE="nope.toml") == [
        "SHOPS_FILE does not exist: nope.toml"
    ]


def test_shops_file_syntax_error_gives_the_line(tmp_path: Path) -> None:
    [line] = shops_problems(tmp_path, '[shops.main]\nchannel = "C0MAIN001"\nlicense_key SENTINEL\n')
    assert line.startswith("SHOPS_FILE shops.toml: TOML syntax error: ")
    assert "line 3" in line


def test_shops_file_without_shops(tmp_path: Path) -> None:
    assert shops_problems(tmp_path, 'shop = "main"\n') == [
        'SHOPS_FILE shops.toml: unknown top-level key "shop" (each shop is a [shops.<key>] table)',
        "SHOPS_FILE shops.toml: no shops (add one [shops.<key>] table per shop)",
    ]


def test_single_shop_keys_are_refused_next_to_a_shops_file(tmp_path: Path) -> None:
    (tmp_path / "shops.toml").write_text(TWO_SHOPS, encoding="utf-8")
    assert check(**COMPLETE, SHOPS_FILE="shops.toml") == [
        f"{key} is set but SHOPS_FILE is used; move it into SHOPS_FILE and unset it"
        for key in ("RMS_SERVICE_SECRET", "RMS_LICENSE_KEY", "SLACK_CHANNEL")
    ]


def test_shops_raises_every_problem_and_no_secret() -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token=SecretStr(BOT_TOKEN),
        rms_license_key=SecretStr(LICENSE_KEY),
    )
    with pytest.raises(SettingsError) as caught:
        settings.shops()
    assert caught.value.problems == [
        'RMS_SERVICE_SECRET is missing for shop "main"',
        'SLACK_CHANNEL is missing for shop "main"',
    ]
    assert LICENSE_KEY not in str(caught.value)


def test_secrets_never_appear_in_the_settings_repr() -> None:
    settings = settings_from(**COMPLETE)
    text = f"{settings!r} {settings} {settings.shops()!r}"
    for secret in SENTINELS[1:]:
        assert secret not in text


def test_shop_name_defaults_to_its_key() -> None:
    shop = ShopSettings(
        key="east",
        service_secret=SecretStr("a"),
        license_key=SecretStr("b"),
        channel="C0EAST001",
    )
    assert shop.name == "east"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///data/rms-bot.sqlite3", Path("data/rms-bot.sqlite3")),
        ("sqlite:////var/lib/rms-bot/db.sqlite3", Path("/var/lib/rms-bot/db.sqlite3")),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite:///bot.db?mode=rwc", Path("bot.db")),
        ("data/plain.sqlite3", Path("data/plain.sqlite3")),
    ],
)
def test_database_path_parses_sqlite_urls(url: str, path: Path | str) -> None:
    assert settings_from(**COMPLETE, DATABASE_URL=url).database_path() == path
    assert settings_from(**COMPLETE, DATABASE_URL=url).store_target() == path


@pytest.mark.parametrize(
    "url",
    ["postgresql://bot:pw@db.example:5432/rms", "postgres://bot@127.0.0.1/rms?sslmode=require"],
)
def test_a_postgresql_url_is_opened_as_is(url: str) -> None:
    settings = settings_from(**COMPLETE, DATABASE_URL=url)
    assert settings.is_postgres and settings.store_target() == url
    with pytest.raises(ValueError, match="PostgreSQL"):
        settings.database_path()


def test_summary_time_and_time_zone() -> None:
    settings = settings_from(**COMPLETE, DAILY_SUMMARY_AT="7:05", TIMEZONE="UTC")
    assert settings.summary_time() == time(7, 5)
    assert settings.tz() == ZoneInfo("UTC")


NO_SLACK = "http://127.0.0.1:9/api/"  # nothing listens there: check says Slack is unreachable


def test_check_with_an_empty_environment_exits_2_naming_each_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == EMPTY_ENVIRONMENT_PROBLEMS


def test_check_with_a_complete_environment_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in COMPLETE.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SLACK_API_URL", NO_SLACK)
    assert main(["check"]) == 0
    out, err = capsys.readouterr()
    first, slack = out.splitlines()
    assert first == "configuration OK: 1 shop(s) [main], HTTP mode on port 3000"
    assert slack.startswith(f"Slack not reachable at {NO_SLACK}")
    assert err.startswith("warning: CONFIRMERS is empty")  # nobody named: said, not refused
    assert all(line.startswith("warning: ") for line in err.splitlines())


def test_check_reads_the_named_env_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "shops.toml").write_text(TWO_SHOPS, encoding="utf-8")
    (tmp_path / "prod.env").write_text(
        f"SLACK_BOT_TOKEN={BOT_TOKEN}\nSLACK_APP_TOKEN=xapp-SENTINEL\nSHOPS_FILE=shops.toml\n"
        f"SLACK_API_URL={NO_SLACK}\n"
    )
    assert main(["check", "--env-file", "prod.env"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "configuration OK: 2 shop(s) [main, second], Socket Mode"
    assert out[1].startswith(f"Slack not reachable at {NO_SLACK}")


def test_serve_refuses_to_start_with_problems(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "SLACK_BOT_TOKEN is missing" in capsys.readouterr().err


def test_a_blank_secret_in_the_shops_file_is_missing(tmp_path: Path) -> None:
    text = TWO_SHOPS.replace('"SL-SECOND-SENTINEL"', '"   "')
    assert shops_problems(tmp_path, text) == [
        'SHOPS_FILE shops.toml: shop "second": license_key is missing'
    ]


def test_serve_hands_the_settings_to_the_wiring(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in COMPLETE.items():
        monkeypatch.setenv(key, value)
    served: list[Settings] = []

    async def serve(settings: Settings) -> None:
        served.append(settings)

    monkeypatch.setitem(sys.modules, "bot.wiring", SimpleNamespace(serve=serve))
    assert main(["serve"]) == 0
    [settings] = served
    assert settings.shops()[0].license_key.get_secret_value() == LICENSE_KEY


def test_demo_runs_the_sandbox_without_reading_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setitem(
        sys.modules, "sandbox.demo", SimpleNamespace(main=lambda: calls.append("demo"))
    )
    assert main(["demo"]) == 0
    assert calls == ["demo"]

"""Settings: every environment key (README "Configuration"), one clear line per problem."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from bot.auto_settings import (
    AutoConfirm,
    FeeSettings,
    HoldSettings,
    WatchdogSettings,
    auto_mode,
    automation,
)
from core.auto import AutoConfig
from core.lifecycle import DEFAULT_MAX_POSTAGE_YEN
from core.model import ShopConfig

RMS_SECRET_MAX_CHARS = 50
"""RMS accepts serviceSecret and licenseKey of at most 50 characters each."""

SECRET_KEY_MIN_CHARS = 16
_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")
_MEMORY = ":memory:"
_PEOPLE_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_SHOP_KEY = re.compile(r"^\S{1,64}$")
_TIME_OF_DAY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_PROGRESS_CODES = tuple(range(100, 1000, 100))
_SINGLE_SHOP_ENV = {
    "key": "RMS_SHOP_NAME",
    "name": "RMS_SHOP_NAME",
    "service_secret": "RMS_SERVICE_SECRET",
    "license_key": "RMS_LICENSE_KEY",
    "api_option": "RMS_API_OPTION",
    "channel": "SLACK_CHANNEL",
    "auto_confirm": "AUTO_CONFIRM",
}


class SettingsError(ValueError):
    """The configuration is unusable; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class _ManyValuesError(ValueError):
    """Several findings of one validator, e.g. two bad IDs in CONFIRMERS (one line each)."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = tuple(lines)


def _stripped(value: Any) -> Any:
    """Trim pasted whitespace (a trailing newline breaks the ESA header); blank means unset."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _required(value: Any) -> Any:
    value = _stripped(value)
    if value is None:
        raise ValueError("is missing")
    return value


def _channel_id(value: str) -> str:
    if not _CHANNEL_ID.match(value):
        raise ValueError(f'"{value}" is not a Slack channel ID (C… or G…, see the channel details)')
    return value


def _one_word(value: str) -> str:
    if not _SHOP_KEY.match(value):
        raise ValueError(f'"{value}" must be one word (it names the shop in commands)')
    return value


def _rms_secret(value: SecretStr) -> SecretStr:
    if len(value.get_secret_value()) > RMS_SECRET_MAX_CHARS:
        raise ValueError(f"is longer than {RMS_SECRET_MAX_CHARS} characters (the RMS limit)")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f'"{value}" is not an http(s) URL')
    return value


def _time_of_day(value: str) -> str:
    if not _TIME_OF_DAY.match(value):
        raise ValueError(f'"{value}" is not a time of day (HH:MM)')
    return value


def _order_url(value: str) -> str:
    """RMS_ORDER_URL: empty (no link), or an http(s) URL with {order_number} in it."""
    if value and (not value.startswith(("https://", "http://")) or "{order_number}" not in value):
        raise ValueError("must be an http(s) URL containing {order_number}")
    return value


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f'"{value}" is not a known time zone') from None
    return value


def _log_level(value: str) -> str:
    if value.upper() not in _LOG_LEVELS:
        raise ValueError(f'must be one of {", ".join(_LOG_LEVELS)} (got "{value}")')
    return value.upper()


def _secret_key(value: SecretStr) -> SecretStr:
    if len(value.get_secret_value()) < SECRET_KEY_MIN_CHARS:
        raise ValueError(f"must be at least {SECRET_KEY_MIN_CHARS} characters when set")
    return value


def _people_ids(value: Any) -> Any:
    """User and user-group IDs from "U1, S2" or a list; each bad one named on its own line."""
    tokens = re.split(r"[,\s]+", value.strip()) if isinstance(value, str) else value
    if not isinstance(tokens, list | tuple):
        return value  # pydantic reports the wrong type
    tokens = tuple(str(t) for t in tokens if t)
    bad = [t for t in tokens if not _PEOPLE_ID.match(t)]
    if bad:
        raise _ManyValuesError(
            [f'"{t}" is not a Slack user ID (U…/W…) or user-group ID (S…)' for t in bad]
        )
    return tokens


_Trim = BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v)
ChannelId = Annotated[str, _Trim, AfterValidator(_channel_id)]
RmsSecret = Annotated[SecretStr, BeforeValidator(_required), AfterValidator(_rms_secret)]
ShopPeople = Annotated[tuple[str, ...], BeforeValidator(_people_ids)]


class ShopSettings(BaseModel):
    """One Rakuten shop: a ``[shops.<key>]`` table of SHOPS_FILE, or the RMS_* single-shop keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    key: Annotated[str, _Trim, AfterValidator(_one_word)]
    name: str = Field("", validate_default=True)
    service_secret: RmsSecret
    license_key: RmsSecret
    api_option: bool = False
    channel: Annotated[ChannelId, BeforeValidator(_required)]
    acquisition_progress: int = 100
    days_back: int = Field(14, ge=1, le=730)
    requests_per_second: float | None = Field(None, gt=0)
    confirmers: ShopPeople | None = None  # overrides CONFIRMERS for this shop
    admins: ShopPeople | None = None  # overrides ADMINS for this shop
    auto_confirm: Annotated[AutoConfirm, BeforeValidator(auto_mode)] = "off"
    auto_fee: bool = False  # write the fee table's proposal (API option and auto_confirm on)
    holds: HoldSettings | None = None
    fees: FeeSettings | None = None
    watchdog: WatchdogSettings | None = None

    @field_validator("name")
    @classmethod
    def _name_defaults_to_key(cls, value: str, info: ValidationInfo) -> str:
        return value.strip() or str(info.data.get("key", ""))

    @field_validator("confirmers", "admins")
    @classmethod
    def _set_means_someone(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # an empty list would silently mean everyone (confirmers) or nobody (admins)
        if not value:
            raise ValueError(
                f"is empty (remove it to use {str(info.field_name).upper()}, "
                "or list user or user-group IDs)"
            )
        return value

    @field_validator("acquisition_progress")
    @classmethod
    def _progress_code(cls, value: int) -> int:
        if value not in _PROGRESS_CODES:
            raise ValueError(
                f"must be an RMS orderProgress 100, 200, … 900 (100 = 注文確認待ち) (got {value})"
            )
        return value

    def config(self) -> ShopConfig:
        """What the core may know about this shop (no credentials)."""
        return ShopConfig(
            key=self.key,
            name=self.name,
            channel=self.channel,
            api_option=self.api_option,
            acquisition_progress=self.acquisition_progress,
            days_back=self.days_back,
        )

    def automation(self) -> AutoConfig:
        """This shop's auto-confirm mode, hold rules, fee table and watchdog."""
        return automation(self.auto_confirm, self.auto_fee, self.holds, self.fees, self.watchdog)


PeopleIds = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings):
    """Every setting (README "Configuration"); the env name of a field is its name in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        env_ignore_empty=True,
        hide_input_in_errors=True,
    )

    # Slack
    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: Annotated[str, _Trim, AfterValidator(_http_url)] = "https://slack.com/api/"
    port: int = Field(3000, ge=0, le=65535)
    # RMS, one shop
    rms_base_url: Annotated[str, _Trim, AfterValidator(_http_url)] = "https://api.rms.rakuten.co.jp"
    rms_service_secret: SecretStr | None = None
    rms_license_key: SecretStr | None = None
    rms_shop_name: str = "main"
    rms_api_option: bool = False
    slack_channel: ChannelId | None = None
    auto_confirm: Annotated[AutoConfirm, BeforeValidator(auto_mode)] = "off"
    # RMS, many shops
    shops_file: Path | None = None
    # storage
    database_url: str = "sqlite:///data/rms-bot.sqlite3"
    # schedule
    poll_interval_seconds: float = Field(300, gt=0)
    daily_summary_at: Annotated[str, _Trim, AfterValidator(_time_of_day)] = "18:00"
    timezone: Annotated[str, _Trim, AfterValidator(_known_zone)] = "Asia/Tokyo"
    summary_channel: ChannelId | None = None
    stuck_after_hours: float = Field(2, gt=0)
    retention_days: int = Field(90, ge=1)
    max_postage_yen: int = Field(DEFAULT_MAX_POSTAGE_YEN, ge=0, le=999_999_999)
    bundle_window_hours: float = Field(48, gt=0)
    # people
    confirmers: PeopleIds = ()
    admins: PeopleIds = ()
    # language
    language: Literal["ja", "en"] = "ja"
    rms_order_url: Annotated[str, _Trim, AfterValidator(_order_url)] = ""
    # tuning and operations
    rms_requests_per_second: float = Field(1.0, gt=0)
    secret_key: Annotated[SecretStr, AfterValidator(_secret_key)] | None = None
    log_level: Annotated[str, _Trim, AfterValidator(_log_level)] = "INFO"
    # replicas and operations
    leader_lease_seconds: float = Field(20, ge=1, le=300)
    metrics: bool = False
    sqlite_on_volume: bool = False

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "rms_service_secret",
        "rms_license_key",
        "secret_key",
        "slack_channel",
        "summary_channel",
        mode="before",
    )
    @classmethod
    def _strip(cls, value: Any, info: ValidationInfo) -> Any:
        value = _stripped(value)
        if value is None and info.field_name == "slack_bot_token":
            raise ValueError("is missing")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _slack_url(cls, value: str) -> str:
        return value.rstrip("/") + "/"  # slack_sdk appends method names to it

    @field_validator("rms_base_url")
    @classmethod
    def _rms_url(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        value = value.strip()
        if value.startswith(_POSTGRES):
            if not value.split("://", 1)[1].strip("/"):
                raise ValueError("has no host or database after postgresql://")
            return value
        if "://" not in value and value:  # a plain path: a SQLite file
            return _SQLITE + value
        if not value.startswith(_SQLITE):
            # only the scheme is echoed: the rest of a URL may carry a password
            scheme = f'"{value.split(":", 1)[0]}"' if ":" in value else "none"
            raise ValueError(
                "must be sqlite:///path (e.g. sqlite:///data/rms-bot.sqlite3, sqlite:///:memory:) "
                f"or postgresql://user:password@host:port/database (got scheme {scheme})"
            )
        if not value[len(_SQLITE) :].split("?", 1)[0]:
            raise ValueError("has no file path after sqlite:///")
        return value

    @field_validator("confirmers", "admins", mode="before")
    @classmethod
    def _people(cls, value: Any) -> Any:
        return _people_ids(value)

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> Any:
        code = value.strip().lower() if isinstance(value, str) else value
        if code not in ("ja", "en"):
            hint = "; a system locale sets LANGUAGE too: override it" if "_" in str(value) else ""
            raise ValueError(f'must be ja or en (got "{value}"{hint})')
        return code

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Field name → environment variable name, for every setting."""
        return {name: (f.alias or name).upper() for name, f in cls.model_fields.items()}

    @property
    def socket_mode(self) -> bool:
        """True when SLACK_APP_TOKEN is set: connect out over Socket Mode instead of HTTP."""
        return self.slack_app_token is not None

    def database_path(self) -> Path | str:
        """The SQLite file of DATABASE_URL, or ``":memory:"`` (only for a SQLite URL)."""
        if self.is_postgres:
            raise ValueError("DATABASE_URL names a PostgreSQL database, not a SQLite file")
        rest = self.database_url[len(_SQLITE) :].split("?", 1)[0]
        return _MEMORY if rest == _MEMORY else Path(rest)

    @property
    def is_postgres(self) -> bool:
        """True when DATABASE_URL is postgresql:// or postgres://."""
        return self.database_url.startswith(_POSTGRES)

    def store_target(self) -> Path | str:
        """What the store opens: the PostgreSQL URL, or the SQLite file (or ":memory:")."""
        return self.database_url if self.is_postgres else self.database_path()

    def summary_time(self) -> time:
        """DAILY_SUMMARY_AT as a time of day (in ``tz()``)."""
        hours, minutes = self.daily_summary_at.split(":")
        return time(int(hours), int(minutes))

    def tz(self) -> ZoneInfo:
        """TIMEZONE as a ZoneInfo."""
        return ZoneInfo(self.timezone)

    def shops(self) -> list[ShopSettings]:
        """Every configured shop; raises SettingsError naming each problem."""
        shops, problems = self._load_shops()
        if problems:
            raise SettingsError(problems)
        return shops

    def problems(self) -> list[str]:
        """What the field checks cannot see: the Slack mode's secret and the shops."""
        found: list[str] = []
        if self.slack_bot_token.get_secret_value().startswith("xapp-"):
            found.append("SLACK_BOT_TOKEN is an app-level token (xapp-…); use the bot token")
        if self.slack_app_token is None and self.slack_signing_secret is None:
            found.append(
                "SLACK_SIGNING_SECRET is missing "
                "(needed in HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)"
            )
        if self.slack_app_token and not self.slack_app_token.get_secret_value().startswith("xapp-"):
            found.append("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        if self.shops_file is not None:
            found += [
                f"{env} is set but SHOPS_FILE is used; move it into SHOPS_FILE and unset it"
                for env, value in (
                    ("RMS_SERVICE_SECRET", self.rms_service_secret),
                    ("RMS_LICENSE_KEY", self.rms_license_key),
                    ("SLACK_CHANNEL", self.slack_channel),
                )
                if value is not None
            ]
        return found + self._load_shops()[1]

    def describe(self) -> str:
        """One line for ``python -m bot check`` and the start-up log (no secrets)."""
        shops = self.shops()
        mode = "Socket Mode" if self.socket_mode else f"HTTP mode on port {self.port}"
        keys = ", ".join(shop.key for shop in shops)
        return f"configuration OK: {len(shops)} shop(s) [{keys}], {mode}"

    def shop_roles(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """Each shop's (confirmers, admins): its own lists where SHOPS_FILE sets them, else
        CONFIRMERS / ADMINS."""
        return {
            shop.key: (
                self.confirmers if shop.confirmers is None else shop.confirmers,
                self.admins if shop.admins is None else shop.admins,
            )
            for shop in self.shops()
        }

    def warnings(self) -> list[str]:
        """Safe to run, but worth saying: who may act because nobody was named (no secrets)."""
        roles = self.shop_roles()
        open_shops = [key for key, (confirmers, _admins) in roles.items() if not confirmers]
        no_admins = [key for key, (_confirmers, admins) in roles.items() if not admins]
        found = []
        if open_shops:
            found.append(
                "CONFIRMERS is empty: everyone in the workspace may confirm orders and write fees"
                f" (shop(s): {', '.join(open_shops)}); set CONFIRMERS or a shop's confirmers"
            )
        if no_admins:
            found.append(
                f"ADMINS is empty: nobody may renew licence keys with /rms license"
                f" (shop(s): {', '.join(no_admins)}); set ADMINS or a shop's admins"
            )
        return found

    def _load_shops(self) -> tuple[list[ShopSettings], list[str]]:
        if self.shops_file is not None:
            return _read_shops_file(self.shops_file)
        key = self.rms_shop_name.strip() or "main"
        values = {
            "key": key,
            "service_secret": self.rms_service_secret,
            "license_key": self.rms_license_key,
            "api_option": self.rms_api_option,
            "channel": self.slack_channel,
            "auto_confirm": self.auto_confirm,
        }
        try:
            shop = ShopSettings.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            return [], [
                f"{_SINGLE_SHOP_ENV[str(err['loc'][0])]}{tail}"
                + (f' for shop "{key}"' if err["type"] == "missing" else "")
                for err in exc.errors()
                for tail in _tails(err, ShopSettings)
            ]
        return [shop], []


def _read_shops_file(path: Path) -> tuple[list[ShopSettings], list[str]]:
    where = f"SHOPS_FILE {path}:"
    if not path.is_file():
        return [], [f"SHOPS_FILE does not exist: {path}"]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:  # its text carries "(at line N, column M)"
        return [], [f"{where} TOML syntax error: {exc}"]
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"{where} cannot be read ({type(exc).__name__})"]
    problems = [
        f'{where} unknown top-level key "{key}" (each shop is a [shops.<key>] table)'
        for key in data
        if key != "shops"
    ]
    tables = data.get("shops")
    if not isinstance(tables, dict) or not tables:
        return [], [*problems, f"{where} no shops (add one [shops.<key>] table per shop)"]
    shops: list[ShopSettings] = []
    for key, body in tables.items():
        if not isinstance(body, dict):
            problems.append(f'{where} shop "{key}" must be a table ([shops.{key}])')
            continue
        if "key" in body:
            problems.append(f'{where} shop "{key}": key is not a setting (the table name is)')
        try:
            shops.append(ShopSettings.model_validate({**body, "key": key}))
        except ValidationError as exc:
            problems += [
                f'{where} shop "{key}": {".".join(map(str, err["loc"])) or "table"}{tail}'
                for err in exc.errors()
                for tail in _tails(err, ShopSettings)
            ]
    return shops, problems


def _is_secret(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields.get(field)
    if info is None:
        return False
    return SecretStr in (get_args(info.annotation) or (info.annotation,))


def _show(value: Any) -> str:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return f'"{value}"'
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _tails(err: ErrorDetails, model: type[BaseModel]) -> Iterator[str]:
    """Pydantic's error as what follows the key's name; secret values are never shown."""
    kind, ctx = err["type"], err.get("ctx", {})
    field = str(err["loc"][0]) if err["loc"] else ""
    got = "" if _is_secret(model, field) else f" (got {_show(err.get('input'))})"
    if kind == "value_error":
        cause = ctx.get("error")
        if isinstance(cause, _ManyValuesError):
            yield from (f": {line}" for line in cause.lines)
        else:
            yield f" {cause}"
        return
    simple = {
        "missing": "is missing",
        "extra_forbidden": "is not a known setting",
        "int_parsing": f"must be a whole number{got}",
        "int_from_float": f"must be a whole number{got}",
        "float_parsing": f"must be a number{got}",
        "bool_parsing": f"must be true or false{got}",
        "greater_than": f"must be greater than {_show(ctx.get('gt'))}{got}",
        "greater_than_equal": f"must be at least {_show(ctx.get('ge'))}{got}",
        "less_than_equal": f"must be at most {_show(ctx.get('le'))}{got}",
    }
    yield f" {simple.get(kind) or _fallback(err, got)}"


def _fallback(err: ErrorDetails, got: str) -> str:
    return f"is not valid: {err['msg'][:1].lower()}{err['msg'][1:]}{got}"


class _WithoutOsEnviron(Settings):
    """Settings that read only init values and the dotenv file: ``environ`` replaces os.environ."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, dotenv_settings


def _build(env_file: str | None, environ: Mapping[str, str] | None, **values: Any) -> Settings:
    if environ is None:
        return Settings(_env_file=env_file, **values)
    upper = {key.upper(): value for key, value in environ.items() if value != ""}
    given = {f: upper[env] for f, env in Settings.env_names().items() if env in upper}
    return _WithoutOsEnviron(_env_file=env_file, **{**given, **values})


def validate_settings(
    env_file: str | None = ".env", environ: Mapping[str, str] | None = None
) -> tuple[Settings | None, list[str]]:
    """Read the settings and return them with every problem (one line each, never a secret).

    ``environ`` replaces ``os.environ`` (for tests); the settings are None when anything is wrong.
    """
    names = Settings.env_names()
    broken: set[str] = set()
    try:
        settings = _build(env_file, environ)
        problems: list[str] = []
    except ValidationError as exc:
        errors = exc.errors()
        problems = [
            f"{names[str(err['loc'][0])]}{tail}" for err in errors for tail in _tails(err, Settings)
        ]
        # Rebuild with the broken keys at stand-in values so the remaining checks still run.
        fields = Settings.model_fields
        stand_ins = {
            name: SecretStr("unset")
            if fields[name].is_required()
            else fields[name].get_default(call_default_factory=True)
            for name in {str(err["loc"][0]) for err in errors}
        }
        broken = {names[name] for name in stand_ins}
        try:
            settings = _build(env_file, environ, **stand_ins)
        except ValidationError:  # cannot happen with valid stand-ins; report what we have
            return None, problems
    # A key already reported as invalid is not reported again as missing.
    problems += [p for p in settings.problems() if p.split(" ", 1)[0] not in broken]
    return (None, problems) if problems else (settings, [])


__all__ = [
    "RMS_SECRET_MAX_CHARS",
    "Settings",
    "SettingsError",
    "ShopSettings",
    "validate_settings",
]

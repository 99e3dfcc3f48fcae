"""Licence keys: a daily expiry check that warns once per threshold, encrypted renewal, and
the choice between the configured key and the one renewed in Slack.

A key is never logged, never put into an event, an audit row or an exception message.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.context import Core
from core.errors import BotError, RmsAuthError, RmsError, RmsFunctionDisabledError
from core.events import EventKind
from core.store import licenses as key_rows
from core.store.refs import put_ref, put_ref_if_changed
from core.store.sqlite import Store
from core.summary import license_days_left

logger = logging.getLogger(__name__)

WARN_DAYS = (14, 7, 3, 1)
"""Days left at which the shop channel is warned, once each."""

LICENSE_WARN_DAYS = max(WARN_DAYS)
"""From this many days left on, summaries and App Home mark the key with ⚠️."""

EXPIRED_MARK = 0
"""``license_warned_days`` once LICENSE_EXPIRED was announced."""

PROBE_GIVE_UP = timedelta(minutes=60)
"""New keys take 5–30 minutes to work; after this long a pending key is given up."""

MAX_KEY_LENGTH = 50  # RMS: serviceSecret and licenseKey are at most 50 characters
KEY_NOT_ACTIVE = "key_not_active"
"""LICENSE_CHECK_FAILED error_key when a submitted key never started working."""

VAULT_VERSION = "v2:"
"""Prefix of ciphertexts made with the HKDF-derived key; unprefixed ones are the old format."""
VAULT_SALT = b"rms-bot licence-key vault"
VAULT_INFO = b"rms-bot/KeyVault/v2 Fernet key"

_PENDING_SINCE = "license_pending_since:{shop}"
_CHECK_FAILED = "license_check_failed:{shop}"


class KeyVaultError(BotError):
    """A stored key cannot be read (SECRET_KEY changed) or a shop has no key. Never says the key."""


class KeyStatus(StrEnum):
    """What ``submit_new_key`` did with a key pasted into the modal."""

    PENDING = "pending"  # stored encrypted; the bot probes it until it works
    INVALID = "invalid"  # empty, too long or not a key: nothing stored
    UNCHANGED = "unchanged"  # it is the key in use already


class KeySource(StrEnum):
    """Where the key a shop uses came from."""

    ENVIRONMENT = "environment"  # RMS_LICENSE_KEY / the shop's license_key in SHOPS_FILE
    STORED = "stored"  # renewed through the Slack modal, stored encrypted


_SOURCE_WORDS = {
    KeySource.ENVIRONMENT: "the key from the environment",
    KeySource.STORED: "the key renewed in Slack",
}


def _fernet_v2(secret_key: str) -> Fernet:
    """Fernet keyed with HKDF-SHA256(SECRET_KEY): a real KDF, bound to this use by ``info``."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=VAULT_SALT, info=VAULT_INFO)
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret_key.encode("utf-8"))))


def _fernet_v1(secret_key: str) -> Fernet:
    """The old derivation (a bare SHA-256); only to read keys stored before v2."""
    digest = hashlib.sha256(secret_key.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class KeyVault:
    """Encrypts keys at rest (Fernet, key = HKDF-SHA256 of SECRET_KEY, ciphertexts ``v2:…``) and
    holds each shop's active key in memory for the RMS clients (``current_key``)."""

    __slots__ = ("_active", "_configured", "_fernet", "_legacy", "_undecided")

    def __init__(self, secret_key: str, active: Mapping[str, str] | None = None) -> None:
        if not secret_key:
            raise ValueError("SECRET_KEY must not be empty")
        self._fernet = _fernet_v2(secret_key)
        self._legacy = _fernet_v1(secret_key)
        self._active: dict[str, str] = dict(active or {})
        self._configured: dict[str, str] = dict(active or {})  # the keys from the environment
        self._undecided: set[str] = set()

    def __repr__(self) -> str:
        return f"KeyVault(shops={sorted(self._active)})"

    def encrypt(self, plain: str) -> str:
        """Encrypt a key for the database (``v2:`` + Fernet token).

        The token's timestamp is unused (no TTL), so a constant keeps the wall clock out.
        """
        token = self._fernet.encrypt_at_time(plain.encode("utf-8"), 0).decode("ascii")
        return VAULT_VERSION + token

    def decrypt(self, token: str) -> str:
        """Decrypt a stored key (either format); KeyVaultError when SECRET_KEY does not fit."""
        versioned = token.startswith(VAULT_VERSION)
        fernet = self._fernet if versioned else self._legacy
        try:
            return fernet.decrypt(token.removeprefix(VAULT_VERSION).encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise KeyVaultError(
                "a stored licence key cannot be decrypted (was SECRET_KEY changed?)"
            ) from None

    def active_key(self, shop: str) -> str:
        """The key a shop's RMS client uses now."""
        try:
            return self._active[shop]
        except KeyError:
            raise KeyVaultError(f"no licence key for shop {shop}") from None

    def activate(self, shop: str, key: str) -> None:
        """Switch a shop's RMS client to ``key`` (after it was proven to work)."""
        self._active[shop] = key

    def undecided(self) -> list[str]:
        """Shops whose choice between the two keys RMS could not settle yet."""
        return sorted(self._undecided)

    async def load(self, store: Store, shops: Iterable[str]) -> None:
        """Use keys renewed through Slack (``choose_key`` then compares them with the
        configured ones); keys stored in the old format are re-encrypted in v2 on the way."""
        upgraded = 0
        for shop in shops:
            row = await store.shop_row(shop)
            for column in key_rows.KEY_COLUMNS:
                token = row.get(column)
                if token and not token.startswith(VAULT_VERSION):
                    upgraded += await self._upgrade(store, shop, column, token)
            stored = row.get("license_key_enc")
            if stored:
                self._active[shop] = self.decrypt(stored)
        if upgraded:
            logger.info(
                "re-encrypted %d stored licence key(s) with the v2 key derivation", upgraded
            )

    async def _upgrade(self, store: Store, shop: str, column: str, token: str) -> int:
        """Re-encrypt one old-format ciphertext; compare-and-set, so a racing write wins."""
        fresh = self.encrypt(self.decrypt(token))
        async with store.tx() as tx:
            return await key_rows.replace_key_ciphertext(tx, shop, column, token, fresh)

    def configured_key(self, shop: str) -> str | None:
        """The shop's key from the environment, if any."""
        return self._configured.get(shop)

    def settle(self, shop: str, key: str | None, *, decided: bool) -> None:
        """Record the outcome of ``choose_key``."""
        if key is not None:
            self._active[shop] = key
        if decided:
            self._undecided.discard(shop)
        else:
            self._undecided.add(shop)


def pick_key(env: datetime | None, stored: datetime | None) -> KeySource | None:
    """The key RMS accepted with the later expiry (pure). None: RMS accepted neither.

    A tie keeps the stored key, which is what the bot used before it compared them.
    """
    if env is None and stored is None:
        return None
    if stored is None:
        return KeySource.ENVIRONMENT
    if env is None or stored >= env:
        return KeySource.STORED
    return KeySource.ENVIRONMENT


class _UndecidedError(Exception):
    """RMS could not say whether it accepts a key (down, QPS, maintenance)."""


async def _accepted_until(
    probe: Callable[[str], Awaitable[datetime]], key: str, shop: str, source: KeySource
) -> datetime | None:
    """The key's expiry when RMS accepts it, None when it refuses it."""
    try:
        return await probe(key)
    except (RmsAuthError, RmsFunctionDisabledError) as exc:
        logger.info("shop %s: RMS refused %s (%s)", shop, _SOURCE_WORDS[source], exc.kind)
        return None
    except RmsError as exc:
        logger.info("shop %s: could not check %s (%s)", shop, _SOURCE_WORDS[source], exc.kind)
        raise _UndecidedError from exc


async def choose_key(
    store: Store,
    vault: KeyVault,
    shop: str,
    probe: Callable[[str], Awaitable[datetime]],
) -> KeySource | None:
    """On start-up (and at the next probe while undecided): when the key in the environment
    differs from the one renewed in Slack, use the one RMS accepts with the later expiry."""
    configured = vault.configured_key(shop)
    token = (await store.shop_row(shop)).get("license_key_enc")
    if not configured or not token:
        vault.settle(shop, None, decided=True)
        return None
    stored = vault.decrypt(token)
    if stored == configured:
        vault.settle(shop, stored, decided=True)
        return None
    try:
        env_expires = await _accepted_until(probe, configured, shop, KeySource.ENVIRONMENT)
        stored_expires = await _accepted_until(probe, stored, shop, KeySource.STORED)
    except _UndecidedError:
        vault.settle(shop, None, decided=False)
        logger.warning(
            "shop %s: RMS could not check the licence keys; %s stays in use until it can",
            shop,
            _SOURCE_WORDS[KeySource.STORED],
        )
        return None
    source = pick_key(env_expires, stored_expires)
    if source is None:
        vault.settle(shop, stored, decided=True)
        logger.warning(
            "shop %s: RMS accepted neither the key from the environment nor the key renewed "
            "in Slack; using the key renewed in Slack",
            shop,
        )
        return None
    expires = env_expires if source is KeySource.ENVIRONMENT else stored_expires
    assert expires is not None
    vault.settle(shop, configured if source is KeySource.ENVIRONMENT else stored, decided=True)
    logger.info(
        "shop %s: using %s (expires %s)", shop, _SOURCE_WORDS[source], expires.date().isoformat()
    )
    return source


def current_key(vault: KeyVault, shop: str) -> Callable[[], str]:
    """The ``license_key`` callable for a shop's RmsHttpClient: always the active key."""
    return lambda: vault.active_key(shop)


def warning_due(days_left: int, warned: int | None) -> int | None:
    """The threshold to warn at now, or None: one warning per threshold crossed (pure)."""
    threshold = min((d for d in WARN_DAYS if days_left <= d), default=None)
    if threshold is None or (warned is not None and warned <= threshold):
        return None
    return threshold


async def check_license(core: Core, shop: str, now: datetime) -> None:
    """Read the key's expiry from RMS, store it, and warn at 14, 7, 3 and 1 days left.

    401 means the key expired (or is wrong): LICENSE_EXPIRED, once. A refused or failed
    check: LICENSE_CHECK_FAILED, once per kind of failure until a check works again.
    """
    row = await core.store.shop_row(shop)
    warned: int | None = row.get("license_warned_days")
    before = _dt(row.get("license_expires"))
    try:
        expires = await core.api(shop).license_expiry()
    except RmsAuthError:
        await _announce_expired(core, shop, now, before)
        return
    except RmsError as exc:
        await _announce_check_failed(core, shop, now, exc.kind)
        return
    await core.store.set_shop_field(shop, "license_expires", expires.isoformat())
    renewed = warned is not None and (warned == EXPIRED_MARK or before is None or expires > before)
    async with core.store.tx() as tx:
        await put_ref_if_changed(tx, _CHECK_FAILED.format(shop=shop), "")
        if renewed:  # a new key pushed the expiry out: its thresholds start afresh
            await key_rows.reset_warnings(tx, shop)
            warned = None
    left = license_days_left(expires, now)
    assert left is not None
    if left < 0:
        await _announce_expired(core, shop, now, expires)
        return
    threshold = warning_due(left, warned)
    if threshold is None:
        return
    async with core.store.tx() as tx:
        claimed = await key_rows.claim_warning(tx, shop, threshold)
        if claimed:
            await tx.add_event(
                shop,
                EventKind.LICENSE_EXPIRING,
                None,
                now,
                {"days_left": left, "expires_at": expires.isoformat(), "threshold": threshold},
            )
    if claimed:
        logger.warning("licence key of shop %s expires in %d day(s)", shop, left)


async def _announce_expired(core: Core, shop: str, now: datetime, expires: datetime | None) -> None:
    async with core.store.tx() as tx:
        claimed = await key_rows.claim_expired(tx, shop, EXPIRED_MARK)
        if claimed:
            await tx.add_event(
                shop,
                EventKind.LICENSE_EXPIRED,
                None,
                now,
                {"expires_at": expires.isoformat() if expires else None, "error_key": "auth"},
            )
    if claimed:
        logger.warning("licence key of shop %s has expired or was refused (401)", shop)


async def _announce_check_failed(core: Core, shop: str, now: datetime, kind: str) -> None:
    async with core.store.tx() as tx:
        if await put_ref_if_changed(tx, _CHECK_FAILED.format(shop=shop), kind):
            await tx.add_event(shop, EventKind.LICENSE_CHECK_FAILED, None, now, {"error_key": kind})
            logger.warning("licence expiry check of shop %s failed: %s", shop, kind)


def _dt(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _valid_key(key: str) -> bool:
    return (
        0 < len(key) <= MAX_KEY_LENGTH
        and key.isascii()
        and key.isprintable()
        and (not any(c.isspace() for c in key))
    )


async def submit_new_key(
    core: Core, vault: KeyVault, shop: str, new_key: str, actor: str
) -> KeyStatus:
    """Store a key pasted into the modal (encrypted) as pending; the old key stays in use."""
    core.shop(shop)  # KeyError names an unknown shop before anything is stored
    key = new_key.strip()
    now = core.clock.now()
    status = KeyStatus.PENDING
    if not _valid_key(key):
        status = KeyStatus.INVALID
    else:
        try:
            if vault.active_key(shop) == key:
                status = KeyStatus.UNCHANGED
        except KeyVaultError:
            pass
    async with core.store.tx() as tx:
        if status is KeyStatus.PENDING:
            await key_rows.set_pending_key(tx, shop, vault.encrypt(key))
            await put_ref(tx, _PENDING_SINCE.format(shop=shop), now.isoformat())
        await tx.audit(shop, actor, "license", status.value, now)
    logger.info("licence key for shop %s submitted by %s: %s", shop, actor, status.value)
    return status


async def probe_pending_key(
    core: Core, vault: KeyVault, shop: str, probe: Callable[[str], Awaitable[datetime]]
) -> bool:
    """Try the pending key once; True when it works and has replaced the old key.

    401 / ES04-01 mean "not active yet" (5–30 minutes): keep waiting, and give up with
    LICENSE_CHECK_FAILED (error_key ``key_not_active``) after an hour. Other failures are
    RMS's: try again at the next probe.
    """
    pending = (await core.store.shop_row(shop)).get("license_key_pending_enc")
    if not pending:
        return False
    key = vault.decrypt(pending)
    try:
        expires = await probe(key)
    except (RmsAuthError, RmsFunctionDisabledError) as exc:
        await _maybe_give_up(core, shop, pending, exc.kind)
        return False
    except RmsError as exc:
        logger.info(
            "probe of the new licence key of shop %s failed (%s); will retry", shop, exc.kind
        )
        return False
    now = core.clock.now()
    async with core.store.tx() as tx:
        moved = await key_rows.promote_pending_key(tx, shop, pending, expires.isoformat())
        if moved:
            await put_ref_if_changed(tx, _CHECK_FAILED.format(shop=shop), "")
            await tx.add_event(
                shop, EventKind.LICENSE_RENEWED, None, now, {"expires_at": expires.isoformat()}
            )
            await tx.audit(
                shop, "bot", "license", "renewed", now, detail={"expires_at": expires.isoformat()}
            )
    if not moved:  # another probe or a newer submission got there first
        return False
    vault.activate(shop, key)
    logger.info("new licence key of shop %s works; valid until %s", shop, expires.isoformat())
    return True


async def _maybe_give_up(core: Core, shop: str, pending: str, kind: str) -> None:
    now = core.clock.now()
    since = _dt(await core.store.get_ref(_PENDING_SINCE.format(shop=shop))) or now
    if now - since < PROBE_GIVE_UP:
        logger.info("new licence key of shop %s not active yet (%s)", shop, kind)
        return
    async with core.store.tx() as tx:
        dropped = await key_rows.drop_pending_key(tx, shop, pending)
        if dropped:
            await tx.add_event(
                shop,
                EventKind.LICENSE_CHECK_FAILED,
                None,
                now,
                {"error_key": KEY_NOT_ACTIVE, "rms_error": kind},
            )
            await tx.audit(shop, "bot", "license", "gave_up", now, detail={"error": kind})
    if dropped:
        logger.warning(
            "new licence key of shop %s still refused after %s; gave up", shop, PROBE_GIVE_UP
        )

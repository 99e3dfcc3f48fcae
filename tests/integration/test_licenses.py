"""Licence keys against the RMS simulator: expiry warnings, check failures and key renewal."""

from __future__ import annotations

import json
import logging
import random
from datetime import date, timedelta

import pytest

from core.context import Core
from core.events import EventKind
from core.licenses import (
    KEY_NOT_ACTIVE,
    KeyStatus,
    KeyVault,
    KeyVaultError,
    check_license,
    current_key,
    probe_pending_key,
    submit_new_key,
    warning_due,
)
from core.rms.client import RmsHttpClient
from core.store.licenses import replace_key_ciphertext
from handlers.render.alerts import license_check_failed, license_renewed, license_warning
from tests.harness import SHOPS, harness

SHOP_ID, SECRET, OLD_KEY = SHOPS["main"][0], SHOPS["main"][1], SHOPS["main"][2]
NEW_KEY = "SL-brand-new-key-0123"
LICENSE_KINDS = {
    EventKind.LICENSE_EXPIRING,
    EventKind.LICENSE_EXPIRED,
    EventKind.LICENSE_RENEWED,
    EventKind.LICENSE_CHECK_FAILED,
}


async def license_events(h):
    return [
        e
        for e in await h.store.unposted_events(10_000)
        if e.kind in LICENSE_KINDS and e.shop == "main"
    ]


def client(h, key, **extra):
    return RmsHttpClient(
        h.session,
        base_url=str(h.server.make_url("")),
        service_secret=SECRET,
        license_key=key,
        clock=h.clock,
        requests_per_second=1000.0,
        timeout=2.0,
        rng=random.Random(1),
        **extra,
    )


def probe_with(h):
    async def probe(key):
        return await client(h, key).license_expiry()

    return probe


def use_vault(h, vault):
    """Let the shop's RMS client read its key from the vault, as the composition root does."""
    h.core.rms["main"] = client(h, current_key(vault, "main"))


def test_warning_thresholds_are_crossed_once_each():
    assert warning_due(20, None) is None
    assert warning_due(14, None) == 14
    assert warning_due(10, None) == 14
    assert warning_due(10, 14) is None
    assert warning_due(5, 14) == 7
    assert warning_due(2, 14) == 3  # a skipped threshold is not warned twice
    assert warning_due(0, 1) is None
    assert warning_due(0, None) == 1


async def test_warnings_exactly_at_14_7_3_1_days_then_one_expired_notice():
    async with harness(rps=None) as h:  # 09:00 JST on 11/28
        h.sim.issue_key(SHOP_ID, OLD_KEY, expires=date(2026, 12, 18))
        seen: list[tuple[str, int | None, date]] = []
        for _ in range(26):
            before = len(await license_events(h))
            await check_license(h.core, "main", h.clock.now())
            await check_license(h.core, "main", h.clock.now())  # a restart the same day
            for e in (await license_events(h))[before:]:
                seen.append((e.kind.value, e.data.get("days_left"), e.at.date()))
            h.clock.advance(days=1)
        assert seen == [
            ("license_expiring", 14, date(2026, 12, 4)),
            ("license_expiring", 7, date(2026, 12, 11)),
            ("license_expiring", 3, date(2026, 12, 15)),
            ("license_expiring", 1, date(2026, 12, 17)),
            ("license_expired", None, date(2026, 12, 19)),
        ]
        first = (await license_events(h))[0]
        assert first.data["expires_at"].startswith("2026-12-18T23:59:59")
        row = await h.store.shop_row("main")
        assert row["license_warned_days"] == 0
        assert row["license_expires"].startswith("2026-12-18T23:59:59")


async def test_a_fresh_core_after_a_restart_does_not_repeat_the_warning():
    async with harness(rps=None) as h:
        h.sim.issue_key(SHOP_ID, OLD_KEY, expires=date(2026, 12, 5))  # 7 days left
        await check_license(h.core, "main", h.clock.now())
        restarted = Core(store=h.store, clock=h.clock, shops=h.core.shops, rms=h.core.rms)
        await check_license(restarted, "main", h.clock.now())
        events = await license_events(h)
        assert [(e.kind, e.data["days_left"]) for e in events] == [(EventKind.LICENSE_EXPIRING, 7)]


async def test_disabled_licence_function_reports_check_failed_once_until_it_works_again():
    async with harness(rps=None) as h:
        h.sim.set_disabled_functions(SHOP_ID, frozenset({"license.expiryDate.get"}))
        for _ in range(3):
            await check_license(h.core, "main", h.clock.now())
        events = await license_events(h)
        assert [(e.kind, e.data["error_key"]) for e in events] == [
            (EventKind.LICENSE_CHECK_FAILED, "function_disabled")
        ]
        h.sim.set_disabled_functions(SHOP_ID, frozenset())
        await check_license(h.core, "main", h.clock.now())
        assert (await h.store.shop_row("main"))["license_expires"]
        h.sim.set_disabled_functions(SHOP_ID, frozenset({"license"}))
        await check_license(h.core, "main", h.clock.now())
        assert len(await license_events(h)) == 2  # failing again after a success is news
        text = json.dumps(
            license_check_failed("本店", "function_disabled", "ja"), ensure_ascii=False
        )
        assert "license.expiryDate.get" in text and "WEB APIサービス › 利用機能編集" in text


async def test_new_key_is_probed_until_it_works_after_20_minutes(caplog):
    caplog.set_level(logging.DEBUG)
    async with harness(rps=None) as h:
        h.sim.issue_key(SHOP_ID, OLD_KEY, expires=date(2026, 12, 5))
        vault = KeyVault("test-secret", {"main": OLD_KEY})
        use_vault(h, vault)
        await check_license(h.core, "main", h.clock.now())  # warns: 7 days left
        status = await submit_new_key(h.core, vault, "main", f"  {NEW_KEY}\n", "U0ADMIN")
        assert status is KeyStatus.PENDING
        h.sim.issue_key(
            SHOP_ID, NEW_KEY, activates_after=timedelta(minutes=20), expires=date(2027, 2, 25)
        )
        results = []
        for _ in range(7):
            results.append(await probe_pending_key(h.core, vault, "main", probe_with(h)))
            assert vault.active_key("main") == (NEW_KEY if any(results) else OLD_KEY)
            h.clock.advance(minutes=5)
        assert results == [False, False, False, False, True, False, False]

        renewed = [e for e in await license_events(h) if e.kind is EventKind.LICENSE_RENEWED]
        assert len(renewed) == 1
        assert renewed[0].data["expires_at"].startswith("2027-02-25T23:59:59")
        row = await h.store.shop_row("main")
        assert row["license_key_pending_enc"] is None
        assert vault.decrypt(row["license_key_enc"]) == NEW_KEY
        assert row["license_warned_days"] is None

        # the shop's client now uses the new key, and the expiry check sees the new date
        await check_license(h.core, "main", h.clock.now())
        assert h.sim.calls[-1].license_key == NEW_KEY
        assert [e.kind for e in await license_events(h)].count(EventKind.LICENSE_EXPIRING) == 1

        # the key appears nowhere: events, audit, stored rows, our logs
        everything = json.dumps(
            [
                [e.data for e in await h.store.unposted_events(10_000)],
                await h.store.audit_entries(),
                await h.store.shop_row("main"),
            ],
            ensure_ascii=False,
            default=str,
        )
        assert NEW_KEY not in everything and OLD_KEY not in everything
        ours = [r for r in caplog.records if not r.name.startswith(("aiohttp", "sandbox"))]
        assert ours, "expected the licence flow to log"
        assert not any(NEW_KEY in r.getMessage() for r in ours)
        audit = [a for a in await h.store.audit_entries("main") if a["action"] == "license"]
        assert [(a["actor"], a["outcome"]) for a in audit] == [
            ("U0ADMIN", "pending"),
            ("bot", "renewed"),
        ]
        text = json.dumps(
            license_renewed("本店", h.clock.now() + timedelta(days=89), "ja"), ensure_ascii=False
        )
        assert "更新しました" in text


async def test_a_key_that_never_works_is_given_up_after_an_hour():
    async with harness(rps=None) as h:
        vault = KeyVault("test-secret", {"main": OLD_KEY})
        assert await submit_new_key(h.core, vault, "main", NEW_KEY, "U0ADMIN") is KeyStatus.PENDING
        start = h.clock.now()
        for _ in range(14):  # 0 … 65 minutes
            assert not await probe_pending_key(h.core, vault, "main", probe_with(h))
            h.clock.advance(minutes=5)
        failed = [e for e in await license_events(h) if e.kind is EventKind.LICENSE_CHECK_FAILED]
        assert [e.data["error_key"] for e in failed] == [KEY_NOT_ACTIVE]
        assert failed[0].at - start == timedelta(minutes=60)
        assert (await h.store.shop_row("main"))["license_key_pending_enc"] is None
        assert vault.active_key("main") == OLD_KEY
        assert "60" in json.dumps(
            license_check_failed("本店", KEY_NOT_ACTIVE, "ja"), ensure_ascii=False
        )


async def test_bad_or_unchanged_keys_are_not_stored():
    async with harness(rps=None) as h:
        vault = KeyVault("test-secret", {"main": OLD_KEY})
        for bad in ("", "   ", "with space", "x" * 51, "キー"):
            assert await submit_new_key(h.core, vault, "main", bad, "U0ADMIN") is KeyStatus.INVALID
        assert await submit_new_key(h.core, vault, "main", OLD_KEY, "U0ADMIN") is (
            KeyStatus.UNCHANGED
        )
        assert (await h.store.shop_row("main"))["license_key_pending_enc"] is None
        with pytest.raises(KeyError):
            await submit_new_key(h.core, vault, "nope", NEW_KEY, "U0ADMIN")


async def test_vault_keeps_keys_secret_and_load_prefers_the_renewed_key():
    vault = KeyVault("s3cret")
    token = vault.encrypt(NEW_KEY)
    assert NEW_KEY not in token and vault.decrypt(token) == NEW_KEY
    with pytest.raises(KeyVaultError) as caught:
        KeyVault("another").decrypt(token)
    assert token not in str(caught.value) and NEW_KEY not in str(caught.value)
    assert "s3cret" not in repr(vault)
    async with harness(rps=None) as h:
        await h.store.set_shop_field("main", "license_key_enc", token)
        loaded = KeyVault("s3cret", {"main": OLD_KEY, "api": "SL-api-key"})
        await loaded.load(h.store, ["main", "api"])
        assert current_key(loaded, "main")() == NEW_KEY
        assert current_key(loaded, "api")() == "SL-api-key"


def test_warning_message_carries_the_renewal_steps():
    from datetime import UTC, datetime

    text = json.dumps(
        license_warning("本店", 7, datetime(2026, 12, 5, 14, 59, 59, tzinfo=UTC), "ja"),
        ensure_ascii=False,
    )
    assert "あと7日" in text and "2026/12/05" in text
    assert "新しいライセンスキーを発行" in text and "/rms license" in text


# ---------------------------------------------------------------- secrets at rest (issue 10.5)


def legacy_token(secret: str, plain: str) -> str:
    """A ciphertext made the old way: Fernet keyed with SHA-256(SECRET_KEY), no version prefix."""
    import base64
    import hashlib

    from cryptography.fernet import Fernet

    key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode("utf-8")).digest())
    return Fernet(key).encrypt(plain.encode("utf-8")).decode("ascii")


def test_keys_are_encrypted_with_an_hkdf_derived_key_and_a_version_prefix():
    import base64

    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from core.licenses import VAULT_INFO, VAULT_SALT

    vault = KeyVault("s3cret-s3cret-s3cret")
    token = vault.encrypt(NEW_KEY)
    assert token.startswith("v2:") and NEW_KEY not in token
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=VAULT_SALT, info=VAULT_INFO)
    key = base64.urlsafe_b64encode(derived.derive(b"s3cret-s3cret-s3cret"))
    assert Fernet(key).decrypt(token.removeprefix("v2:").encode()).decode() == NEW_KEY
    assert vault.decrypt(token) == NEW_KEY
    # the old derivation cannot read it, and an old ciphertext still can be read
    with pytest.raises(KeyVaultError):
        vault.decrypt(legacy_token("another-secret-key", NEW_KEY))
    assert vault.decrypt(legacy_token("s3cret-s3cret-s3cret", NEW_KEY)) == NEW_KEY


async def test_old_format_keys_are_re_encrypted_on_load(caplog):
    caplog.set_level(logging.INFO)
    async with harness(rps=None) as h:
        old_active = legacy_token("s3cret", NEW_KEY)
        old_pending = legacy_token("s3cret", "SL-pending-key-42")
        await h.store.set_shop_field("main", "license_key_enc", old_active)
        await h.store.set_shop_field("main", "license_key_pending_enc", old_pending)
        vault = KeyVault("s3cret", {"main": OLD_KEY, "api": "SL-api-key"})
        await vault.load(h.store, ["main", "api"])
        assert vault.active_key("main") == NEW_KEY
        row = await h.store.shop_row("main")
        assert row["license_key_enc"].startswith("v2:")
        assert row["license_key_pending_enc"].startswith("v2:")
        assert vault.decrypt(row["license_key_enc"]) == NEW_KEY
        assert vault.decrypt(row["license_key_pending_enc"]) == "SL-pending-key-42"
        again = KeyVault("s3cret", {"main": OLD_KEY})  # a second start-up: nothing to upgrade
        await again.load(h.store, ["main"])
        assert (await h.store.shop_row("main"))["license_key_enc"] == row["license_key_enc"]
        logged = [r.getMessage() for r in caplog.records if r.name == "core.licenses"]
        assert sum("re-encrypted 2 stored licence key(s)" in m for m in logged) == 1
        assert not any(NEW_KEY in m or "SL-pending" in m for m in logged)


async def test_only_key_columns_are_spliced_into_the_re_encryption_statement():
    async with harness(rps=None) as h:
        await h.store.set_shop_field("main", "license_key_enc", "v1:old")
        async with h.store.tx() as tx:
            with pytest.raises(ValueError, match="license_expires"):
                await replace_key_ciphertext(tx, "main", "license_expires", "v1:old", "v2:new")
            assert (
                await replace_key_ciphertext(tx, "main", "license_key_enc", "v1:x", "v2:new") == 0
            )
            assert (
                await replace_key_ciphertext(tx, "main", "license_key_enc", "v1:old", "v2:new") == 1
            )
        assert (await h.store.shop_row("main"))["license_key_enc"] == "v2:new"


def probe_once(h):
    """The composition root's probe: one attempt, no retries."""

    async def probe(key):
        return await client(h, key, max_read_attempts=1).license_expiry()

    return probe


async def stored_key(h, vault, key):
    await h.store.set_shop_field("main", "license_key_enc", vault.encrypt(key))
    await vault.load(h.store, ["main"])


@pytest.mark.parametrize(
    ("env_expires", "stored_expires", "used", "said"),
    [
        (date(2027, 2, 1), date(2026, 12, 20), "env", "from the environment (expires 2027-02-01)"),
        (date(2026, 12, 20), date(2027, 2, 1), "stored", "renewed in Slack (expires 2027-02-01)"),
        (None, date(2027, 2, 1), "stored", "renewed in Slack (expires 2027-02-01)"),
        (date(2027, 2, 1), None, "env", "from the environment (expires 2027-02-01)"),
    ],
)
async def test_the_key_rms_accepts_with_the_later_expiry_is_used(
    caplog, env_expires, stored_expires, used, said
):
    from core.licenses import choose_key

    caplog.set_level(logging.INFO)
    async with harness(rps=None) as h:
        env_key, slack_key = "SL-from-the-env-0001", "SL-renewed-in-slack-02"
        for key, expires in ((env_key, env_expires), (slack_key, stored_expires)):
            if expires is not None:  # None: RMS does not know the key (401)
                h.sim.issue_key(SHOP_ID, key, expires=expires)
        vault = KeyVault("test-secret", {"main": env_key})
        await stored_key(h, vault, slack_key)
        assert vault.active_key("main") == slack_key  # what load alone does
        await choose_key(h.store, vault, "main", probe_once(h))
        assert vault.active_key("main") == (env_key if used == "env" else slack_key)
        logged = [r.getMessage() for r in caplog.records if r.name == "core.licenses"]
        assert f"shop main: using the key {said}" in logged
        assert not any(env_key in m or slack_key in m for m in logged)
        assert {c.license_key for c in h.sim.calls} <= {env_key, slack_key}


async def test_when_rms_cannot_say_the_stored_key_stays_and_is_decided_at_the_next_probe(caplog):
    from core.licenses import choose_key

    caplog.set_level(logging.INFO)
    async with harness(rps=None) as h:
        env_key, slack_key = "SL-from-the-env-0001", "SL-renewed-in-slack-02"
        h.sim.issue_key(SHOP_ID, env_key, expires=date(2027, 2, 1))
        h.sim.issue_key(SHOP_ID, slack_key, expires=date(2026, 12, 20))
        vault = KeyVault("test-secret", {"main": env_key})
        await stored_key(h, vault, slack_key)
        h.sim.fail_next("license", 1, status=503)
        await choose_key(h.store, vault, "main", probe_once(h))
        assert vault.active_key("main") == slack_key and vault.undecided() == ["main"]
        await choose_key(h.store, vault, "main", probe_once(h))
        assert vault.active_key("main") == env_key and vault.undecided() == []
        # neither key accepted: keep the stored one and say so
        vault2 = KeyVault("test-secret", {"main": "SL-unknown-env-key"})
        await stored_key(h, vault2, "SL-unknown-slack-key")
        await choose_key(h.store, vault2, "main", probe_once(h))
        assert vault2.active_key("main") == "SL-unknown-slack-key"
        assert any("accepted neither" in r.getMessage() for r in caplog.records)


async def test_same_key_in_environment_and_store_is_not_probed():
    from core.licenses import choose_key

    async with harness(rps=None) as h:
        vault = KeyVault("test-secret", {"main": OLD_KEY})
        await stored_key(h, vault, OLD_KEY)
        await choose_key(h.store, vault, "main", probe_with(h))
        assert h.sim.calls == [] and vault.active_key("main") == OLD_KEY


async def test_start_up_upgrades_an_old_stored_key_and_uses_the_new_key_from_the_environment(
    tmp_path, caplog
):
    """The operator put a fresh RMS_LICENSE_KEY into the environment; the key once renewed in
    Slack (stored the old way) has been revoked. Before, the stored key won silently: 401s."""
    from core.intake import intake
    from core.model import ShopConfig
    from core.store.sqlite import SqliteStore
    from tests.stack import bot_stack

    caplog.set_level(logging.INFO)
    secret = "a-test-secret-key-for-fernet"  # the stack's SECRET_KEY
    async with SqliteStore.open(tmp_path / "bot.sqlite3") as store:
        await store.upsert_shop(ShopConfig("main", "メイン店", "C0SHOP1"))
        await store.set_shop_field("main", "license_key_enc", legacy_token(secret, "SL-revoked"))
    async with bot_stack(tmp_path, secret_key=secret) as s:
        row = await s.rt.core.store.shop_row("main")
        assert row["license_key_enc"].startswith("v2:")
        assert KeyVault(secret).decrypt(row["license_key_enc"]) == "SL-revoked"
        assert await intake(s.rt.core, "main") is not None
        used = {c.license_key for c in s.sim.calls if c.function != "license"}
        assert used == {"SL-main-key"}
        logged = [r.getMessage() for r in caplog.records if r.name == "core.licenses"]
        assert any(
            m.startswith("shop main: using the key from the environment (expires") for m in logged
        )
        assert not any("SL-revoked" in m or "SL-main-key" in m for m in logged)


async def test_the_jobs_probe_settles_a_choice_rms_could_not_make_at_start_up():
    from datetime import time
    from zoneinfo import ZoneInfo

    from bot.daily import Daily
    from core.licenses import choose_key

    async with harness(rps=None) as h:
        env_key, slack_key = "SL-from-the-env-0001", "SL-renewed-in-slack-02"
        h.sim.issue_key(SHOP_ID, env_key, expires=date(2027, 2, 1))
        vault = KeyVault("test-secret", {"main": env_key})
        await stored_key(h, vault, slack_key)  # unknown to RMS
        h.sim.fail_next("license", 1, status=503)
        await choose_key(h.store, vault, "main", probe_once(h))
        assert vault.undecided() == ["main"]
        once = probe_once(h)
        daily = Daily(
            h.core, None, time(18), ZoneInfo("Asia/Tokyo"), vault=vault, probe=lambda _s, k: once(k)
        )
        await daily._probe(h.clock.now())
        assert vault.active_key("main") == env_key and vault.undecided() == []

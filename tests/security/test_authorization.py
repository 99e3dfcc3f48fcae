"""Authorisation where each effect acts: per shop, failing closed, safe defaults said out loud."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from core.intake import intake
from handlers.render import ids
from sandbox.slack.emulator import InboundResult, SlackEmulator
from tests.stack import SHOPS_TOML, Stack, bot_stack, button

NOT_ALLOWED = "この操作の権限がありません"
UNKNOWN = "権限を確認できませんでした"
NO_ADMINS = "ADMINS"
EVERYONE = "everyone in the workspace may confirm orders and write fees"


def said(result: InboundResult) -> str:
    return json.dumps(result.json, ensure_ascii=False) if result.json else result.body


def ephemeral_texts(slack: SlackEmulator, user: str) -> str:
    return "\n".join(
        e.text + json.dumps(e.blocks, ensure_ascii=False) for e in slack.ephemerals(user)
    )


def rms_writes(s: Stack) -> list[str]:
    return [c.function for c in s.sim.calls if c.function in ("confirmOrder", "updateOrderSender")]


def with_shop_settings(tmp_path: Path, **per_shop: str) -> Path:
    """The test shops file with extra lines in some shops' tables (``api='confirmers = …'``)."""
    text = SHOPS_TOML
    for shop, lines in per_shop.items():
        channel = {"main": 'channel = "C0SHOP1"', "api": 'channel = "C0SHOP2"'}[shop]
        text = text.replace(channel, f"{channel}\n{lines}")
    path = tmp_path / "roles.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def denied(s: Stack, shop: str) -> list[tuple[str, str]]:
    return [
        (a["actor"], a["action"])
        for a in await s.rt.core.store.audit_entries(shop)
        if a["outcome"] == "denied"
    ]


# -- the fee modal: checked again at submission -----------------------------------------------


async def open_fee_modal(s: Stack, user: str) -> tuple[str, str, str]:
    """An unset-fee order on the API shop and its fee modal, opened by ``user``."""
    number = s.add_order("api", postage=-9999)
    await intake(s.rt.core, "api")
    await s.rt.deps.publisher.drain()
    card = next(m for m in s.slack.messages("C0SHOP2") if number in m.text + str(m.blocks))
    await s.slack.click(
        channel="C0SHOP2",
        message_ts=card.ts,
        action_id=ids.OPEN_FEE_MODAL,
        value=f"api|{number}",
        user=user,
    )
    await s.slack.wait_for("views.open")  # the modal opens after the ack
    modal = s.slack.open_modal(user)
    assert modal is not None
    block = next(b["block_id"] for b in modal.view["blocks"] if b["type"] == "input")
    return number, modal.id, block


def fee(block: str, value: str) -> dict[str, dict[str, dict[str, Any]]]:
    return {block: {ids.FEE_INPUT: {"type": "plain_text_input", "value": value}}}


async def test_fee_submission_is_refused_when_the_role_went_away_after_the_modal_opened(tmp_path):
    async with bot_stack(tmp_path, confirmers="S0MANAGERS") as s:
        number, view, block = await open_fee_modal(s, "U0SUZUKI")  # a member of S0MANAGERS
        s.slack.usergroups["S0MANAGERS"] = []  # taken out of the group in Slack
        s.clock.advance(minutes=2)  # later than the membership cache lasts
        answer = await s.slack.submit_view(view, fee(block, "800"), user="U0SUZUKI")
        assert NOT_ALLOWED in said(answer)
        await s.settle()
        assert rms_writes(s) == []
        assert not (await s.rt.core.store.get_order(number)).intended_fees
        assert ("U0SUZUKI", "fee") in await denied(s, "api")


async def test_a_fee_modal_submitted_by_a_non_confirmer_never_reaches_rms(tmp_path):
    async with bot_stack(tmp_path, confirmers="U0SUZUKI") as s:
        _number, view, block = await open_fee_modal(s, "U0SUZUKI")
        answer = await s.slack.submit_view(view, fee(block, "800"), user="U0TANAKA")
        assert NOT_ALLOWED in said(answer)
        await s.settle()
        assert rms_writes(s) == []


# -- confirm-all: checked again at the click --------------------------------------------------


async def test_confirm_all_click_is_refused_when_the_role_went_away_after_the_prompt(tmp_path):
    async with bot_stack(tmp_path, confirmers="S0MANAGERS") as s:
        for _ in range(2):
            s.add_order()
        await intake(s.rt.core, "main")
        asked = await s.slack.send_command("/confirm", "all", user="U0SUZUKI", channel="C0SHOP1")
        assert "2件" in said(asked)
        prompt = s.slack.ephemerals("U0SUZUKI")[-1]
        value = button(prompt.blocks, ids.CONFIRM_ALL)["value"]
        s.slack.usergroups["S0MANAGERS"] = []
        s.clock.advance(minutes=2)
        await s.slack.click(
            channel="C0SHOP1",
            message_ts=prompt.ts,
            action_id=ids.CONFIRM_ALL,
            value=value,
            user="U0SUZUKI",
        )
        # the refusal is answered through response_url after the ack
        await s.slack.wait_until(lambda: NOT_ALLOWED in ephemeral_texts(s.slack, "U0SUZUKI"))
        await s.settle()
        assert s.sim.calls_to("confirmOrder") == []
        assert ("U0SUZUKI", "confirm_all") in await denied(s, "main")


async def test_the_work_after_the_ack_checks_the_role_again_before_confirming(tmp_path):
    from core.model import RequestKind

    async with bot_stack(tmp_path, confirmers="U0SUZUKI") as s:
        number = s.add_order()
        await intake(s.rt.core, "main")
        # a stored request, whatever let it in: the worker checks the role at the effect
        await s.rt.deps.request(
            RequestKind.CONFIRM, "main", [number], "U0TANAKA", delivery_key="t1", channel="C0SHOP1"
        )
        await s.settle()
        assert s.sim.calls_to("confirmOrder") == []
        posted = " ".join(m.text + str(m.blocks) for m in s.slack.messages("C0SHOP1"))
        assert "権限がありませんでした" in posted
        assert ("U0TANAKA", "confirm") in await denied(s, "main")


# -- per-shop roles ---------------------------------------------------------------------------


async def test_per_shop_confirmers_override_the_global_list(tmp_path):
    shops = with_shop_settings(tmp_path, api='confirmers = ["U0SATO"]')
    async with bot_stack(tmp_path, shops_file=shops, confirmers="U0TANAKA") as s:
        on_api, on_main = s.add_order("api"), s.add_order("main")
        await intake(s.rt.core, "api")
        await intake(s.rt.core, "main")
        tanaka = await s.slack.send_command("/confirm", on_api, user="U0TANAKA", channel="C0SHOP2")
        assert NOT_ALLOWED in said(tanaka)  # the shop's list replaces the global one
        sato_main = await s.slack.send_command(
            "/confirm", on_main, user="U0SATO", channel="C0SHOP1"
        )
        assert NOT_ALLOWED in said(sato_main)
        sato_api = await s.slack.send_command("/confirm", on_api, user="U0SATO", channel="C0SHOP2")
        assert NOT_ALLOWED not in said(sato_api)
        await s.settle()
        assert [n for n, _ in s.sim.confirm_log] == [on_api]


async def test_bundle_and_unbundle_are_checked_per_shop(tmp_path):
    shops = with_shop_settings(tmp_path, api='confirmers = ["U0SATO"]')
    async with bot_stack(tmp_path, shops_file=shops, confirmers="U0TANAKA") as s:
        main_orders = [s.add_order("main") for _ in range(2)]
        api_orders = [s.add_order("api") for _ in range(2)]
        await intake(s.rt.core, "main")
        await intake(s.rt.core, "api")
        on_main = await s.slack.send_command(
            "/rms", f"bundle {' '.join(main_orders)}", user="U0SATO", channel="C0SHOP1"
        )
        assert NOT_ALLOWED in said(on_main)
        undo_main = await s.slack.send_command(
            "/rms", f"unbundle {main_orders[0]}", user="U0SATO", channel="C0SHOP1"
        )
        assert NOT_ALLOWED in said(undo_main)
        on_api = await s.slack.send_command(
            "/rms", f"bundle {' '.join(api_orders)}", user="U0SATO", channel="C0SHOP2"
        )
        assert NOT_ALLOWED not in said(on_api)
        assert await denied(s, "main") == [("U0SATO", "bundle"), ("U0SATO", "unbundle")]
        assert await denied(s, "api") == []


# -- a user-group lookup that fails denies, and says why ---------------------------------------


async def test_a_failing_user_group_lookup_denies_with_a_clear_message(tmp_path):
    async with bot_stack(tmp_path, confirmers="S0MANAGERS") as s:
        first, second = s.add_order(), s.add_order()
        await intake(s.rt.core, "main")
        await s.slack.send_command("/confirm", first, user="U0SUZUKI")
        await s.settle()
        assert len(s.sim.confirm_log) == 1  # the group was read (and cached)
        s.clock.advance(minutes=2)  # the cached members are stale now
        s.slack.fail_next("usergroups.users.list", status=200, error="missing_scope", count=5)
        refused = await s.slack.send_command("/confirm", second, user="U0SUZUKI")
        assert UNKNOWN in said(refused)
        await s.settle()
        assert len(s.sim.confirm_log) == 1
        audit = await s.rt.core.store.audit_entries("main")
        why = [json.loads(a["detail"]) for a in audit if a["outcome"] == "denied"]
        assert why == [{"verdict": "unknown"}]


# -- admin-only effects: nobody while ADMINS is empty -----------------------------------------


async def test_licence_is_refused_while_no_admins_are_configured(tmp_path):
    async with bot_stack(tmp_path) as s:
        refused = await s.slack.send_command("/rms", "license main", user="U0TANAKA")
        assert NO_ADMINS in said(refused)
        assert s.slack.calls_to("views.open") == []


async def test_per_shop_admins_open_the_licence_modal_only_for_their_shop(tmp_path):
    shops = with_shop_settings(tmp_path, main='admins = ["U0SUZUKI"]')
    async with bot_stack(tmp_path, shops_file=shops) as s:
        await s.slack.send_command("/rms", "license main", user="U0SUZUKI")
        await s.slack.wait_for("views.open")
        assert s.slack.open_modal("U0SUZUKI") is not None
        refused = await s.slack.send_command("/rms", "license api", user="U0SUZUKI")
        assert NO_ADMINS in said(refused)
        assert len(s.slack.calls_to("views.open")) == 1
        # the modal submitted by someone else is checked again, and nothing is stored
        modal = s.slack.open_modal("U0SUZUKI")
        assert modal is not None
        key = {
            ids.LICENSE_BLOCK: {ids.LICENSE_INPUT: {"type": "plain_text_input", "value": "SL-X"}}
        }
        answer = await s.slack.submit_view(modal.id, key, user="U0TANAKA")
        assert NOT_ALLOWED in said(answer)
        assert ("U0TANAKA", "license") in await denied(s, "main")
        assert [
            a for a in await s.rt.core.store.audit_entries("main") if a["outcome"] != "denied"
        ] == []


# -- App Home buttons: read-only, through the same check --------------------------------------


async def test_app_home_buttons_are_read_only_and_answer_without_a_role(tmp_path):
    async with bot_stack(tmp_path, confirmers="S0MANAGERS") as s:
        s.add_order()
        await intake(s.rt.core, "main")
        await s.slack.open_app_home("U0TANAKA")
        await s.slack.wait_for("views.publish")
        home = s.slack.home("U0TANAKA")
        assert home is not None
        s.slack.fail_next("usergroups.users.list", status=200, error="missing_scope", count=5)
        await s.slack.click_view(home.id, ids.HOME_PENDING, value="main", user="U0TANAKA")
        await s.slack.wait_for("views.publish", 2)  # answered in App Home after the ack
        answer = json.dumps(s.slack.home("U0TANAKA").view["blocks"], ensure_ascii=False)
        assert "メイン店" in answer and "注文確認待ち" in answer
        assert s.slack.calls_to("usergroups.users.list") == []


# -- safe defaults, said out loud -------------------------------------------------------------


@pytest.fixture
def single_shop_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)
    for key in ("CONFIRMERS", "ADMINS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "signing-secret",
        "RMS_SERVICE_SECRET": "SP-secret",
        "RMS_LICENSE_KEY": "SL-key",
        "SLACK_CHANNEL": "C0SHOP1",
    }.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_check_warns_and_passes_while_nobody_is_named_to_confirm(
    single_shop_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--env-file", ""]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("configuration OK")
    assert EVERYONE in err
    single_shop_env.setenv("CONFIRMERS", "U0SUZUKI")
    assert main(["check", "--env-file", ""]) == 0
    assert EVERYONE not in capsys.readouterr().err


def test_check_does_not_warn_when_every_shop_names_its_confirmers(
    single_shop_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("RMS_SERVICE_SECRET", "RMS_LICENSE_KEY", "SLACK_CHANNEL"):
        single_shop_env.delenv(key)
    both = with_shop_settings(
        tmp_path, main='confirmers = ["U0SATO"]', api='confirmers = "S0MANAGERS"'
    )
    single_shop_env.setenv("SHOPS_FILE", str(both))
    assert main(["check", "--env-file", ""]) == 0
    assert EVERYONE not in capsys.readouterr().err
    one = with_shop_settings(tmp_path, api='confirmers = ["U0SATO"]')
    single_shop_env.setenv("SHOPS_FILE", str(one))
    assert main(["check", "--env-file", ""]) == 0
    err = capsys.readouterr().err
    assert EVERYONE in err
    assert "main" in err


async def test_start_up_says_once_that_everyone_may_confirm(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    async with bot_stack(tmp_path):
        pass
    assert caplog.text.count(EVERYONE) == 1
    caplog.clear()
    async with bot_stack(tmp_path, confirmers="U0SUZUKI"):
        pass
    assert EVERYONE not in caplog.text


# -- the check itself (one call, shop-aware) ---------------------------------------------------


class Groups:
    """usergroups.users.list as a function: members per group, or a failure."""

    def __init__(self, members: dict[str, list[str]]) -> None:
        self.members, self.failing, self.calls = members, False, 0

    async def __call__(self, group: str) -> list[str]:
        self.calls += 1
        if self.failing:
            raise RuntimeError("usergroups.users.list failed")
        return self.members[group]


async def test_check_gives_one_verdict_per_user_role_and_shop() -> None:
    from handlers.guard import Authorizer, Role, Roles, Verdict

    groups = Groups({"S0GROUP": ["U0MEMBER"]})
    now = [0.0]
    auth = Authorizer(
        Roles(("U0CONF", "S0GROUP"), ("U0ADMIN",)),
        groups,
        shops={"b": Roles(("U0B",), ())},
        monotonic=lambda: now[0],
    )
    assert await auth.check("U0ANYONE", Role.ANYONE, "a") is Verdict.ALLOWED
    assert await auth.check("U0CONF", Role.CONFIRMER, "a") is Verdict.ALLOWED
    assert await auth.check("U0ADMIN", Role.CONFIRMER, "a") is Verdict.ALLOWED
    assert await auth.check("U0MEMBER", Role.CONFIRMER, "a") is Verdict.ALLOWED
    assert await auth.check("U0OTHER", Role.CONFIRMER, "a") is Verdict.DENIED
    assert await auth.check("U0CONF", Role.ADMIN, "a") is Verdict.DENIED
    assert await auth.check("U0ADMIN", Role.ADMIN, "a") is Verdict.ALLOWED
    # shop b has its own lists: no global confirmer, and no admin at all
    assert await auth.check("U0B", Role.CONFIRMER, "b") is Verdict.ALLOWED
    assert await auth.check("U0CONF", Role.CONFIRMER, "b") is Verdict.DENIED
    assert await auth.check("U0ADMIN", Role.ADMIN, "b") is Verdict.NO_ADMINS
    # the group was read once (cached), until the cache is old
    assert groups.calls == 1
    now[0] += 61
    groups.failing = True
    assert await auth.check("U0MEMBER", Role.CONFIRMER, "a") is Verdict.UNKNOWN
    assert await auth.check("U0CONF", Role.CONFIRMER, "a") is Verdict.ALLOWED  # named directly
    groups.failing = False
    assert await auth.check("U0MEMBER", Role.CONFIRMER, "a") is Verdict.ALLOWED


async def test_empty_confirmers_means_everyone_but_empty_admins_means_nobody() -> None:
    from handlers.guard import Authorizer, Role, Roles, Verdict

    auth = Authorizer(Roles((), ()), Groups({}))
    assert await auth.check("U0ANYONE", Role.CONFIRMER, "a") is Verdict.ALLOWED
    assert await auth.check("U0ANYONE", Role.ADMIN, "a") is Verdict.NO_ADMINS


def test_shops_file_roles_are_validated_and_override_the_global_lists(tmp_path: Path) -> None:
    from bot.settings import validate_settings

    shops = with_shop_settings(
        tmp_path, main='confirmers = ["U0SATO", "S0MANAGERS"]', api='admins = "U0SUZUKI"'
    )
    env = {"SLACK_BOT_TOKEN": "xoxb-t", "SLACK_SIGNING_SECRET": "s", "SHOPS_FILE": str(shops)}
    settings, problems = validate_settings(
        env_file=None, environ={**env, "CONFIRMERS": "U0TANAKA", "ADMINS": "U0YAMADA"}
    )
    assert problems == []
    assert settings is not None
    assert settings.shop_roles() == {
        "main": (("U0SATO", "S0MANAGERS"), ("U0YAMADA",)),
        "api": (("U0TANAKA",), ("U0SUZUKI",)),
    }
    bad = with_shop_settings(tmp_path, main='confirmers = ["sato"]', api="admins = []")
    _, problems = validate_settings(env_file=None, environ={**env, "SHOPS_FILE": str(bad)})
    assert problems == [
        f'SHOPS_FILE {bad}: shop "main": confirmers: "sato" is not a Slack user ID (U…/W…) '
        "or user-group ID (S…)",
        f'SHOPS_FILE {bad}: shop "api": admins is empty '
        "(remove it to use ADMINS, or list user or user-group IDs)",
    ]

"""Fuzzed command text: always a valid request or a clear InvalidInputError, never a crash.

Hypothesis drives handlers.parsing directly (fast, ~200 examples per property); a seeded handful
of nasty texts then goes through the whole signed HTTP path of the real app (tests/stack.py),
where every answer must be HTTP 200 with something to show the user.
"""

from __future__ import annotations

import logging
import random
import re
from datetime import datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import InvalidInputError
from handlers.input_errors import input_error_text
from handlers.parsing import (
    ALL_WORDS,
    MAX_NUMBERS,
    SUBCOMMANDS,
    OrdersRequest,
    RmsRequest,
    parse_orders,
    parse_rms,
)
from handlers.render.lists import error_message
from sandbox.slack import payloads
from tests.stack import bot_stack

SHOPS = {"main": "C0SHOP1", "api": "C0SHOP2"}
ASCII_NUMBER = re.compile(r"[0-9]{6,7}-[0-9]{8}-(?:[0-9]{8}|[0-9]{10})")
SLACK_TEXT_LIMIT = 3000
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
DASHES = "-‐‑‒–—―−ー－"
SEPARATORS = [
    " ",
    "  ",
    "\u3000",
    "\t",
    "\n",
    "\r\n",
    ",",
    "、",
    "，",
    "・",
    ";",
    "；",
    ", ",
    "\u200b",
    "|",
    "/",
]
WORDS = [
    *ALL_WORDS,
    "ALL",
    "Ａｌｌ",
    *SHOPS,
    "MAIN",
    "ａｐｉ",
    *SUBCOMMANDS,
    "HELP",
    "shop",
    "-",
    "--",
    "—",
    "",
    "`all`",
    "<@U0TANAKA>",
    "&lt;",
    "*",
    "${jndi:x}",
    "{detail}",
    "%s",
]


@st.composite
def order_numbers(draw: st.DrawFn) -> str:
    """Order numbers as staff paste them: ASCII or full-width digits, any dash, any date."""
    shop = draw(st.integers(0, 9_999_999)).__format__(draw(st.sampled_from(["06d", "07d"])))
    day = draw(
        st.dates(min_value=datetime(1999, 1, 1).date(), max_value=datetime(2099, 12, 31).date())
    )
    date = (
        day.strftime("%Y%m%d") if draw(st.booleans()) else draw(st.from_regex(r"\A[0-9]{8}\Z"))
    )  # mostly real dates; sometimes 20261332 and friends
    serial = draw(st.from_regex(r"\A(?:[0-9]{8}|[0-9]{10}|[0-9]{1,12})\Z"))
    text = draw(st.sampled_from(DASHES)).join([shop, date, serial])
    return text.translate(FULL_WIDTH) if draw(st.booleans()) else text


tokens = st.one_of(
    order_numbers(),
    st.sampled_from(WORDS),
    st.text(max_size=24),
    st.text(alphabet="0123456789０１２３４５６７８９-ー－", max_size=30),
)


@st.composite
def command_texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(tokens, max_size=40))
    out = ""
    for part in parts:
        out += draw(st.sampled_from(SEPARATORS)) + part
    return out if draw(st.booleans()) else draw(st.sampled_from(["", " ", "\n"])) + out.strip()


any_text = st.one_of(command_texts(), st.text(max_size=200))


def assert_clear(error: InvalidInputError) -> None:
    """The user is told what is wrong, in both languages, in a message Slack accepts."""
    for lang in ("ja", "en"):
        text = input_error_text(error, lang)
        assert isinstance(text, str) and text.strip()
        assert len(text) <= SLACK_TEXT_LIMIT
        message = error_message(text, lang)
        assert payloads.block_errors(message["blocks"]) == []


def assert_valid_orders(request: OrdersRequest) -> None:
    assert request.shop in SHOPS
    if request.all:
        assert request.numbers == ()
        return
    assert 1 <= len(request.numbers) <= MAX_NUMBERS
    assert len(set(request.numbers)) == len(request.numbers)
    for number in request.numbers:
        # the parser's own rule (\d) — plus, for the digits staff can type, plain ASCII
        assert re.fullmatch(r"\d{6,7}-\d{8}-(?:\d{8}|\d{10})", number), number
        datetime.strptime(number.split("-")[1], "%Y%m%d")  # a real calendar date


@FUZZ
@given(text=any_text, channel_shop=st.sampled_from([None, "main", "api"]))
def test_parse_orders_gives_a_request_or_a_clear_error(text, channel_shop):
    try:
        request = parse_orders(text, SHOPS, channel_shop=channel_shop)
    except InvalidInputError as error:
        assert_clear(error)
        return
    assert_valid_orders(request)


@FUZZ
@given(text=any_text, channel_shop=st.sampled_from([None, "main"]))
@example(text=" auto", channel_shop=None)  # every shop's automation status: no shop named
def test_parse_rms_gives_a_request_or_a_clear_error(text, channel_shop):
    try:
        request = parse_rms(text, SHOPS, channel_shop=channel_shop)
    except InvalidInputError as error:
        assert_clear(error)
        return
    assert isinstance(request, RmsRequest)
    assert request.verb in SUBCOMMANDS
    every_shop = request.verb == "auto" and request.arg in ("status", "pause", "resume")
    assert request.shop in SHOPS or (every_shop and request.shop == "")
    assert len(set(request.numbers)) == len(request.numbers)
    if request.verb == "bundle":
        assert len(request.numbers) >= 2
    if request.verb == "unbundle":
        assert len(request.numbers) == 1


@FUZZ
@given(
    numbers=st.lists(order_numbers(), min_size=1, max_size=30),
    separators=st.lists(st.sampled_from(SEPARATORS[:-2]), min_size=1),
)
def test_valid_numbers_survive_full_width_digits_dashes_and_separators(numbers, separators):
    """Whatever digits, dashes and separators: the numbers come out as ASCII or as an error."""
    text = "".join(separators[i % len(separators)] + n for i, n in enumerate(numbers))
    try:
        request = parse_orders(text, SHOPS, channel_shop="main")
    except InvalidInputError as error:
        assert_clear(error)
        return
    assert all(ASCII_NUMBER.fullmatch(n) for n in request.numbers), request.numbers
    assert len(request.numbers) == len(set(request.numbers))


@pytest.mark.parametrize(
    "token",
    [
        "111111-20261128-0000000001",
        "zz",
        "﷽",  # NFKC expands it eighteen-fold
        "１１１１１１－２０２６１１２８－００００００００１１",
        "111111-20261128-0000000001、",
    ],
)
@pytest.mark.parametrize("parse", [parse_orders, parse_rms])
def test_ten_thousand_tokens_get_an_answer_fast(token, parse):
    text = " ".join([token] * 10_000)
    if parse is parse_rms:
        text = "bundle " + text
    try:
        parse(text, SHOPS, channel_shop="main")
    except InvalidInputError as error:
        assert_clear(error)


def test_more_than_five_hundred_distinct_numbers_is_too_many():
    numbers = [f"111111-20261128-{i:010d}" for i in range(10_000)]
    with pytest.raises(InvalidInputError, match="too_many:10000"):
        parse_orders("\n".join(numbers), SHOPS, channel_shop="main")


def test_full_width_digits_and_japanese_separators_are_accepted():
    text = (
        "１１１１１１ー２０２６１１２８ー０００００００００１、\t"
        "111111－20261128－0000000002，\n111111-20261128-0000000001"
    )
    request = parse_orders(text, SHOPS, channel_shop="main")
    assert request.numbers == ("111111-20261128-0000000001", "111111-20261128-0000000002")


@pytest.mark.parametrize("number", ["١١١١١١-20261128-٠٠٠٠٠٠٠٠٠١", "१११११११-20261128-00000001"])
def test_non_ascii_digits_are_not_order_numbers(number):
    with pytest.raises(InvalidInputError, match="bad_numbers"):
        parse_orders(number, SHOPS, channel_shop="main")


# --- through the real app ---------------------------------------------------------------------


def nasty_texts(seed: int = 20261128, count: int = 24) -> list[str]:
    rnd = random.Random(seed)
    alphabet = (
        "0123456789０１２３４５６７８９-ー－、，・ \t\n"
        "allmainapi全部すべて"
        "<>&*_~`\"'\\/{}%$#@!?"
        "\u200b\u200e\u202e\ufeff"
        "😀🇯🇵👩‍👩‍👧"
        "﷽ｱｲｳ漢字"
    )
    texts = [
        "",
        " ",
        "\n\n",
        "all",
        "ALL main",
        "全部 api",
        "all 111111-20261128-0000000001",
        "111111-20261128-0000000001 main api",
        "１１１１１１ー２０２６１１２８ー００００００００９９",
        "<!channel> <@U0TANAKA> <#C0SHOP1|shop-main>",
        "*bold* _it_ ~s~ `code` ```block```",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "{detail} %s %(x)s ${jndi:ldap://x}",
        " ".join(["zz"] * 10_000),
        " ".join(["111111-20261128-0000000001"] * 10_000),
        "\n".join(f"111111-20261128-{i:010d}" for i in range(501)),
    ]
    while len(texts) < count:
        texts.append("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 120))))
    return texts


@pytest.mark.slow
async def test_signed_commands_with_fuzzed_text_always_get_200_and_words(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    async with bot_stack(tmp_path) as s:
        s.add_order()
        for i, text in enumerate(nasty_texts()):
            command = ("/confirm", "/rms-status", "/rms")[i % 3]
            channel = ("C0SHOP1", "C0SHOP2", "C0SUMMARY")[(i // 3) % 3]
            result = await s.slack.send_command(command, text, channel=channel)
            assert result.status == 200, (command, text[:80])
            shown = result.json.get("text") if result.json else result.body
            assert shown and shown.strip(), (command, text[:80], result.body[:200])
        await s.settle()
        refused = [
            e.text for u in ("U0TANAKA",) for e in s.slack.ephemerals(u) if e.source == "slack"
        ]
        assert refused == []  # Slack never had to say "failed" or "ack rejected"
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == []

"""Every user-facing catalogue has both languages, the same placeholders, and staff words in ja."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping

import pytest

from core import remediation
from handlers import input_errors, messages
from handlers.render import (
    alerts,
    auto_texts,
    bundles,
    digest,
    home,
    i18n,
    lists,
    summary,
    texts,
)

Pair = tuple[str, str, str]  # (where, ja, en)


def _pairs(name: str, catalogue: Mapping[object, tuple[str, str]]) -> Iterator[Pair]:
    for key, (ja, en) in catalogue.items():
        yield f"{name}[{key}]", ja, en


def _all_pairs() -> Iterator[Pair]:
    # The dominant shape: key → (ja, en).
    yield from _pairs("messages", messages._TEXTS)
    yield from _pairs("texts", texts.TEXTS)
    yield from _pairs("home", home._TEXTS)
    yield from _pairs("digest", digest._TEXTS)
    yield from _pairs("bundles", bundles._T)
    yield from _pairs("summary", summary._TEXTS)
    yield from _pairs("alerts", alerts._TEXTS)
    yield from _pairs("alerts.progress", alerts._PROGRESS)
    yield from _pairs("input_errors", input_errors._TEXT)
    yield from _pairs("i18n.flag_reasons", i18n._FLAG_REASONS)
    yield from _pairs("i18n.outcomes", i18n._OUTCOMES)
    yield from _pairs("auto_texts", auto_texts.AUTO_TEXTS)
    yield from _pairs("auto_texts.hold_reasons", auto_texts.HOLD_REASONS)
    # Other shapes, each read as (ja, en) pairs.
    for stage, (_icon, ja, en) in i18n._STAGES.items():
        yield f"i18n.stages[{stage}]", ja, en
    for reason, (label_ja, label_en, text_ja, text_en) in i18n._REASONS.items():
        yield f"i18n.reasons[{reason}].label", label_ja, label_en
        yield f"i18n.reasons[{reason}].text", text_ja, text_en
    yield "lists.help_note", *lists._HELP_NOTE
    for section, rows in lists._HELP.items():
        for command, ja, en in rows:
            yield f"lists.help[{section}][{command}]", ja, en
    for key, entry in remediation.CATALOGUE.items():
        yield f"remediation[{key}].title", entry.title.ja, entry.title.en
        yield f"remediation[{key}].cause", entry.cause.ja, entry.cause.en
        for n, step in enumerate(entry.steps):
            yield f"remediation[{key}].steps[{n}]", step.ja, step.en


PAIRS = list(_all_pairs())
IDS = [where for where, _, _ in PAIRS]

# Internal names staff never see: stage values and RMS wire fields.
INTERNAL = re.compile(
    r"(?<![\w/-])(needs_action|awaiting|sending|processing|processed|orderProgress|postagePrice)"
    r"(?![\w-])"
)


def _fields(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_the_catalogues_are_all_read() -> None:
    assert len(PAIRS) > 300  # a catalogue silently dropped from the list above would show here
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize(("where", "ja", "en"), PAIRS, ids=IDS)
def test_both_languages_are_present(where: str, ja: str, en: str) -> None:
    assert ja.strip(), f"{where}: Japanese text is empty"
    assert en.strip(), f"{where}: English text is empty"


@pytest.mark.parametrize(("where", "ja", "en"), PAIRS, ids=IDS)
def test_placeholders_match(where: str, ja: str, en: str) -> None:
    assert _fields(ja) == _fields(en), f"{where}: placeholders differ"


@pytest.mark.parametrize(("where", "ja", "en"), PAIRS, ids=IDS)
def test_japanese_uses_staff_words(where: str, ja: str, en: str) -> None:
    found = INTERNAL.findall(ja)
    assert not found, f"{where}: internal name(s) {found} in the Japanese text"


def test_the_checks_can_fail() -> None:
    assert _fields("{count}件") != _fields("{n} orders")
    assert INTERNAL.findall("ステータス: processing")
    assert INTERNAL.findall("orderProgress が 100")
    assert not INTERNAL.findall("/rms pending と `rms-processing-help`")

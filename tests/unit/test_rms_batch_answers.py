"""Batch write answers at the wire: any status naming orders is read per order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from core import errors
from core.rms.per_order import MISSING_RESULT, confirm_results
from core.rms.translate import interpret
from core.rms.wire import Envelope

NOW = datetime(2026, 11, 28, tzinfo=UTC)
A, B, C, D, E = (f"123456-20261128-{i:010d}" for i in range(1, 6))
INFO_101 = "ORDER_EXT_API_CONFIRM_ORDER_INFO_101"
ERROR_102 = "ORDER_EXT_API_CONFIRM_ORDER_ERROR_102"


def _msg(kind: str, code: str, number: str | None = None, text: str = "…") -> dict[str, Any]:
    entry: dict[str, Any] = {"messageType": kind, "messageCode": code, "message": text}
    if number is not None:
        entry["orderNumber"] = number
    return entry


def _body(*messages: dict[str, Any]) -> bytes:
    return json.dumps({"MessageModelList": list(messages)}, ensure_ascii=False).encode()


FOUR_AND_ONE = _body(
    *(_msg("INFO", INFO_101, n) for n in (A, B, D, E)), _msg("ERROR", ERROR_102, C)
)


@pytest.mark.parametrize("status", [200, 400, 409, 500, 503])
def test_a_batch_answer_naming_orders_is_data_whatever_its_status(status: int) -> None:
    data = interpret("confirmOrder", status, FOUR_AND_ONE, None, NOW, (), per_order=True)
    results = confirm_results([A, B, C, D, E], Envelope.model_validate(data).messages)
    assert [(r.ok, r.clear) for r in results] == [(True, True)] * 2 + [(False, True)] + [
        (True, True)
    ] * 2
    assert results[2].code == ERROR_102


def test_without_per_order_reading_the_same_400_is_a_rejection_of_the_call() -> None:
    with pytest.raises(errors.RmsRejectedError):
        interpret("getOrder", 400, FOUR_AND_ONE, None, NOW, ())


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        # request-level validation: no message names an order, so nothing was done
        (
            400,
            _body(_msg("ERROR", "ORDER_EXT_API_CONFIRM_ORDER_ERROR_009")),
            errors.RmsRejectedError,
        ),
        (
            401,
            b'{"Results":{"errorCode":"ES01-01","message":"Un-Authorised"}}',
            errors.RmsAuthError,
        ),
        (403, b"Forbidden-Exceeded QPS Limitation", errors.RmsRateLimitedError),
        (503, b"<html>maintenance</html>", errors.RmsMaintenanceError),
        (500, _body(_msg("ERROR", "SYSTEM")), errors.RmsUnavailableError),
        (200, b"<html>ok</html>", errors.RmsProtocolError),
    ],
)
def test_answers_that_name_no_order_keep_their_error(
    status: int, body: bytes, expected: type[errors.RmsError]
) -> None:
    with pytest.raises(expected):
        interpret("confirmOrder", status, body, None, NOW, (), per_order=True)


def test_an_order_not_named_is_unclear_not_failed() -> None:
    [named, silent] = confirm_results(
        [A, B], [Envelope.model_validate(json.loads(_body(_msg("INFO", INFO_101, A)))).messages[0]]
    )
    assert (named.ok, named.clear) == (True, True)
    assert (silent.ok, silent.clear, silent.code) == (False, False, MISSING_RESULT)


@pytest.mark.parametrize(
    "messages",
    [
        [_msg("WARNING", "ORDER_EXT_API_CONFIRM_ORDER_WARNING_101", A)],
        [_msg("ERROR", "ORDER_EXT_API_CONFIRM_ORDER_ERROR_999", A)],
        [_msg("INFO", "ORDER_EXT_API_CONFIRM_ORDER_INFO_999", A)],
        [_msg("INFO", INFO_101, A), _msg("ERROR", ERROR_102, A)],
        [_msg("ERROR", ERROR_102, A), _msg("ERROR", "ORDER_EXT_API_CONFIRM_ORDER_ERROR_104", A)],
    ],
    ids=["warning", "unknown-error", "unknown-info", "contradiction", "known-and-unknown"],
)
def test_an_unrecognised_message_is_unclear_and_keeps_its_code(
    messages: list[dict[str, Any]],
) -> None:
    envelope = Envelope.model_validate({"MessageModelList": messages})
    [result] = confirm_results([A], envelope.messages)
    assert (result.ok, result.clear) == (False, False)
    shown = next((m for m in messages if m["messageType"] == "ERROR"), messages[0])
    assert result.code == shown["messageCode"] != MISSING_RESULT


@pytest.mark.parametrize(
    "code",
    [
        "ORDER_EXT_API_CONFIRM_ORDER_ERROR_102",
        "ORDER_EXT_API_CONFIRM_ORDER_ERROR_103",
        "ORDER_EXT_API_CONFIRM_ORDER_ERROR_105",
    ],
)
def test_a_known_refusal_is_a_clear_refusal(code: str) -> None:
    envelope = Envelope.model_validate({"MessageModelList": [_msg("ERROR", code, A, "理由")]})
    [result] = confirm_results([A], envelope.messages)
    assert (result.ok, result.clear, result.code, result.message) == (False, True, code, "理由")


def test_messages_for_orders_not_asked_about_are_ignored() -> None:
    envelope = Envelope.model_validate({"MessageModelList": [_msg("INFO", INFO_101, E)]})
    [result] = confirm_results([A], envelope.messages)
    assert (result.ok, result.clear) == (False, False)

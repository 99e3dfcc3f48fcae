"""Slack's answers to a post, classified (pure)."""

from __future__ import annotations

import pytest

from handlers.slack_failures import UNKNOWN_ERROR_ATTEMPTS, Verdict, classify


@pytest.mark.parametrize(
    ("error", "status", "verdict"),
    [
        ("channel_not_found", 200, Verdict.DEAD),
        ("is_archived", 200, Verdict.DEAD),
        ("not_in_channel", 200, Verdict.DEAD),
        ("invalid_blocks", 200, Verdict.DEAD),
        ("msg_too_long", 200, Verdict.DEAD),
        ("invalid_auth", 200, Verdict.PAUSE),  # the token, not the message: never dead-letter
        ("token_revoked", 200, Verdict.PAUSE),
        ("ratelimited", 429, Verdict.RETRY),
        ("internal_error", 500, Verdict.RETRY),
        ("", 503, Verdict.RETRY),
        ("service_unavailable", 200, Verdict.RETRY),
    ],
)
def test_each_slack_answer_gets_its_verdict(error, status, verdict):
    assert classify(error, status, attempts=1) is verdict


def test_an_unknown_error_is_retried_a_few_times_then_dead_lettered():
    assert classify("something_new", 200, UNKNOWN_ERROR_ATTEMPTS - 1) is Verdict.RETRY
    assert classify("something_new", 200, UNKNOWN_ERROR_ATTEMPTS) is Verdict.DEAD
    assert classify("internal_error", 500, 100) is Verdict.RETRY  # Slack down: never given up

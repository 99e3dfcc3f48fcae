"""The per-key token bucket on a fake clock, and the backoff arithmetic for retried reads."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest

from core.context import RetryPolicy
from core.rms.limiter import RateLimiter
from core.rms.retry import backoff_delay, parse_retry_after
from tests.fakes import FakeClock


# --- limiter -----------------------------------------------------------------------------------
async def test_ten_calls_at_one_per_second_take_nine_seconds(clock: FakeClock) -> None:
    limiter = RateLimiter(clock)
    start = clock.now()
    for _ in range(10):
        await limiter.acquire()
    assert sum(clock.slept) == pytest.approx(9.0)
    assert (clock.now() - start).total_seconds() == pytest.approx(9.0)


async def test_the_rate_is_configurable(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, rate=5.0)
    for _ in range(10):
        await limiter.acquire()
    assert sum(clock.slept) == pytest.approx(1.8)


async def test_a_burst_passes_at_once_then_the_rate_applies(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, rate=1.0, burst=3)
    for _ in range(3):
        await limiter.acquire()
    assert clock.slept == []
    await limiter.acquire()
    assert sum(clock.slept) == pytest.approx(1.0)


async def test_idle_time_refills_the_bucket_only_up_to_the_burst(clock: FakeClock) -> None:
    limiter = RateLimiter(clock)
    await limiter.acquire()
    clock.advance(60)
    await limiter.acquire()
    assert clock.slept == []
    await limiter.acquire()
    assert sum(clock.slept) == pytest.approx(1.0)


async def test_concurrent_callers_are_served_one_per_second(clock: FakeClock) -> None:
    limiter = RateLimiter(clock)
    start = clock.now()
    served: list[float] = []

    async def call() -> None:
        await limiter.acquire()
        served.append((clock.now() - start).total_seconds())

    await asyncio.gather(*(call() for _ in range(5)))
    assert served == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])
    assert sum(clock.slept) == pytest.approx(4.0)


async def test_an_uncontended_call_does_not_sleep(clock: FakeClock) -> None:
    limiter = RateLimiter(clock)
    clock.advance(5)
    await limiter.acquire()
    assert clock.slept == []


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_a_limiter_needs_a_positive_rate_and_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(FakeClock(), rate=rate, burst=burst)


# --- backoff -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("attempt", "low", "high"), [(1, 0.5, 1.0), (2, 1.0, 2.0), (4, 4.0, 8.0)])
def test_backoff_grows_exponentially_with_jitter(attempt: int, low: float, high: float) -> None:
    rng = random.Random(1)
    delays = [backoff_delay(attempt, rng=rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    assert len(set(delays)) > 100  # jittered, not a constant


def test_backoff_is_capped() -> None:
    assert backoff_delay(30, rng=random.Random(0), cap=60.0) <= 60.0
    assert backoff_delay(30, rng=random.Random(0), cap=60.0) >= 30.0


def test_retry_after_is_a_floor_but_still_capped() -> None:
    assert backoff_delay(1, rng=random.Random(0), retry_after=12.0) == 12.0
    assert backoff_delay(1, rng=random.Random(0), retry_after=600.0, cap=60.0) == 60.0


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    first = [backoff_delay(n, rng=random.Random(7)) for n in range(1, 5)]
    again = [backoff_delay(n, rng=random.Random(7)) for n in range(1, 5)]
    assert first == again


def test_confirm_retry_policy_uses_the_same_backoff() -> None:
    policy = RetryPolicy(base_delay=2.0, max_delay=120.0)
    for attempt in (1, 3, 10):
        expected = backoff_delay(attempt, rng=random.Random(5), base=2.0, cap=120.0)
        assert policy.delay(attempt, None, random.Random(5)) == expected
    assert 60.0 <= policy.delay(7, None, random.Random(0)) <= 120.0


def test_confirm_retry_policy_honours_retry_after_past_its_cap() -> None:
    policy = RetryPolicy(max_delay=120.0)
    assert policy.delay(1, 30.0, random.Random(0)) == 30.0
    assert policy.delay(1, 300.0, random.Random(0)) == 300.0  # RMS asked for it: wait it out


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError):
        backoff_delay(0, rng=random.Random(0))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Sat, 28 Nov 2026 00:01:00 GMT", 60.0),
        ("Fri, 27 Nov 2026 00:00:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_header_forms(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=datetime(2026, 11, 28, tzinfo=UTC)) == expected


async def test_after_an_answer_the_next_request_waits_a_full_interval_from_it():
    """Jitter cannot bring two requests to RMS closer than 1/rate: the wait counts from the
    answer of the previous one, not only from when it left."""
    clock = FakeClock()
    limiter = RateLimiter(clock, rate=1.0)
    await limiter.acquire()
    clock.advance(0.7)  # the request took 0.7 s on a loaded machine
    limiter.finished()
    before = clock.now()
    await limiter.acquire()
    assert (clock.now() - before).total_seconds() >= 1.0 - 1e-9

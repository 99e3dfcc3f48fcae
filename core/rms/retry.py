"""Pure backoff arithmetic for retried reads: jittered exponential, Retry-After honoured, capped."""

from __future__ import annotations

import math
import random
from datetime import datetime
from email.utils import parsedate_to_datetime


def backoff_delay(
    attempt: int,
    *,
    rng: random.Random,
    base: float = 1.0,
    cap: float = 60.0,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry).

    "Equal jitter": half of the exponential step is fixed, half is random, so retries from
    several shops spread out but never hammer RMS with a near-zero pause. A server's
    Retry-After is a floor; ``cap`` bounds everything, Retry-After included.
    """
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    step = min(cap, base * 2.0 ** (attempt - 1))
    delay = step / 2 + rng.uniform(0.0, step / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(0.0, min(cap, delay))


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Read a Retry-After header (delta-seconds or HTTP-date) as seconds from ``now``."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())

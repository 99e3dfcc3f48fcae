"""`make bench` smoke test: every section runs at tiny sizes and yields its rows as numbers.

Timings are not asserted (the machine is shared and noisy); only the shape of the table.
"""

from __future__ import annotations

import json
import math

import pytest

from bench.__main__ import SECTIONS, collect
from bench.common import INFO, MEETS, MISSES, table, write_json

pytestmark = pytest.mark.slow

TINY = {
    "ack": {"requests": 8, "levels": (1, 4), "settle": 0.2},
    "rms": {"sizes": (100,), "bulk": 200},
    "latency": {"orders": 4, "hours": 0.5},
    "scale": {"shops": 2, "orders": 100, "stored": 2_000},
    "auto": {"orders": 10, "hours": 0.25},
    "failover": {"ttl": 2.0, "orders": 150},
}
EXPECTED = {
    "ack": [
        "ack p99, /confirm, 1 concurrent",
        "ack p99, /confirm, 4 concurrent",
        "ack p99, button click, 1 concurrent",
        "ack p99, button click, 4 concurrent",
        "ack p99, /confirm, 4 concurrent, PostgreSQL",
    ],
    "rms": [
        "getOrder per poll cycle, N = 100 in flight",
        "bulk confirm 200 @ 1 req/s: confirmOrder calls",
        "bulk confirm 200 @ 1 req/s: wall time (real clock)",
        "QPS rejections provoked by our pacing (bulk confirm)",
    ],
    "latency": [
        "楽天処理済 latency, fixed 5 min (baseline): median",
        "楽天処理済 latency, fixed 5 min (baseline): request budget used",
        "楽天処理済 latency, adaptive (bot default): median",
        "楽天処理済 latency, adaptive (bot default): request budget used",
    ],
    "scale": [
        "2 shops × 100 in flight: one Jobs tick, paced at 1 req/s per shop",
        "2 shops × 100 in flight: full poll sweep, bot's own time",
        "2 shops × 100 in flight: peak RSS of the bot process",
        "daily summary (build_summary, 50 shops) over 2,000 stored orders",
    ],
    "auto": [
        "auto-confirm: arrival → confirmation, median",
        "today's /confirm flow: arrival → confirmation, median",
        "auto-confirm: manual touches per 100 mixed orders",
    ],
    "failover": [
        "leader failover: SIGKILL → first cycle of the new leader",
        "graceful hand-over: SIGTERM → first cycle of the new leader",
        "bulk /confirm all, N = 150, 3 replicas (sent to a follower): confirmOrder calls",
    ],
}


async def test_tiny_bench_has_every_row_with_numbers(tmp_path):
    rows, took = await collect(TINY)

    assert set(took) == set(SECTIONS)
    assert [r.figure for r in rows] == [f for key in SECTIONS for f in EXPECTED[key]]
    for row in rows:
        assert isinstance(row.value, int | float) and not isinstance(row.value, bool), row
        assert math.isfinite(row.value), row
        assert row.verdict in (MEETS, MISSES, INFO), row
        assert row.bound, row
    # Counts that do not depend on timing.
    by_figure = {r.figure: r for r in rows}
    assert by_figure["getOrder per poll cycle, N = 100 in flight"].value == 1
    assert by_figure["bulk confirm 200 @ 1 req/s: confirmOrder calls"].value == 2
    bulk = by_figure[
        "bulk /confirm all, N = 150, 3 replicas (sent to a follower): confirmOrder calls"
    ]
    assert bulk.value == 2  # ⌈150/100⌉, all from the leader
    assert [n for n, calls in bulk.data["by_replica"].items() if calls] == [bulk.data["leader"]]

    text = table(rows)
    assert text.count("\n") == len(rows) + 1
    out = tmp_path / "latest.json"
    write_json(rows, {"profile": "tiny"}, out)
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert [r["figure"] for r in saved["rows"]] == [r.figure for r in rows]
    assert all(isinstance(r["value"], int | float) for r in saved["rows"])

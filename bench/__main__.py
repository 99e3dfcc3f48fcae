"""``python -m bench [--quick] [--only SECTION …]``: every performance figure in one table.

Writes the table's rows (with every raw figure) to bench/results/latest.json. ``--quick``
shrinks every size so the whole run is a smoke test of well under a minute; its numbers are
not the ones to quote.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ack_latency, auto_confirm, failover, result_latency, rms_economy, scale
from bench.common import MISSES, RESULTS, Row, table, write_json

Runner = Callable[..., Awaitable[list[Row]]]
SECTIONS: dict[str, tuple[str, Runner]] = {
    "ack": ("ack latency", ack_latency.run),
    "rms": ("RMS call economy", rms_economy.run),
    "latency": ("result latency", result_latency.run),
    "scale": ("scale", scale.run),
    "auto": ("auto-confirm", auto_confirm.run),
    "failover": ("leader failover", failover.run),
}
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "ack": {"requests": 500, "levels": (1, 10, 50), "settle": 3.0},
        "rms": {"sizes": (100, 1_000, 10_000), "bulk": 1_000},
        "latency": {"orders": 400, "hours": 10.0},
        "scale": {"shops": 50, "orders": 2_000, "stored": 1_000_000},
        "auto": {"orders": 300, "hours": 8.0},
        "failover": {"ttl": 20.0, "orders": 300},
    },
    "quick": {
        "ack": {"requests": 60, "levels": (1, 10, 50), "settle": 1.0},
        "rms": {"sizes": (100, 1_000), "bulk": 300},
        "latency": {"orders": 30, "hours": 1.0},
        "scale": {"shops": 3, "orders": 200, "stored": 20_000},
        "auto": {"orders": 40, "hours": 1.0},
        "failover": {"ttl": 2.0, "orders": 300},
    },
}


def _error_row(section: str, exc: BaseException) -> Row:
    return Row(
        section,
        f"{SECTIONS[section][0]}: failed",
        float("nan"),
        "",
        "runs",
        MISSES,
        f"{type(exc).__name__}: {exc}"[:200],
    )


async def collect(
    sizes: Mapping[str, Mapping[str, Any]],
    only: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[list[Row], dict[str, float]]:
    """Run the sections (all, or ``only``) with these sizes; rows in table order."""
    rows: list[Row] = []
    took: dict[str, float] = {}
    for key, (title, runner) in SECTIONS.items():
        if only and key not in only:
            continue
        if log:
            log(f"bench: {title} …")
        started = time.perf_counter()
        try:
            rows += await runner(**sizes.get(key, {}))
        except Exception as exc:  # one broken section must not hide the others
            logging.getLogger("bench").exception("section %s failed", key)
            rows.append(_error_row(key, exc))
        took[key] = time.perf_counter() - started
        if log:
            log(f"bench: {title} done in {took[key]:.0f} s")
    return rows, took


def _meta(profile: str, took: Mapping[str, float]) -> dict[str, Any]:
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": profile,
        "seconds_per_section": {k: round(v, 1) for k, v in took.items()},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="some sections only")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON file (default bench/results/latest.json, bench/results/quick.json with --quick)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("handlers.tasks").setLevel(logging.ERROR)  # the abandoned report posts
    profile = "quick" if args.quick else "full"

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    rows, took = asyncio.run(collect(PROFILES[profile], args.only, log))
    out = args.out or RESULTS / ("quick.json" if args.quick else "latest.json")
    write_json(rows, _meta(profile, took), out)
    print(table(rows))
    missed = [r.figure for r in rows if r.verdict == MISSES]
    print(
        f"\n{len(rows)} figures, {len(missed)} missed; {time.perf_counter() - started:.0f} s; "
        f"JSON: {out}"
    )
    return 1 if any(r.figure.endswith(": failed") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

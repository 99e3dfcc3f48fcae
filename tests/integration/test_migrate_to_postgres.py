"""``python -m bot migrate-sqlite-to-postgres``: every table copied in one transaction, ids and
sequences kept, counts checked; a filled target refused unless --replace. Real SQLite, the
session's throwaway PostgreSQL, the RMS simulator over loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.__main__ import main
from core.confirm import confirm
from core.intake import intake
from core.model import Request, RequestKind
from core.store.postgres import PgStore
from core.store.requests import insert_request
from core.store.sqlite import SqliteStore, Store
from tests.harness import harness
from tests.pg import PgDatabases


async def _populate(path: Path) -> None:
    async with harness(db=str(path)) as h:
        numbers = [h.add_order() for _ in range(3)]
        await intake(h.core, "main")
        await confirm(h.core, "main", numbers[:2], "U0TANAKA")
        async with h.store.statement() as t:
            await insert_request(
                t, Request(RequestKind.CONFIRM, "main", ("x",), "U0SATO", h.clock.now(), "d1")
            )
        async with h.store.tx() as t:
            await t.enqueue_message(
                "card:x", "main", "C0SHOP1", "card", {"m": "注文"}, at=h.clock.now()
            )
            await t.audit("main", "U0SATO", "confirm", "ok", h.clock.now())
        await h.store.set_ref("card:x", "C0SHOP1|1.1")
        await h.store.claim_run("summary", "2026-11-28", h.clock.now())
        h.clock.advance(minutes=1)


async def _snapshot(store: Store) -> dict[str, list[tuple]]:
    tables = [
        "shops",
        "orders",
        "intents",
        "outbox",
        "audit",
        "requests",
        "messages",
        "refs",
        "runs",
    ]
    found: dict[str, list[tuple]] = {}
    async with store.read() as r:
        for table in tables:
            rows = await r.rows(f"SELECT * FROM {table} ORDER BY 1")
            found[table] = [tuple(dict(row).values()) for row in rows]
    return found


async def _new_request_id(url: str) -> tuple[int, int]:
    async with PgStore.open(url) as store:
        async with store.statement() as t:
            row = await insert_request(
                t, Request(RequestKind.REFETCH, "main", ("y",), "U0SATO", _now(), "d-new")
            )
            before = await t.rows("SELECT MAX(id) FROM requests WHERE delivery_key <> 'd-new'")
        return row[0].id, int(before[0][0])


def _now():
    from tests.fakes import FakeClock

    return FakeClock().now()


def test_every_table_is_copied_with_its_ids_and_counts_are_printed(
    tmp_path: Path, pg: PgDatabases, capsys
) -> None:
    path = tmp_path / "bot.sqlite3"
    asyncio.run(_populate(path))
    url = pg.empty()
    assert main(["migrate-sqlite-to-postgres", "--from", str(path), "--to", url]) == 0
    out = capsys.readouterr().out
    assert "counts match" in out
    for line in ("orders", "intents", "outbox", "requests", "messages", "refs", "runs"):
        assert any(row.split()[0] == line for row in out.splitlines()), out

    async def compare() -> None:
        async with SqliteStore.open(path) as source, PgStore.open(url) as target:
            assert await _snapshot(target) == await _snapshot(source)
            assert len((await _snapshot(source))["orders"]) == 3

    asyncio.run(compare())
    new_id, old_max = asyncio.run(_new_request_id(url))
    assert new_id > old_max  # the sequence went past the copied ids


def test_a_filled_target_is_refused_unless_replace(tmp_path: Path, pg: PgDatabases, capsys) -> None:
    path = tmp_path / "bot.sqlite3"
    asyncio.run(_populate(path))
    url = pg.fresh()
    args = ["migrate-sqlite-to-postgres", "--from", str(path), "--to", url]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 1
    assert "already holds rows" in capsys.readouterr().err
    assert main([*args, "--replace"]) == 0
    assert "counts match" in capsys.readouterr().out


def test_bad_arguments_name_what_is_wrong(tmp_path: Path, capsys) -> None:
    assert main(["migrate-sqlite-to-postgres", "--from", "x", "--to", "sqlite:///y"]) == 2
    assert "--to must be a postgresql://" in capsys.readouterr().err
    missing = str(tmp_path / "none.sqlite3")
    url = "postgresql://bot@127.0.0.1:1/none"
    assert main(["migrate-sqlite-to-postgres", "--from", missing, "--to", url]) == 2
    assert "no SQLite file" in capsys.readouterr().err

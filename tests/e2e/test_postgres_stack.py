"""The whole bot on PostgreSQL: signed Slack requests into the real app, the request worker,
the RMS simulator; the store is a fresh database of the session's throwaway server."""

from __future__ import annotations

import asyncio

from core.intake import intake
from core.model import Stage
from core.store.postgres import PgStore
from tests.pg import PgDatabases
from tests.stack import bot_stack


async def test_confirm_commands_on_postgres_confirm_each_order_once(tmp_path, pg: PgDatabases):
    async with bot_stack(tmp_path, database_url=pg.fresh()) as s:
        assert isinstance(s.rt.core.store, PgStore)
        numbers = [s.add_order() for _ in range(4)]
        await intake(s.rt.core, "main")
        sent = await asyncio.gather(
            s.slack.send_command("/confirm", " ".join(numbers[:2]), channel="C0SHOP1"),
            s.slack.send_command("/confirm", " ".join(numbers[2:]), channel="C0SHOP1"),
            s.slack.send_command("/confirm", numbers[0], channel="C0SHOP1"),  # a second click
        )
        assert all(r.status == 200 for r in sent)
        await s.settle()
        await s.crash()  # a restart finds nothing left to do …
        await s.restart()
        await s.settle()
        assert sorted(n for n, _at in s.sim.confirm_log) == sorted(numbers)  # … each once
        records = await s.rt.core.store.get_orders(numbers)
        assert {r.stage for r in records.values()} == {Stage.PROCESSING}
        assert await s.rt.core.store.open_request_ids() == set()

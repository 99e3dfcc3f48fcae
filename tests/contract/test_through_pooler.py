"""The store contract and the units-of-work suite again, through PgBouncer in TRANSACTION
pooling mode (as Heroku's, Supabase's and Railway's poolers run): no prepared statement and no
session state may be relied on, since consecutive transactions can use different server
connections."""

import tests.contract.test_store as contract
import tests.integration.test_units_of_work as units
from core.store.open import open_store

BACKENDS = ("pgbouncer",)

globals().update(
    {
        name: value
        for module in (contract, units)
        for name, value in vars(module).items()
        if not name.startswith(("__", "test_pg_", "BACKENDS"))
    }
)


async def test_the_store_really_goes_through_the_pooler(database, pooler):
    assert database.startswith("postgresql://") and f":{pooler.port}/" in database
    async with open_store(database) as store, store.read() as r:
        rows = await r.rows("SELECT inet_server_port()")
    assert rows[0][0] != pooler.port  # the server behind it answered

"""The leader lease tests again through PgBouncer in TRANSACTION pooling mode: the lease is a
row, renewed by one autocommit upsert, and the fence is read inside the fenced transaction, so
nothing depends on which server connection the pooler hands out."""

import tests.contract.test_leader_lease as lease

BACKENDS = ("pgbouncer",)

globals().update(
    {
        name: value
        for name, value in vars(lease).items()
        if not name.startswith(("__", "test_pg_", "BACKENDS"))
    }
)

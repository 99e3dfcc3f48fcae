"""End-to-end and fault suites of tests/e2e and tests/reliability, run again with the whole bot
on PostgreSQL (their stack and harness open a fresh database of the session's server)."""

from tests.e2e.test_durable_requests import *  # noqa: F403
from tests.e2e.test_post_recovery import *  # noqa: F403
from tests.e2e.test_publisher import *  # noqa: F403
from tests.e2e.test_simulated_day import *  # noqa: F403
from tests.reliability.test_fault_matrix import *  # noqa: F403

BACKENDS = ("postgres",)

"""SQLite suites of tests/integration, run again on PostgreSQL (their harness opens it)."""

from tests.integration.test_batch_answers import *  # noqa: F403
from tests.integration.test_bundle_candidates import *  # noqa: F403
from tests.integration.test_lifecycle import *  # noqa: F403
from tests.integration.test_outbox_delivery import *  # noqa: F403
from tests.integration.test_summary import *  # noqa: F403

BACKENDS = ("postgres",)

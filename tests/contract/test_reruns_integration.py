"""SQLite suites of tests/integration, run again on PostgreSQL (their harness opens it)."""

from tests.integration.test_batch_answers import *  # noqa: F403
from tests.integration.test_bundle_candidates import *  # noqa: F403
from tests.integration.test_lifecycle import *  # noqa: F403
from tests.integration.test_outbox_delivery import *  # noqa: F403
from tests.integration.test_request_inbox import *  # noqa: F403
from tests.integration.test_summary import *  # noqa: F403

# About SQLite's one connection (committed in the caller's own step; another process holding
# its write lock; the statements a transaction holds it for): nothing to run again on PostgreSQL
# (enqueue_messages itself is in tests/contract/test_store.py, on both).
del test_an_uncontended_request_is_committed_in_the_callers_own_step  # noqa: F405, F821
del test_another_process_writing_makes_the_request_wait_without_blocking_the_loop  # noqa: F405, F821
del test_planning_many_cards_holds_the_database_for_a_few_statements  # noqa: F405, F821

BACKENDS = ("postgres",)

"""tests/integration/test_units_of_work.py, run again on PostgreSQL."""

from tests.integration.test_units_of_work import *  # noqa: F403

BACKENDS = ("postgres",)

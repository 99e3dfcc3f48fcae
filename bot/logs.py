"""Log lines name the stored request the worker is carrying out (``req=-`` outside one)."""

from __future__ import annotations

import logging

from core.requests import CURRENT_REQUEST

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s]: %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (set by the worker through a contextvar)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = CURRENT_REQUEST.get()
        record.request_id = "-" if current is None else str(current)
        return True


def configure(level: str) -> None:
    """Root logging for ``serve``: the format above on every handler of the root logger."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())

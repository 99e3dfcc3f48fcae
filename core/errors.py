"""Error taxonomy: every external failure is translated into one of these, once."""

from __future__ import annotations

from typing import ClassVar


class BotError(Exception):
    """Root of every error we raise on purpose."""


class InvalidInputError(BotError):
    """Input from a person (command text, modal field) could not be read; the message names it."""


class InvariantError(BotError):
    """A unit of work would break an Order invariant; it is rolled back whole."""


class RmsError(BotError):
    """RMS failed. ``kind`` keys the remediation catalogue.

    ``before_processing`` is True when RMS certainly did not act on the request (auth, QPS,
    maintenance, validation), so resending a write is safe. False means the outcome is unknown
    (timeouts, 5xx, broken bodies): a write must be reconciled with getOrder, never resent blindly.
    """

    kind: ClassVar[str] = "unknown"
    retryable: ClassVar[bool] = False
    before_processing: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after = retry_after


class RmsAuthError(RmsError):
    """401 (ES01-01 / GA0001): licenceKey expired or wrong, or serviceSecret wrong."""

    kind = "auth"
    before_processing = True


class RmsFunctionDisabledError(RmsError):
    """ES04-01: the API function is not enabled for this key (or a new key is not active yet)."""

    kind = "function_disabled"
    before_processing = True


class RmsRateLimitedError(RmsError):
    """403/429 'Forbidden-Exceeded QPS Limitation': too many requests; retry after a pause."""

    kind = "rate_limited"
    retryable = True
    before_processing = True


class RmsMaintenanceError(RmsError):
    """503: API In Maintenance / overloaded; retry later."""

    kind = "maintenance"
    retryable = True
    before_processing = True


class RmsUnavailableError(RmsError):
    """500/5xx, timeouts, connection errors, non-JSON bodies: APIエラー, outcome unknown."""

    kind = "unavailable"
    retryable = True


class RmsRejectedError(RmsError):
    """400 with ERROR message codes: RMS validated the request and refused it."""

    kind = "rejected"
    before_processing = True

    def __init__(self, message: str, *, codes: tuple[str, ...] = (), status: int | None = 400):
        super().__init__(message, code=codes[0] if codes else None, status=status)
        self.codes = codes


class RmsProtocolError(RmsError):
    """The body did not match what RMS documents (a bug on one side); outcome unknown."""

    kind = "protocol"

"""Typed errors raised by the BTP clients.

Every error carries what an operator needs to act (HTTP status, BTP error code, description, the operation)
and never a secret: request bodies, headers and credential values are not part of any message.
"""

from __future__ import annotations


class BtpError(Exception):
    """Base class of every error raised by :mod:`btp_infra.btp`."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        description: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.description = description
        self.operation = operation

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code {self.code}")
        if self.description and self.description not in self.message:
            parts.append(self.description)
        return " | ".join(parts)


class ServiceKeyError(BtpError, ValueError):
    """A service key or credential document is malformed. Names the source and the key path, never values."""


class TransportError(BtpError):
    """The API could not be reached (connection refused/reset, read timeout) after all retries."""


class BtpHttpError(BtpError):
    """The API answered with an error status after all retries."""


class BadRequestError(BtpHttpError):
    """400: the request was rejected as invalid."""


class UnauthorizedError(BtpHttpError):
    """401: the credentials were rejected (also after one token refresh)."""


class ForbiddenError(BtpHttpError):
    """403: the credentials lack the scope for this call."""


class NotFoundError(BtpHttpError):
    """404: the addressed object does not exist."""


class ConflictError(BtpHttpError):
    """409: the object exists already, or a quota/state conflict."""


class ConcurrentOperationError(BtpHttpError):
    """422: another operation on the same object is in progress."""


class RateLimitedError(BtpHttpError):
    """429: the rate limit was still exceeded when retries ran out."""


class ServerError(BtpHttpError):
    """5xx: the API failed when retries ran out."""


class OperationFailedError(BtpError):
    """An asynchronous operation failed (SM ``failed``, entitlement ``PROCESSING_FAILED``)."""


class DeadlineExceededError(BtpError):
    """An operation (including its retries and polling) did not finish within its overall deadline."""


_STATUS_CLASSES: dict[int, type[BtpHttpError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: ConcurrentOperationError,
    429: RateLimitedError,
}


def http_error_class(status: int) -> type[BtpHttpError]:
    """The most specific :class:`BtpHttpError` subclass for an HTTP status."""
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return ServerError
    return BtpHttpError

"""Typed errors raised by the BTP clients.

Every error carries what an operator needs to act (HTTP status, BTP error code, description, the operation)
and never a secret: request bodies, headers and credential values are not part of any message. Text that comes
from a server (descriptions, reason phrases, a library error quoting a response) passes a :class:`Redactor`
holding what the client sent (client secret, token) first: a hostile or broken server may echo it.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "[secret]"


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


class Redactor:
    """Removes known secret values from text, also partly echoed or encoded ones.

    Each secret is kept with the forms a server may echo it in (JSON/``repr`` escaped, URL-encoded, and for
    :meth:`add_basic` the base64 ``Authorization: Basic`` credentials). Every stretch of text covered by an
    8-character piece of one of them becomes ``[secret]``, so neither the value nor any 8+ character part of
    it survives (for values over 16 KiB: of their first 16 KiB, and the whole value wherever it occurs);
    secrets of 6 or 7 characters are replaced where they occur whole, shorter ones are ignored.
    ``limit`` keeps only the latest secrets (a transport's tokens). Thread-safe; never shows a secret.
    """

    PIECE = 8
    MIN_WHOLE = 6
    PIECED_PREFIX = 16 * 1024

    def __init__(self, secrets: Iterable[str] = (), *, limit: int | None = None) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._known: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        self._all: tuple[frozenset[str], tuple[str, ...]] | None = None
        for secret in secrets:
            self.add(secret)

    @staticmethod
    def forms(secret: str) -> set[str]:
        """The secret as sent and as a server may echo it."""
        return {
            secret,
            json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=False)[1:-1],
            repr(secret)[1:-1],
            quote(secret, safe=""),
            quote_plus(secret),
        }

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < self.MIN_WHOLE:
            return
        with self._lock:
            if secret in self._known:
                self._known[secret] = self._known.pop(secret)  # now the latest
                return
        pieces: set[str] = set()
        whole: set[str] = set()
        for form in self.forms(secret):
            if len(form) < self.PIECE or len(form) > self.PIECED_PREFIX:
                whole.add(form)
            if len(form) >= self.PIECE:
                # Pieces of a long value come from its start only (where a truncated rendering shows it):
                # memory stays bounded for any input (a 1 MiB secret would otherwise be ~6 M pieces).
                head = form[: self.PIECED_PREFIX]
                pieces.update(head[i : i + self.PIECE] for i in range(len(head) - self.PIECE + 1))
        with self._lock:
            self._known[secret] = (frozenset(pieces), frozenset(whole))
            while self._limit is not None and len(self._known) > self._limit:
                del self._known[next(iter(self._known))]
            self._all = None

    def __bool__(self) -> bool:
        return bool(self._known)

    def _merged(self) -> tuple[frozenset[str], tuple[str, ...]]:
        with self._lock:
            if self._all is None:
                pieces = frozenset(p for known, _ in self._known.values() for p in known)
                whole = sorted({w for _, known in self._known.values() for w in known}, key=len, reverse=True)
                self._all = (pieces, tuple(whole))
            return self._all

    def add_basic(self, user: str, password: str) -> None:
        """The password, and ``base64(user:password)`` as a ``Basic`` ``Authorization`` header carries it."""
        self.add(password)
        self.add(base64.b64encode(f"{user}:{password}".encode()).decode())

    def __call__(self, text: str) -> str:
        pieces, whole = self._merged()
        if not pieces and not whole:
            return text
        step = self.PIECE
        covered = [False] * len(text)
        for i in range(len(text) - step + 1):
            if text[i : i + step] in pieces:
                covered[i : i + step] = [True] * step
        if any(covered):
            out: list[str] = []
            for i, char in enumerate(text):
                if not covered[i]:
                    out.append(char)
                elif i == 0 or not covered[i - 1]:
                    out.append(REDACTED)
            text = "".join(out)
        for secret in whole:
            text = text.replace(secret, REDACTED)
        return text

    def optional(self, text: str | None) -> str | None:
        """:meth:`__call__` for text that may be absent."""
        return None if text is None else self(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<{len(self._known)} secrets>)"


class SafeCause(Exception):
    """Stands in for a library exception in a chain of causes: its type and its text, redacted.

    ``requests``/``urllib3`` errors quote what the server sent (a broken status line) or a header value;
    :func:`safe_cause` keeps what they say without what they must not show.
    """


def safe_cause(exc: BaseException, redact: Redactor) -> SafeCause:
    """A :class:`SafeCause` for ``exc``: ``module.Type: text`` with known secrets removed, no chain."""
    kind = type(exc)
    return SafeCause(redact(f"{kind.__module__}.{kind.__qualname__}: {exc}"))


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


class SubaccountGoneError(NotFoundError):
    """The subaccount no longer exists: everything that lived in it (SM objects, entitlements) is gone too."""


class NoAdminAccessError(BtpError):
    """The subaccount exists but has no Service Manager admin access (``serviceManagementBinding``)."""

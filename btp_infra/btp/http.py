"""HTTP transport for the BTP APIs: one session, retries with full-jitter backoff, deadlines, and polling.

Nothing here logs or raises a header, a request body, a token or a credential. Server text in errors (error
descriptions, reason phrases, library errors quoting a response) is redacted of the tokens this transport
sent, since a hostile or broken server may echo them; library exceptions are chained only as redacted
:class:`~btp_infra.btp.errors.SafeCause` s. A token is checked before it goes into a header.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import requests
import tenacity

from .errors import (
    BtpError,
    BtpHttpError,
    DeadlineExceededError,
    Redactor,
    TransportError,
    http_error_class,
    safe_cause,
)

__all__ = [
    "Deadline",
    "PollPolicy",
    "RetryPolicy",
    "TokenSource",
    "Transport",
    "TransportStats",
    "check_token",
    "error_from_response",
    "parse_retry_after",
    "poll",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], None]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
ENTITLEMENT_LOCK_CODE = "30004"
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
_HEADER_SAFE_TOKEN = re.compile(r"[\x21-\x7e]{1,65536}")
"""Printable ASCII without spaces or line breaks (RFC 6750 ``b64token`` is a subset): safe in a header."""
TOKEN_LIMIT = 4
"""How many of the latest access tokens a transport redacts from server text."""


def check_token(token: object, what: str) -> str:
    """``token`` if it can go into an ``Authorization`` header as is; else a :class:`BtpError` without it."""
    if isinstance(token, str) and _HEADER_SAFE_TOKEN.fullmatch(token):
        return token
    raise BtpError(
        f"{what}: the access token is not usable (must be 1 to 65536 printable ASCII characters without "
        "spaces or line breaks); it is not shown",
        operation=what,
    )


class TokenSource(Protocol):
    """What :class:`Transport` needs from a token source (see :mod:`btp_infra.btp.auth`)."""

    def token(self, *, timeout: tuple[float, float]) -> str: ...

    def invalidate(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of one request: bounded attempts, full-jitter exponential backoff, per-request timeouts."""

    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    call_deadline: float | None = 300.0
    """Overall limit of one call (all attempts) when the caller gives no :class:`Deadline`."""
    lock_wait_cap: float = 5.0
    """Longest wait between retries of the entitlement lock (30004), retried until the deadline."""
    sleep: Sleep = field(default=time.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.backoff_base < 0 or self.backoff_cap < 0:
            raise ValueError("backoff_base and backoff_cap must be >= 0")

    def backoff(self, retry_number: int) -> float:
        """Full jitter: uniform in ``[0, min(cap, base * 2**(n-1))]`` before retry ``n`` (1-based)."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** max(0, retry_number - 1))
        return self.random() * ceiling


@dataclass(frozen=True)
class PollPolicy:
    """Poll interval ``min(cap, max(initial, elapsed * ratio))``: quick when short, capped when long."""

    initial: float = 0.25
    ratio: float = 0.1
    cap: float = 10.0
    sleep: Sleep = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.cap < self.initial or self.ratio < 0:
            raise ValueError("PollPolicy needs 0 < initial <= cap and ratio >= 0")

    def interval(self, elapsed: float) -> float:
        return min(self.cap, max(self.initial, elapsed * self.ratio))


class Deadline:
    """An overall time limit of one operation (monotonic clock); ``Deadline(None)`` never expires."""

    def __init__(self, seconds: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.seconds = seconds
        self.started = clock()
        self._end = math.inf if seconds is None else self.started + seconds

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(seconds)

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    def elapsed(self) -> float:
        return self._clock() - self.started

    @property
    def expired(self) -> bool:
        return self._clock() >= self._end

    def exceeded(self, what: str, cause: BaseException | None = None) -> DeadlineExceededError:
        """The error to raise when ``what`` ran out of time."""
        limit = "no limit" if self.seconds is None else f"{self.seconds:g} s"
        err = DeadlineExceededError(f"{what}: did not finish within {limit}", operation=what)
        if isinstance(cause, BtpError):
            err.status, err.code, err.description = cause.status, cause.code, cause.description
        return err

    def __repr__(self) -> str:
        return f"Deadline(seconds={self.seconds!r}, remaining={self.remaining():.3f})"


@dataclass(frozen=True)
class TransportStats:
    """Counters of one transport: API calls per HTTP method, retries, token fetches."""

    calls: Mapping[str, int]
    retries: int
    token_fetches: int

    @property
    def total(self) -> int:
        """All HTTP requests sent, token requests included."""
        return sum(self.calls.values()) + self.token_fetches


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait for a ``Retry-After`` value (delta-seconds or HTTP-date); ``None`` if invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _parse_ratelimit_reset(value: str | None, *, now: float | None = None) -> float | None:
    """``X-RateLimit-Reset`` (§C.2; format unconfirmed): epoch milliseconds or seconds, else a delta."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    current = time.time() if now is None else now
    if number > 1e12:
        return max(0.0, number / 1000 - current)
    if number > 1e9:
        return max(0.0, number - current)
    return max(0.0, number)


def _error_fields(response: requests.Response) -> tuple[str | None, str | None]:
    """BTP ``code`` and ``description`` from both error shapes (Accounts/Entitlements and SM)."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message") or error.get("description")
        return (None if code is None else str(code)), (None if message is None else str(message))
    description = body.get("description") or body.get("error_description")
    broker = body.get("broker_error")
    if not description and isinstance(broker, dict):
        description = broker.get("Description") or broker.get("ErrorMessage")
    return (None if error is None else str(error)), (None if description is None else str(description))


def _is_unknown_route(response: requests.Response) -> bool:
    return response.status_code == 404 and "unknown_route" in response.headers.get("X-Cf-RouterError", "")


def _is_lock_error(response: requests.Response, code: str | None) -> bool:
    if response.status_code != 400:
        return False
    if code == ENTITLEMENT_LOCK_CODE:
        return True
    return ENTITLEMENT_LOCK_CODE in response.text[:4096]


def error_from_response(
    response: requests.Response, what: str, redact: Callable[[str], str] = str
) -> BtpHttpError:
    """The typed error for an error response; message = operation + status text, never the request.

    ``redact`` cleans the server's text (reason phrase, error code, description) of what the client sent.
    """
    code, description = _error_fields(response)
    status = 503 if _is_unknown_route(response) else response.status_code
    cls = http_error_class(status)
    reason = "CF router: unknown route" if status != response.status_code else (response.reason or "error")
    return cls(
        f"{what}: {redact(reason)}",
        status=status,
        code=None if code is None else redact(code),
        description=None if description is None else redact(description),
        operation=what,
    )


class _Retry(Exception):
    """Internal: a failed attempt that may be retried (``safe`` = also for non-idempotent requests)."""

    def __init__(
        self,
        error: BtpError,
        *,
        safe: bool,
        wait: float | None = None,
        lock: bool = False,
        throttled: bool = False,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.safe = safe
        self.wait = wait
        self.lock = lock
        self.throttled = throttled

    @property
    def until_deadline(self) -> bool:
        """Busy (entitlement lock) or throttled (429 with a positive ``Retry-After``): the server will take
        the request later, so it is retried until the deadline, not bounded by ``max_attempts``."""
        return self.lock or self.throttled


class Transport:
    """One API's HTTP client: a ``requests.Session``, a token source, retries and deadlines."""

    def __init__(
        self,
        base_url: str,
        token_source: TokenSource,
        *,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        name: str = "btp",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_source = token_source
        self.policy = policy or RetryPolicy()
        self.name = name
        self._own_session = session is None
        self._session = session or requests.Session()
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._retries = 0
        self._redact = Redactor(limit=TOKEN_LIMIT)

    def redact(self, text: str) -> str:
        """``text`` (from a server) without the tokens this transport sent: for errors built from bodies."""
        return self._redact(text)

    # -- bookkeeping ------

    @property
    def stats(self) -> TransportStats:
        with self._lock:
            calls = dict(self._calls)
            retries = self._retries
        return TransportStats(calls, retries, int(getattr(self.token_source, "fetch_count", 0)))

    def reset_stats(self) -> None:
        with self._lock:
            self._calls.clear()
            self._retries = 0
        reset = getattr(self.token_source, "reset_stats", None)
        if callable(reset):
            reset()

    def _count(self, method: str) -> None:
        with self._lock:
            self._calls[method] += 1

    def _count_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def close(self) -> None:
        if self._own_session:
            self._session.close()
        self.token_source.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ------

    def url_for(self, path: str) -> str:
        """Absolute URL of ``path`` (relative to the API base, or already carrying its path prefix).

        Absolute URLs (e.g. a ``Location`` header) must stay on this API's origin: the token is never sent
        elsewhere.
        """
        base = urlsplit(self.base_url)
        if path.startswith(("http://", "https://")):
            url = path
        elif base.path and (path == base.path or path.startswith(base.path + "/")):
            url = f"{base.scheme}://{base.netloc}{path}"
        else:
            url = f"{self.base_url}/{path.lstrip('/')}"
        target = urlsplit(url)
        if (base.scheme, base.netloc) != (target.scheme, target.netloc):
            raise BtpError(
                f"{self.name}: refusing to send credentials to another origin", operation=self.name
            )
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        ok: Iterable[int] = (200,),
        deadline: Deadline | None = None,
        idempotent: bool | None = None,
        what: str | None = None,
    ) -> requests.Response:
        """Send one API request with retries; returns the response if its status is in ``ok``.

        ``idempotent`` (default: by method, POST is not) decides whether failures after the request may have
        reached the server (read timeout, reset, 5xx) are retried. 429, the entitlement lock (30004), connect
        failures and CF ``unknown_route`` are always retried.
        """
        method = method.upper()
        call = _Call(
            transport=self,
            method=method,
            url=self.url_for(path),
            params=params,
            body=json,
            ok=frozenset(ok),
            deadline=deadline or Deadline(self.policy.call_deadline),
            op=what or f"{self.name} {method} {urlsplit(path).path}",
            retry_unsafe=method in _IDEMPOTENT_METHODS if idempotent is None else idempotent,
        )
        return call.run()

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        body: Any,
        ok: frozenset[int],
        deadline: Deadline,
        refreshed: list[bool],
        op: str,
    ) -> requests.Response:
        while True:
            if deadline.expired:
                raise deadline.exceeded(op)
            timeout = (
                min(self.policy.connect_timeout, deadline.remaining()),
                min(self.policy.read_timeout, deadline.remaining()),
            )
            token = self._token(timeout, op)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            failure: BaseException | None = None
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=body,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                failure = self._failure(op, exc)
            finally:
                self._count(method)
            if failure is not None:
                raise failure  # outside the handler: the library's exception is not chained as context
            if response.status_code == 401 and not refreshed[0]:
                refreshed[0] = True
                self.token_source.invalidate()
                log.debug("%s: 401, refreshing the token once", op)
                continue
            if response.status_code in ok and not _is_unknown_route(response):
                return response
            raise self._classify(response, op)

    def _failure(self, op: str, exc: requests.RequestException) -> BaseException:
        """The error (or :class:`_Retry`) for a failed request; the library's text only redacted."""
        if isinstance(exc, requests.exceptions.InvalidHeader):
            # Its text quotes the header value: the token. check_token() keeps this from happening.
            return BtpError(f"{op}: a request header is not valid; it is not shown", operation=op)
        if isinstance(exc, requests.exceptions.SSLError):
            error = TransportError(f"{op}: TLS error", operation=op)
            error.__cause__ = safe_cause(exc, self._redact)
            return error
        if isinstance(exc, requests.ConnectTimeout):
            return _transport_retry(op, "connect timeout", exc, self._redact, safe=True)
        if isinstance(exc, requests.ReadTimeout):
            return _transport_retry(op, "read timeout", exc, self._redact, safe=False)
        if isinstance(exc, requests.ConnectionError):
            safe = _refused(exc)
            reason = "connection refused" if safe else "connection failed (reset or closed)"
            return _transport_retry(op, reason, exc, self._redact, safe=safe)
        return _transport_retry(op, type(exc).__name__, exc, self._redact, safe=False)

    def _token(self, timeout: tuple[float, float], op: str) -> str:
        try:
            token = self.token_source.token(timeout=timeout)
        except TransportError as exc:
            raise _Retry(exc, safe=True) from exc
        except BtpHttpError as exc:
            if exc.status in RETRYABLE_STATUSES:
                raise _Retry(exc, safe=True) from exc
            raise
        token = check_token(token, op)
        self._redact.add(token)
        return token

    def _classify(self, response: requests.Response, op: str) -> BaseException:
        """The error for a non-OK response, wrapped in :class:`_Retry` when it may be retried."""
        error = error_from_response(response, op, self._redact)
        status = response.status_code
        if _is_lock_error(response, error.code):
            return _Retry(error, safe=True, lock=True)
        if _is_unknown_route(response):
            return _Retry(error, safe=True)
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is None:
                wait = _parse_ratelimit_reset(response.headers.get("X-RateLimit-Reset"))
            # A server that says when to come back is waited for until the deadline (a fleet behind SM's
            # 50 creates/min can need more than max_attempts windows); a bare 429 counts as an attempt.
            return _Retry(error, safe=True, wait=wait, throttled=wait is not None and wait > 0)
        if status in RETRYABLE_STATUSES:
            return _Retry(error, safe=False, wait=parse_retry_after(response.headers.get("Retry-After")))
        return error


@dataclass
class _Call:
    """One :meth:`Transport.request` across its attempts: what tenacity's hooks decide on (retry, wait, stop,
    give up) and what they carry between attempts (the token refresh, the latest retried error)."""

    transport: Transport
    method: str
    url: str
    params: Mapping[str, str | int] | None
    body: Any
    ok: frozenset[int]
    deadline: Deadline
    op: str
    retry_unsafe: bool
    """Whether failures that may have reached the server (read timeout, reset, 5xx) are retried."""
    refreshed: list[bool] = field(default_factory=lambda: [False])
    """Whether the token was already refreshed after a 401 (once per call; shared with ``_attempt``)."""
    last: BtpError | None = None
    """The latest retried error: the cause of a :class:`DeadlineExceededError`."""

    @property
    def policy(self) -> RetryPolicy:
        return self.transport.policy

    def run(self) -> requests.Response:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(self.retryable),
            wait=self.wait,
            stop=self.stop,
            sleep=self.policy.sleep,
            before_sleep=self.before_sleep,
            retry_error_callback=self.give_up,
            reraise=True,
        )
        try:
            result: requests.Response = retrying(self.attempt)
        except _Retry as exc:
            error = exc.error
        else:
            return result
        raise error from error.__cause__  # outside the handler: the _Retry is not chained as context

    def attempt(self) -> requests.Response:
        if self.deadline.expired:
            raise self.deadline.exceeded(self.op, self.last) from self.last
        return self.transport._attempt(
            self.method, self.url, self.params, self.body, self.ok, self.deadline, self.refreshed, self.op
        )

    def retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, _Retry) and (exc.safe or self.retry_unsafe)

    def wait(self, state: tenacity.RetryCallState) -> float:
        exc = _outcome_error(state)
        if isinstance(exc, _Retry) and exc.wait is not None:
            return exc.wait
        if isinstance(exc, _Retry) and exc.lock:
            return min(self.policy.lock_wait_cap, self.policy.backoff(state.attempt_number))
        return self.policy.backoff(state.attempt_number)

    def stop(self, state: tenacity.RetryCallState) -> bool:
        exc = _outcome_error(state)
        # A lock (30004) or a 429 only means "busy": wait for it as long as the deadline allows.
        attempts_left = state.attempt_number < self.policy.max_attempts
        if isinstance(exc, _Retry) and exc.until_deadline:
            attempts_left = True
        return not attempts_left or state.upcoming_sleep >= self.deadline.remaining()

    def give_up(self, state: tenacity.RetryCallState) -> requests.Response:
        exc = _outcome_error(state)
        assert isinstance(exc, _Retry)
        if exc.until_deadline or state.attempt_number < self.policy.max_attempts:
            raise self.deadline.exceeded(self.op, exc.error) from exc.error
        raise exc.error from exc.error.__cause__

    def before_sleep(self, state: tenacity.RetryCallState) -> None:
        self.transport._count_retry()
        exc = _outcome_error(state)
        if isinstance(exc, _Retry):
            self.last = exc.error
        log.debug(
            "%s: attempt %d failed (%s); retrying in %.2f s",
            self.op,
            state.attempt_number,
            exc,
            state.upcoming_sleep,
        )


def _outcome_error(state: tenacity.RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome else None


def _transport_retry(op: str, reason: str, cause: BaseException, redact: Redactor, *, safe: bool) -> _Retry:
    error = TransportError(f"{op}: {reason}", operation=op)
    error.__cause__ = safe_cause(cause, redact)
    return _Retry(error, safe=safe)


def _refused(exc: requests.ConnectionError) -> bool:
    """True if the connection was never established (so the request never reached the server)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        name = type(current).__name__
        if name in {"NewConnectionError", "NameResolutionError"}:
            return True
        current = current.__cause__ or current.__context__ or _first_arg_exception(current)
    return False


def _first_arg_exception(exc: BaseException) -> BaseException | None:
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, BaseException):
            return arg
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, BaseException) else None


def poll(
    fetch: Callable[[], T],
    *,
    done: Callable[[T], bool],
    policy: PollPolicy,
    deadline: Deadline,
    what: str,
    wait_first: bool = False,
) -> T:
    """Call ``fetch`` until ``done(result)``; interval grows with elapsed time (see :class:`PollPolicy`).

    ``wait_first`` sleeps ``policy.initial`` before the first fetch (an operation just started is not done).
    ``fetch``/``done`` raise to signal failure; :class:`DeadlineExceededError` when ``deadline`` passes.
    """
    started = time.monotonic()
    if wait_first:
        policy.sleep(min(policy.initial, deadline.remaining()))
    while True:
        result = fetch()
        if done(result):
            return result
        remaining = deadline.remaining()
        if remaining <= 0:
            raise deadline.exceeded(what)
        interval = policy.interval(time.monotonic() - started)
        policy.sleep(min(interval, remaining))

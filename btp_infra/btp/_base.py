"""Shared plumbing of the API facades: one session and transport, policies, ``close()``, safe creates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Self, TypeVar

import requests

from .auth import ClientCredentialsTokenSource
from .errors import BtpError, ServerError, TransportError
from .http import Deadline, PollPolicy, RetryPolicy, Transport, TransportStats
from .keys import CisServiceKey

DEFAULT_OPERATION_TIMEOUT = 3600.0
"""Default ``timeout`` (seconds) of long operations: far above the 10 minutes users hit with Terraform."""

R = TypeVar("R")
L = TypeVar("L")


class Facade:
    """Base of the API clients: owns one :class:`Transport` and the session it shares with the token."""

    def __init__(
        self, transport: Transport, *, poll_policy: PollPolicy | None, session: requests.Session | None
    ) -> None:
        self.transport = transport
        self.poll_policy = poll_policy or PollPolicy()
        self._session = session

    @property
    def retry_policy(self) -> RetryPolicy:
        return self.transport.policy

    def server_text(self, text: str | None) -> str | None:
        """Text a server wrote (an operation's failure, a state message) without the secrets this client
        sent: a hostile or broken server may echo them back."""
        return None if text is None else self.transport.redact(text)

    @property
    def stats(self) -> TransportStats:
        """HTTP calls made so far (per method, retries, token fetches)."""
        return self.transport.stats

    def reset_stats(self) -> None:
        self.transport.reset_stats()

    def close(self) -> None:
        self.transport.close()
        if self._session is not None:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CisFacade(Facade):
    """A facade authenticated with the global account's cis key (basic-auth client credentials).

    A subclass names its API (:attr:`api`) and where the key says it lives (:meth:`base_url`).
    """

    api: ClassVar[str]

    @staticmethod
    def base_url(key: CisServiceKey) -> str:
        raise NotImplementedError

    def __init__(
        self,
        key: CisServiceKey,
        *,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
    ) -> None:
        session = requests.Session()
        tokens = ClientCredentialsTokenSource(
            key.token_url, key.uaa.clientid, key.uaa.clientsecret, style="basic", session=session
        )
        transport = Transport(self.base_url(key), tokens, policy=retry_policy, session=session, name=self.api)
        super().__init__(transport, poll_policy=poll_policy, session=session)


def json_object(response: requests.Response, what: str) -> dict[str, Any]:
    """The response body as a JSON object, or a :class:`BtpError` naming the operation."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BtpError(f"{what}: response is not a JSON object", status=response.status_code, operation=what)
    return body


def create_without_duplicates(
    post: Callable[[], R],
    lookup: Callable[[], L | None],
    *,
    policy: RetryPolicy,
    deadline: Deadline,
    what: str,
) -> R | L:
    """POST, and after a failure that may hide a success (connection error, 5xx) look up before retrying.

    Returns the POST result, or what ``lookup`` found when a lost response had in fact created the object.
    """
    attempt = 1
    while True:
        try:
            return post()
        except (TransportError, ServerError) as exc:
            found = lookup()
            if found is not None:
                return found
            wait = policy.backoff(attempt)
            if attempt >= policy.max_attempts:
                raise
            if wait >= deadline.remaining():
                raise deadline.exceeded(what, exc) from exc
            policy.sleep(wait)
            attempt += 1

"""Confirm that binding credentials obtain a token: the check a new operator binding passes before the old one
goes (``btp-infra rotate``; every create of the operator-access binding).

Owns :func:`confirm_token`: one client-credentials grant with the binding's own credentials — client secret
in the form body against ``<url>/oauth/token``, or mTLS with the binding's certificate against
``<certurl>/oauth/token`` (:mod:`btp_infra.btp.auth`, as the operator obtains its token) — retried while it
fails, because the credentials of a binding created a moment ago may not work at once (XSUAA answers 401
until the new client is known), until a deadline. Malformed credentials fail at once. Nothing is cached: the
token is fetched with :meth:`~btp_infra.btp.auth.ClientCredentialsTokenSource.grant` and the source closed.
Errors name the binding and the last failure, never a secret (the token sources redact what they send).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .auth import ClientCredentialsTokenSource, TokenGrant, X509TokenSource
from .errors import BtpError, BtpHttpError, DeadlineExceededError, TransportError
from .http import Deadline, PollPolicy
from .keys import X509BindingCredentials, parse_binding_credentials

__all__ = ["CREDENTIAL_CHECK_TIMEOUT", "confirm_token", "untrusted_endpoint"]

CREDENTIAL_CHECK_TIMEOUT: Final = 120.0
"""At most this many seconds for new credentials to start working (less when the binding's own timeout has
less left)."""
_REQUEST_TIMEOUT: Final = (5.0, 15.0)


def confirm_token(
    credentials: Mapping[str, Any],
    *,
    what: str,
    timeout: float = CREDENTIAL_CHECK_TIMEOUT,
    policy: PollPolicy | None = None,
    verify: bool | str = True,
) -> TokenGrant:
    """A token obtained with ``credentials`` (a binding's, client-secret or x509), retried until ``timeout``
    seconds have passed; ``what`` names the binding in errors.

    Raises :class:`~btp_infra.btp.errors.ServiceKeyError` at once for credentials of neither shape, the
    token source's error at once for an unusable certificate/key pair or an untrusted token endpoint, and
    :class:`DeadlineExceededError` (with the last failure's status and text) when no token came in time.
    """
    creds = parse_binding_credentials(credentials, source=what)
    policy = policy or PollPolicy()
    deadline = Deadline(timeout)
    attempt = 0
    while True:
        attempt += 1
        source: ClientCredentialsTokenSource | X509TokenSource
        if isinstance(creds, X509BindingCredentials):
            source = X509TokenSource(
                creds.token_url, creds.clientid, creds.certificate, creds.key, verify=verify
            )
        else:
            source = ClientCredentialsTokenSource(
                creds.token_url, creds.clientid, creds.clientsecret, style="body"
            )
        try:
            return source.grant(timeout=_REQUEST_TIMEOUT)
        except TransportError as err:
            if _server_not_trusted(err):  # this machine does not trust the token endpoint: waiting won't help
                raise
            last: BtpError = err
        except BtpHttpError as err:  # 401 until the new client is known, 5xx, 429: wait and ask again
            last = err
        # Anything else (an unusable certificate/key pair, a token response without a token) fails at once.
        finally:
            source.close()
        pause = policy.interval(deadline.elapsed())
        if deadline.remaining() <= pause:
            limit = f"{timeout:g} s"
            raise DeadlineExceededError(
                f"{what}: the new credentials obtained no token within {limit} ({attempt} attempt(s); "
                f"last: {last})",
                status=last.status,
                code=last.code,
                operation=what,
            ) from None
        policy.sleep(pause)


def untrusted_endpoint(err: BaseException) -> bool:
    """True for a TLS failure because this machine does not trust the token endpoint's certificate — which
    says nothing about the credentials (the operator runs elsewhere, with its own trust store)."""
    return isinstance(err, TransportError) and _server_not_trusted(err)


def _server_not_trusted(err: TransportError) -> bool:
    """A TLS failure because the token endpoint's certificate is not trusted here (not the client's)."""
    return "CERTIFICATE_VERIFY_FAILED" in str(err.__cause__ or "")

"""OAuth2 client-credentials token sources: client secret (basic auth or form body) and x509 (mTLS).

Tokens are cached until shortly before ``expires_in``, process-wide and keyed by the credential (token URL,
client id and a SHA-256 of the secret or key): every client of one credential in a process — all dynamic
providers of a stack run in one provider process — shares one token. :meth:`invalidate` (after a 401) forces a
new one; :func:`clear_token_cache` forgets them all. :meth:`~ClientCredentialsTokenSource.grant` fetches a
new token with its scopes (:class:`TokenGrant`, for checking what a key may do) and caches it like any other
fetch. Nothing is cached at import time. Errors never carry
the secret, the key, or the token: server text in them is redacted of the client secret (as sent, URL-encoded
and as basic-auth credentials), library exceptions are chained only as redacted causes, and an access token
that could not go into a header as is (a line break, a space, non-ASCII) is refused without being shown.
The x509 key never lies in a file while a request runs: it is loaded into the TLS context from an anonymous
in-memory file (``memfd``; elsewhere a private temporary file removed at once).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from urllib3.util.ssl_ import create_urllib3_context

from .errors import BtpError, Redactor, TransportError, safe_cause
from .http import check_token, error_from_response

if TYPE_CHECKING:  # the stubs' names of what requests builds for urllib3
    from requests.adapters import _HostParams, _PoolKwargs

__all__ = ["ClientCredentialsTokenSource", "TokenGrant", "X509TokenSource", "clear_token_cache"]

EXPIRY_MARGIN = 60.0
"""Seconds before ``expires_in`` at which a cached token is replaced (half the lifetime for short tokens)."""
DEFAULT_TIMEOUT = (5.0, 30.0)
DEFAULT_LIFETIME = 3600.0


class _SharedTokens:
    """The process-wide token cache: credential fingerprint → (token, valid until on the monotonic clock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[SecretStr, float]] = {}

    def get(self, key: str) -> tuple[SecretStr, float] | None:
        with self._lock:
            found = self._tokens.get(key)
        if found is None or time.monotonic() >= found[1]:
            return None
        return found

    def put(self, key: str, token: SecretStr, valid_until: float) -> None:
        with self._lock:
            self._tokens[key] = (token, valid_until)

    def drop(self, key: str, token: SecretStr | None) -> None:
        """Forget ``key``'s token if it is still ``token`` (another client may have renewed it already)."""
        with self._lock:
            found = self._tokens.get(key)
            if found is not None and (
                token is None or found[0].get_secret_value() == token.get_secret_value()
            ):
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


_SHARED = _SharedTokens()


def clear_token_cache() -> None:
    """Forget every cached token of this process (as a new provider process would start)."""
    _SHARED.clear()


@dataclass(frozen=True)
class TokenGrant:
    """A token response: the access token (a secret), its scopes (``scope``, space separated; empty when the
    server sent none) and its lifetime in seconds."""

    access_token: SecretStr = field(repr=False)
    scopes: frozenset[str]
    expires_in: float

    def has_scope(self, scope: str) -> bool:
        """True if the grant holds ``scope``, bare or qualified by an app name (XSUAA's
        ``<xsappname>.<scope>``, e.g. ``cis-central!b14.global-account.subaccount.read``)."""
        return any(s == scope or _app_qualified(s, scope) for s in self.scopes)


def _app_qualified(granted: str, scope: str) -> bool:
    """``granted`` is ``<xsappname>.<scope>``: an app name (``name!b14``) then exactly ``scope``."""
    prefix, dot, rest = granted.partition(".")
    return bool(dot) and rest == scope and "!" in prefix


def _scopes(value: object) -> frozenset[str]:
    return frozenset(value.split()) if isinstance(value, str) else frozenset()


def _fingerprint(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _secret(value: str | SecretStr) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(value)


def _lifetime(expires_in: object) -> float:
    """``expires_in`` in seconds if it is a positive finite number, else one hour."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return DEFAULT_LIFETIME
    value = float(expires_in)
    return value if math.isfinite(value) and value > 0 else DEFAULT_LIFETIME


class _CachingTokenSource:
    """Token caching, invalidation, counting and the HTTP exchange shared by both token sources."""

    def __init__(self, token_url: str, client_id: str, *, session: requests.Session | None) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._own_session = session is None
        self._session = session or requests.Session()
        self._lock = threading.Lock()
        self._token: SecretStr | None = None
        self._valid_until = 0.0
        self.fetch_count = 0
        self.redact = Redactor()
        """Removes what this source sends (its client secret) from server text."""

    def _cache_key(self) -> str:
        """The credential's fingerprint (subclasses add the secret or key): the process-wide cache key."""
        return _fingerprint(type(self).__name__, self.token_url, self.client_id)

    def token(self, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> str:
        """A valid access token, fetched only when no client of this credential in the process has one."""
        with self._lock:
            # The process-wide entry is the only cache: a 401 (invalidate) retires the token for every client.
            shared = _SHARED.get(self._cache_key())
            if shared is not None:
                self._token, self._valid_until = shared
                return self._token.get_secret_value()
            return self._fetch(timeout).access_token.get_secret_value()

    def grant(self, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> TokenGrant:
        """Fetch a new token now (never from the cache: it keeps no scopes) and return it with its scopes.

        The new token replaces this credential's entry of the process-wide cache, exactly as a fetch by
        :meth:`token` would; nothing else is kept. Errors are those of :meth:`token`."""
        with self._lock:
            return self._fetch(timeout)

    def _fetch(self, timeout: tuple[float, float]) -> TokenGrant:
        """The exchange, checked and cached (the caller holds ``self._lock``)."""
        started = time.monotonic()
        body = self._exchange(timeout)
        what = f"token request to {self.token_url}"
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise BtpError(f"{what}: response has no access_token", operation=what)
        access_token = check_token(access_token, f"{what}: access_token")
        lifetime = _lifetime(body.get("expires_in", DEFAULT_LIFETIME))
        self._token = SecretStr(access_token)
        self._valid_until = started + lifetime - min(EXPIRY_MARGIN, lifetime / 2)
        _SHARED.put(self._cache_key(), self._token, self._valid_until)
        return TokenGrant(self._token, _scopes(body.get("scope")), lifetime)

    def invalidate(self) -> None:
        """Forget the cached token (after a 401), here and in the process-wide cache."""
        with self._lock:
            _SHARED.drop(self._cache_key(), self._token)
            self._token = None
            self._valid_until = 0.0

    def reset_stats(self) -> None:
        self.fetch_count = 0

    def close(self) -> None:
        self.invalidate()
        if self._own_session:
            self._session.close()

    def _exchange(self, timeout: tuple[float, float]) -> dict[str, object]:
        raise NotImplementedError

    def _post(
        self,
        what: str,
        data: dict[str, str],
        timeout: tuple[float, float],
        *,
        auth: tuple[str, str] | None = None,
        verify: bool | str = True,
    ) -> dict[str, object]:
        """POST the token request; map failures to typed errors that name only the URL."""
        self.fetch_count += 1
        failure: BtpError | None = None
        try:
            response = self._session.post(
                self.token_url,
                data=data,
                auth=auth,
                verify=verify,
                timeout=timeout,
                headers={"Accept": "application/json"},
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            failure = TransportError(f"{what}: TLS handshake failed", operation=what)
            failure.__cause__ = safe_cause(exc, self.redact)
        except requests.RequestException as exc:
            failure = TransportError(f"{what}: {type(exc).__name__}", operation=what)
            failure.__cause__ = safe_cause(exc, self.redact)
        if failure is not None:
            raise failure  # outside the handler: the library's exception is not chained as context
        if response.status_code != 200:
            raise error_from_response(response, what, self.redact)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise BtpError(
                f"{what}: response is not a JSON object", status=response.status_code, operation=what
            )
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_url={self.token_url!r}, client_id={self.client_id!r})"


class ClientCredentialsTokenSource(_CachingTokenSource):
    """Client-credentials grant with a secret: ``style="basic"`` (cis key, §C.1) or ``"body"`` (SM, §B.1)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | SecretStr,
        *,
        style: Literal["basic", "body"] = "basic",
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(token_url, client_id, session=session)
        if style not in ("basic", "body"):
            raise ValueError("style must be 'basic' or 'body'")
        self.style = style
        self._client_secret = _secret(client_secret)
        self.redact.add_basic(client_id, self._client_secret.get_secret_value())

    def _cache_key(self) -> str:
        return _fingerprint(super()._cache_key(), self.style, self._client_secret.get_secret_value())

    def _exchange(self, timeout: tuple[float, float]) -> dict[str, object]:
        what = f"token request to {self.token_url}"
        data = {"grant_type": "client_credentials"}
        secret = self._client_secret.get_secret_value()
        if self.style == "basic":
            return self._post(what, data, timeout, auth=(self.client_id, secret))
        data |= {"client_id": self.client_id, "client_secret": secret}
        return self._post(what, data, timeout)


class X509TokenSource(_CachingTokenSource):
    """Client-credentials grant over mTLS (x509 binding, ``<certurl>/oauth/token``).

    The certificate and key are loaded into a TLS context of this source (once, at the first request) and
    requests use that context: no file holds the key while a request runs, so a hung, interrupted or killed
    request leaves nothing on disk. ``verify`` is ``True``, ``False`` or the path of a CA bundle.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        certificate_pem: str,
        key_pem: str | SecretStr,
        *,
        verify: bool | str = True,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(token_url, client_id, session=session)
        self._certificate = certificate_pem
        self._key = _secret(key_pem)
        self.verify = verify
        self._adapter: _ClientCertAdapter | None = None

    def _cache_key(self) -> str:
        return _fingerprint(super()._cache_key(), self._certificate, self._key.get_secret_value())

    def _exchange(self, timeout: tuple[float, float]) -> dict[str, object]:
        what = f"mTLS token request to {self.token_url}"
        if self._adapter is None and self.token_url.lower().startswith("https:"):
            context = create_urllib3_context(
                cert_reqs=ssl.CERT_NONE if self.verify is False else ssl.CERT_REQUIRED
            )
            _load_client_certificate(context, self._certificate, self._key, what)
            self._adapter = _ClientCertAdapter(context)
            self._session.mount(self.token_url, self._adapter)
        data = {"grant_type": "client_credentials", "client_id": self.client_id}
        return self._post(what, data, timeout, verify=self.verify)

    def close(self) -> None:
        super().close()
        adapter, self._adapter = self._adapter, None
        if adapter is not None:
            if self._session.adapters.get(self.token_url) is adapter:
                del self._session.adapters[self.token_url]
            adapter.close()


class _ClientCertAdapter(HTTPAdapter):
    """Connections that present the client certificate of an in-memory TLS context (never a file path)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        pool["ssl_context"] = self._context
        return host, pool


def _no_password() -> bytes:
    """Encrypted keys are not supported: fail instead of prompting on the terminal."""
    return b""


def _load_client_certificate(context: ssl.SSLContext, certificate: str, key: SecretStr, what: str) -> None:
    """Load certificate chain and key into ``context`` without leaving them in any file.

    Linux: an anonymous memory file (``memfd``, gone with the process whatever happens). Elsewhere: a private
    temporary file (directory 0700, file 0600), removed right after loading.
    """
    pem = (certificate.rstrip("\n") + "\n" + key.get_secret_value().rstrip("\n") + "\n").encode()
    try:
        if not _load_from_memfd(context, pem):
            directory = tempfile.mkdtemp(prefix="btp-infra-x509-")
            try:
                path = _write_private(directory, "client.pem", pem)
                context.load_cert_chain(path, password=_no_password)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
    except (ssl.SSLError, ValueError) as exc:
        reason = type(exc).__name__
    else:
        return
    # Outside the handler: nothing of the PEM parser's state is chained.
    raise BtpError(f"{what}: the certificate and key are not a usable PEM pair ({reason})", operation=what)


def _load_from_memfd(context: ssl.SSLContext, pem: bytes) -> bool:
    """Load ``pem`` from an anonymous memory file; False where there is none (no memfd or no /proc)."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is None or not os.path.isdir("/proc/self/fd"):
        return False
    try:
        fd = memfd_create("btp-infra-x509", getattr(os, "MFD_CLOEXEC", 0))
    except OSError:  # e.g. not allowed in this container
        return False
    try:
        view = memoryview(pem)
        while view:
            view = view[os.write(fd, view) :]
        context.load_cert_chain(f"/proc/self/fd/{fd}", password=_no_password)
    finally:
        os.close(fd)
    return True


def _write_private(directory: str, name: str, data: bytes) -> str:
    """Write ``data`` to ``directory/name`` readable by the owner only."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path

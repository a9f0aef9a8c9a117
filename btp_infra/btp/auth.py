"""OAuth2 client-credentials token sources: client secret (basic auth or form body) and x509 (mTLS).

Tokens are cached until shortly before ``expires_in``; :meth:`invalidate` forces a new one. Errors never carry
the secret, the key, or the token.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from typing import Literal

import requests
from pydantic import SecretStr

from .errors import BtpError, TransportError
from .http import error_from_response

__all__ = ["ClientCredentialsTokenSource", "X509TokenSource"]

EXPIRY_MARGIN = 60.0
"""Seconds before ``expires_in`` at which a cached token is replaced (half the lifetime for short tokens)."""
DEFAULT_TIMEOUT = (5.0, 30.0)


def _secret(value: str | SecretStr) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(value)


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

    def token(self, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> str:
        """A valid access token, fetched only when the cached one is missing or about to expire."""
        with self._lock:
            if self._token is not None and time.monotonic() < self._valid_until:
                return self._token.get_secret_value()
            started = time.monotonic()
            body = self._exchange(timeout)
            access_token = body.get("access_token")
            if not isinstance(access_token, str) or not access_token:
                raise BtpError(f"token request to {self.token_url}: response has no access_token")
            expires_in = body.get("expires_in", 3600)
            lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
            self._token = SecretStr(access_token)
            self._valid_until = started + lifetime - min(EXPIRY_MARGIN, lifetime / 2)
            return access_token

    def invalidate(self) -> None:
        """Forget the cached token (after a 401)."""
        with self._lock:
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
        cert: tuple[str, str] | None = None,
        verify: bool | str = True,
    ) -> dict[str, object]:
        """POST the token request; map failures to typed errors that name only the URL."""
        self.fetch_count += 1
        try:
            response = self._session.post(
                self.token_url,
                data=data,
                auth=auth,
                cert=cert,
                verify=verify,
                timeout=timeout,
                headers={"Accept": "application/json"},
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            raise TransportError(f"{what}: TLS handshake failed", operation=what) from exc
        except requests.RequestException as exc:
            raise TransportError(f"{what}: {type(exc).__name__}", operation=what) from exc
        if response.status_code != 200:
            raise error_from_response(response, what)
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

    The PEMs live in a private temporary directory (0700, files 0600) only while a token is fetched.
    ``verify`` is ``True``, ``False`` or the path of a CA bundle.
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

    def _exchange(self, timeout: tuple[float, float]) -> dict[str, object]:
        what = f"mTLS token request to {self.token_url}"
        directory = tempfile.mkdtemp(prefix="btp-infra-x509-")
        try:
            cert_path = _write_private(directory, "cert.pem", self._certificate)
            key_path = _write_private(directory, "key.pem", self._key.get_secret_value())
            data = {"grant_type": "client_credentials", "client_id": self.client_id}
            return self._post(what, data, timeout, cert=(cert_path, key_path), verify=self.verify)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def _write_private(directory: str, name: str, text: str) -> str:
    """Write ``text`` to ``directory/name`` readable by the owner only."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path

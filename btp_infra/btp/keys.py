"""Credential models: the ``cis`` service key, the SM admin binding, and SM binding credentials.

Secrets are :class:`pydantic.SecretStr`, so ``repr()``, ``str()`` and ``model_dump()`` never reveal them.
Every parse error is a :class:`ServiceKeyError` naming the source and the key path, never a value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError

from btp_infra.conventions import TOKEN_URL_SUFFIX
from btp_infra.limits import MAX_KEY_BYTES, InputLimitError, format_size, loads_json

from .errors import ServiceKeyError

__all__ = [
    "BindingCredentials",
    "CisEndpoints",
    "CisServiceKey",
    "ClientSecretBindingCredentials",
    "ServiceManagerCredentials",
    "UaaCredentials",
    "X509BindingCredentials",
    "parse_binding_credentials",
]

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _check_url(value: str) -> str:
    """An https URL with a host; plain http only for loopback (the sandbox)."""
    parts = urlsplit(value)
    if not parts.hostname:
        raise ValueError("must be an absolute URL")
    if parts.scheme == "https":
        return value.rstrip("/")
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return value.rstrip("/")
    raise ValueError("must be an https URL (http only for 127.0.0.1/localhost)")


def _check_nonblank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _check_secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("must not be empty")
    return value


Url = Annotated[str, Field(strict=True), AfterValidator(_check_url)]
Text = Annotated[str, Field(strict=True), AfterValidator(_check_nonblank)]
SecretText = Annotated[SecretStr, AfterValidator(_check_secret)]
Pem = Annotated[str, Field(strict=True, repr=False), AfterValidator(_check_nonblank)]

_MESSAGES = {
    "missing": "missing",
    "string_type": "must be a string",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}


def _describe(error: Mapping[str, Any]) -> str:
    """One readable line per pydantic error, built from the location and type only (never the input)."""
    path = ".".join(str(part) for part in error["loc"]) or "(document)"
    kind = str(error["type"])
    if kind in _MESSAGES:
        return f"{path} {_MESSAGES[kind]}"
    if kind == "value_error":
        reason = str(error.get("ctx", {}).get("error", "is invalid"))
        return f"{path} {reason}"
    return f"{path} is invalid ({kind})"


def _load(raw: str | bytes | bytearray | Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """The JSON object of ``raw``: at most ``MAX_KEY_BYTES`` (64 KiB), nested at most 32 levels, integers
    of at most 4300 digits (:mod:`btp_infra.limits`); anything else is one :class:`ServiceKeyError` line."""
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, bytes | bytearray | str) and len(raw) > MAX_KEY_BYTES:  # bytes, or characters
        raise ServiceKeyError(
            f"{source}: larger than {format_size(MAX_KEY_BYTES)} (a cis service key is about 2 KiB)"
        )
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceKeyError(f"{source}: not UTF-8 text") from None
    if not isinstance(raw, str):
        raise ServiceKeyError(f"{source}: expected JSON text or a mapping, got {type(raw).__name__}")
    try:
        document = loads_json(raw)
    except json.JSONDecodeError as exc:
        # The position is safe to show; the document text is not.
        raise ServiceKeyError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except InputLimitError as exc:
        raise ServiceKeyError(f"{source}: JSON that {exc}") from None
    if not isinstance(document, dict):
        raise ServiceKeyError(f"{source}: must be a JSON object, got {type(document).__name__}")
    return document


class _Credentials(BaseModel):
    """Shared parsing: JSON text/bytes/mapping in, :class:`ServiceKeyError` out."""

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    @classmethod
    def parse(cls, raw: str | bytes | bytearray | Mapping[str, Any], *, source: str) -> Self:
        """Validate ``raw``; ``source`` (a file name, env var, …) is named in every error."""
        document = _load(raw, source)
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            problems = "; ".join(_describe(error) for error in exc.errors(include_input=False))
        # Raised outside the handler, so the ValidationError is not even the (suppressed) context.
        raise ServiceKeyError(f"{source}: invalid {cls._kind()}: {problems}")

    @classmethod
    def _kind(cls) -> str:
        return cls.__name__


class UaaCredentials(BaseModel):
    """The ``uaa`` section of a ``cis`` key."""

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    clientid: Text
    clientsecret: SecretText
    url: Url


class CisEndpoints(BaseModel):
    """The ``endpoints`` section of a ``cis`` key (only the two URLs btp-infra uses are required)."""

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    accounts_service_url: Url
    entitlements_service_url: Url


class CisServiceKey(_Credentials):
    """A ``cis`` ``central`` service key (§C.1)."""

    uaa: UaaCredentials
    endpoints: CisEndpoints

    @classmethod
    def _kind(cls) -> str:
        return "cis service key"

    @property
    def token_url(self) -> str:
        return f"{self.uaa.url}{TOKEN_URL_SUFFIX}"

    @property
    def accounts_service_url(self) -> str:
        return self.endpoints.accounts_service_url

    @property
    def entitlements_service_url(self) -> str:
        return self.endpoints.entitlements_service_url


class ServiceManagerCredentials(_Credentials):
    """The subaccount's SM admin binding from ``…/serviceManagementBinding`` (§C.3)."""

    clientid: Text
    clientsecret: SecretText
    sm_url: Url
    url: Url
    xsappname: str = ""

    @classmethod
    def _kind(cls) -> str:
        return "Service Manager credentials"

    @property
    def token_url(self) -> str:
        return f"{self.url}{TOKEN_URL_SUFFIX}"


class ClientSecretBindingCredentials(_Credentials):
    """SM binding credentials of the default (client-secret) type (§B.1)."""

    credential_type: Literal["client-secret"] = Field(default="client-secret", exclude=True)
    clientid: Text
    clientsecret: SecretText
    url: Url
    sm_url: Url
    xsappname: str = ""

    @classmethod
    def _kind(cls) -> str:
        return "client-secret binding credentials"

    @property
    def token_url(self) -> str:
        return f"{self.url}{TOKEN_URL_SUFFIX}"


class X509BindingCredentials(_Credentials):
    """SM binding credentials of the x509 type (§B.1): mTLS against ``certurl``."""

    credential_type: Literal["x509"] = Field(default="x509", exclude=True)
    clientid: Text
    certificate: Pem
    key: SecretText
    certurl: Url
    sm_url: Url
    xsappname: str = ""

    @classmethod
    def _kind(cls) -> str:
        return "x509 binding credentials"

    @property
    def token_url(self) -> str:
        return f"{self.certurl}{TOKEN_URL_SUFFIX}"


BindingCredentials = ClientSecretBindingCredentials | X509BindingCredentials


def parse_binding_credentials(
    raw: str | bytes | bytearray | Mapping[str, Any], *, source: str
) -> BindingCredentials:
    """Parse SM binding credentials, choosing the shape: x509 if ``certificate``/``key`` are present."""
    document = _load(raw, source)
    if "certificate" in document or "key" in document or "certurl" in document:
        return X509BindingCredentials.parse(document, source=source)
    return ClientSecretBindingCredentials.parse(document, source=source)

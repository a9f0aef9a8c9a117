"""Error responses in the shape of each emulated service (btp-api.md §B.9, §C.1).

- UAA: ``{"error": "unauthorized", "error_description": ...}``
- Accounts / Entitlements / jobs: ``{"error": {"code": <int>, "message", "target", "details": [...]}}`` with
  codes 2XXXX, 3XXXX, 8XXXX. Documented codes: 30004 (entitlement locked), 11006 (rate limited), 20007
  (subaccount subdomain taken, 409: user-pain-points.md E4).
  Other codes are the emulator's choice: range base + HTTP status (e.g. 20404), 30015 quota exceeded,
  30016 quota in use.
- Service Manager: ``{"error": "<Word>", "description": ...}``.
Messages never contain request bodies, credentials or tokens.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

Family = Literal["uaa", "btp", "sm", "control"]

CODE_ENTITLEMENT_LOCKED = 30004
CODE_QUOTA_EXCEEDED = 30015
CODE_QUOTA_IN_USE = 30016
CODE_RATE_LIMITED = 11006
CODE_SUBDOMAIN_TAKEN = 20007

SM_WORDS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    412: "PreconditionFailed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ConcurrentOperation",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

_UAA_WORDS: dict[int, str] = {
    400: "invalid_request",
    401: "unauthorized",
    403: "access_denied",
    413: "invalid_request",
    429: "too_many_requests",
}


def family_of(path: str) -> Family:
    if path.startswith("/uaa/"):
        return "uaa"
    if path.startswith(("/accounts-service/", "/entitlements-service/")):
        return "btp"
    if path.startswith("/sm/"):
        return "sm"
    return "control"


def btp_code_base(path: str) -> int:
    if path.startswith("/entitlements-service/jobs-management/"):
        return 80000
    if path.startswith("/entitlements-service/"):
        return 30000
    return 20000


class ApiError(Exception):
    """An error answer of one emulated service."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        family: Family,
        word: str | None = None,
        code: int | None = None,
        target: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.family = family
        self.word = word
        self.code = code
        self.target = target
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        if self.family == "sm":
            return {
                "error": self.word or SM_WORDS.get(self.status, "Error"),
                "description": self.message,
                **self.extra,
            }
        if self.family == "uaa":
            word = self.word or _UAA_WORDS.get(self.status, "server_error")
            return {"error": word, "error_description": self.message}
        if self.family == "btp":
            code = self.code if self.code is not None else 20000 + self.status
            return {
                "error": {
                    "code": code,
                    "message": self.message,
                    "target": self.target or "",
                    "correlationID": str(uuid.uuid4()),
                    "details": [{"code": code, "message": self.message}],
                }
            }
        return {"detail": self.message}


def sm_error(status: int, description: str, word: str | None = None, **extra: Any) -> ApiError:
    return ApiError(status, description, family="sm", word=word, extra=extra)


def btp_error(status: int, message: str, path: str, code: int | None = None) -> ApiError:
    """Accounts/Entitlements error; ``path`` picks the code range and is reported as ``target``."""
    return ApiError(status, message, family="btp", code=code or btp_code_base(path) + status, target=path)


def uaa_error(status: int, message: str, word: str | None = None) -> ApiError:
    return ApiError(status, message, family="uaa", word=word)


def error_for_path(path: str, status: int, message: str, *, code: int | None = None) -> ApiError:
    """A generic error in the family of the service serving ``path``."""
    family = family_of(path)
    if family == "btp":
        return btp_error(status, message, path, code)
    return ApiError(status, message, family=family)

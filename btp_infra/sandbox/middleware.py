"""The outermost ASGI layer: the body limit, route matching, fault injection, rate limiting and the call log.

Every HTTP request first: a body larger than :data:`MAX_BODY_BYTES` (declared by ``Content-Length`` or
counted as it streams, chunked) is answered 413 before it is read any further, authenticated or not.
Order per API call: a ``before`` fault answers instead of the API; then rate limits; then the API; an
``after`` fault replaces the API's (already produced) response. ``/sandbox`` control calls bypass all of it
but the body limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from btp_infra.sandbox.auth import CLIENT_ID_STATE, basic_credentials
from btp_infra.sandbox.clock import real_sleep
from btp_infra.sandbox.connection import connection_of
from btp_infra.sandbox.errors import (
    CODE_ENTITLEMENT_LOCKED,
    CODE_RATE_LIMITED,
    ApiError,
    error_for_path,
    family_of,
)
from btp_infra.sandbox.faults import FaultSpec, retry_after_value
from btp_infra.sandbox.runtime import Runtime

_TIMEOUT_MARGIN = 0.5
MAX_BODY_BYTES = 1 << 20
"""The largest request body the emulator reads (1 MiB; every real request is a few KiB at most)."""


class _Buffer:
    """An ASGI ``send`` that keeps the messages (``after`` faults) or forwards them.

    When forwarding, ``on_final(status)`` runs just before the last body message, so the call log is complete
    by the time the client has the whole response.
    """

    def __init__(self, forward: Send | None, on_final: Callable[[int | None], None] | None = None) -> None:
        self.forward = forward
        self.on_final = on_final
        self.messages: list[Message] = []
        self.status: int | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        if self.forward is None:
            self.messages.append(message)
            return
        if message["type"] == "http.response.body" and not message.get("more_body") and self.on_final:
            self.on_final(self.status)
            self.on_final = None
        await self.forward(message)


def _error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    """413, and the connection is closed: the rest of the body is never read."""
    error = error_for_path(scope["path"], 413, f"request body larger than {MAX_BODY_BYTES} bytes")
    error.headers["Connection"] = "close"
    await _error_response(error)(scope, receive, send)


async def _limit_body(scope: Scope, receive: Receive, send: Send) -> Receive | None:
    """Read the body up to :data:`MAX_BODY_BYTES`; ``None`` once a 413 has been sent, else a ``receive``
    that replays it (then passes on, e.g. ``http.disconnect``)."""
    declared = Headers(scope=scope).get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > MAX_BODY_BYTES:
        await _too_large(scope, receive, send)
        return None
    messages: deque[Message] = deque()
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > MAX_BODY_BYTES:
            await _too_large(scope, receive, send)
            return None
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.popleft() if messages else await receive()

    return replay


class RouteTable:
    """The emulated API routes, matched before the application runs (faults and rate limits need them)."""

    def __init__(self, routes: Sequence[APIRoute]) -> None:
        self.routes = list(routes)

    def template(self, scope: Scope) -> str | None:
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.path
            if match == Match.PARTIAL and partial is None:
                partial = route.path
        return partial

    def listing(self) -> list[dict[str, str]]:
        """Method and route template of every API route (what faults match)."""
        return [{"method": m, "route": r.path} for r in self.routes for m in sorted(r.methods or ())]


class SandboxMiddleware:
    def __init__(self, app: FastAPI, rt: Runtime, table: RouteTable) -> None:
        self.app = app
        self.rt = rt
        self.table = table

    def _token_client(self, scope: Scope, *, live: bool) -> str | None:
        scheme, _, value = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        if not live:
            return self.rt.store.token_client(value.strip())
        token = self.rt.store.lookup_token(value.strip())
        return token.client_id if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            limited = await _limit_body(scope, receive, send)
            if limited is None:
                return
            receive = limited
        if scope["type"] != "http" or scope["path"].startswith("/sandbox"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        template = self.table.template(scope)
        fault = self.rt.faults.take(method, template, path, ("http", "reset", "timeout"))
        entry = self.rt.calls.start(method, template, path, fault.kind if fault else None)

        def finish(status: int | None, handled: int | None = None) -> None:
            self.rt.calls.finish(entry, status, self._client(scope), handled)

        if fault is not None and fault.when == "before":
            await self._inject(fault, scope, receive, send, None, finish)
            return
        wait = self.rt.rate_limiter.check(method, template, self._token_client(scope, live=True))
        if wait is not None:
            finish(429)
            await _error_response(self._rate_limited(path, wait))(scope, receive, send)
            return
        if fault is None:
            forwarding = _Buffer(send, finish)
            await self.app(scope, receive, forwarding.send)
            if forwarding.on_final is not None:  # no complete response was sent
                finish(forwarding.status)
            return
        done = _Buffer(None)
        await self.app(scope, receive, done.send)
        await self._inject(fault, scope, receive, send, done, lambda status: finish(status, done.status))

    def _client(self, scope: Scope) -> str | None:
        """Client id for the log: set by the API, else from the bearer token or basic auth (never secrets)."""
        state: dict[str, Any] = scope.get("state") or {}
        client = state.get(CLIENT_ID_STATE) or self._token_client(scope, live=False)
        if client is None:
            basic = basic_credentials(Headers(scope=scope).get("authorization", ""))
            client = basic[0] if basic else None
        return client if isinstance(client, str) else None

    def _retry_headers(self, path: str, seconds: float) -> dict[str, str]:
        headers = {"Retry-After": retry_after_value(seconds, self.rt.config.retry_after_format)}
        if family_of(path) == "btp":
            headers["X-Ratelimit-Reset"] = str(int((time.time() + seconds) * 1000))
        return headers

    def _rate_limited(self, path: str, wait: float) -> ApiError:
        error = error_for_path(path, 429, "Rate limit exceeded; retry later", code=CODE_RATE_LIMITED)
        error.headers.update(self._retry_headers(path, wait))
        return error

    def _fault_error(self, fault: FaultSpec, path: str, status: int) -> ApiError:
        message = fault.description or f"Injected fault: HTTP {status}"
        code = None
        if status == 400 and path.startswith("/entitlements-service/entitlements/"):
            code = CODE_ENTITLEMENT_LOCKED
            message = fault.description or (
                f"[Error: {CODE_ENTITLEMENT_LOCKED}/400] The entitlement is locked by another request."
            )
        elif status == 429:
            code = CODE_RATE_LIMITED
        error = error_for_path(path, status, message, code=code)
        if fault.retry_after is not None or status == 429:
            error.headers.update(
                self._retry_headers(path, fault.retry_after if fault.retry_after is not None else 1)
            )
        error.headers.update(fault.headers)
        return error

    async def _inject(
        self,
        fault: FaultSpec,
        scope: Scope,
        receive: Receive,
        send: Send,
        done: _Buffer | None,
        finish: Callable[[int | None], None],
    ) -> None:
        """Answer per ``fault`` (``done``: the API's response, for ``after``); ``finish`` logs the outcome."""
        path = scope["path"]
        if fault.kind == "reset":
            connection = connection_of(scope)
            if connection is None:
                raise RuntimeError("connection reset needs the sandbox server's HTTP protocol")
            finish(None)
            connection.reset()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    while (await receive())["type"] != "http.disconnect":
                        pass
            return
        if fault.kind == "timeout":
            await real_sleep((fault.read_timeout or 0) + _TIMEOUT_MARGIN, self.rt.stopping)
            if done is not None:
                finish(done.status)
                for message in done.messages:
                    await send(message)
                return
            status = 504
        else:
            status = fault.status or 500
        finish(status)
        await _error_response(self._fault_error(fault, path, status))(scope, receive, send)

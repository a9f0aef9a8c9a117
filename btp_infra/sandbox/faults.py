"""Fault injection and rate limiting.

A fault applies to the next ``count`` calls of ``method route``. ``route`` is a route template as listed in
``GET /sandbox/routes`` (placeholder names do not matter: ``{id}`` matches ``{instance_id}``) or a
concrete path.

kinds: ``http`` (answer ``status``), ``reset`` (drop the TCP connection with RST, no response), ``timeout``
(sleep ``read_timeout`` + 0.5 s, longer than the client waits), ``operation_failed`` (the next asynchronous
operation started by that route ends ``failed`` / ``PROCESSING_FAILED`` / ``CREATION_FAILED`` ...; ``when``
is ignored), ``stuck`` (the next subaccount create, update or delete started by that route never finishes: it
stays ``CREATING`` / ``UPDATING`` / ``DELETING`` until the control API sets the subaccount's state; ``when``
is ignored).
``when="after"`` performs the request first and then fails its response (a lost response).
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal["http", "reset", "timeout", "operation_failed", "stuck"]
FaultWhen = Literal["before", "after"]

_PLACEHOLDER = re.compile(r"\{[^}]*\}")


def normalize_route(route: str) -> str:
    """``/sm/v1/service_instances/{instance_id}`` → ``/sm/v1/service_instances/{}``."""
    return _PLACEHOLDER.sub("{}", route.rstrip("/") or "/")


class FaultSpec(BaseModel):
    """What to inject; the body of ``POST /sandbox/faults``."""

    model_config = ConfigDict(extra="forbid")

    method: str
    route: str
    kind: FaultKind = "http"
    when: FaultWhen = "before"
    status: int | None = Field(default=None, ge=400, le=599)
    count: int = Field(default=1, ge=1)
    retry_after: float | None = Field(default=None, ge=0)
    read_timeout: float | None = Field(default=None, gt=0)
    description: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> FaultSpec:
        self.method = self.method.upper()
        if self.kind == "http" and self.status is None:
            raise ValueError("kind 'http' needs a status")
        if self.kind == "timeout" and self.read_timeout is None:
            raise ValueError("kind 'timeout' needs read_timeout (the client's read timeout in seconds)")
        return self


class Fault:
    """A registered fault with its remaining count."""

    def __init__(self, fault_id: str, spec: FaultSpec) -> None:
        self.id = fault_id
        self.spec = spec
        self.remaining = spec.count
        self._route = normalize_route(spec.route)

    def matches(self, method: str, template: str | None, path: str) -> bool:
        if self.spec.method not in (method, "*"):
            return False
        candidates = {normalize_route(path)}
        if template is not None:
            candidates.add(normalize_route(template))
        return self._route in candidates

    def describe(self) -> dict[str, object]:
        return {"id": self.id, "remaining": self.remaining, **self.spec.model_dump()}


class FaultBook:
    """Thread-safe registry of pending faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> str:
        with self._lock:
            fault = Fault(f"fault-{next(self._ids)}", spec)
            self._faults.append(fault)
            return fault.id

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [f.describe() for f in self._faults]

    def take(
        self, method: str, template: str | None, path: str, kinds: Sequence[FaultKind]
    ) -> FaultSpec | None:
        """Consume one use of the first pending fault of one of ``kinds`` matching the call."""
        with self._lock:
            for fault in self._faults:
                if fault.spec.kind in kinds and fault.matches(method, template, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.spec
        return None


class RateLimiter:
    """Sliding-window limits per client (or of all clients together: ``per="all"``) and route."""

    def __init__(self, rules: Sequence[tuple[str, str, int, float, str]], now: Callable[[], float]) -> None:
        self._rules = [
            (m.upper(), normalize_route(r), limit, window, per) for m, r, limit, window, per in rules
        ]
        self._now = now
        self._lock = threading.Lock()
        self._hits: dict[tuple[int, str], deque[float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()

    def check(self, method: str, template: str | None, client_id: str | None) -> float | None:
        """Record the call and return None, or return the seconds to wait when the limit is exceeded."""
        if template is None or client_id is None:
            return None
        route = normalize_route(template)
        now = self._now()
        with self._lock:
            for index, (rule_method, rule_route, limit, window, per) in enumerate(self._rules):
                if rule_method != method or rule_route != route:
                    continue
                hits = self._hits.setdefault((index, "*" if per == "all" else client_id), deque())
                while hits and hits[0] <= now - window:
                    hits.popleft()
                if len(hits) >= limit:
                    return max(hits[0] + window - now, 0.0)
                hits.append(now)
        return None


def retry_after_value(seconds: float, style: Literal["http-date", "seconds"]) -> str:
    """A ``Retry-After`` header value: delta-seconds or an HTTP-date (SAP documents the HTTP-date)."""
    seconds = max(seconds, 0.0)
    if style == "seconds":
        return str(math.ceil(seconds))
    return format_datetime(datetime.fromtimestamp(math.ceil(time.time() + seconds), UTC), usegmt=True)

"""One emulator instance: configuration, clock, state, faults, rate limits, call log and CA, shared by the
routes (event-loop thread) and the Python API (test thread).
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from typing import Any

from btp_infra.sandbox.clock import Clock, iso
from btp_infra.sandbox.config import Latencies, SandboxConfig, SubaccountSeed
from btp_infra.sandbox.faults import FaultBook, RateLimiter
from btp_infra.sandbox.state import Store, Urls
from btp_infra.sandbox.tls import CertificateAuthority


class CallLog:
    """Ordered log of API calls (never tokens, secrets or query strings) and per-route status counters."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._seq = itertools.count(1)

    def start(self, method: str, route: str | None, path: str, fault: str | None) -> dict[str, Any]:
        """Log a call as it arrives (``status`` None until ``finish``); returns its entry."""
        entry: dict[str, Any] = {
            "seq": next(self._seq),
            "time": iso(self._clock.wall()),
            "method": method,
            "route": route,
            "path": path,
            "status": None,
            "client_id": None,
            "fault": fault,
            "handled_status": None,
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    def finish(
        self,
        entry: dict[str, Any],
        status: int | None,
        client_id: str | None,
        handled_status: int | None = None,
    ) -> None:
        """Complete an entry: the status the client saw (None: dropped connection) and the API's own."""
        with self._lock:
            entry.update(status=status, client_id=client_id, handled_status=handled_status)
            key = "reset" if status is None else str(status)
            self._counts[(entry["method"], entry["route"] or entry["path"], key)] += 1

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def counters(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        with self._lock:
            for (method, route, status), count in sorted(self._counts.items()):
                result.setdefault(f"{method} {route}", {})[status] = count
        return result

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()


class Runtime:
    """Everything one emulator instance owns."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = Clock()
        self.urls = Urls()
        self.store = Store(config, self.clock, self.urls)
        self.faults = FaultBook()
        self.rate_limiter = RateLimiter(
            [(r.method, r.route, r.limit, r.window, r.per) for r in config.rate_limits], self.clock.now
        )
        self.calls = CallLog(self.clock)
        self.ca = CertificateAuthority()
        self.latencies = config.latencies.model_copy()
        self.stopping = threading.Event()
        self._add_config_faults()

    def _add_config_faults(self) -> None:
        for spec in self.config.faults:
            self.faults.add(spec.model_copy())

    def set_latencies(self, changes: dict[str, float]) -> Latencies:
        """Replace some latencies (seconds); unknown names or negative values raise ``ValueError``."""
        self.latencies = Latencies.model_validate({**self.latencies.model_dump(), **changes})
        return self.latencies

    def patch_subaccount(
        self,
        guid: str,
        state: str | None = None,
        state_message: str | None = None,
        *,
        display_name: str | None = None,
        description: str | None = None,
        labels: dict[str, list[str]] | None = None,
        used_for_production: str | None = None,
    ) -> dict[str, str]:
        """Change a subaccount out of band (``KeyError`` if unknown): its ``state``/``stateMessage`` (a new
        state ends any running lifecycle job, stuck or not) and the fields a cockpit user can edit."""
        with self.store.settled():
            sub = self.store.subaccounts[guid]
            if state:
                sub.state, sub.job = state, None
            sub.state_message = sub.state_message if state_message is None else state_message
            sub.display_name = display_name or sub.display_name
            sub.description = sub.description if description is None else description
            sub.labels = sub.labels if labels is None else {k: list(v) for k, v in labels.items()}
            sub.used_for_production = used_for_production or sub.used_for_production
            sub.modified = self.clock.wall()
            return {"guid": sub.guid, "state": sub.state, "stateMessage": sub.state_message}

    def seed_subaccount(self, seed: SubaccountSeed) -> None:
        """Add a subaccount in the seed's state right away; ``ValueError`` if its GUID, or its subdomain in
        its region, is taken."""
        with self.store.settled():
            taken = [
                s
                for s in self.store.subaccounts.values()
                if s.guid == seed.guid or (s.subdomain, s.region) == (seed.subdomain, seed.region)
            ]
            if taken:
                raise ValueError(
                    f"subaccount {seed.guid} or subdomain {seed.subdomain} ({seed.region}) exists"
                )
            if seed.parent_guid not in (None, *self.config.directories):
                raise ValueError(f"unknown directory {seed.parent_guid}")
            self.store.add_seed(seed)

    def remove_subaccount(self, guid: str) -> None:
        """Delete a subaccount and its contents at once, as if deleted in the cockpit (``KeyError`` if
        unknown)."""
        with self.store.settled():
            if guid not in self.store.subaccounts:
                raise KeyError(guid)
            self.store.remove_subaccount(guid)

    def reset(self) -> None:
        """Back to the configured initial state (same CA, URLs and cis credentials)."""
        self.store.reset()
        self.faults.clear()
        self._add_config_faults()
        self.rate_limiter.reset()
        self.calls.clear()
        self.latencies = self.config.latencies.model_copy()

    def state(self) -> dict[str, Any]:
        return {
            **self.store.snapshot(),
            "faults": self.faults.pending(),
            "latencies": self.latencies.model_dump(),
            "calls": self.calls.counters(),
        }

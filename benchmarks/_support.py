"""What the benchmarks share: machine facts, the emulator in its own process, tenants, BTP object counts.

The emulator runs in a child process (``RemoteSandbox``) so that it does not share the client's interpreter
lock: like the real BTP, its work does not slow down btp-infra's. It is controlled over its ``/sandbox``
endpoints (state, call log, reset), which never return secrets.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from btp_infra import conventions
from btp_infra.conventions import DEFAULT_CREDENTIAL_TYPE, OPERATOR_OFFERING, OPERATOR_PLAN, instance_name
from btp_infra.credentials import ENV_KEY
from btp_infra.sandbox import Latencies, SandboxConfig, SandboxServer, SubaccountSeed
from btp_infra.testing import tenants

__all__ = [
    "OPERATOR_PLAN",
    "OPERATOR_SERVICE",
    "CallSummary",
    "ChainLatencies",
    "Machine",
    "RemoteSandbox",
    "binding_name",
    "chain_objects",
    "cis_key_env",
    "instance_name",
    "leftovers",
    "machine",
    "rate_limit_bound",
    "tenant_config",
    "tenant_guid",
    "tenant_name",
    "tenant_seeds",
    "today",
    "warm_up",
]

OPERATOR_SERVICE = OPERATOR_OFFERING
TOKEN_ROUTE = "/uaa/{subdomain}/oauth/token"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_START_TIMEOUT = 60.0


# ---- machine -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    """Where a benchmark ran."""

    system: str
    cpu: str
    cpus: int
    memory_gib: float
    python: str
    pulumi: str

    def line(self) -> str:
        return (
            f"{self.system}, {self.cpu}, {self.cpus} CPUs, {self.memory_gib:.0f} GiB RAM, "
            f"Python {self.python}, pulumi {self.pulumi}"
        )


def machine() -> Machine:
    """Facts from ``platform``, ``os.cpu_count()``, ``/proc`` (Linux) and the installed Pulumi SDK."""
    cpu = platform.processor() or platform.machine()
    memory = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) / 2**20  # kB → GiB
                break
    except (OSError, ValueError, IndexError):
        pass
    if not memory and hasattr(os, "sysconf"):
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        except (ValueError, OSError):
            memory = 0.0
    try:
        pulumi = metadata.version("pulumi")
    except metadata.PackageNotFoundError:
        pulumi = "?"
    return Machine(
        system=f"{platform.system()} {platform.release()}",
        cpu=cpu,
        cpus=os.cpu_count() or 1,
        memory_gib=memory,
        python=platform.python_version(),
        pulumi=pulumi,
    )


def today() -> str:
    return time.strftime("%Y-%m-%d")


# ---- tenants -------------------------------------------------------------------------------------------


def tenant_guid(index: int) -> str:
    """A stable subaccount GUID per tenant index."""
    return str(uuid.UUID(int=0xB7B0000 + index, version=4))


def tenant_name(index: int) -> str:
    return f"tenant-{index:03d}"


def tenant_seeds(count: int) -> list[SubaccountSeed]:
    return [
        SubaccountSeed(guid=tenant_guid(i), subdomain=f"bench-{i:03d}", display_name=tenant_name(i))
        for i in range(count)
    ]


def tenant_config(index: int) -> dict[str, str]:
    """The stack config (engine form) of tenant ``index``: the defaults, i.e. the operator-access chain."""
    return tenants.tenant_config(tenant_name(index), tenant_guid(index))


def binding_name(namespace: str, credential_type: str = DEFAULT_CREDENTIAL_TYPE) -> str:
    """The operator binding's Service Manager name (:func:`btp_infra.conventions.binding_name`)."""
    return conventions.binding_name(namespace, credential_type)


@dataclass(frozen=True)
class ChainLatencies:
    """Emulator latencies (seconds) of the four asynchronous steps of a tenant's BTP chain."""

    entitlement: float
    admin_binding: float
    instance: float
    binding: float

    @property
    def total(self) -> float:
        return self.entitlement + self.admin_binding + self.instance + self.binding

    def sandbox(self) -> Latencies:
        """The emulator latencies (deletes take as long as their creates)."""
        return Latencies(
            entitlement=self.entitlement,
            entitlement_delete=self.entitlement,
            admin_binding=self.admin_binding,
            instance=self.instance,
            instance_delete=self.instance,
            binding=self.binding,
            binding_delete=self.binding,
        )

    def describe(self) -> str:
        return (
            f"entitlement {self.entitlement:g} s, admin binding {self.admin_binding:g} s, "
            f"instance {self.instance:g} s, binding {self.binding:g} s (sum {self.total:g} s)"
        )


@contextmanager
def cis_key_env(key: Mapping[str, Any]) -> Iterator[None]:
    """``BTP_CIS_SERVICE_KEY`` = ``key`` while inside (the first source the providers look at)."""
    previous = os.environ.get(ENV_KEY)
    os.environ[ENV_KEY] = json.dumps(key)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ENV_KEY, None)
        else:
            os.environ[ENV_KEY] = previous


def warm_up() -> float:
    """Render one tenant under plain mocks (no API call): imports the Pulumi SDK and pulumi-kubernetes'
    lazily loaded modules once. Returns the seconds it took (the one-off cold-start cost of a process).

    Also required before running LocalEngines in threads: pulumi-kubernetes' lazy module loading is not
    thread-safe (``module 'pulumi_kubernetes.core' has no attribute 'v1'`` otherwise).
    """
    from btp_infra import program
    from btp_infra.offline.rendering import render

    started = time.perf_counter()
    result = render("warm-up", tenant_config(0), program.main)
    if result.error is not None:
        raise RuntimeError(f"warm-up render failed: {result.error}")
    return time.perf_counter() - started


# ---- the emulator in a child process -------------------------------------------------------------------


def _serve(config: dict[str, Any], conn: Connection) -> None:
    """Child process: run the emulator until the parent says stop (or goes away)."""
    try:
        server = SandboxServer(SandboxConfig.model_validate(config)).start()
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    try:
        conn.send(("ok", server.url, server.cis_service_key()))
        with suppress(EOFError):
            conn.recv()
    finally:
        server.stop()


class RemoteSandbox:
    """The BTP emulator (``SandboxServer``) in a child process; a context manager."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._process: Any = None
        self._conn: Connection | None = None
        self._url = ""
        self._key: dict[str, Any] = {}
        self._http = requests.Session()

    def __enter__(self) -> RemoteSandbox:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(self.config.model_dump(mode="json"), child), daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(_START_TIMEOUT):
            self.close()
            raise RuntimeError("the emulator process did not start")
        message = parent.recv()
        if message[0] != "ok":
            self.close()
            raise RuntimeError(f"the emulator process failed: {message[1]}")
        self._url, self._key = message[1], message[2]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            with suppress(OSError, ValueError):
                self._conn.send("stop")
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(15)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
            self._process = None
        self._http.close()

    @property
    def url(self) -> str:
        return self._url

    def cis_service_key(self) -> dict[str, Any]:
        return dict(self._key)

    def _get(self, path: str) -> Any:
        response = self._http.get(f"{self._url}/sandbox/{path}", timeout=60)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("state")
        return result

    def calls(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("calls")
        return result

    def reset(self) -> None:
        self._http.post(f"{self._url}/sandbox/reset", timeout=60).raise_for_status()


# ---- counting ------------------------------------------------------------------------------------------


def chain_objects(state: Mapping[str, Any], namespace: str, guid: str) -> dict[str, int]:
    """How many of each BTP object of one tenant the emulator holds (exactly 1 each after a create)."""
    return tenants.chain_objects(state, namespace, guid)


def leftovers(state: Mapping[str, Any]) -> dict[str, int]:
    """Objects left in the emulator (assignments, admin bindings, instances, bindings); all 0 = empty."""
    return {kind: len(found) for kind, found in tenants.leftovers(state).items()}


@dataclass(frozen=True)
class CallSummary:
    """HTTP calls of one phase, from the emulator's call log."""

    total: int
    writes: int
    reads: int
    tokens: int
    polls: int
    by_route: dict[str, int]
    statuses: dict[int | None, int]

    @classmethod
    def of(cls, calls: Sequence[Mapping[str, Any]]) -> CallSummary:
        by_route: Counter[str] = Counter()
        statuses: Counter[int | None] = Counter()
        writes = reads = tokens = polls = 0
        for call in calls:
            route = call.get("route") or call.get("path") or "?"
            by_route[f"{call['method']} {route}"] += 1
            statuses[call.get("status")] += 1
            if route == TOKEN_ROUTE:
                tokens += 1
            elif call["method"] in WRITE_METHODS:
                writes += 1
            else:
                reads += 1
                if "/operations/" in route or route.endswith("/status"):
                    polls += 1
        return cls(len(calls), writes, reads, tokens, polls, dict(by_route), dict(statuses))


def rate_limit_bound(tenants: int, limit: int, window: float, chain_seconds: float) -> float:
    """The shortest completion time the rate limit allows (see ``benchmarks.fleet``)."""
    return (math.ceil(tenants / limit) - 1) * window + chain_seconds

"""No object is read twice in one step (issue "The real path", §5).

Every BTP request of a provider step (``create``/``read``/``update``/``delete`` of one resource) is recorded
at the transport. With the emulator's operations settling at once (zero latencies), a poll ends at its first
read, so the same GET (same API, path and query) twice in one step with no write between them is a wasted
read. Token requests go through their own cache and are not API reads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from btp_infra.btp.http import Transport
from btp_infra.providers.binding import ServiceBindingProvider
from btp_infra.providers.entitlement import SubaccountEntitlementProvider
from btp_infra.providers.instance import ServiceInstanceProvider
from btp_infra.providers.sm_access import ServiceManagerAccessProvider
from btp_infra.providers.subaccount import SubaccountCheckProvider
from btp_infra.sandbox import SandboxServer
from btp_infra.sandbox.config import Latencies

from .support import engine, sandbox_config

PROVIDERS = (
    SubaccountCheckProvider,
    ServiceManagerAccessProvider,
    SubaccountEntitlementProvider,
    ServiceInstanceProvider,
    ServiceBindingProvider,
)
OPERATIONS = ("create", "read", "update", "delete")
ZERO = Latencies(
    entitlement=0,
    entitlement_delete=0,
    admin_binding=0,
    instance=0,
    instance_delete=0,
    binding=0,
    binding_delete=0,
)
HANA = json.dumps([{"service": "hana-cloud", "plan": "hana"}])
HANA_2 = json.dumps([{"service": "hana-cloud", "plan": "hana", "amount": 2}])

Request = tuple[str, str, str, tuple[tuple[str, str], ...]]


class StepRecorder:
    """The requests of each provider step, keyed by ``Class.operation#n``."""

    def __init__(self) -> None:
        self.steps: dict[str, list[Request]] = {}
        self._current = threading.local()
        self._count = 0
        self._lock = threading.Lock()

    def step(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._count += 1
                key = f"{name}#{self._count}"
                self.steps[key] = []
            self._current.key = key
            try:
                return call(*args, **kwargs)
            finally:
                self._current.key = None

        return wrapped

    def request(self, send: Callable[..., Any]) -> Callable[..., Any]:
        recorder = self

        def wrapped(transport: Transport, method: str, path: str, **kwargs: Any) -> Any:
            key = getattr(recorder._current, "key", None)
            if key is not None:
                params = tuple(sorted((str(k), str(v)) for k, v in (kwargs.get("params") or {}).items()))
                recorder.steps[key].append((transport.url_for(path), method.upper(), path, params))
            return send(transport, method, path, **kwargs)

        return wrapped

    def wasted_reads(self) -> dict[str, list[str]]:
        wasted: dict[str, list[str]] = {}
        for step, requests in self.steps.items():
            seen: set[Request] = set()
            for request in requests:
                if request[1] != "GET":
                    seen = set()  # a write may change what a read returns
                    continue
                if request in seen:
                    wasted.setdefault(step, []).append(f"GET {request[0]} {dict(request[3])}")
                seen.add(request)
        return wasted


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> StepRecorder:
    found = StepRecorder()
    monkeypatch.setattr(Transport, "request", found.request(Transport.request))
    for cls in PROVIDERS:
        for op in OPERATIONS:
            monkeypatch.setattr(cls, op, found.step(f"{cls.__name__}.{op}", getattr(cls, op)))
    return found


@pytest.fixture(scope="module")
def instant_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(sandbox_config(latencies=ZERO)) as server:
        yield server


@pytest.fixture
def sandbox(instant_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    instant_sandbox.reset()
    monkeypatch.setenv("BTP_CIS_SERVICE_KEY", json.dumps(instant_sandbox.cis_service_key()))
    monkeypatch.delenv("BTP_CIS_SERVICE_KEY_FILE", raising=False)
    monkeypatch.delenv("BTP_INFRA_KEYRING_PROFILE", raising=False)
    return instant_sandbox


def test_no_object_is_read_twice_in_one_step(sandbox: SandboxServer, recorder: StepRecorder) -> None:
    stack = engine(entitlements=HANA)
    assert stack.up().ok
    stack.config["btp-infra:entitlements"] = HANA_2  # an update (amount) of the hana entitlement
    assert stack.up().ok
    stack.refresh()
    stack.config.pop("btp-infra:entitlements")  # deletes the hana entitlement
    assert stack.up().ok
    stack.destroy()
    ran = {step.split("#")[0] for step in recorder.steps}
    for cls in PROVIDERS:  # every kind was created, read and deleted; the entitlement also updated
        assert {f"{cls.__name__}.{op}" for op in ("create", "read", "delete")} <= ran, cls.__name__
    assert f"{SubaccountEntitlementProvider.__name__}.update" in ran
    wasted = recorder.wasted_reads()
    assert not wasted, "\n".join(f"{step}: {reads}" for step, reads in wasted.items())


def test_the_recorder_sees_a_double_read(sandbox: SandboxServer, recorder: StepRecorder) -> None:
    """The check above can fail: a read repeated without a write in between is reported."""
    stack = engine()
    assert stack.up().ok
    entry = next(e for e in stack.state.values() if e.type.endswith(":SubaccountEntitlement"))
    client = stack.provider(entry.provider).entitlements()  # type: ignore[attr-defined]
    key = (entry.outputs["subaccountId"], entry.outputs["serviceName"], entry.outputs["planName"])

    def read_twice() -> None:
        client.read(*key)
        client.read(*key)

    def read_assign_read() -> None:
        known = client.read(*key)
        client.assign(*key, known=known)  # starts from the read; already as requested: sends nothing
        client.read(*key)  # so this one is wasted

    recorder.step("twice", read_twice)()
    recorder.step("again", read_assign_read)()
    assert [step.split("#")[0] for step in recorder.wasted_reads()] == ["twice", "again"]

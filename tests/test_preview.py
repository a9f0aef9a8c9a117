"""``pulumi preview`` as the real engine computes it, modelled by :meth:`LocalEngine.preview`.

- A new tenant: every Check gets unknowns where the program has them (the instance's id before it exists), as
  :class:`pulumi.output.Unknown` objects (the dynamic server's ``keep_unknowns=True``); the preview shows
  creates only and calls no API.
- An in-place update (a changed ``timeouts.instance``): the engine's preview outputs of an updated dynamic
  resource are its new inputs (``provider_plugin.go`` ``Update``: no preview support), so every computed
  output is unknown; the binding (fed by ``instance.id``, known in preview) must not show a false replacement.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from emulator_fixtures import FAST, SUBACCOUNT_1, sandbox_seeds
from pulumi.output import Unknown

from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.providers.binding import ServiceBindingProvider
from btp_infra.sandbox import SandboxConfig, SandboxServer
from btp_infra.testing.local_engine import LocalEngine

CONFIG = {
    "btp-infra:namespace": "incident",
    "btp-infra:subaccountId": SUBACCOUNT_1,
    "btp-infra:kubeContext": "kind-test",
}
DYNAMIC_PREFIX = "pulumi-python:dynamic/btp:"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(subaccounts=sandbox_seeds(), latencies=FAST)) as server:
        for name in (ENV_KEY_FILE, ENV_PROFILE):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(ENV_KEY, json.dumps(server.cis_service_key()))
        yield server


def test_preview_of_a_new_tenant_shows_creates_only(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    original = ServiceBindingProvider.check

    def spy(self: ServiceBindingProvider, olds: dict[str, Any], news: dict[str, Any]) -> Any:
        seen.append(news.get("serviceInstanceId"))
        return original(self, olds, news)

    monkeypatch.setattr(ServiceBindingProvider, "check", spy)
    engine = LocalEngine("incident", CONFIG)
    result = engine.preview()
    assert result.ok, result.render.error
    dynamic = [r for r in result.render.resources if r.type.startswith(DYNAMIC_PREFIX)]
    assert len(dynamic) == 5 and sorted(result.created) == sorted(r.name for r in dynamic)
    assert (result.updated, result.replaced, result.deleted) == ([], [], [])
    assert [type(v) for v in seen] == [Unknown], "the instance id is unknown before the instance exists"
    assert engine.resources == {} and sandbox.calls() == []


def test_preview_of_a_changed_instance_timeout_shows_updates_only(sandbox: SandboxServer) -> None:
    engine = LocalEngine("incident", CONFIG)
    assert engine.up().ok
    before = {k: (v.id, dict(v.outputs)) for k, v in engine.state.items()}

    engine.config["btp-infra:timeouts"] = json.dumps({"instance": "45m"})
    preview = engine.preview()
    assert preview.ok, preview.render.error
    assert (preview.updated, preview.replaced, preview.created, preview.deleted) == (
        ["tenant-operator-access"],
        [],
        [],
        [],
    )
    assert {k: (v.id, v.outputs) for k, v in engine.state.items()} == before, "preview changes nothing"

    calls = len(sandbox.calls())
    result = engine.up()
    assert result.ok, result.render.error
    assert (result.updated, result.replaced, result.created) == (["tenant-operator-access"], [], [])
    instance = engine.outputs_of("ServiceInstance")[0]
    assert instance["timeoutSeconds"] == 2700, "the new timeout is in state, for delete"
    assert sandbox.calls()[calls:] == [], "a timeout change calls no API"

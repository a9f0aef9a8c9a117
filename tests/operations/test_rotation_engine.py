"""Rotation of the operator-access binding through the program (``btp-infra:credentialRotation``), run by
``LocalEngine`` against the emulator: a create-before-delete replacement in the engine's order — the new
binding (its credentials confirmed to obtain a token), then the operator Secret updated in place, then the
old binding deleted — and, interrupted after each step, a re-run that converges on exactly one binding.

The Kubernetes objects are applied to the stand-in Kubernetes API (real HTTP, the official client) with
pulumi-kubernetes' semantics. Observed at every recorded step (``LocalEngine.after_step``, the engine's
checkpoints) in state and in the stand-in's store, and afterwards in its request log: once the tenant exists,
the operator Secret is never absent (created once, then only patched, never deleted) and never holds the
credentials of a binding that is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pulumi_kubernetes
import pytest
from emulator_fixtures import SUBACCOUNT_1

from btp_infra import program
from btp_infra.btp.credential_check import confirm_token
from btp_infra.btp.errors import DeadlineExceededError
from btp_infra.conventions import OPERATOR_SECRET_BASE_NAME, binding_name
from btp_infra.kube import KubeClient
from btp_infra.providers import binding as binding_module
from btp_infra.providers.binding import ServiceBindingProvider
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.kube_api import KubeApiStandIn
from btp_infra.testing.local_engine import LocalEngine
from operations.rotation_support import (
    BINDING,
    NAMESPACE,
    SECRET_RESOURCE,
    binding_state,
    secret_data,
    sm_bindings,
    tenant_config,
)

TOKEN_ROUTE = "/uaa/{subdomain}/oauth/token"


class Crash(Exception):
    """The process running the update died here."""


class Watch:
    """Checks the tenant at every step: the Secret present, in the cluster as in state, its credentials those
    of a binding in SM."""

    def __init__(self, scene: Scene, engine: LocalEngine) -> None:
        self.scene, self.engine = scene, engine
        self.steps: list[tuple[str, str]] = []
        self.crash_at: tuple[str, str] | None = None
        engine.after_step = self

    def __call__(self, what: str, name: str) -> None:
        self.steps.append((what, name))
        data, in_cluster = secret_data(self.engine), self.scene.live_secret()
        assert data is not None and in_cluster is not None, (
            f"the operator Secret is absent after {what} {name}"
        )
        assert in_cluster == data, f"after {what} {name} the cluster's Secret is not the one in state"
        live = sm_bindings(self.scene.btp)
        assert data["clientid"] in live, f"after {what} {name} the Secret holds a deleted binding's secret"
        if self.crash_at == (what, name):
            self.crash_at = None
            raise Crash(f"killed after {what} {name}")


def up(engine: LocalEngine) -> None:
    result = engine.up()
    assert result.ok, result.render.error


@dataclass
class Scene:
    """The emulator, the stand-in Kubernetes API and the official client on it."""

    btp: SandboxServer
    kube_api: KubeApiStandIn
    cluster: KubeClient

    def onboard(self, **extra: str) -> tuple[LocalEngine, Watch]:
        engine = LocalEngine("orders", tenant_config(SUBACCOUNT_1, **extra), cluster=self.cluster)
        up(engine)
        return engine, Watch(self, engine)

    def live_secret(self) -> dict[str, str] | None:
        return self.kube_api.secret_data(NAMESPACE, OPERATOR_SECRET_BASE_NAME)

    def secret_writes(self) -> list[tuple[str, str | None]]:
        return [(r.method, r.name) for r in self.kube_api.requests(resource="secrets", writes=True)]

    def assert_converged(self, engine: LocalEngine, key: str) -> None:
        """Exactly one binding in SM, the rotated one; the Secret (state and cluster) holds its credentials;
        nothing pending; the cluster's Secret was created once and then only patched, never deleted."""
        live = sm_bindings(self.btp)
        assert sorted(live.values()) == [binding_name("orders", "client-secret", key)]
        data = secret_data(engine)
        assert data is not None and live[data["clientid"]] == binding_name("orders", "client-secret", key)
        assert self.live_secret() == data
        assert binding_state(engine)["name"] == binding_name("orders", "client-secret", key)
        assert engine.pending_deletes == []
        writes = self.secret_writes()
        assert writes[0] == ("POST", None) and set(writes[1:]) <= {("PATCH", OPERATOR_SECRET_BASE_NAME)}


@pytest.fixture
def scene(btp: SandboxServer, kube_api: KubeApiStandIn) -> Iterator[Scene]:
    with KubeClient.from_kubeconfig(kube_api.kubeconfig(context="kyma"), context="kyma") as client:
        yield Scene(btp, kube_api, client)


def test_no_rotation_key_keeps_todays_binding_name_so_an_upgrade_replaces_nothing(scene: Scene) -> None:
    assert binding_name("orders", "client-secret") == "btp-infra-orders-operator-access-client-secret"
    assert binding_name("orders", "x509", None) == "btp-infra-orders-operator-access-x509"
    engine, _ = scene.onboard()
    assert sorted(sm_bindings(scene.btp).values()) == ["btp-infra-orders-operator-access-client-secret"]
    again = engine.up()
    assert again.ok and again.changes == 0, (again.replaced, again.updated)


def test_rotation_creates_then_updates_the_secret_in_place_then_deletes_the_old(scene: Scene) -> None:
    engine, watch = scene.onboard()
    (old_client,) = sm_bindings(scene.btp)
    old_secret_id = engine.resources[("kubernetes:core/v1:Secret", SECRET_RESOURCE)].id

    engine.config["btp-infra:credentialRotation"] = "r1"
    result = engine.up()

    assert result.ok, result.render.error
    assert result.replaced == [BINDING] and result.deleted == [BINDING]
    # the engine's order: the replacement, its dependents updated, the condemned binding deleted last
    assert watch.steps[-3:] == [("replaced", BINDING), ("updated", SECRET_RESOURCE), ("deleted", BINDING)]
    assert ("created", SECRET_RESOURCE) not in watch.steps  # updated in place, never re-created
    assert engine.resources[("kubernetes:core/v1:Secret", SECRET_RESOURCE)].id == old_secret_id
    assert old_client not in sm_bindings(scene.btp)
    scene.assert_converged(engine, "r1")


def test_a_second_rotation_replaces_the_rotated_binding(scene: Scene) -> None:
    engine, _ = scene.onboard(credentialRotation="r1")
    engine.config["btp-infra:credentialRotation"] = "2026-12-02"
    up(engine)
    scene.assert_converged(engine, "2026-12-02")


def _crash_after_binding_create(watch: Watch, monkeypatch: pytest.MonkeyPatch) -> None:
    watch.crash_at = ("replaced", BINDING)


def _crash_after_secret_update(watch: Watch, monkeypatch: pytest.MonkeyPatch) -> None:
    watch.crash_at = ("updated", SECRET_RESOURCE)


def _crash_after_token_check(watch: Watch, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new binding exists in SM and its credentials work, but the create never returned: not in state."""
    real = confirm_token

    def confirmed_then_killed(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        monkeypatch.setattr(binding_module, "confirm_token", real)
        raise Crash("killed after the token check")

    monkeypatch.setattr(binding_module, "confirm_token", confirmed_then_killed)


def _crash_before_old_binding_delete(watch: Watch, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ServiceBindingProvider.delete

    def killed(self: ServiceBindingProvider, id_: str, props: dict[str, Any]) -> None:
        monkeypatch.setattr(ServiceBindingProvider, "delete", real)
        raise Crash("killed before deleting the old binding")

    monkeypatch.setattr(ServiceBindingProvider, "delete", killed)


@pytest.mark.parametrize(
    "interrupt",
    [
        _crash_after_binding_create,
        _crash_after_secret_update,
        _crash_after_token_check,
        _crash_before_old_binding_delete,
    ],
    ids=["after-binding-create", "after-secret-update", "after-token-check", "before-old-binding-delete"],
)
def test_rotation_interrupted_at_each_step_converges_on_re_run(
    scene: Scene,
    monkeypatch: pytest.MonkeyPatch,
    interrupt: Callable[[Watch, pytest.MonkeyPatch], None],
) -> None:
    engine, watch = scene.onboard()
    engine.config["btp-infra:credentialRotation"] = "r1"
    interrupt(watch, monkeypatch)

    crashed = engine.up()

    assert isinstance(crashed.render.error, Crash), crashed.render.error
    assert 1 <= len(sm_bindings(scene.btp)) <= 2  # the old binding is still there until the Secret moved on
    up(engine)  # the re-run, watched step by step like the first
    scene.assert_converged(engine, "r1")
    again = engine.up()
    assert again.ok and again.changes == 0


def test_a_crash_after_the_replacement_leaves_the_old_binding_pending_deletion(scene: Scene) -> None:
    """The checkpoint after the replacing create: both bindings, the old one marked for deletion (the engine's
    ``Delete: true``); the re-run matches the program to the new one and deletes the old one after the Secret
    was updated."""
    engine, watch = scene.onboard()
    old_id = binding_state(engine)["bindingId"]
    engine.config["btp-infra:credentialRotation"] = "r1"
    watch.crash_at = ("replaced", BINDING)
    assert not engine.up().ok

    (pending,) = engine.pending_deletes
    assert (pending.name, pending.id, pending.delete) == (BINDING, old_id, True)
    assert binding_state(engine)["bindingId"] != old_id
    assert engine.preview().deleted == [BINDING]  # what the next update will delete

    watch.steps.clear()
    result = engine.up()
    assert result.ok and result.replaced == [] and result.deleted == [BINDING]
    assert watch.steps == [("updated", SECRET_RESOURCE), ("deleted", BINDING)]
    scene.assert_converged(engine, "r1")


def test_destroy_also_deletes_a_binding_pending_deletion(scene: Scene) -> None:
    engine, watch = scene.onboard()
    engine.config["btp-infra:credentialRotation"] = "r1"
    watch.crash_at = ("replaced", BINDING)
    assert not engine.up().ok
    engine.after_step = None
    deleted = engine.destroy()
    assert deleted.count(BINDING) == 2
    assert deleted.index(SECRET_RESOURCE) < deleted.index(BINDING)
    assert sm_bindings(scene.btp) == {}
    assert engine.pending_deletes == []


def test_new_credentials_that_never_work_fail_the_create_and_leave_the_tenant_as_it_was(scene: Scene) -> None:
    """XSUAA refuses the new credentials (the emulator's ``binding_credentials`` delay, longer than the
    binding's 2 s timeout): the create fails naming the binding, the new binding is deleted again, the Secret
    keeps the old credentials; once they work, a re-run finishes the rotation."""
    engine, _ = scene.onboard()
    engine.config["btp-infra:timeouts"] = '{"binding": 2}'
    up(engine)  # the timeout is behaviour only: an update calling no API
    before, data_before = sm_bindings(scene.btp), secret_data(engine)
    engine.config["btp-infra:credentialRotation"] = "r1"
    scene.btp.set_latencies(binding_credentials=3600)

    failed = engine.up()

    assert isinstance(failed.render.error, DeadlineExceededError), failed.render.error
    message = str(failed.render.error)
    assert (
        "binding btp-infra-orders-operator-access-client-secret-r1: the new credentials obtained no token"
        in message
    )
    assert "HTTP 401" in message
    assert sm_bindings(scene.btp) == before  # the new binding was deleted again; the old one kept
    assert secret_data(engine) == data_before == scene.live_secret() and engine.pending_deletes == []

    scene.btp.set_latencies(binding_credentials=0)  # the credentials work now
    up(engine)
    scene.assert_converged(engine, "r1")


def test_new_credentials_that_work_after_a_moment_are_waited_for(scene: Scene) -> None:
    engine, _ = scene.onboard()
    engine.config["btp-infra:credentialRotation"] = "r1"
    scene.btp.set_latencies(binding_credentials=0.5)
    scene.btp.runtime.calls.clear()

    up(engine)

    scene.assert_converged(engine, "r1")
    (new_client,) = sm_bindings(scene.btp)
    tokens = [
        c["status"] for c in scene.btp.calls() if c["route"] == TOKEN_ROUTE and c["client_id"] == new_client
    ]
    assert tokens[-1] == 200 and 401 in tokens  # refused at first, retried until it worked


def test_without_enable_secret_mutable_the_secret_would_be_deleted_and_re_created(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the program sets ``enableSecretMutable``: without it pulumi-kubernetes replaces a Secret whose data
    changed, delete-first (same name) — the gap in which the operator falls back to the cluster's
    subaccount. The watch sees it; the stand-in's log shows the DELETE."""
    real = pulumi_kubernetes.Provider

    def immutable_secrets(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "enable_secret_mutable": False})

    monkeypatch.setattr(program, "k8s", SimpleNamespace(Provider=immutable_secrets))
    engine, _ = scene.onboard()
    engine.config["btp-infra:credentialRotation"] = "r1"
    result = engine.up()
    assert isinstance(result.render.error, AssertionError)
    assert "absent" in str(result.render.error)
    assert ("DELETE", OPERATOR_SECRET_BASE_NAME) in scene.secret_writes()


def test_x509_rotation_confirms_the_new_certificate_over_mtls_before_the_old_binding_goes(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", scene.btp.ca_path)  # this machine trusts the emulator's CA
    engine, _ = scene.onboard(credentialType="x509")
    (old_client,) = sm_bindings(scene.btp)
    engine.config["btp-infra:credentialRotation"] = "r1"
    scene.btp.runtime.calls.clear()

    up(engine)

    (new_client,) = sm_bindings(scene.btp)
    assert new_client != old_client
    calls = scene.btp.calls()
    token = [i for i, c in enumerate(calls) if c["route"] == TOKEN_ROUTE and c["client_id"] == new_client]
    deletes = [i for i, c in enumerate(calls) if c["method"] == "DELETE" and "service_bindings" in c["path"]]
    assert token and deletes and calls[token[0]]["status"] == 200
    assert token[0] < deletes[0]  # confirmed before the old binding was deleted
    data = scene.live_secret()
    assert data is not None and data["clientid"] == new_client and "tls.key" in data


def test_changing_x509_settings_with_a_new_key_is_gapless_too(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", scene.btp.ca_path)
    engine, watch = scene.onboard(credentialType="x509", x509='{"validity": 7}')
    engine.config["btp-infra:x509"] = '{"validity": 30}'
    engine.config["btp-infra:credentialRotation"] = "r1"
    result = engine.up()  # watched: the Secret never holds a deleted binding's certificate
    assert result.ok, result.render.error
    assert watch.steps[-3:] == [("replaced", BINDING), ("updated", SECRET_RESOURCE), ("deleted", BINDING)]
    (name,) = sm_bindings(scene.btp).values()
    assert name == binding_name("orders", "x509", "r1")

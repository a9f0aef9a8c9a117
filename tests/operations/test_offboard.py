"""The offboarding check before a destroy (``btp_infra.operations.offboard``) through the official client
against the stand-in Kubernetes API: refused while operator objects exist (listed), ``--wait`` deleting
bindings before instances and waiting for the operator (driven by the stand-in's operator hook, no real
sleeps), a stuck finalizer timing out by name, a namespace already gone, an API that cannot be reached.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from kube_fixtures import namespace_object, operator_object

from btp_infra.conventions import OPERATOR_API_GROUP, OPERATOR_FINALIZER
from btp_infra.kube import KubeClient
from btp_infra.operations.offboard import (
    OffboardError,
    OffboardRefused,
    WaitPolicy,
    check_operator_objects,
    describe,
)
from btp_infra.testing.kube_api import KubeApiStandIn

NS = "orders"


class FakeClock:
    """Time that passes only when the check sleeps; each sleep is one reconcile of the stand-in operator."""

    def __init__(self, kube_api: KubeApiStandIn) -> None:
        self.now = 0.0
        self.kube_api = kube_api
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.kube_api.operator.reconcile()

    def policy(self, timeout: float = 60.0) -> WaitPolicy:
        return WaitPolicy(timeout=timeout, initial=1.0, cap=8.0, sleep=self.sleep, clock=lambda: self.now)


@pytest.fixture
def clock(kube_api: KubeApiStandIn) -> FakeClock:
    return FakeClock(kube_api)


def seed_tenant(kube_api: KubeApiStandIn, bindings: int = 1, instances: int = 1) -> None:
    kube_api.seed(namespace_object(NS))
    for n in range(bindings):
        kube_api.seed(operator_object("ServiceBinding", NS, f"db-binding-{n}"))
    for n in range(instances):
        kube_api.seed(operator_object("ServiceInstance", NS, f"db-{n}"))
    kube_api.seed(operator_object("ServiceInstance", "elsewhere", "not-ours"))


def operator_left(kube_api: KubeApiStandIn) -> list[str]:
    return [
        f"{resource}/{o['metadata']['name']}"
        for resource in ("servicebindings", "serviceinstances")
        for o in kube_api.objects(resource, NS, group=OPERATOR_API_GROUP)
    ]


def test_refused_while_operator_objects_exist_listing_them(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    seed_tenant(kube_api, bindings=1, instances=2)

    with pytest.raises(OffboardRefused) as caught:
        check_operator_objects(kube_client, NS, mode="refuse")

    message = str(caught.value)
    assert "destroy refused: 3 SAP BTP service operator object(s) still in namespace orders" in message
    assert "ServiceBinding/db-binding-0, ServiceInstance/db-0, ServiceInstance/db-1" in message
    assert "cluster's own credentials" in message and "--wait" in message
    assert "not-ours" not in message  # another namespace is not this tenant's
    assert [o.name for o in caught.value.found] == ["db-binding-0", "db-0", "db-1"]
    first = describe(caught.value.found[0])
    assert OPERATOR_FINALIZER in first and "Ready: True (Provisioned)" in first
    assert kube_api.requests(writes=True) == []  # nothing deleted


def test_wait_deletes_bindings_first_and_waits_for_the_operator(
    kube_api: KubeApiStandIn, kube_client: KubeClient, clock: FakeClock
) -> None:
    seed_tenant(kube_api, bindings=2, instances=1)
    kube_api.operator.finalize_after = 3  # the operator needs three reconciles before it lets go

    report = check_operator_objects(kube_client, NS, mode="wait", policy=clock.policy())

    assert operator_left(kube_api) == []
    assert [f"{o.kind}/{o.name}" for o in report.deleted] == [
        "ServiceBinding/db-binding-0",
        "ServiceBinding/db-binding-1",
        "ServiceInstance/db-0",
    ]
    log = [(r.method, r.resource, r.name) for r in kube_api.requests() if r.resource.startswith("service")]
    deletes = [entry for entry in log if entry[0] == "DELETE"]
    assert [d[1] for d in deletes] == ["servicebindings", "servicebindings", "serviceinstances"]
    # The instance was deleted only after a listing showed the bindings gone (the operator's order).
    instance_delete = log.index(("DELETE", "serviceinstances", "db-0"))
    binding_lists = [i for i, e in enumerate(log[:instance_delete]) if e[:2] == ("GET", "servicebindings")]
    last_binding_list = max(binding_lists)
    assert last_binding_list > log.index(("DELETE", "servicebindings", "db-binding-1"))
    assert kube_api.get("serviceinstances", "not-ours", "elsewhere", group=OPERATOR_API_GROUP) is not None
    assert clock.sleeps[:3] == [1.0, 2.0, 4.0]  # growing intervals, no fixed sleep


def test_wait_also_deletes_objects_that_appear_meanwhile(
    kube_api: KubeApiStandIn, kube_client: KubeClient, clock: FakeClock
) -> None:
    seed_tenant(kube_api, bindings=1, instances=0)
    real_sleep = clock.sleep

    def sleep_and_create(seconds: float) -> None:
        if not clock.sleeps:  # a controller re-creates a binding while we wait
            kube_api.seed(operator_object("ServiceBinding", NS, "late-binding"))
        real_sleep(seconds)

    policy = WaitPolicy(timeout=60, initial=1.0, cap=8.0, sleep=sleep_and_create, clock=lambda: clock.now)
    report = check_operator_objects(kube_client, NS, mode="wait", policy=policy)

    assert operator_left(kube_api) == []
    assert [o.name for o in report.deleted] == ["db-binding-0", "late-binding"]


def test_a_stuck_finalizer_times_out_naming_the_object(
    kube_api: KubeApiStandIn, kube_client: KubeClient, clock: FakeClock
) -> None:
    seed_tenant(kube_api, bindings=0, instances=1)
    kube_api.operator.stuck = True

    with pytest.raises(OffboardError) as caught:
        check_operator_objects(kube_client, NS, mode="wait", policy=clock.policy(timeout=20))

    message = str(caught.value)
    assert "after 20 s, 1 SAP BTP service operator object(s) are still in namespace orders" in message
    assert "ServiceInstance orders/db-0" in message and OPERATOR_FINALIZER in message
    assert "deleting since" in message and "nothing was destroyed" in message
    assert sum(clock.sleeps) == pytest.approx(20)  # bounded: the last sleep is cut to the deadline
    assert len(kube_api.requests("DELETE")) == 1  # asked once, not on every poll


def test_no_namespace_means_nothing_to_orphan(kube_api: KubeApiStandIn, kube_client: KubeClient) -> None:
    report = check_operator_objects(kube_client, NS, mode="refuse")

    assert not report.namespace_found and report.found == []
    assert [r.resource for r in kube_api.requests()] == ["namespaces"]


def test_an_empty_namespace_passes(kube_api: KubeApiStandIn, kube_client: KubeClient) -> None:
    kube_api.seed(namespace_object(NS))
    report = check_operator_objects(kube_client, NS, mode="refuse")
    assert report.namespace_found and report.found == [] and report.deleted == []


@pytest.fixture
def dead_kube() -> Iterator[KubeClient]:
    """A client whose API server refuses connections (a port bound, never listened on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        kubeconfig = (
            "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
            f"clusters: [{{name: gone, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: u, user: {token: not-a-real-token}}]\n"
            "contexts: [{name: gone, context: {cluster: gone, user: u}}]\n"
        )
        client = KubeClient.from_kubeconfig(kubeconfig, "gone", timeout=2.0)
        try:
            yield client
        finally:
            client.close()


def test_an_unreachable_api_is_one_clear_error(dead_kube: KubeClient) -> None:
    with pytest.raises(OffboardError) as caught:
        check_operator_objects(dead_kube, NS, mode="wait")
    message = str(caught.value)
    assert message.startswith("cannot check namespace orders for SAP BTP service operator objects")
    assert "cannot reach the Kubernetes API" in message and "nothing was destroyed" in message
    assert "not-a-real-token" not in message
    assert "\n" not in message


def test_a_rerun_after_a_timeout_converges(
    kube_api: KubeApiStandIn, kube_client: KubeClient, clock: FakeClock
) -> None:
    seed_tenant(kube_api, bindings=1, instances=1)
    kube_api.operator.stuck = True
    with pytest.raises(OffboardError):
        check_operator_objects(kube_client, NS, mode="wait", policy=clock.policy(timeout=5))
    assert operator_left(kube_api) == ["servicebindings/db-binding-0", "serviceinstances/db-0"]

    kube_api.operator.stuck = False  # the cause fixed; destroy --wait again
    report = check_operator_objects(kube_client, NS, mode="wait", policy=clock.policy())

    assert operator_left(kube_api) == []
    # The binding was already being deleted (not asked twice); the instance only now, after it.
    assert [f"{o.kind}/{o.name}" for o in report.deleted] == ["ServiceInstance/db-0"]
    assert [(r.resource, r.name) for r in kube_api.requests("DELETE")] == [
        ("servicebindings", "db-binding-0"),
        ("serviceinstances", "db-0"),
    ]

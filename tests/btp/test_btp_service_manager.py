"""ServiceManagerClient against the emulator: catalog, instances, bindings, async, faults, idempotency."""

from __future__ import annotations

import email.utils
import threading
import time
from pathlib import Path

import pytest

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.auth import X509TokenSource
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.errors import (
    ConflictError,
    DeadlineExceededError,
    NotFoundError,
    OperationFailedError,
    TransportError,
    UnauthorizedError,
)
from btp_infra.btp.http import RetryPolicy
from btp_infra.btp.keys import (
    CisServiceKey,
    ClientSecretBindingCredentials,
    ServiceManagerCredentials,
    X509BindingCredentials,
)
from btp_infra.btp.service_manager import ServiceInstance, ServiceManagerClient, binding_parameters, quote
from btp_infra.sandbox import SandboxServer
from btp_infra.sandbox.faults import FaultKind

from .support import FAST_POLL, READ_TIMEOUT, Sleeps, api_calls, fast_retry, wait_until

INSTANCES = "/sm/v1/service_instances"
INSTANCE = "/sm/v1/service_instances/{instance_id}"
INSTANCE_OP = "/sm/v1/service_instances/{instance_id}/operations/{operation_id}"
BINDINGS = "/sm/v1/service_bindings"
BINDING = "/sm/v1/service_bindings/{binding_id}"
ADMIN = ("service-manager", "subaccount-admin")
OPERATOR = ("service-manager", "service-operator-access")
ADMIN_INSTANCE = "ServiceManagementAccessInstance"


def mine(sandbox: SandboxServer, kind: str = "instances") -> list[dict[str, object]]:
    """The emulator's objects except the admin binding's own instance/binding."""
    return [o for o in sandbox.state()[kind] if not str(o["name"]).startswith("ServiceManagementAccess")]


def create(sm: ServiceManagerClient, name: str, **kwargs: object) -> ServiceInstance:
    return sm.create_instance(name, offering=ADMIN[0], plan=ADMIN[1], **kwargs)  # type: ignore[arg-type]


# -- catalog ---------------------------------------------------------------------------------------------


def test_find_plan_follows_entitlements(
    sm: ServiceManagerClient, entitlements: EntitlementsClient, subaccount: str
) -> None:
    admin = sm.find_plan(*ADMIN)
    assert admin.catalog_name == "subaccount-admin" and admin.service_offering_id
    with pytest.raises(NotFoundError, match="plan not found"):
        sm.find_plan(*OPERATOR)
    with pytest.raises(NotFoundError, match="offering not found"):
        sm.find_plan("no-such-offering", "x")
    entitlements.assign(subaccount, *OPERATOR)
    assert sm.find_plan(*OPERATOR).name == "service-operator-access"


def test_find_plan_waits_for_a_plan_entitled_meanwhile(
    sm: ServiceManagerClient, entitlements: EntitlementsClient, subaccount: str
) -> None:
    """``wait``: a plan entitled just now reaches Service Manager later; it is looked up until visible."""
    with pytest.raises(DeadlineExceededError, match="to become visible"):
        sm.find_plan(*OPERATOR, wait=0.3)
    timer = threading.Timer(0.3, lambda: entitlements.assign(subaccount, *OPERATOR))
    timer.start()
    try:
        assert sm.find_plan(*OPERATOR, wait=20).name == "service-operator-access"
    finally:
        timer.join()
    with pytest.raises(NotFoundError):  # without `wait`, one lookup: an absent plan is not waited for
        sm.find_plan("no-such-offering", "x")


# -- instances -------------------------------------------------------------------------------------------


def test_instance_lifecycle_async(sm: ServiceManagerClient, btp_sandbox: SandboxServer) -> None:
    labels = {"btp-infra.managed-by": ["btp-infra"], "btp-infra.tenant": ["a"]}
    instance = create(sm, "inst-a", parameters={"x": 1}, labels=labels)
    assert instance.ready and instance.last_operation and instance.last_operation.state == "succeeded"
    assert instance.labels == labels
    assert [c["status"] for c in api_calls(btp_sandbox, "POST", INSTANCES, at_least=1)] == [202]
    assert api_calls(btp_sandbox, "GET", INSTANCE_OP, at_least=1), "the operation was not polled"
    assert sm.get_instance(instance.id) == instance
    assert [i.id for i in sm.list_instances(label_query="btp-infra.tenant eq 'a'")] == [instance.id]
    updated = sm.update_instance(
        instance.id,
        parameters={"x": 2},
        labels_add={"btp-infra.tenant": ["b"], "extra": ["1"]},
        labels_remove=["btp-infra.tenant"],
    )
    assert updated.labels == {
        "btp-infra.managed-by": ["btp-infra"],
        "btp-infra.tenant": ["b"],
        "extra": ["1"],
    }
    updated = sm.update_instance(instance.id, labels_remove=["extra"])
    assert "extra" not in updated.labels
    sm.delete_instance(instance.id)
    assert sm.get_instance(instance.id) is None
    sm.delete_instance(instance.id)  # 404 = gone
    assert mine(btp_sandbox) == []


def test_instance_lifecycle_sync(admin_creds: ServiceManagerCredentials, btp_sandbox: SandboxServer) -> None:
    with ServiceManagerClient(
        admin_creds, retry_policy=fast_retry(), poll_policy=FAST_POLL, async_mode=False
    ) as sm:
        plan = sm.find_plan(*ADMIN)
        instance = sm.create_instance("inst-sync", plan_id=plan.id)
        assert instance.ready and instance.service_plan_id == plan.id
        assert [c["status"] for c in api_calls(btp_sandbox, "POST", INSTANCES, at_least=1)] == [201]
        binding = sm.create_binding("bind-sync", instance.id)
        assert binding.ready and binding.credentials.get_secret_value()["clientid"]
        sm.delete_binding(binding.id)
        sm.delete_instance(instance.id)
    assert mine(btp_sandbox) == [] and mine(btp_sandbox, "bindings") == []


def test_paging_across_pages(admin_creds: ServiceManagerCredentials, btp_sandbox: SandboxServer) -> None:
    with ServiceManagerClient(
        admin_creds, retry_policy=fast_retry(), poll_policy=FAST_POLL, page_size=2
    ) as sm:
        created = {create(sm, f"page-{i}").id for i in range(5)}
        before = len(api_calls(btp_sandbox, "GET", INSTANCES))
        listed = sm.list_instances()
        pages = len(api_calls(btp_sandbox, "GET", INSTANCES, at_least=before + 3)) - before
        assert {i.id for i in listed} >= created
        assert len(listed) == 6  # five plus the admin binding's instance
        assert pages == 3
        assert all(i.last_operation is not None for i in listed)  # attach_last_operations
        assert [i.name for i in sm.list_instances(field_query="name eq 'page-3'")] == ["page-3"]


def test_create_is_idempotent_by_name(sm: ServiceManagerClient, btp_sandbox: SandboxServer) -> None:
    first = create(sm, "same-name")
    sm.reset_stats()
    second = create(sm, "same-name")
    assert second.id == first.id
    assert sm.stats.calls == {"GET": 1}  # one lookup, no POST
    assert len(api_calls(btp_sandbox, "POST", INSTANCES)) == 1


def test_adopting_waits_for_an_in_flight_create(
    sm: ServiceManagerClient, admin_creds: ServiceManagerCredentials, btp_sandbox: SandboxServer
) -> None:
    btp_sandbox.set_latencies(instance=0.4)
    results: list[ServiceInstance] = []
    worker = threading.Thread(target=lambda: results.append(create(sm, "in-flight")))
    worker.start()
    wait_until(lambda: mine(btp_sandbox))
    with ServiceManagerClient(admin_creds, retry_policy=fast_retry(), poll_policy=FAST_POLL) as other:
        adopted = create(other, "in-flight")
    worker.join(timeout=10)
    assert adopted.ready and adopted.id == results[0].id
    assert len(mine(btp_sandbox)) == 1


@pytest.mark.parametrize(
    ("kind", "status"), [("http", 502), ("http", 500), ("reset", None), ("timeout", None)]
)
def test_lost_post_response_never_duplicates(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer, kind: FaultKind, status: int | None
) -> None:
    btp_sandbox.inject_fault(
        "POST", INSTANCES, kind=kind, status=status, when="after", read_timeout=READ_TIMEOUT
    )
    instance = create(sm, "lost-response")
    assert instance.ready
    assert [i["id"] for i in mine(btp_sandbox)] == [instance.id]
    assert len(api_calls(btp_sandbox, "POST", INSTANCES, at_least=1)) == 1


def test_post_409_adopts_the_object_or_reports_the_conflict(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer
) -> None:
    btp_sandbox.inject_fault("POST", INSTANCES, status=409, when="after")
    instance = create(sm, "conflicted")
    assert [i["id"] for i in mine(btp_sandbox)] == [instance.id]
    btp_sandbox.inject_fault("POST", INSTANCES, status=409, description="quota of the plan exceeded")
    with pytest.raises(ConflictError, match="quota of the plan exceeded") as info:
        create(sm, "not-created")
    assert info.value.code == "Conflict"
    assert len(mine(btp_sandbox)) == 1


def test_post_failing_before_processing_is_retried_after_lookup(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer
) -> None:
    btp_sandbox.inject_fault("POST", INSTANCES, kind="reset")
    btp_sandbox.inject_fault("POST", INSTANCES, status=503)
    instance = create(sm, "retried")
    assert [i["id"] for i in mine(btp_sandbox)] == [instance.id]
    assert len(api_calls(btp_sandbox, "POST", INSTANCES, at_least=3)) == 3


def test_post_429_is_retried(sm: ServiceManagerClient, btp_sandbox: SandboxServer) -> None:
    btp_sandbox.inject_fault("POST", INSTANCES, status=429, retry_after=0)
    assert create(sm, "after-429").ready
    assert [c["status"] for c in api_calls(btp_sandbox, "POST", INSTANCES, at_least=2)] == [429, 202]


def test_failed_async_create_raises_and_is_replaced_next_time(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer
) -> None:
    btp_sandbox.inject_fault("POST", INSTANCES, kind="operation_failed", description="broker exploded")
    with pytest.raises(OperationFailedError, match="broker exploded"):
        create(sm, "flaky")
    [failed] = mine(btp_sandbox)
    assert failed["last_operation"] == {"type": "create", "state": "failed"}
    replacement = create(sm, "flaky")
    assert replacement.ready and replacement.id != failed["id"]
    assert [i["id"] for i in mine(btp_sandbox)] == [replacement.id]


def test_failed_sync_create_reports_the_broker_error(
    admin_creds: ServiceManagerCredentials, btp_sandbox: SandboxServer
) -> None:
    btp_sandbox.inject_fault("POST", INSTANCES, kind="operation_failed", description="sync broker failure")
    sm = ServiceManagerClient(admin_creds, retry_policy=fast_retry(), poll_policy=FAST_POLL, async_mode=False)
    with sm, pytest.raises(OperationFailedError, match="sync broker failure"):
        create(sm, "sync-flaky")
    assert len(api_calls(btp_sandbox, "POST", INSTANCES, at_least=1)) == 1


def test_failed_delete_raises(sm: ServiceManagerClient, btp_sandbox: SandboxServer) -> None:
    instance = create(sm, "undeletable")
    btp_sandbox.inject_fault("DELETE", INSTANCE, kind="operation_failed", description="cannot delete")
    with pytest.raises(OperationFailedError, match="cannot delete"):
        sm.delete_instance(instance.id)
    sm.delete_instance(instance.id)
    assert mine(btp_sandbox) == []


def sm_creds(sandbox: SandboxServer) -> ServiceManagerCredentials:
    """A second client's view of the (existing) admin binding."""
    with AccountsClient(CisServiceKey.parse(sandbox.cis_service_key(), source="t")) as accounts:
        creds = accounts.get_service_management_binding(
            str(sandbox.state()["admin_bindings"][0]["subaccount"])
        )
    assert creds is not None
    return creds


def test_delete_waits_for_a_concurrent_operation(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer
) -> None:
    btp_sandbox.set_latencies(instance=0.3)
    with ServiceManagerClient(
        sm_creds(btp_sandbox), retry_policy=fast_retry(), poll_policy=FAST_POLL
    ) as other:
        outcome: list[object] = []

        def creator() -> None:
            try:
                outcome.append(create(other, "busy"))
            except NotFoundError as exc:  # deleted before the creator read it back: also fine
                outcome.append(exc)

        worker = threading.Thread(target=creator)
        worker.start()
        wait_until(lambda: mine(btp_sandbox))
        instance_id = str(mine(btp_sandbox)[0]["id"])
        sm.delete_instance(instance_id)  # 422 ConcurrentOperation → wait → delete
        worker.join(timeout=10)
    assert not worker.is_alive() and len(outcome) == 1
    assert any(c["status"] == 422 for c in api_calls(btp_sandbox, "DELETE", INSTANCE, at_least=2))
    assert mine(btp_sandbox) == []


def test_deleting_an_instance_with_bindings_is_a_conflict(sm: ServiceManagerClient) -> None:
    instance = create(sm, "has-bindings")
    sm.create_binding("b", instance.id)
    with pytest.raises(ConflictError) as info:
        sm.delete_instance(instance.id)
    assert info.value.code == "ExistingReferenceEntity"


def test_unknown_objects(sm: ServiceManagerClient) -> None:
    assert sm.get_instance("00000000-0000-0000-0000-000000000000") is None
    assert sm.get_binding("00000000-0000-0000-0000-000000000000") is None
    with pytest.raises(NotFoundError) as info:
        sm.update_instance("00000000-0000-0000-0000-000000000000", labels_add={"a": ["b"]})
    assert info.value.code == "NotFound"
    with pytest.raises(NotFoundError):
        sm.create_instance("x", offering="hana-cloud", plan="hana")  # not entitled → not visible
    with pytest.raises(ValueError, match="plan_id or offering"):
        sm.create_instance("x", offering="only-offering")


def test_names_with_quotes(sm: ServiceManagerClient) -> None:
    assert quote("it's") == "'it''s'"
    instance = create(sm, "it's")
    assert create(sm, "it's").id == instance.id
    assert sm.find_instance("it's") == instance


def test_deadline_expires_during_a_long_operation(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer
) -> None:
    btp_sandbox.set_latencies(instance=5)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="create instance slow"):
        create(sm, "slow", timeout=0.5)
    assert time.monotonic() - started < 1.5


# -- bindings --------------------------------------------------------------------------------------------


def test_client_secret_binding(sm: ServiceManagerClient, btp_sandbox: SandboxServer) -> None:
    instance = create(sm, "bind-me")
    binding = sm.create_binding("cs", instance.id, labels={"k": ["v"]})
    creds = binding.binding_credentials()
    assert isinstance(creds, ClientSecretBindingCredentials)
    assert creds.sm_url == f"{btp_sandbox.url}/sm"
    assert creds.clientsecret.get_secret_value() not in repr(binding)
    assert sm.create_binding("cs", instance.id).id == binding.id  # idempotent by name + instance
    assert [b.id for b in sm.list_bindings(field_query=f"service_instance_id eq '{instance.id}'")] == [
        binding.id
    ]
    fetched = sm.get_binding(binding.id)
    assert fetched is not None and fetched.credentials.get_secret_value()["clientid"] == creds.clientid
    sm.delete_binding(binding.id)
    sm.delete_binding(binding.id)
    assert sm.get_binding(binding.id) is None


def test_update_binding_labels_and_raw_label_ops(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer
) -> None:
    instance = create(sm, "labelled", labels={"tenant": ["a", "b"]})
    changed = sm.update_instance(
        instance.id,
        label_ops=[
            {"op": "add", "key": "tenant", "values": ["c"]},
            {"op": "remove", "key": "tenant", "values": ["a"]},
        ],
    )
    assert sorted(changed.labels["tenant"]) == ["b", "c"]
    binding = sm.create_binding("lb", instance.id, labels={"k": ["v1"]})
    updated = sm.update_binding(binding.id, labels_add={"k": ["v2"]}, labels_remove=["k"])
    assert updated.labels == {"k": ["v2"]}
    assert sm.update_binding(binding.id, name="lb-renamed").name == "lb-renamed"
    with pytest.raises(ValueError, match="label_ops"):
        sm.update_binding(binding.id, label_ops=[{"key": "k"}])


def test_lost_binding_post_never_duplicates(sm: ServiceManagerClient, btp_sandbox: SandboxServer) -> None:
    instance = create(sm, "bind-lost")
    btp_sandbox.inject_fault("POST", BINDINGS, status=504, when="after")
    binding = sm.create_binding("once", instance.id)
    assert [b["id"] for b in mine(btp_sandbox, "bindings")] == [binding.id]


def test_x509_binding_gets_a_token_over_mtls(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer, entitlements: EntitlementsClient, subaccount: str
) -> None:
    entitlements.assign(subaccount, *OPERATOR)
    instance = sm.create_instance("operator", offering=OPERATOR[0], plan=OPERATOR[1])
    binding = sm.create_binding("x509", instance.id, parameters=binding_parameters("x509"))
    creds = binding.binding_credentials()
    assert isinstance(creds, X509BindingCredentials)
    assert creds.certurl.startswith(str(btp_sandbox.tls_url))
    assert "PRIVATE" not in repr(creds) and "PRIVATE" not in repr(binding)
    source = X509TokenSource(
        creds.token_url, creds.clientid, creds.certificate, creds.key, verify=btp_sandbox.ca_path
    )
    assert source.token()
    source.close()
    # The operator-access (platform) credentials may read the catalog (§0.6: not meant for instance calls).
    with ServiceManagerClient(creds, verify=btp_sandbox.ca_path, retry_policy=fast_retry()) as operator:
        assert operator.find_plan(*OPERATOR).id == instance.service_plan_id


def test_x509_with_the_wrong_ca_fails_tls(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer, tmp_path: Path
) -> None:
    instance = create(sm, "x509-ca")
    creds = sm.create_binding("x", instance.id, parameters={"credential-type": "x509"}).binding_credentials()
    assert isinstance(creds, X509BindingCredentials)
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_text(
        creds.certificate.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    )
    source = X509TokenSource(
        creds.token_url, creds.clientid, creds.certificate, creds.key, verify=str(other_ca)
    )
    with pytest.raises(TransportError, match="TLS handshake failed"):
        source.token()
    source.close()


# -- transport behaviour against the emulator -----------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_retryable_statuses(sm: ServiceManagerClient, btp_sandbox: SandboxServer, status: int) -> None:
    instance = create(sm, f"retry-{status}")
    btp_sandbox.inject_fault("GET", INSTANCE, status=status, count=2)
    assert sm.get_instance(instance.id) == instance
    assert [c["status"] for c in api_calls(btp_sandbox, "GET", INSTANCE, at_least=3)][-3:] == [
        status,
        status,
        200,
    ]


def test_429_retry_after_seconds_waits_for_real(sm: ServiceManagerClient, btp_sandbox: SandboxServer) -> None:
    btp_sandbox.inject_fault("GET", INSTANCES, status=429, headers={"Retry-After": "1"})
    started = time.monotonic()
    sm.list_instances()
    assert 1.0 <= time.monotonic() - started < 2.5


def test_429_retry_after_http_date(
    admin_creds: ServiceManagerCredentials, btp_sandbox: SandboxServer
) -> None:
    date = email.utils.formatdate(time.time() + 3, usegmt=True)
    btp_sandbox.inject_fault("GET", INSTANCES, status=429, headers={"Retry-After": date})
    sleeps = Sleeps()
    with ServiceManagerClient(admin_creds, retry_policy=RetryPolicy(sleep=sleeps)) as sm:
        sm.list_instances()
    assert len(sleeps.calls) == 1 and 1.0 < sleeps.calls[0] <= 3.0


def test_emulator_rate_limit_http_date(
    admin_creds: ServiceManagerCredentials, btp_sandbox: SandboxServer
) -> None:
    btp_sandbox.inject_fault("GET", INSTANCES, status=429, retry_after=2)  # the emulator's HTTP-date format
    sleeps = Sleeps()
    with ServiceManagerClient(admin_creds, retry_policy=RetryPolicy(sleep=sleeps)) as sm:
        sm.list_instances()
    assert len(sleeps.calls) == 1 and 0.5 < sleeps.calls[0] <= 3.0


def test_connection_reset_and_read_timeout_are_retried(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer
) -> None:
    btp_sandbox.inject_fault("GET", INSTANCES, kind="reset")
    btp_sandbox.inject_fault("GET", INSTANCES, kind="timeout", read_timeout=READ_TIMEOUT)
    assert sm.list_instances()
    assert sm.stats.retries == 2


def test_cf_unknown_route_is_retried(sm: ServiceManagerClient, btp_sandbox: SandboxServer) -> None:
    btp_sandbox.inject_fault("GET", INSTANCES, status=404, headers={"X-Cf-RouterError": "unknown_route"})
    assert sm.list_instances()
    assert sm.stats.retries == 1


def test_token_refresh_after_revocation(sm: ServiceManagerClient, btp_sandbox: SandboxServer) -> None:
    instance = create(sm, "revoked")
    assert sm.stats.token_fetches == 1
    btp_sandbox.revoke_tokens()
    assert sm.get_instance(instance.id) == instance
    assert sm.stats.token_fetches == 2
    btp_sandbox.revoke_tokens()
    sm.delete_instance(instance.id)
    assert sm.stats.token_fetches == 3


def test_deleted_admin_credentials_are_unauthorized(
    sm: ServiceManagerClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    with AccountsClient(CisServiceKey.parse(btp_sandbox.cis_service_key(), source="t")) as accounts:
        accounts.delete_service_management_binding(subaccount)
    btp_sandbox.revoke_tokens()
    with pytest.raises(UnauthorizedError):
        sm.list_instances()


@pytest.mark.slow
def test_a_five_second_operation_costs_about_five_seconds(
    admin_creds: ServiceManagerCredentials, btp_sandbox: SandboxServer
) -> None:
    """The default PollPolicy: 0.25 s steps early, elapsed/10 later — no fixed 6-10 s polling."""
    btp_sandbox.set_latencies(instance=5)
    with ServiceManagerClient(admin_creds) as sm:
        started = time.monotonic()
        instance = create(sm, "five-seconds")
        elapsed = time.monotonic() - started
    assert instance.ready
    polls = len(api_calls(btp_sandbox, "GET", INSTANCE_OP))
    assert 5.0 <= elapsed < 5.8, elapsed
    assert polls <= 20, polls

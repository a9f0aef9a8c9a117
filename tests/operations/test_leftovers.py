"""The post-destroy confirmation through Service Manager (``btp_infra.operations.leftovers``) against the
BTP emulator: the tenant's operator-access instance and binding gone (or named when not), everything else
listed by name and plan, the admin access used as found or borrowed and removed again — never left behind,
also when the check itself fails.

And the order the destroy runs in (LocalEngine, which models the engine's ``ScheduleDeletes``): the operator
Secret before the namespace before the binding before the instance before the entitlements before the admin
access — after which the confirmation borrows temporary access and finds the subaccount empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from emulator_fixtures import SUBACCOUNT_1, secrets_of

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import tenant_labels
from btp_infra.conventions import OPERATOR_OFFERING, OPERATOR_PLAN, binding_name, instance_name
from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.operations.leftovers import LeftoverCheckError, confirm_subaccount
from btp_infra.sandbox import SandboxServer
from btp_infra.testing import tenants

NAMESPACE = "orders"
ADMIN_ROUTE = "/accounts-service/accounts/v1/subaccounts/{guid}/serviceManagementBinding"
RETRY = RetryPolicy(backoff_base=0.01, backoff_cap=0.05, read_timeout=5.0, max_attempts=2)
POLL = PollPolicy(initial=0.01, ratio=0.1, cap=0.05)
UNKNOWN_SUBACCOUNT = "99999999-9999-4999-8999-999999999999"


def cis_key(sb: SandboxServer) -> CisServiceKey:
    return CisServiceKey.parse(sb.cis_service_key(), source="sandbox")


class Scene:
    """Someone with the cis key setting up the subaccount by hand."""

    def __init__(self, sb: SandboxServer) -> None:
        self.sb = sb
        self.accounts = AccountsClient(cis_key(sb), retry_policy=RETRY, poll_policy=POLL)
        self.entitlements = EntitlementsClient(cis_key(sb), retry_policy=RETRY, poll_policy=POLL)
        self.entitlements.assign(SUBACCOUNT_1, OPERATOR_OFFERING, OPERATOR_PLAN)
        creds, _ = self.accounts.ensure_service_management_binding(SUBACCOUNT_1)
        self.sm = ServiceManagerClient(creds, retry_policy=RETRY, poll_policy=POLL)

    def instance(self, name: str, *, tenant: str | None = None) -> str:
        labels = tenant_labels(tenant) if tenant else None
        made = self.sm.create_instance(name, offering=OPERATOR_OFFERING, plan=OPERATOR_PLAN, labels=labels)
        self.sm.create_binding(f"{name}-binding" if tenant is None else binding_name(tenant, "x509"), made.id)
        return made.id

    def drop_admin_access(self) -> None:
        self.accounts.delete_service_management_binding(SUBACCOUNT_1)

    def close(self) -> None:
        self.sm.close()
        self.accounts.close()
        self.entitlements.close()


@pytest.fixture
def scene(sb: SandboxServer) -> Iterator[Scene]:
    made = Scene(sb)
    try:
        yield made
    finally:
        made.close()


def admin_bindings(sb: SandboxServer) -> list[object]:
    return [a for a in sb.state()["admin_bindings"] if a["subaccount"] == SUBACCOUNT_1]


def admin_calls(sb: SandboxServer) -> list[str]:
    return [c["method"] for c in sb.calls() if c["route"] == ADMIN_ROUTE]


def test_clean_subaccount_with_temporary_access_removed_again(sb: SandboxServer, scene: Scene) -> None:
    scene.drop_admin_access()
    before = admin_calls(sb)

    report = confirm_subaccount(cis_key(sb), SUBACCOUNT_1, NAMESPACE, retry_policy=RETRY, poll_policy=POLL)

    assert report.clean and report.admin_access == "temporary"
    assert report.operator_access == () and report.others == ()
    assert admin_calls(sb)[len(before) :] == ["GET", "POST", "DELETE"]  # borrowed, then given back
    assert admin_bindings(sb) == []
    assert "the operator-access instance and binding are gone" in report.lines()[0]
    assert "nothing else is left" in report.lines()[1]


def test_tenant_objects_still_there_are_named_and_others_listed(sb: SandboxServer, scene: Scene) -> None:
    own = scene.instance(instance_name(NAMESPACE), tenant=NAMESPACE)
    other = scene.instance("hand-made")

    report = confirm_subaccount(cis_key(sb), SUBACCOUNT_1, NAMESPACE, retry_policy=RETRY, poll_policy=POLL)

    assert not report.clean and report.admin_access == "kept"
    found = [(o.kind, o.name, o.id if o.kind == "instance" else o.instance) for o in report.operator_access]
    assert found == [
        ("binding", binding_name(NAMESPACE, "x509"), instance_name(NAMESPACE)),
        ("instance", instance_name(NAMESPACE), own),
    ]
    assert [(o.kind, o.name, o.offering, o.plan) for o in report.others] == [
        ("binding", "hand-made-binding", OPERATOR_OFFERING, OPERATOR_PLAN),
        ("instance", "hand-made", OPERATOR_OFFERING, OPERATOR_PLAN),
    ]
    assert other in json.dumps(report.to_json())
    # The admin access itself (its subaccount-admin instance and binding) is not a leftover.
    assert not any(o.plan == "subaccount-admin" for o in (*report.operator_access, *report.others))
    assert len(admin_bindings(sb)) == 1  # kept: it existed before, so it stays
    text = "\n".join(report.lines()) + json.dumps(report.to_json())
    assert "NOT GONE" in text and "hand-made" in text
    for secret in secrets_of(sb):
        assert secret not in text


def test_a_failing_listing_still_removes_the_temporary_access(sb: SandboxServer, scene: Scene) -> None:
    scene.drop_admin_access()
    sb.inject_fault("GET", "/sm/v1/service_instances", status=403, count=5)

    with pytest.raises(LeftoverCheckError, match="could not list what Service Manager holds"):
        confirm_subaccount(cis_key(sb), SUBACCOUNT_1, NAMESPACE, retry_policy=RETRY, poll_policy=POLL)

    assert admin_bindings(sb) == []


def test_a_temporary_access_that_cannot_be_removed_is_named(sb: SandboxServer, scene: Scene) -> None:
    scene.drop_admin_access()
    sb.inject_fault("DELETE", ADMIN_ROUTE, status=403, count=5)

    with pytest.raises(LeftoverCheckError) as caught:
        confirm_subaccount(cis_key(sb), SUBACCOUNT_1, NAMESPACE, retry_policy=RETRY, poll_policy=POLL)

    message = str(caught.value)
    assert "temporary Service Manager admin access" in message and SUBACCOUNT_1 in message
    assert "serviceManagementBinding" in message


def test_a_deleted_subaccount_holds_nothing(sb: SandboxServer) -> None:
    key = cis_key(sb)
    report = confirm_subaccount(key, UNKNOWN_SUBACCOUNT, NAMESPACE, retry_policy=RETRY, poll_policy=POLL)
    assert report.subaccount_gone and report.clean
    assert admin_calls(sb) == ["GET"]  # nothing borrowed for a subaccount that does not exist
    assert "no longer exists" in report.lines()[0]


@pytest.fixture
def cis_env(sb: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_KEY_FILE, ENV_PROFILE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_KEY, json.dumps(sb.cis_service_key()))


@pytest.mark.usefixtures("cis_env")
@pytest.mark.parametrize("placement", ["namespace", "management"])
def test_destroy_order_then_a_clean_confirmation(sb: SandboxServer, placement: str) -> None:
    # Either placement: the Secret (in the tenant or the management namespace) goes before the namespace.
    engine = tenants.engine(NAMESPACE, SUBACCOUNT_1, secretPlacement=placement)
    assert engine.up().ok

    deleted = engine.destroy()

    def position(name: str) -> int:
        return deleted.index(f"tenant-{name}")

    # The engine deletes a resource only after everything that depends on it (step_generator.go,
    # ScheduleDeletes): Secret → namespace → binding → instance → entitlements → admin access.
    assert (
        position("operator-secret")
        < position("namespace")
        < position("operator-access-binding")
        < position("operator-access")
        < position("entitlement-service-manager/service-operator-access")
        < position("sm-access")
    )
    assert admin_bindings(sb) == []  # the destroy removed the admin access it created

    report = confirm_subaccount(cis_key(sb), SUBACCOUNT_1, NAMESPACE, retry_policy=RETRY, poll_policy=POLL)

    assert report.clean and report.admin_access == "temporary" and report.others == ()
    assert admin_bindings(sb) == []
    assert tenants.is_empty(sb.state())

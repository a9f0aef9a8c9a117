"""The whole tenant sequence against the emulator, with faults, and no secret in any log or error."""

from __future__ import annotations

import logging

import pytest
from emulator_fixtures import SUBACCOUNT_1

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.auth import X509TokenSource
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.errors import BtpError, OperationFailedError
from btp_infra.btp.keys import CisServiceKey, ClientSecretBindingCredentials, X509BindingCredentials
from btp_infra.btp.service_manager import ServiceManagerClient, binding_parameters
from btp_infra.sandbox import SandboxServer

from .support import FAST_POLL, fast_retry, secrets_of

OPERATOR = ("service-manager", "service-operator-access")
NAMESPACE = "team-a"
LABELS = {"btp-infra.managed-by": ["btp-infra"], "btp-infra.tenant": [NAMESPACE]}


def test_tenant_sequence_and_teardown(sandbox: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    key = CisServiceKey.parse(sandbox.cis_service_key(), source="sandbox")
    # A few bumps on the way: lost responses, rate limits, a lock, a revoked token, one failed operation.
    sandbox.inject_fault("POST", "/sm/v1/service_instances", status=502, when="after")
    sandbox.inject_fault("POST", "/sm/v1/service_bindings", kind="reset", when="after")
    sandbox.inject_fault("PUT", "/entitlements-service/entitlements/v1/subaccountServicePlans", status=400)
    sandbox.inject_fault("GET", "/sm/v1/service_instances", status=429, retry_after=0)
    sandbox.inject_fault(
        "POST", "/sm/v1/service_bindings", kind="operation_failed", description="first try fails"
    )

    accounts = AccountsClient(key, retry_policy=fast_retry(), poll_policy=FAST_POLL)
    entitlements = EntitlementsClient(key, retry_policy=fast_retry(), poll_policy=FAST_POLL)
    with accounts, entitlements:
        assert accounts.get_subaccount(SUBACCOUNT_1).ready
        assignment = entitlements.assign(SUBACCOUNT_1, *OPERATOR)
        assert assignment.ready and not assignment.has_numeric_quota
        admin, created = accounts.ensure_service_management_binding(SUBACCOUNT_1)
        assert created
        sandbox.revoke_tokens()

        with ServiceManagerClient(admin, retry_policy=fast_retry(), poll_policy=FAST_POLL) as sm:
            plan = sm.find_plan(*OPERATOR)
            instance = sm.create_instance(
                f"btp-infra-{NAMESPACE}-operator-access", plan_id=plan.id, labels=LABELS
            )
            assert instance.ready and instance.service_plan_id == plan.id

            name = f"btp-infra-{NAMESPACE}-operator-access-client-secret"
            with pytest.raises(OperationFailedError) as failed:
                sm.create_binding(name, instance.id, labels=LABELS)
            errors.append(failed.value)
            secret_binding = sm.create_binding(name, instance.id, labels=LABELS)  # replaces the failed one
            client_secret = secret_binding.binding_credentials()
            assert isinstance(client_secret, ClientSecretBindingCredentials)

            x509_binding = sm.create_binding(
                f"btp-infra-{NAMESPACE}-operator-access-x509",
                instance.id,
                parameters=binding_parameters("x509"),
                labels=LABELS,
            )
            x509 = x509_binding.binding_credentials()
            assert isinstance(x509, X509BindingCredentials)
            token = X509TokenSource(
                x509.token_url, x509.clientid, x509.certificate, x509.key, verify=sandbox.ca_path
            )
            assert token.token()
            token.close()

            # One tenant = exactly one instance and two bindings of its own (plus the admin binding's pair).
            state = sandbox.state()
            assert [i["name"] for i in state["instances"] if i["name"] == instance.name] == [instance.name]
            assert sorted(
                b["credential_type"] for b in state["bindings"] if b["service_instance_id"] == instance.id
            ) == [
                "binding-secret",
                "x509",
            ]
            # A no-op refresh reads, never writes.
            sm.reset_stats()
            assert sm.create_instance(instance.name, plan_id=plan.id, labels=LABELS).id == instance.id
            assert sm.get_binding(secret_binding.id) is not None
            assert set(sm.stats.calls) == {"GET"}

            # Teardown, in reverse order.
            sm.delete_binding(x509_binding.id)
            sm.delete_binding(secret_binding.id)
            sm.delete_instance(instance.id)
        entitlements.unassign(SUBACCOUNT_1, *OPERATOR)
        accounts.delete_service_management_binding(SUBACCOUNT_1)

        with pytest.raises(BtpError) as info:
            accounts.get_subaccount("00000000-0000-0000-0000-000000000000")
        errors.append(info.value)

    state = sandbox.state()
    assert state["assignments"] == []
    assert state["admin_bindings"] == []
    assert state["instances"] == []
    assert state["bindings"] == []
    assert state["faults"] == []  # every injected fault was hit

    secrets = [
        *secrets_of(sandbox),
        admin.clientsecret.get_secret_value(),
        client_secret.clientsecret.get_secret_value(),
        x509.key.get_secret_value(),
    ]
    texts = [r.getMessage() for r in caplog.records] + [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [
        repr(admin),
        repr(client_secret),
        repr(x509),
        repr(secret_binding),
        repr(x509_binding),
        repr(key),
    ]
    assert caplog.records, "expected debug logs from the retries"
    for secret in secrets:
        assert len(secret) > 8
        leaks = [t for t in texts if secret in t]
        assert not leaks, "a secret leaked into a log record, an exception or a repr"

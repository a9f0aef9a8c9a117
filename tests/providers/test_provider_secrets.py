"""No secret in any log line, stderr/stdout output or error text while the providers work, fail and retry.

The binding's ``credentials`` output legitimately holds the binding secret (it is a Pulumi secret output:
``additional_secret_outputs``, asserted in ``tests/test_program.py``), so outputs are not searched.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from emulator_fixtures import SUBACCOUNT_1

from btp_infra.btp.errors import BtpError
from btp_infra.credentials import ENV_KEY
from btp_infra.providers import (
    ServiceBindingProvider,
    ServiceInstanceProvider,
    ServiceManagerAccessProvider,
    SubaccountCheckProvider,
    SubaccountEntitlementProvider,
)
from btp_infra.sandbox import SandboxServer

from .support import OPERATOR, Operator, secrets_of

pytestmark = pytest.mark.usefixtures("cis_env", "fast_providers")

INSTANCES = "/sm/v1/service_instances"
BINDINGS = "/sm/v1/service_bindings"
NAME = "btp-infra-team-a-operator-access"
WRONG_SECRET = "wrong-secret-7f3a9c-must-not-appear"


def error_text(exc: BaseException) -> str:
    """The full text a user could see: message, repr, and the formatted chain with tracebacks."""
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


def expect_failure(errors: list[str], call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception as exc:  # the point: collect whatever is raised
        errors.append(error_text(exc))
    else:
        pytest.fail("expected an error")


def test_no_secret_in_logs_output_or_errors(
    sb: SandboxServer,
    operator: Operator,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 included
    errors: list[str] = []
    check = SubaccountCheckProvider()
    entitlement = SubaccountEntitlementProvider()
    access = ServiceManagerAccessProvider()
    instance = ServiceInstanceProvider()
    binding = ServiceBindingProvider()

    # The chain, with bumps: lost responses, a rate limit, a revoked token, failed operations.
    check.create({"subaccountId": SUBACCOUNT_1, "region": "eu10"})
    ent_props = {"subaccountId": SUBACCOUNT_1, "serviceName": OPERATOR[0], "planName": OPERATOR[1]}
    entitlement.create(ent_props)
    sb.inject_fault(
        "POST",
        "/accounts-service/accounts/v1/subaccounts/{guid}/serviceManagementBinding",
        status=502,
        when="after",
    )
    access.create({"subaccountId": SUBACCOUNT_1, "tenant": "team-a"})
    inst_props = {
        "subaccountId": SUBACCOUNT_1,
        "name": NAME,
        "serviceOfferingName": OPERATOR[0],
        "servicePlanName": OPERATOR[1],
        "labels": {"btp-infra.tenant": ["team-a"]},
    }
    sb.inject_fault("POST", INSTANCES, status=429, retry_after=0)
    sb.inject_fault("POST", INSTANCES, kind="operation_failed")
    expect_failure(errors, lambda: instance.create(inst_props))
    created = instance.create(inst_props)
    sb.revoke_tokens()
    bind_props = {
        "subaccountId": SUBACCOUNT_1,
        "serviceInstanceId": created.id,
        "name": f"{NAME}-client-secret",
        "credentialType": "client-secret",
    }
    sb.inject_fault("POST", BINDINGS, kind="reset", when="after")
    secret_binding = binding.create(bind_props)
    x509_props = {**bind_props, "name": f"{NAME}-x509", "credentialType": "x509"}
    sb.inject_fault("POST", BINDINGS, kind="operation_failed")
    expect_failure(errors, lambda: binding.create(x509_props))
    x509_binding = binding.create(x509_props)
    for provider, result in ((binding, secret_binding), (binding, x509_binding), (instance, created)):
        provider.read(result.id, result.outs or {})

    # Errors: a rejected cis secret, a broken key, persistent 5xx, missing objects, missing admin access.
    expect_failure(errors, lambda: binding.create({**bind_props, "serviceInstanceId": "no-such-instance"}))
    sb.inject_fault("GET", "/sm/v1/service_bindings/{id}", status=500, count=20)
    expect_failure(errors, lambda: binding.read(secret_binding.id, secret_binding.outs or {}))
    sb.clear_faults()
    key = sb.cis_service_key()
    monkeypatch.setenv(ENV_KEY, json.dumps({**key, "uaa": {**key["uaa"], "clientsecret": WRONG_SECRET}}))
    expect_failure(errors, lambda: SubaccountCheckProvider().create({"subaccountId": SUBACCOUNT_1}))
    broken = {**key, "uaa": {"clientid": "x", "clientsecret": WRONG_SECRET}}  # uaa.url missing
    monkeypatch.setenv(ENV_KEY, json.dumps(broken))
    expect_failure(errors, lambda: SubaccountCheckProvider().create({"subaccountId": SUBACCOUNT_1}))
    monkeypatch.setenv(ENV_KEY, "{" + f'"uaa": {{"clientsecret": "{WRONG_SECRET}"')  # not even JSON
    expect_failure(errors, lambda: SubaccountCheckProvider().create({"subaccountId": SUBACCOUNT_1}))
    operator.accounts.delete_service_management_binding(SUBACCOUNT_1)
    expect_failure(errors, lambda: ServiceInstanceProvider().read(created.id, created.outs or {}))

    secrets = [*secrets_of(sb), WRONG_SECRET]
    assert (secret_binding.outs or {})["credentials"]["clientsecret"] in secrets  # the search is armed
    assert (x509_binding.outs or {})["credentials"]["key"] in secrets
    assert len(errors) == 8
    loggers = {r.name for r in caplog.records if r.levelno == logging.DEBUG}
    assert {"urllib3.connectionpool", "btp_infra.btp.http"} <= loggers, "DEBUG logs were captured"
    out, err = capfd.readouterr()
    texts = {
        "log": caplog.text,
        "stdout": out,
        "stderr": err,
        **{f"error {i}": e for i, e in enumerate(errors)},
    }
    leaks = [where for where, text in texts.items() if any(secret in text for secret in secrets)]
    assert leaks == [], "secrets leaked (values not shown)"
    assert any("retrying" in r.getMessage() for r in caplog.records), "retries were logged (and checked)"


def test_errors_name_what_failed(sb: SandboxServer) -> None:
    """Error texts stay useful while secret-free: operation, status, BTP description."""
    with pytest.raises(BtpError) as info:
        ServiceInstanceProvider().create(
            {
                "subaccountId": SUBACCOUNT_1,
                "name": NAME,
                "serviceOfferingName": OPERATOR[0],
                "servicePlanName": OPERATOR[1],
            }
        )
    assert str(info.value).startswith(f"subaccount {SUBACCOUNT_1} has no Service Manager admin access")

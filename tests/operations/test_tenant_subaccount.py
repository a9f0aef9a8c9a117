"""The day-2 operations find a tenant's subaccount whichever way the stack names it: ``subaccountId`` as
written, or the subaccount the stack creates (``btp-infra:subaccount``) by btp-infra's identity labels and its
subdomain — never another tenant's, never one being deleted; verify reports a created one that is missing."""

from __future__ import annotations

import pytest
from emulator_fixtures import SUBACCOUNT_1

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.keys import CisServiceKey
from btp_infra.config import TenantConfig, parse_config
from btp_infra.conventions import PROJECT, SM_MANAGED_BY_LABEL, SM_TENANT_LABEL
from btp_infra.operations.subaccount import tenant_subaccount
from btp_infra.operations.verify import VerifyOptions, verify_tenant
from btp_infra.sandbox import SandboxServer
from btp_infra.sandbox.config import SubaccountSeed
from operations.support import FAST, STACK

CREATED_GUID = "7d1c0f3e-5b2a-4c8d-9e6f-0a1b2c3d4e5f"


def created(**subaccount: str) -> TenantConfig:
    block = {"displayName": "Orders", "subdomain": "acme-orders", "region": "eu10", **subaccount}
    return parse_config({"namespace": "orders", "subaccount": block, "kubeContext": "stand-in"})


def seed(sb: SandboxServer, guid: str, subdomain: str, tenant: str = "orders") -> None:
    labels = {SM_TENANT_LABEL: [tenant], SM_MANAGED_BY_LABEL: [PROJECT]}
    sb.seed_subaccount(SubaccountSeed(guid=guid, subdomain=subdomain, labels=labels))


@pytest.fixture
def accounts(sb: SandboxServer) -> AccountsClient:
    return AccountsClient(CisServiceKey.parse(sb.cis_service_key(), source="sandbox"), retry_policy=FAST)


def test_a_mapped_subaccount_is_taken_as_written(sb: SandboxServer, accounts: AccountsClient) -> None:
    config = parse_config({"namespace": "orders", "subaccountId": SUBACCOUNT_1, "kubeContext": "stand-in"})
    before = len(sb.calls())
    assert tenant_subaccount(config, accounts) == SUBACCOUNT_1
    assert len(sb.calls()) == before  # no lookup


def test_a_created_subaccount_is_found_by_its_labels_and_subdomain(
    sb: SandboxServer, accounts: AccountsClient
) -> None:
    assert tenant_subaccount(created(), accounts) is None  # not created yet
    seed(sb, "0b8e6a52-3d1f-4e7a-9c2b-5f4e3d2c1b0a", "acme-orders", tenant="billing")  # another tenant's
    seed(sb, "1c9f7b63-4e2a-4f8b-8d3c-6a5f4e3d2c1b", "acme-orders-old")  # ours by label, other subdomain
    assert tenant_subaccount(created(), accounts) is None
    seed(sb, CREATED_GUID, "acme-orders-eu")
    assert tenant_subaccount(created(subdomain="acme-orders-eu"), accounts) == CREATED_GUID


def test_verify_reports_a_created_subaccount_that_does_not_exist(sb: SandboxServer) -> None:
    cis = CisServiceKey.parse(sb.cis_service_key(), source="sandbox")
    options = VerifyOptions(retry_policy=FAST)
    report = verify_tenant(STACK, created(), kube=None, cis_key=cis, options=options)
    [check] = [c for c in report.checks if c.name == "btp.subaccount"]
    assert check.status == "fail"
    assert "creates, acme-orders (eu10, created by the stack), does not exist" in check.reason
    assert check.fix is not None and "btp-infra up --stack orders" in check.fix
    assert not [c for c in report.checks if c.name.startswith("btp.entitlement")]  # not run

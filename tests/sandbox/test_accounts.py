"""Accounts API: subaccounts and the serviceManagementBinding bootstrap (btp-api.md §C.3)."""

from __future__ import annotations

import pytest
from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2, sandbox_seeds

from btp_infra.sandbox import SandboxConfig, SandboxServer, SubaccountSeed

from .helpers import Api

BINDING = "/accounts/v1/subaccounts/{}/serviceManagementBinding"


def test_list_and_get_subaccounts(api: Api, sb: SandboxServer) -> None:
    listed = api.accounts("GET", "/accounts/v1/subaccounts").json()["value"]
    assert [s["guid"] for s in listed] == [SUBACCOUNT_1, SUBACCOUNT_2]
    one = api.accounts("GET", f"/accounts/v1/subaccounts/{SUBACCOUNT_2}").json()
    assert one["subdomain"] == "tenant-b"
    assert one["state"] == "OK"
    assert one["globalAccountGUID"] == sb.config.global_account_guid
    assert {"displayName", "region", "stateMessage"} <= set(one)


def test_unknown_subaccount_is_404_with_btp_error_body(api: Api) -> None:
    reply = api.accounts("GET", "/accounts/v1/subaccounts/00000000-0000-0000-0000-000000000000")
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert 20000 <= error["code"] < 30000
    assert "not found" in error["message"]
    assert error["target"].endswith("/00000000-0000-0000-0000-000000000000")
    assert isinstance(error["details"], list)


def test_admin_binding_lifecycle(api: Api) -> None:
    path = BINDING.format(SUBACCOUNT_1)
    assert api.accounts("GET", path).status_code == 404
    created = api.accounts("POST", path)
    assert created.status_code == 201
    creds = created.json()
    assert set(creds) == {"clientid", "clientsecret", "sm_url", "url", "xsappname"}
    assert creds["url"].endswith("/uaa/tenant-a")
    assert api.accounts("POST", path).status_code == 409
    assert api.accounts("GET", path).json() == creds
    # the instance and binding exist in the subaccount, under SAP's fixed names
    instances = api.sm(creds, "GET", "/v1/service_instances").json()["items"]
    bindings = api.sm(creds, "GET", "/v1/service_bindings").json()["items"]
    assert [i["name"] for i in instances] == ["ServiceManagementAccessInstance"]
    assert [b["name"] for b in bindings] == ["ServiceManagementAccessBinding"]
    plan = api.sm(creds, "GET", f"/v1/service_plans/{instances[0]['service_plan_id']}").json()
    assert plan["name"] == "subaccount-admin"
    assert api.accounts("DELETE", path).status_code == 200
    assert api.accounts("GET", path).status_code == 404
    assert api.accounts("DELETE", path).status_code == 404
    # the credentials are gone with the binding: no new tokens
    assert api.token(creds["url"], creds["clientid"], creds["clientsecret"], basic=False).status_code == 401


def test_admin_binding_for_unknown_subaccount_is_404(api: Api) -> None:
    assert api.accounts("POST", BINDING.format("unknown")).status_code == 404


@pytest.fixture(scope="module")
def creating() -> SandboxConfig:
    seeds = [
        *sandbox_seeds(),
        SubaccountSeed(guid="c0ffee", subdomain="busy", state="CREATING", state_message="wait"),
    ]
    return SandboxConfig(subaccounts=seeds)


def test_subaccount_in_a_non_ok_state(creating: SandboxConfig) -> None:
    with SandboxServer(creating) as server:
        api = Api(server)
        sub = api.accounts("GET", "/accounts/v1/subaccounts/c0ffee").json()
        assert (sub["state"], sub["stateMessage"]) == ("CREATING", "wait")
        assert api.accounts("POST", BINDING.format("c0ffee")).status_code == 409
        server.set_subaccount_state("c0ffee", "OK")
        assert api.accounts("POST", BINDING.format("c0ffee")).status_code == 201
        api.http.close()

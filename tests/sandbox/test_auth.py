"""OAuth token endpoints and token scopes (btp-api.md §B.1, §C.1, §0.6)."""

from __future__ import annotations

from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2

from btp_infra.sandbox import SandboxServer

from .helpers import OPERATOR, Api


def test_cis_key_has_the_cockpit_shape(api: Api, sb: SandboxServer) -> None:
    key = api.key
    assert key["grant_type"] == "client_credentials"
    assert set(key["endpoints"]) >= {"accounts_service_url", "entitlements_service_url"}
    assert set(key["uaa"]) >= {"clientid", "clientsecret", "url"}
    assert key["uaa"]["url"] == f"{sb.url}/uaa/{sb.config.global_account_subdomain}"


def test_cis_token_with_basic_auth(api: Api, sb: SandboxServer) -> None:
    uaa = api.key["uaa"]
    reply = api.token(uaa["url"], uaa["clientid"], uaa["clientsecret"], basic=True)
    assert reply.status_code == 200
    body = reply.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == int(sb.config.token_ttl)
    assert len(body["access_token"]) >= 32


def test_wrong_secret_is_401_in_uaa_shape(api: Api) -> None:
    uaa = api.key["uaa"]
    reply = api.token(uaa["url"], uaa["clientid"], "not-the-secret", basic=True)
    assert reply.status_code == 401
    assert reply.json()["error"] == "unauthorized"
    assert "not-the-secret" not in reply.text


def test_unknown_client_and_missing_grant_type(api: Api) -> None:
    uaa_url = api.key["uaa"]["url"]
    assert api.token(uaa_url, "nobody", "x", basic=False).status_code == 401
    reply = api.http.post(f"{uaa_url}/oauth/token", data={}, auth=(api.key["uaa"]["clientid"], "x"))
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"
    reply = api.http.post(f"{uaa_url}/oauth/token", data={"grant_type": "password"})
    assert reply.json()["error"] == "unsupported_grant_type"


def test_clients_are_known_only_in_their_own_zone(api: Api) -> None:
    uaa = api.key["uaa"]
    creds = api.admin(SUBACCOUNT_1)
    # the cis client at a subaccount UAA, the admin client at the other subaccount's UAA
    assert api.token(creds["url"], uaa["clientid"], uaa["clientsecret"], basic=True).status_code == 401
    other_zone = creds["url"].replace("tenant-a", "tenant-b")
    assert api.token(other_zone, creds["clientid"], creds["clientsecret"], basic=False).status_code == 401
    assert api.token(creds["url"], creds["clientid"], creds["clientsecret"], basic=False).status_code == 200
    assert api.token(creds["url"], creds["clientid"], creds["clientsecret"], basic=True).status_code == 200


def test_missing_or_garbage_token_is_401(api: Api) -> None:
    assert api.http.get(api.accounts_url + "/accounts/v1/subaccounts").status_code == 401
    reply = api.http.get(api.accounts_url + "/accounts/v1/subaccounts", headers=api.bearer("garbage"))
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] // 10000 == 2  # Accounts codes are 2XXXX
    creds = api.admin()
    reply = api.http.get(creds["sm_url"] + "/v1/service_instances", headers=api.bearer("garbage"))
    assert reply.status_code == 401
    assert reply.json()["error"] == "Unauthorized"


def test_token_scopes(api: Api) -> None:
    creds = api.admin()
    sm_headers = api.bearer(api.sm_token(creds))
    cis_headers = api.bearer(api.cis_token())
    # an SM admin token may not call Accounts / Entitlements
    assert api.http.get(api.accounts_url + "/accounts/v1/subaccounts", headers=sm_headers).status_code == 403
    reply = api.http.get(api.entitlements_url + "/entitlements/v1/assignments", headers=sm_headers)
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] // 10000 == 3  # Entitlements codes are 3XXXX
    # a cis token may not call Service Manager
    reply = api.http.get(creds["sm_url"] + "/v1/service_instances", headers=cis_headers)
    assert reply.status_code == 403
    assert reply.json()["error"] == "Forbidden"


def test_operator_access_credentials_are_platform_scoped(api: Api) -> None:
    admin = api.operator_ready()
    instance = api.create_instance(admin, "operator")
    reply = api.sm(
        admin,
        "POST",
        "/v1/service_bindings",
        params={"async": "false"},
        json={"name": "operator-binding", "service_instance_id": instance["id"]},
    )
    assert reply.status_code == 201, reply.text
    operator = reply.json()["credentials"]
    token = api.token(operator["url"], operator["clientid"], operator["clientsecret"], basic=False)
    assert token.status_code == 200
    headers = api.bearer(token.json()["access_token"])
    assert api.http.get(operator["sm_url"] + "/v1/service_plans", headers=headers).status_code == 200
    assert api.http.get(operator["sm_url"] + "/v1/service_instances", headers=headers).status_code == 403
    create = {"name": "x", "service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]}
    assert (
        api.http.post(operator["sm_url"] + "/v1/service_instances", json=create, headers=headers).status_code
        == 403
    )


def test_sm_token_sees_only_its_own_subaccount(api: Api) -> None:
    api.entitle(SUBACCOUNT_2, *OPERATOR)
    first, second = api.operator_ready(SUBACCOUNT_1), api.admin(SUBACCOUNT_2)
    instance = api.create_instance(first, "mine")
    assert api.sm(second, "GET", f"/v1/service_instances/{instance['id']}").status_code == 404
    names = [i["name"] for i in api.sm(second, "GET", "/v1/service_instances").json()["items"]]
    assert names == ["ServiceManagementAccessInstance"]


def test_revoked_and_expired_tokens_are_401(api: Api, sb: SandboxServer) -> None:
    path = "/accounts/v1/subaccounts"
    assert api.accounts("GET", path).status_code == 200
    assert sb.revoke_tokens() >= 1
    assert api.accounts("GET", path).status_code == 401
    api.forget_tokens()
    assert api.accounts("GET", path).status_code == 200
    sb.advance_clock(sb.config.token_ttl + 1)
    assert api.accounts("GET", path).status_code == 401

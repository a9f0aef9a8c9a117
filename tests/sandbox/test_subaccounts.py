"""Subaccount lifecycle of the Accounts API (btp-api.md §C.3, §C.3a): create through STARTED/CREATING to OK or
CREATION_FAILED, update through UPDATING, delete through DELETING (refused while not empty, forced), subdomain
uniqueness per region, label filters, faults on each step, and the control API's subaccount endpoints.

Lifecycle latencies are set long and the sandbox clock is advanced, so no test waits or depends on timing.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from emulator_fixtures import SUBACCOUNT_1

from btp_infra.sandbox import SandboxConfig, SandboxServer, SubaccountSeed

from .helpers import OPERATOR, Api

SUBS = "/accounts/v1/subaccounts"
ROUTE = "/accounts-service/accounts/v1/subaccounts"
ONE = ROUTE + "/{guid}"
STEP = 30.0

# The property names of ``SubaccountResponseObject`` and its ``state`` enum in the Accounts OpenAPI
# (SAP/crossplane-provider-btp internal/openapi_clients/btp-accounts-service-api-go/pkg/api/openapi.yaml),
# plus ``contractStatus``, which terraform-provider-btp reads (btp/provider/resource_subaccount.go Delete).
OPENAPI_FIELDS = frozenset(
    {
        "betaEnabled",
        "contractStatus",
        "createdBy",
        "createdDate",
        "customProperties",
        "description",
        "displayName",
        "globalAccountGUID",
        "guid",
        "labels",
        "modifiedDate",
        "parentFeatures",
        "parentGUID",
        "parentType",
        "region",
        "state",
        "stateMessage",
        "subdomain",
        "technicalName",
        "usedForProduction",
    }
)
OPENAPI_STATES = frozenset(
    {
        "STARTED",
        "CREATING",
        "UPDATING",
        "MOVING",
        "MOVING_TO_OTHER_GA",
        "PROCESSING",
        "DELETING",
        "OK",
        "PENDING_REVIEW",
        "CANCELED",
        "CREATION_FAILED",
        "UPDATE_FAILED",
        "SUSPENSION_FAILED",
        "UPDATE_ACCOUNT_TYPE_FAILED",
        "UPDATE_DIRECTORY_TYPE_FAILED",
        "PROCESSING_FAILED",
        "DELETION_FAILED",
        "MOVE_FAILED",
        "MOVE_TO_OTHER_GA_FAILED",
        "MIGRATING",
        "MIGRATION_FAILED",
        "ROLLBACK_MIGRATION_PROCESSING",
        "MIGRATED",
    }
)
# The fields btp-api.md §C.3 lists for GET .../{guid}, plus description.
C3_FIELDS = frozenset(
    {
        "guid",
        "displayName",
        "subdomain",
        "region",
        "state",
        "stateMessage",
        "parentGUID",
        "parentType",
        "parentFeatures",
        "globalAccountGUID",
        "technicalName",
        "betaEnabled",
        "usedForProduction",
        "labels",
        "createdDate",
        "modifiedDate",
        "createdBy",
        "description",
    }
)


@pytest.fixture
def slow(sb: SandboxServer) -> SandboxServer:
    """The emulator with lifecycle steps that take ``STEP`` seconds of sandbox time (advanced by tests)."""
    sb.set_latencies(subaccount_create=STEP, subaccount_update=STEP, subaccount_delete=STEP)
    return sb


def payload(subdomain: str = "acme-t1", region: str = "eu10", **extra: Any) -> dict[str, Any]:
    return {"displayName": f"Tenant {subdomain}", "subdomain": subdomain, "region": region, **extra}


def create(api: Api, subdomain: str = "acme-t1", region: str = "eu10", **extra: Any) -> dict[str, Any]:
    reply = api.accounts("POST", SUBS, json=payload(subdomain, region, **extra))
    assert reply.status_code == 201, reply.text
    sub: dict[str, Any] = reply.json()
    return sub


def get(api: Api, guid: str) -> dict[str, Any]:
    reply = api.accounts("GET", f"{SUBS}/{guid}")
    assert reply.status_code == 200, reply.text
    sub: dict[str, Any] = reply.json()
    return sub


def finish(sb: SandboxServer) -> None:
    sb.advance_clock(STEP + 1)


def created(api: Api, sb: SandboxServer, subdomain: str = "acme-t1", **extra: Any) -> dict[str, Any]:
    """A new subaccount in state OK."""
    guid = create(api, subdomain, **extra)["guid"]
    finish(sb)
    sub = get(api, guid)
    assert sub["state"] == "OK"
    return sub


def listed(api: Api, **params: str) -> list[str]:
    reply = api.accounts("GET", SUBS, params=params)
    assert reply.status_code == 200, reply.text
    return [s["subdomain"] for s in reply.json()["value"]]


def error_of(reply: requests.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error: dict[str, Any] = reply.json()["error"]
    assert 20000 <= error["code"] < 30000 and error["message"] and isinstance(error["details"], list)
    return error


# -- create -------------------------------------------------------------------------------------------------


def test_create_goes_started_creating_ok(api: Api, slow: SandboxServer) -> None:
    labels = {"btp-infra/tenant": ["t1"], "empty": []}
    sub = create(
        api, labels=labels, description="d", usedForProduction="NOT_USED_FOR_PRODUCTION", betaEnabled=True
    )
    assert (sub["state"], sub["technicalName"]) == ("STARTED", "N/A")
    assert C3_FIELDS <= set(sub) <= OPENAPI_FIELDS
    assert sub["labels"] == labels
    assert (sub["description"], sub["usedForProduction"], sub["betaEnabled"]) == (
        "d",
        "NOT_USED_FOR_PRODUCTION",
        True,
    )
    assert sub["parentGUID"] == sub["globalAccountGUID"] == slow.config.global_account_guid
    assert (sub["parentType"], sub["contractStatus"]) == ("ROOT", "ACTIVE")
    assert isinstance(sub["createdDate"], int) and isinstance(sub["modifiedDate"], int)
    assert get(api, sub["guid"])["state"] == "STARTED"
    slow.advance_clock(STEP / 2)
    creating = get(api, sub["guid"])
    assert (creating["state"], creating["stateMessage"]) == ("CREATING", "Creating subaccount tenant.")
    slow.advance_clock(STEP / 2 + 1)
    ok = get(api, sub["guid"])
    assert (ok["state"], ok["stateMessage"]) == ("OK", "Subaccount created.")
    assert ok["technicalName"] == sub["guid"]
    assert ok["modifiedDate"] >= ok["createdDate"]
    assert C3_FIELDS <= set(ok) <= OPENAPI_FIELDS and ok["state"] in OPENAPI_STATES
    assert "acme-t1" in listed(api)


def test_a_new_subaccount_is_usable_only_once_ok(api: Api, slow: SandboxServer) -> None:
    guid = create(api)["guid"]
    binding = f"{SUBS}/{guid}/serviceManagementBinding"
    assert api.accounts("POST", binding).status_code == 409
    assert api.assign(guid, *OPERATOR, enable=True).status_code == 409
    finish(slow)
    api.entitle(guid, *OPERATOR)
    creds = api.admin(guid)
    assert creds["url"].endswith("/uaa/acme-t1")
    instance = api.create_instance(creds, "operator-access")
    assert instance["context"]["subaccount_id"] == guid


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"displayName": None}, "displayName"),
        ({"subdomain": None}, "subdomain"),
        ({"region": None}, "region"),
        ({"displayName": "a/b"}, "displayName"),
        ({"displayName": " "}, "displayName"),
        ({"subdomain": "Upper"}, "subdomain"),
        ({"subdomain": "-lead"}, "subdomain"),
        ({"subdomain": "trail-"}, "subdomain"),
        ({"subdomain": "under_score"}, "subdomain"),
        ({"subdomain": "a" * 64}, "subdomain"),
        ({"region": "xx99"}, "region"),
        ({"usedForProduction": "YES"}, "usedForProduction"),
        ({"labels": {f"k{i}": [] for i in range(11)}}, "labels"),
        ({"labels": {"k": ["v" * 64]}}, "label"),
        ({"labels": {"k": [str(i) for i in range(11)]}}, "label"),
    ],
)
def test_create_refuses_bad_input_with_a_btp_error(
    api: Api, sb: SandboxServer, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**payload(), **change}.items() if v is not None}
    error = error_of(api.accounts("POST", SUBS, json=body), 400)
    assert field.lower() in error["message"].lower()
    assert "acme-t1" not in listed(api)


def test_deprecated_custom_properties_become_labels_unless_labels_are_given(
    api: Api, sb: SandboxServer
) -> None:
    props = [{"key": "team", "value": "blue"}, {"key": "flag", "value": ""}]
    assert create(api, "props", customProperties=props)["labels"] == {"team": ["blue"], "flag": []}
    assert create(api, "both", customProperties=props, labels={"x": ["y"]})["labels"] == {"x": ["y"]}


def test_longest_and_shortest_subdomains_are_valid(api: Api, sb: SandboxServer) -> None:
    for subdomain in ("a", "a" * 63, "a-1-b"):
        create(api, subdomain)


def test_unknown_parent_directory_is_404_and_a_known_one_is_the_parent() -> None:
    config = SandboxConfig(subaccounts=[], directories=["d1"])
    with SandboxServer(config) as server:
        api = Api(server)
        error_of(api.accounts("POST", SUBS, json=payload(parentGUID="nope")), 404)
        sub = create(api, parentGUID="d1")
        assert (sub["parentGUID"], sub["parentType"]) == ("d1", "FOLDER")
        in_ga = create(api, "root-one", parentGUID=server.config.global_account_guid)
        assert in_ga["parentType"] == "ROOT"
        assert listed(api, directoryGUID="d1") == ["acme-t1"]
        api.http.close()


def test_subdomain_is_unique_per_region(api: Api, slow: SandboxServer) -> None:
    first = create(api, "acme-t1", "eu10")
    error = error_of(api.accounts("POST", SUBS, json=payload("acme-t1", "eu10")), 409)
    assert error["code"] == 20007 and "acme-t1" in error["message"]
    assert create(api, "acme-t1", "eu20")["region"] == "eu20"  # another region: allowed
    error_of(api.accounts("POST", SUBS, json=payload("tenant-a", "eu10")), 409)  # a seeded one
    error_of(api.accounts("POST", SUBS, json=payload(slow.config.global_account_subdomain)), 409)
    slow.inject_fault("POST", ROUTE, kind="operation_failed")
    failed = create(api, "broken")
    finish(slow)
    assert get(api, failed["guid"])["state"] == "CREATION_FAILED"
    error_of(api.accounts("POST", SUBS, json=payload("broken")), 409)  # still taken until deleted
    assert api.accounts("DELETE", f"{SUBS}/{first['guid']}").status_code == 200
    finish(slow)
    create(api, "acme-t1", "eu10")  # free again once the subaccount is gone


# -- list with labelSelector ------------------------------------------------------------------------------


def test_label_selector_filters_the_list(api: Api, sb: SandboxServer) -> None:
    create(api, "one", labels={"tenant": ["t1"], "tier": ["gold"]})
    create(api, "two", labels={"tenant": ["t2"], "tier": ["gold", "silver"]})
    create(api, "three", labels={"tenant": ["t3"]})
    assert listed(api, labelSelector="tenant=t1") == ["one"]
    assert listed(api, labelSelector="tier=gold") == ["one", "two"]
    assert listed(api, labelSelector="tier=silver AND tenant=t2") == ["two"]
    assert listed(api, labelSelector="tier=gold and tenant!=t1") == ["two"]
    assert listed(api, labelSelector="tier!=gold") == ["tenant-a", "tenant-b", "three"]  # absent key too
    assert listed(api, labelSelector="tenant=t9") == []
    assert len(listed(api)) == 5
    # the encoded form of the OpenAPI's example reaches the server as the same query
    url = f"{api.accounts_url}{SUBS}?labelSelector=tier%3Dsilver%20AND%20tenant%3Dt2"
    reply = api.http.get(url, headers=api.bearer(api.cis_token()))
    assert [s["subdomain"] for s in reply.json()["value"]] == ["two"]


@pytest.mark.parametrize("selector", ["tenant", "tenant==t1", "=t1", "tenant=", "a=b OR c=d", "a=b AND"])
def test_malformed_label_selector_is_400(api: Api, sb: SandboxServer, selector: str) -> None:
    error = error_of(api.accounts("GET", SUBS, params={"labelSelector": selector}), 400)
    assert "labelSelector" in error["message"]


# -- update -------------------------------------------------------------------------------------------------


def test_patch_goes_updating_then_ok_and_replaces_the_labels(api: Api, slow: SandboxServer) -> None:
    sub = created(api, slow, labels={"a": ["1"], "b": ["2"]})
    path = f"{SUBS}/{sub['guid']}"
    body = {
        "displayName": "Renamed",
        "description": "new",
        "labels": {"b": ["3"]},
        "usedForProduction": "USED_FOR_PRODUCTION",
        "betaEnabled": True,
        "subdomain": sub["subdomain"],  # unchanged: accepted
    }
    reply = api.accounts("PATCH", path, json=body)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["state"], reply.json()["displayName"]) == ("UPDATING", sub["displayName"])
    finish(slow)
    after = get(api, sub["guid"])
    kept = "Subaccount created."  # an update keeps the state message, as in TF's fixture
    assert (after["state"], after["stateMessage"]) == ("OK", kept)
    assert (after["displayName"], after["description"], after["labels"]) == ("Renamed", "new", {"b": ["3"]})
    assert (after["usedForProduction"], after["betaEnabled"]) == ("USED_FOR_PRODUCTION", True)
    assert (after["subdomain"], after["region"]) == (sub["subdomain"], sub["region"])
    # omitted fields stay as they are; the display name is required on every PATCH (OpenAPI)
    assert api.accounts("PATCH", path, json={"displayName": "Again"}).status_code == 200
    finish(slow)
    assert get(api, sub["guid"])["labels"] == {"b": ["3"]}
    assert "displayName" in error_of(api.accounts("PATCH", path, json={"labels": {}}), 400)["message"]


def test_patch_without_an_update_latency_answers_applied_and_ok(api: Api, sb: SandboxServer) -> None:
    """The default, as in TF's fixture (``subaccount?update`` answers the new display name, state OK)."""
    sb.set_latencies(subaccount_create=STEP)
    sub = created(api, sb, labels={"a": ["1"]})
    reply = api.accounts("PATCH", f"{SUBS}/{sub['guid']}", json={"displayName": "Now", "labels": {}})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert (answer["state"], answer["stateMessage"]) == ("OK", "Subaccount created.")
    assert (answer["displayName"], answer["labels"]) == ("Now", {})
    assert get(api, sub["guid"]) == answer


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"subdomain": "other"}, "subdomain"),
        ({"region": "eu20"}, "region"),
        ({"labels": {"k": ["v" * 64]}}, "label"),
        ({"displayName": "x/y"}, "displayName"),
    ],
)
def test_patch_refuses_changes_that_cannot_be_made(
    api: Api, slow: SandboxServer, change: dict[str, Any], word: str
) -> None:
    sub = created(api, slow)
    body = {"displayName": "Renamed", **change}
    error = error_of(api.accounts("PATCH", f"{SUBS}/{sub['guid']}", json=body), 400)
    assert word.lower() in error["message"].lower()
    assert get(api, sub["guid"])["state"] == "OK"
    finish(slow)
    assert get(api, sub["guid"])["displayName"] == sub["displayName"]


def test_beta_cannot_be_switched_off(api: Api, slow: SandboxServer) -> None:
    sub = created(api, slow, betaEnabled=True)
    path = f"{SUBS}/{sub['guid']}"
    error = error_of(api.accounts("PATCH", path, json={"displayName": "x", "betaEnabled": False}), 400)
    assert "betaEnabled" in error["message"]
    assert api.accounts("PATCH", path, json={"displayName": "x", "betaEnabled": True}).status_code == 200


def test_mutations_while_a_step_runs_are_conflicts(api: Api, slow: SandboxServer) -> None:
    sub = create(api)
    path = f"{SUBS}/{sub['guid']}"
    error_of(api.accounts("PATCH", path, json={"displayName": "x"}), 409)  # while creating
    error_of(api.accounts("DELETE", path), 409)
    finish(slow)
    assert api.accounts("PATCH", path, json={"displayName": "x"}).status_code == 200
    error_of(api.accounts("PATCH", path, json={"displayName": "y"}), 409)  # while updating
    error_of(api.accounts("DELETE", path), 409)
    finish(slow)
    assert api.accounts("DELETE", path).status_code == 200
    error_of(api.accounts("PATCH", path, json={"displayName": "z"}), 409)  # while deleting
    error_of(api.accounts("DELETE", path), 409)


def test_unknown_subaccount_is_404_for_every_step(api: Api, sb: SandboxServer) -> None:
    path = f"{SUBS}/00000000-0000-0000-0000-000000000000"
    error_of(api.accounts("PATCH", path, json={"displayName": "x"}), 404)
    error_of(api.accounts("DELETE", path), 404)


# -- delete -------------------------------------------------------------------------------------------------


def test_delete_goes_deleting_then_404(api: Api, slow: SandboxServer) -> None:
    sub = created(api, slow)
    api.entitle(sub["guid"], *OPERATOR)  # entitlements do not block a delete; they go with it
    reply = api.accounts("DELETE", f"{SUBS}/{sub['guid']}")
    assert reply.status_code == 200, reply.text
    assert (reply.json()["state"], reply.json()["stateMessage"]) == ("DELETING", "Deleting subaccount.")
    assert get(api, sub["guid"])["state"] == "DELETING"
    assert sub["subdomain"] in listed(api)
    finish(slow)
    error = error_of(api.accounts("GET", f"{SUBS}/{sub['guid']}"), 404)
    assert "not found" in error["message"]
    assert sub["subdomain"] not in listed(api)
    assert [a for a in slow.state()["assignments"] if a["subaccount"] == sub["guid"]] == []


def test_delete_is_refused_while_the_subaccount_is_not_empty(api: Api, slow: SandboxServer) -> None:
    sub = created(api, slow)
    guid = sub["guid"]
    creds = api.operator_ready(guid)
    instance = api.create_instance(creds, "operator-access")
    error = error_of(api.accounts("DELETE", f"{SUBS}/{guid}"), 400)
    for name in ("operator-access", "ServiceManagementAccessInstance", "ServiceManagementAccessBinding"):
        assert name in error["message"]
    assert "forceDelete" in error["message"]
    assert get(api, guid)["state"] == "OK"
    # emptied in offboarding order: instance, then the admin access; then the delete goes through
    reply = api.sm(creds, "DELETE", f"/v1/service_instances/{instance['id']}", params={"async": "false"})
    assert reply.status_code == 200, reply.text
    still = error_of(api.accounts("DELETE", f"{SUBS}/{guid}"), 400)
    assert "operator-access" not in still["message"] and "ServiceManagementAccessInstance" in still["message"]
    assert api.accounts("DELETE", f"{SUBS}/{guid}/serviceManagementBinding").status_code == 200
    assert api.accounts("DELETE", f"{SUBS}/{guid}").status_code == 200
    finish(slow)
    error_of(api.accounts("GET", f"{SUBS}/{guid}"), 404)


def test_force_delete_takes_the_contents_with_it(api: Api, slow: SandboxServer) -> None:
    guid = created(api, slow)["guid"]
    creds = api.operator_ready(guid)
    instance = api.create_instance(creds, "operator-access")
    reply = api.sm(
        creds,
        "POST",
        "/v1/service_bindings",
        params={"async": "false"},
        json={"name": "b", "service_instance_id": instance["id"]},
    )
    assert reply.status_code == 201, reply.text
    deleted = api.accounts("DELETE", f"{SUBS}/{guid}", params={"forceDelete": "true"})
    assert (deleted.status_code, deleted.json()["state"]) == (200, "DELETING")
    finish(slow)
    error_of(api.accounts("GET", f"{SUBS}/{guid}"), 404)
    state = slow.state()
    for kind in ("instances", "bindings", "assignments", "admin_bindings", "operations"):
        assert [o for o in state[kind] if o["subaccount"] == guid] == [], kind
    # its identity zone is gone: no new tokens, and issued ones stop working
    assert api.token(creds["url"], creds["clientid"], creds["clientsecret"], basic=False).status_code == 401
    assert api.sm(creds, "GET", "/v1/service_instances").status_code == 401
    # the other tenants are untouched
    assert get(api, SUBACCOUNT_1)["state"] == "OK"


def test_where_deletions_are_restorable_a_deleted_subaccount_stays_pending() -> None:
    """user-pain-points.md B4: done for offboarding, a conflict for onboarding (its subdomain stays taken)."""
    with SandboxServer(SandboxConfig(pending_deletion=True, subaccounts=[])) as server:
        api = Api(server)
        guid = create(api, labels={"tenant": ["t1"]})["guid"]
        finish(server)
        api.entitle(guid, *OPERATOR)
        assert api.accounts("DELETE", f"{SUBS}/{guid}").status_code == 200
        finish(server)
        pending = get(api, guid)
        assert (pending["state"], pending["contractStatus"]) == ("OK", "PENDING_FORCED_DELETION")
        assert server.state()["assignments"] == []  # emptied
        assert listed(api, labelSelector="tenant=t1") == ["acme-t1"]
        error_of(api.accounts("POST", SUBS, json=payload()), 409)
        for method in ("PATCH", "DELETE"):
            error = error_of(api.accounts(method, f"{SUBS}/{guid}", json={"displayName": "x"}), 409)
            assert "pending deletion" in error["message"]
        refused = api.assign(guid, *OPERATOR, enable=True)
        assert refused.status_code == 409 and "pending deletion" in refused.json()["error"]["message"]
        assert api.accounts("POST", f"{SUBS}/{guid}/serviceManagementBinding").status_code == 409
        api.http.close()


# -- faults on each step ------------------------------------------------------------------------------------


def test_create_refused_creates_nothing(api: Api, slow: SandboxServer) -> None:
    slow.inject_fault("POST", ROUTE, status=503)
    assert api.accounts("POST", SUBS, json=payload()).status_code == 503
    assert "acme-t1" not in listed(api)
    create(api)


def test_create_accepted_then_creation_failed(api: Api, slow: SandboxServer) -> None:
    slow.inject_fault("POST", ROUTE, kind="operation_failed", description="Provisioning of tenant failed")
    sub = create(api)
    assert sub["state"] == "STARTED"
    finish(slow)
    failed = get(api, sub["guid"])
    assert (failed["state"], failed["stateMessage"]) == ("CREATION_FAILED", "Provisioning of tenant failed")
    path = f"{SUBS}/{sub['guid']}"
    error_of(api.accounts("PATCH", path, json={"displayName": "x"}), 409)
    assert api.accounts("POST", f"{path}/serviceManagementBinding").status_code == 409
    assert api.accounts("DELETE", path).status_code == 200  # a failed create is deleted like any other
    finish(slow)
    error_of(api.accounts("GET", path), 404)


@pytest.mark.parametrize("fault", [{"status": 500}, {"kind": "reset"}], ids=["500", "reset"])
def test_lost_create_response_leaves_a_subaccount_to_find_by_label(
    api: Api, slow: SandboxServer, fault: dict[str, Any]
) -> None:
    slow.inject_fault("POST", ROUTE, when="after", **fault)
    body = payload(labels={"btp-infra/tenant": ["t1"]})
    try:
        reply = api.accounts("POST", SUBS, json=body)
        assert reply.status_code == 500
    except requests.exceptions.ConnectionError:
        assert fault.get("kind") == "reset"
    found = api.accounts("GET", SUBS, params={"labelSelector": "btp-infra/tenant=t1"}).json()["value"]
    assert [s["subdomain"] for s in found] == ["acme-t1"]  # created although the client saw none
    error_of(api.accounts("POST", SUBS, json=body), 409)  # a blind retry is a conflict, not a duplicate
    finish(slow)
    assert get(api, found[0]["guid"])["state"] == "OK"
    call = next(c for c in slow.calls() if (c["method"], c["route"]) == ("POST", ROUTE))
    assert call["handled_status"] == 201


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_lost_update_or_delete_response_then_a_retry_is_a_conflict_until_done(
    api: Api, slow: SandboxServer, method: str
) -> None:
    sub = created(api, slow)
    path = f"{SUBS}/{sub['guid']}"
    body = {"json": {"displayName": "Renamed"}} if method == "PATCH" else {}
    slow.inject_fault(method, ONE, status=504, when="after")
    assert api.accounts(method, path, **body).status_code == 504
    error_of(api.accounts(method, path, **body), 409)  # the lost step runs: a retry conflicts with it
    finish(slow)
    if method == "PATCH":
        assert get(api, sub["guid"])["displayName"] == "Renamed"
    else:
        error_of(api.accounts("DELETE", path), 404)  # gone: a delete's retry finds nothing left to do


def test_force_delete_refused_where_the_global_account_does_not_allow_it() -> None:
    with SandboxServer(SandboxConfig(force_delete=False)) as server:
        api = Api(server)
        guid = server.config.subaccounts[0].guid
        error = error_of(api.accounts("DELETE", f"{SUBS}/{guid}", params={"forceDelete": "true"}), 400)
        assert "Force delete" in error["message"]
        assert get(api, guid)["state"] == "OK"
        assert api.accounts("DELETE", f"{SUBS}/{guid}").status_code == 200  # empty: a plain delete works
        api.http.close()


def test_update_refused_changes_nothing(api: Api, slow: SandboxServer) -> None:
    sub = created(api, slow)
    slow.inject_fault("PATCH", ONE, status=500)
    path = f"{SUBS}/{sub['guid']}"
    assert api.accounts("PATCH", path, json={"displayName": "x"}).status_code == 500
    finish(slow)
    after = get(api, sub["guid"])
    assert (after["state"], after["displayName"]) == ("OK", sub["displayName"])


def test_update_failed_keeps_the_old_values_and_can_be_retried(api: Api, slow: SandboxServer) -> None:
    sub = created(api, slow, labels={"a": ["1"]})
    slow.inject_fault("PATCH", ONE, kind="operation_failed", description="label service down")
    path = f"{SUBS}/{sub['guid']}"
    assert api.accounts("PATCH", path, json={"displayName": "x", "labels": {}}).status_code == 200
    finish(slow)
    failed = get(api, sub["guid"])
    assert (failed["state"], failed["stateMessage"]) == ("UPDATE_FAILED", "label service down")
    assert (failed["displayName"], failed["labels"]) == (sub["displayName"], {"a": ["1"]})
    assert api.accounts("PATCH", path, json={"displayName": "x", "labels": {}}).status_code == 200
    finish(slow)
    assert (get(api, sub["guid"])["state"], get(api, sub["guid"])["labels"]) == ("OK", {})


def test_delete_refused_keeps_the_subaccount(api: Api, slow: SandboxServer) -> None:
    sub = created(api, slow)
    slow.inject_fault("DELETE", ONE, status=502)
    assert api.accounts("DELETE", f"{SUBS}/{sub['guid']}").status_code == 502
    finish(slow)
    assert get(api, sub["guid"])["state"] == "OK"


def test_deletion_failed_then_retried(api: Api, slow: SandboxServer) -> None:
    sub = created(api, slow)
    slow.inject_fault("DELETE", ONE, kind="operation_failed", description="tenant cleanup failed")
    path = f"{SUBS}/{sub['guid']}"
    assert api.accounts("DELETE", path).status_code == 200
    finish(slow)
    failed = get(api, sub["guid"])
    assert (failed["state"], failed["stateMessage"]) == ("DELETION_FAILED", "tenant cleanup failed")
    assert api.accounts("DELETE", path).status_code == 200
    finish(slow)
    error_of(api.accounts("GET", path), 404)


@pytest.mark.parametrize(
    ("method", "state"), [("POST", "CREATING"), ("PATCH", "UPDATING"), ("DELETE", "DELETING")]
)
def test_a_stuck_step_never_ends_until_the_control_api_sets_a_state(
    api: Api, slow: SandboxServer, method: str, state: str
) -> None:
    guid = created(api, slow)["guid"] if method != "POST" else None
    slow.inject_fault(method, ROUTE if method == "POST" else ONE, kind="stuck")
    if method == "POST":
        guid = create(api, "stuck")["guid"]
    elif method == "PATCH":
        assert api.accounts("PATCH", f"{SUBS}/{guid}", json={"displayName": "x"}).status_code == 200
    else:
        assert api.accounts("DELETE", f"{SUBS}/{guid}").status_code == 200
    assert guid is not None
    slow.advance_clock(100 * STEP)
    assert get(api, guid)["state"] == state
    error_of(api.accounts("DELETE", f"{SUBS}/{guid}"), 409)
    assert slow.state()["subaccounts"][-1]["job"]["stuck"] is True
    slow.set_subaccount_state(guid, "OK", "unstuck by hand")
    assert api.accounts("DELETE", f"{SUBS}/{guid}").status_code == 200
    finish(slow)
    error_of(api.accounts("GET", f"{SUBS}/{guid}"), 404)


# -- control API --------------------------------------------------------------------------------------------


def control(sb: SandboxServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, sb.url + "/sandbox" + path, timeout=5, **kwargs)


def test_control_api_seeds_inspects_changes_and_removes_subaccounts(api: Api, slow: SandboxServer) -> None:
    seed = {"guid": "seeded-1", "subdomain": "seeded", "region": "eu20", "labels": {"k": ["v"]}}
    assert control(slow, "POST", "/subaccounts", json=seed).status_code == 201
    assert control(slow, "POST", "/subaccounts", json=seed).status_code == 409
    assert get(api, "seeded-1")["labels"] == {"k": ["v"]}
    pending = create(api)
    inspected = {s["guid"]: s for s in control(slow, "GET", "/subaccounts").json()}
    assert inspected[pending["guid"]]["job"] == {"kind": "create", "stuck": False, "force": False}
    assert inspected["seeded-1"]["job"] is None
    # an out-of-band change, as in the cockpit: no job, the API shows it at once
    change = {"display_name": "Changed", "labels": {"k": ["w"]}}
    assert control(slow, "PATCH", "/subaccounts/seeded-1", json=change).status_code == 200
    drifted = get(api, "seeded-1")
    assert (drifted["displayName"], drifted["labels"], drifted["state"]) == ("Changed", {"k": ["w"]}, "OK")
    slow.change_subaccount("seeded-1", labels={})
    assert get(api, "seeded-1")["labels"] == {}
    assert control(slow, "DELETE", "/subaccounts/seeded-1").status_code == 200
    assert control(slow, "DELETE", "/subaccounts/seeded-1").status_code == 404
    error_of(api.accounts("GET", f"{SUBS}/seeded-1"), 404)
    slow.reset()
    assert {s["guid"] for s in control(slow, "GET", "/subaccounts").json()} == {
        s.guid for s in slow.config.subaccounts
    }


def test_python_seed_refuses_a_taken_subdomain_in_the_same_region(sb: SandboxServer) -> None:
    with pytest.raises(ValueError, match="tenant-a"):
        sb.seed_subaccount(SubaccountSeed(guid="x", subdomain="tenant-a"))
    sb.seed_subaccount(SubaccountSeed(guid="x", subdomain="tenant-a", region="us10"))


def test_routes_listing_names_the_lifecycle_fault_targets(sb: SandboxServer) -> None:
    routes = {(r["method"], r["route"]) for r in requests.get(sb.url + "/sandbox/routes", timeout=5).json()}
    assert {("POST", ROUTE), ("PATCH", ONE), ("DELETE", ONE)} <= routes

"""Service Manager instances: both request forms, async/sync, operations, queries, paging, PATCH, DELETE
(btp-api.md §B.2-§B.9)."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_fixtures import SUBACCOUNT_1

from btp_infra.sandbox import SandboxServer

from .helpers import OPERATOR, Api, wait_until

INSTANCES = "/v1/service_instances"


@pytest.fixture
def creds(api: Api) -> dict[str, Any]:
    return api.operator_ready()


def plan_id(api: Api, creds: dict[str, Any]) -> str:
    query = {"fieldQuery": f"catalog_name eq '{OPERATOR[1]}'"}
    return str(api.sm(creds, "GET", "/v1/service_plans", params=query).json()["items"][0]["id"])


def test_async_create_by_names_returns_202_and_an_operation(
    api: Api, sb: SandboxServer, creds: dict[str, Any]
) -> None:
    # The operation lasts a minute of emulator time, so it is surely "in progress" when first read however
    # slowly this test runs; advancing the emulator's clock then finishes it.
    sb.set_latencies(instance=60)
    body = {"name": "a", "service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]}
    reply = api.sm(creds, "POST", INSTANCES, json=body)  # async omitted: SAP's default is TRUE
    assert reply.status_code == 202
    assert reply.json() == {}
    location = reply.headers["Location"]
    assert location.startswith(INSTANCES + "/") and "/operations/" in location
    instance_id = location.split("/")[3]
    pending = api.sm(creds, "GET", location).json()
    assert (pending["state"], pending["type"], pending["resource_id"]) == (
        "in progress",
        "create",
        instance_id,
    )
    sb.advance_clock(60)
    op = api.operation(creds, location)
    assert op["state"] == "succeeded"
    instance = api.sm(creds, "GET", f"{INSTANCES}/{instance_id}").json()
    assert (instance["ready"], instance["usable"], instance["last_operation"]["state"]) == (
        True,
        True,
        "succeeded",
    )
    assert instance["context"]["subaccount_id"] == SUBACCOUNT_1


def test_sync_create_by_plan_id_returns_201_with_the_entity(api: Api, creds: dict[str, Any]) -> None:
    pid = plan_id(api, creds)
    body = {"name": "b", "service_plan_id": pid, "labels": {"team": ["x"]}, "parameters": {"p": 1}}
    reply = api.sm(creds, "POST", INSTANCES, params={"async": "false"}, json=body)
    assert reply.status_code == 201
    instance = reply.json()
    assert (instance["name"], instance["service_plan_id"], instance["ready"]) == ("b", pid, True)
    assert instance["labels"] == {"team": ["x"]}
    assert instance["last_operation"]["type"] == "create"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"name": "x", "service_plan_id": "p", "service_offering_name": "o", "service_plan_name": "q"},
        {"name": "x", "service_offering_name": "service-manager"},
        {"service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]},
    ],
)
def test_create_needs_exactly_one_plan_form_and_a_name(
    api: Api, creds: dict[str, Any], body: dict[str, Any]
) -> None:
    reply = api.sm(creds, "POST", INSTANCES, json=body)
    assert reply.status_code == 400
    assert reply.json()["error"] == "BadRequest"


def test_create_with_a_plan_that_is_not_entitled_is_404(api: Api) -> None:
    creds = api.admin()
    body = {"name": "x", "service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]}
    assert api.sm(creds, "POST", INSTANCES, json=body).status_code == 404


def test_invalid_async_value_and_labels_are_400(api: Api, creds: dict[str, Any]) -> None:
    body = {"name": "x", "service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]}
    assert api.sm(creds, "POST", INSTANCES, params={"async": "maybe"}, json=body).status_code == 400
    bad_key = {**body, "labels": {"white space": ["v"]}}
    assert api.sm(creds, "POST", INSTANCES, json=bad_key).status_code == 400
    no_values = {**body, "labels": {"k": []}}
    assert api.sm(creds, "POST", INSTANCES, json=no_values).status_code == 400


def test_names_need_not_be_unique(api: Api, creds: dict[str, Any]) -> None:
    for _ in range(2):
        api.create_instance(creds, "same")
    found = api.sm(creds, "GET", INSTANCES, params={"fieldQuery": "name eq 'same'"}).json()
    assert found["num_items"] == 2


def test_field_and_label_queries(api: Api, creds: dict[str, Any]) -> None:
    api.create_instance(creds, "o'brien", labels={"tenant": ["a"], "managed": ["yes"]})
    api.create_instance(creds, "plain", labels={"tenant": ["b"]})

    def names(**params: str) -> list[str]:
        reply = api.sm(creds, "GET", INSTANCES, params=params)
        assert reply.status_code == 200, reply.text
        return sorted(i["name"] for i in reply.json()["items"])

    assert names(fieldQuery="name eq 'o''brien'") == ["o'brien"]
    assert names(labelQuery="tenant eq 'b'") == ["plain"]
    assert names(labelQuery="tenant in ('a', 'b') and managed eq 'yes'") == ["o'brien"]
    assert names(
        fieldQuery=f"context/subaccount_id eq '{SUBACCOUNT_1}'", labelQuery="tenant notin ('a')"
    ) == [
        "ServiceManagementAccessInstance",
        "plain",
    ]
    reply = api.sm(creds, "GET", INSTANCES, params={"labelQuery": "tenant gt 'a'"})
    assert (reply.status_code, reply.json()["error"]) == (400, "InvalidLabelQuery")


def test_paging_across_pages(api: Api, creds: dict[str, Any]) -> None:
    for n in range(4):
        api.create_instance(creds, f"i{n}")
    seen: list[str] = []
    params: dict[str, str] = {"max_items": "2"}
    pages = 0
    while True:
        page = api.sm(creds, "GET", INSTANCES, params=params).json()
        assert page["num_items"] == 5  # the admin instance + 4
        assert len(page["items"]) <= 2
        seen += [i["name"] for i in page["items"]]
        pages += 1
        if "token" not in page:
            break
        params["token"] = page["token"]
    assert pages == 3
    assert seen == ["ServiceManagementAccessInstance", "i0", "i1", "i2", "i3"]
    count_only = api.sm(creds, "GET", INSTANCES, params={"max_items": "0"}).json()
    assert (count_only["num_items"], count_only["items"]) == (5, [])
    assert api.sm(creds, "GET", INSTANCES, params={"max_items": "-1"}).status_code == 400
    assert api.sm(creds, "GET", INSTANCES, params={"token": "%%%"}).status_code == 400


def test_default_page_size_is_50(api: Api, sb: SandboxServer, creds: dict[str, Any]) -> None:
    sb.set_latencies(instance=0)
    body = {"name": "n", "service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]}
    for _ in range(50):
        assert api.sm(creds, "POST", INSTANCES, json=body).status_code == 202
    page = api.sm(creds, "GET", INSTANCES).json()
    assert (page["num_items"], len(page["items"]), "token" in page) == (51, 50, True)
    assert "last_operation" not in page["items"][0]
    attached = api.sm(creds, "GET", INSTANCES, params={"attach_last_operations": "true"}).json()
    assert "last_operation" in attached["items"][0]


def test_patch_labels_is_synchronous(api: Api, creds: dict[str, Any]) -> None:
    instance = api.create_instance(creds, "p", labels={"a": ["1"], "b": ["2"]})
    ops = {"labels": [{"op": "add", "key": "a", "values": ["3"]}, {"op": "remove", "key": "b"}]}
    reply = api.sm(creds, "PATCH", f"{INSTANCES}/{instance['id']}", json=ops)
    assert reply.status_code == 200
    assert reply.json()["labels"] == {"a": ["1", "3"]}


def test_patch_parameters_is_an_async_update(api: Api, creds: dict[str, Any]) -> None:
    instance = api.create_instance(creds, "p")
    reply = api.sm(creds, "PATCH", f"{INSTANCES}/{instance['id']}", json={"parameters": {"x": 1}})
    assert reply.status_code == 202
    op = api.operation(creds, reply.headers["Location"])
    assert (op["type"], op["state"]) == ("update", "succeeded")


def test_concurrent_mutation_is_422(api: Api, sb: SandboxServer, creds: dict[str, Any]) -> None:
    sb.set_latencies(instance=30)
    body = {"name": "slow", "service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]}
    location = api.sm(creds, "POST", INSTANCES, json=body).headers["Location"]
    path = location.split("/operations/")[0]
    changes: list[tuple[str, dict[str, Any]]] = [("DELETE", {}), ("PATCH", {"json": {"parameters": {}}})]
    for method, kwargs in changes:
        reply = api.sm(creds, method, path, **kwargs)
        assert reply.status_code == 422
        assert reply.json()["error"] == "ConcurrentOperation"
    binding = {"name": "b", "service_instance_id": path.rsplit("/", 1)[1]}
    assert api.sm(creds, "POST", "/v1/service_bindings", json=binding).status_code == 422


def test_async_delete_then_404(api: Api, creds: dict[str, Any]) -> None:
    instance = api.create_instance(creds, "d")
    path = f"{INSTANCES}/{instance['id']}"
    reply = api.sm(creds, "DELETE", path)
    assert reply.status_code == 202
    location = reply.headers["Location"]
    during = api.sm(creds, "GET", path).json()["last_operation"]
    assert (during["type"], during["state"]) == ("delete", "in progress")

    def gone() -> bool:
        return api.sm(creds, "GET", path).status_code == 404

    wait_until(gone)
    assert api.sm(creds, "GET", location).status_code == 404  # the operation went with its resource
    assert api.sm(creds, "DELETE", path).status_code == 404


def test_sync_delete_returns_200(api: Api, creds: dict[str, Any]) -> None:
    instance = api.create_instance(creds, "d")
    path = f"{INSTANCES}/{instance['id']}"
    assert api.sm(creds, "DELETE", path, params={"async": "false"}).status_code == 200
    assert api.sm(creds, "GET", path).status_code == 404


def test_delete_with_bindings_is_409(api: Api, creds: dict[str, Any]) -> None:
    instance = api.create_instance(creds, "bound")
    binding = {"name": "b", "service_instance_id": instance["id"]}
    assert (
        api.sm(creds, "POST", "/v1/service_bindings", params={"async": "false"}, json=binding).status_code
        == 201
    )
    reply = api.sm(creds, "DELETE", f"{INSTANCES}/{instance['id']}")
    assert reply.status_code == 409
    assert reply.json()["error"] == "ExistingReferenceEntity"


def test_injected_operation_failure(api: Api, sb: SandboxServer, creds: dict[str, Any]) -> None:
    sb.inject_fault("POST", "/sm/v1/service_instances", kind="operation_failed", description="broker says no")
    body = {"name": "f", "service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]}
    op = api.operation(creds, api.sm(creds, "POST", INSTANCES, json=body).headers["Location"])
    assert (op["state"], op["errors"]["description"]) == ("failed", "broker says no")
    instance = api.sm(creds, "GET", f"{INSTANCES}/{op['resource_id']}").json()
    assert (instance["ready"], instance["last_operation"]["state"]) == (False, "failed")
    # synchronous: 502 BrokerError
    sb.inject_fault("POST", "/sm/v1/service_instances", kind="operation_failed")
    reply = api.sm(creds, "POST", INSTANCES, params={"async": "false"}, json=body)
    assert (reply.status_code, reply.json()["error"]) == (502, "BrokerError")
    # the fault was used up: the next create succeeds
    assert api.create_instance(creds, "ok")["ready"] is True

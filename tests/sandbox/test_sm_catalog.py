"""Service Manager offerings and plans: visibility by entitlement, fieldQuery (btp-api.md §B.4, §B.6)."""

from __future__ import annotations

from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2

from .helpers import OPERATOR, Api


def plan_names(api: Api, creds: dict[str, object], query: str | None = None) -> list[str]:
    params = {"fieldQuery": query} if query else {}
    reply = api.sm(creds, "GET", "/v1/service_plans", params=params)
    assert reply.status_code == 200, reply.text
    return sorted(p["name"] for p in reply.json()["items"])


def test_plans_are_visible_only_once_entitled(api: Api) -> None:
    creds = api.admin()
    assert plan_names(api, creds) == ["subaccount-admin"]  # auto-assigned
    api.entitle(SUBACCOUNT_1, *OPERATOR)
    assert plan_names(api, creds) == ["service-operator-access", "subaccount-admin"]
    # per subaccount
    assert plan_names(api, api.admin(SUBACCOUNT_2)) == ["subaccount-admin"]


def test_plan_lookup_like_the_operator(api: Api) -> None:
    creds = api.operator_ready()
    api.entitle(SUBACCOUNT_1, "xsuaa", "application")
    offerings = api.sm(
        creds, "GET", "/v1/service_offerings", params={"fieldQuery": "catalog_name eq 'service-manager'"}
    ).json()
    assert offerings["num_items"] == 1
    offering_id = offerings["items"][0]["id"]
    query = f"catalog_name eq 'service-operator-access' and service_offering_id in ('{offering_id}', 'other')"
    plans = api.sm(creds, "GET", "/v1/service_plans", params={"fieldQuery": query}).json()["items"]
    assert [p["name"] for p in plans] == ["service-operator-access"]
    assert plans[0]["service_offering_id"] == offering_id
    one = api.sm(creds, "GET", f"/v1/service_plans/{plans[0]['id']}").json()
    assert one["catalog_name"] == "service-operator-access"
    assert api.sm(creds, "GET", f"/v1/service_offerings/{offering_id}").json()["name"] == "service-manager"


def test_field_query_operators(api: Api) -> None:
    creds = api.operator_ready()
    api.entitle(SUBACCOUNT_1, "destination", "lite")
    assert plan_names(api, creds, "name in ('lite', 'subaccount-admin')") == ["lite", "subaccount-admin"]
    assert plan_names(api, creds, "name ne 'lite' and name notin ('subaccount-admin')") == [
        "service-operator-access"
    ]
    assert plan_names(api, creds, "name eq 'it''s'") == []
    assert plan_names(api, creds, "bindable eq true and name contains 'access'") == [
        "service-operator-access"
    ]


def test_malformed_or_unsupported_field_query_is_400(api: Api) -> None:
    creds = api.admin()
    for query in (
        "name eq",
        "name equals 'x'",
        "name eq 'unclosed",
        "name in 'x'",
        "name eq 'a' or name eq 'b'",
    ):
        reply = api.sm(creds, "GET", "/v1/service_plans", params={"fieldQuery": query})
        assert reply.status_code == 400, query
        assert reply.json()["error"] == "InvalidFieldQuery"
    reply = api.sm(creds, "GET", "/v1/service_plans", params={"fieldQuery": "colour eq 'red'"})
    assert (reply.status_code, reply.json()["error"]) == (400, "InvalidFieldQuery")


def test_unknown_plan_id_is_404(api: Api) -> None:
    reply = api.sm(api.admin(), "GET", "/v1/service_plans/does-not-exist")
    assert reply.status_code == 404
    assert reply.json()["error"] == "NotFound"

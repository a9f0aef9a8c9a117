"""HTTP helpers for the emulator tests: plain ``requests`` calls, the way a client makes them."""

from __future__ import annotations

from typing import Any

import requests
from emulator_fixtures import SUBACCOUNT_1, wait_until

from btp_infra.conventions import OPERATOR_OFFERING, OPERATOR_PLAN
from btp_infra.sandbox import SandboxServer

__all__ = ["OPERATOR", "Api", "wait_until"]

OPERATOR = (OPERATOR_OFFERING, OPERATOR_PLAN)


class Api:
    """Plain HTTP calls against one emulator, the way a client would make them."""

    def __init__(self, source: SandboxServer | dict[str, Any]) -> None:
        """``source``: a running emulator, or just a cis service key (e.g. printed by ``serve()``)."""
        self.key = source.cis_service_key() if isinstance(source, SandboxServer) else source
        self.http = requests.Session()
        self.accounts_url = str(self.key["endpoints"]["accounts_service_url"])
        self.entitlements_url = str(self.key["endpoints"]["entitlements_service_url"])
        self._tokens: dict[str, str] = {}

    # -- tokens -----------------------------------------------------------------------------------------

    def token(self, uaa_url: str, client_id: str, secret: str, *, basic: bool) -> requests.Response:
        data = {"grant_type": "client_credentials"}
        if basic:
            return self.http.post(f"{uaa_url}/oauth/token", data=data, auth=(client_id, secret))
        data.update(client_id=client_id, client_secret=secret)
        return self.http.post(f"{uaa_url}/oauth/token", data=data)

    def cis_token(self) -> str:
        if "cis" not in self._tokens:
            uaa = self.key["uaa"]
            reply = self.token(uaa["url"], uaa["clientid"], uaa["clientsecret"], basic=True)
            assert reply.status_code == 200, reply.text
            self._tokens["cis"] = reply.json()["access_token"]
        return self._tokens["cis"]

    def forget_tokens(self) -> None:
        self._tokens.clear()

    def sm_token(self, creds: dict[str, Any]) -> str:
        if creds["clientid"] not in self._tokens:
            reply = self.token(creds["url"], creds["clientid"], creds["clientsecret"], basic=False)
            assert reply.status_code == 200, reply.text
            self._tokens[creds["clientid"]] = reply.json()["access_token"]
        return self._tokens[creds["clientid"]]

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    # -- Accounts / Entitlements ------------------------------------------------------------------------

    def accounts(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(
            method, self.accounts_url + path, headers=self.bearer(self.cis_token()), **kwargs
        )

    def entitlements(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.entitlements_url + path
        return self.http.request(method, url, headers=self.bearer(self.cis_token()), **kwargs)

    def admin(self, subaccount: str = SUBACCOUNT_1) -> dict[str, Any]:
        """The subaccount's SM admin credentials (created on first use)."""
        path = f"/accounts/v1/subaccounts/{subaccount}/serviceManagementBinding"
        reply = self.accounts("GET", path)
        if reply.status_code == 404:
            reply = self.accounts("POST", path)
        assert reply.status_code in (200, 201), reply.text
        creds: dict[str, Any] = reply.json()
        return creds

    def assign(
        self,
        subaccount: str,
        service: str,
        plan: str,
        *,
        amount: int | None = None,
        enable: bool | None = None,
    ) -> requests.Response:
        info: dict[str, Any] = {"subaccountGUID": subaccount}
        if amount is not None:
            info["amount"] = amount
        if enable is not None:
            info["enable"] = enable
        body = {
            "subaccountServicePlans": [
                {"serviceName": service, "servicePlanName": plan, "assignmentInfo": [info]}
            ]
        }
        return self.entitlements("PUT", "/entitlements/v1/subaccountServicePlans", json=body)

    def assignment(self, subaccount: str, service: str, plan: str) -> dict[str, Any] | None:
        params = {"subaccountGUID": subaccount, "serviceName": service, "planName": plan}
        reply = self.entitlements("GET", "/entitlements/v1/assignments", params=params)
        assert reply.status_code == 200, reply.text
        for svc in reply.json()["assignedServices"]:
            for p in svc["servicePlans"]:
                for info in p["assignmentInfo"]:
                    if info["entityId"] == subaccount:
                        found: dict[str, Any] = info
                        return found
        return None

    def entitle(self, subaccount: str, service: str, plan: str, *, amount: int | None = None) -> None:
        """Assign (``enable`` unless ``amount``) and wait for ``entityState == OK``."""
        reply = self.assign(subaccount, service, plan, amount=amount, enable=None if amount else True)
        assert reply.status_code == 202, reply.text
        wait_until(lambda: (self.assignment(subaccount, service, plan) or {}).get("entityState") == "OK")

    # -- Service Manager --------------------------------------------------------------------------------

    def sm(self, creds: dict[str, Any], method: str, path: str, **kwargs: Any) -> requests.Response:
        url = str(creds["sm_url"]) + path
        return self.http.request(method, url, headers=self.bearer(self.sm_token(creds)), **kwargs)

    def operation(self, creds: dict[str, Any], location: str) -> dict[str, Any]:
        """Poll an operation (``Location`` path) until it is no longer ``in progress``."""

        def done() -> dict[str, Any] | None:
            reply = self.sm(creds, "GET", location)
            assert reply.status_code == 200, reply.text
            op: dict[str, Any] = reply.json()
            return op if op["state"] != "in progress" else None

        return wait_until(done)

    def create_instance(self, creds: dict[str, Any], name: str, **body: Any) -> dict[str, Any]:
        """Create an operator-access instance synchronously (``async=false``)."""
        payload = {
            "name": name,
            "service_offering_name": OPERATOR[0],
            "service_plan_name": OPERATOR[1],
            **body,
        }
        reply = self.sm(creds, "POST", "/v1/service_instances", params={"async": "false"}, json=payload)
        assert reply.status_code == 201, reply.text
        instance: dict[str, Any] = reply.json()
        return instance

    def operator_ready(self, subaccount: str = SUBACCOUNT_1) -> dict[str, Any]:
        """Admin credentials of a subaccount in which ``service-operator-access`` is entitled."""
        self.entitle(subaccount, *OPERATOR)
        return self.admin(subaccount)

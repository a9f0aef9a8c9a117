"""``ServiceManagerAccess``: the subaccount's Service Manager admin binding.

Created with ``POST /accounts/v1/subaccounts/{guid}/serviceManagementBinding`` (btp-api.md §C.3) using the
global cis key, so one global credential yields per-subaccount SM admin access. The credentials are never an
output: providers that need them fetch them again through the Accounts API.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from btp_infra.btp.errors import BtpError
from btp_infra.providers.base import (
    BtpProvider,
    check_result,
    diff_inputs,
    inputs_of,
    require_str,
    require_timeout,
)
from btp_infra.providers.instance import MANAGED_QUERY

INPUTS = ("subaccountId", "timeoutSeconds")


class ServiceManagerAccessProvider(BtpProvider):
    """Creates (or adopts) and deletes the subaccount's SM admin binding."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        require_str(news, "subaccountId", failures)
        require_timeout(news, failures)
        return check_result(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # timeoutSeconds only changes how long we wait; it never needs an API call.
        return diff_inputs(olds, news, keys=INPUTS, replace_keys=("subaccountId",))

    def create(self, props: dict[str, Any]) -> CreateResult:
        guid = props["subaccountId"]
        creds, created = self.accounts().ensure_service_management_binding(guid)
        outs = {
            **inputs_of(props, INPUTS),
            "smUrl": creds.sm_url,
            "clientId": creds.clientid,
            "created": created,
        }
        return CreateResult(guid, outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**olds, **inputs_of(news, INPUTS)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        creds = self.accounts().get_service_management_binding(id_)
        if creds is None:
            return ReadResult("", {})
        return ReadResult(id_, {**props, "smUrl": creds.sm_url, "clientId": creds.clientid})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._sweep(id_, self.timeout_of(props))
        self.accounts().delete_service_management_binding(id_)

    def _sweep(self, guid: str, timeout: float) -> None:
        """Deplete, then delete: remove the SM bindings and instances btp-infra labelled in this subaccount
        that no resource owns any more. A create that fails after SM accepted it (lost poll, failed
        operation) leaves one behind, and Pulumi records no partial creates, so destroy would orphan it.
        One subaccount belongs to one tenant stack, so every such object is this stack's."""
        try:
            sm = self.service_manager(guid)
        except BtpError as err:
            if err.status == 404:  # no admin binding: nothing reachable to sweep
                return
            raise
        for binding in sm.list_bindings(label_query=MANAGED_QUERY):
            sm.delete_binding(binding.id, timeout=timeout)
        for instance in sm.list_instances(label_query=MANAGED_QUERY):
            sm.delete_instance(instance.id, timeout=timeout)


class ServiceManagerAccess(Resource, module="btp", name="ServiceManagerAccess"):
    """Service Manager admin access to one subaccount (the ``serviceManagementBinding``)."""

    subaccountId: pulumi.Output[str]
    smUrl: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        subaccount_id: pulumi.Input[str],
        timeout_seconds: float | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "subaccountId": subaccount_id,
            "timeoutSeconds": timeout_seconds,
            "smUrl": None,
            "clientId": None,
            "created": None,
        }
        super().__init__(ServiceManagerAccessProvider(), name, props, opts)

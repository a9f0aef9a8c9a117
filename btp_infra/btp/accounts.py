"""Accounts API client (cis ``central`` key): subaccounts and the SM admin binding (§C.3)."""

from __future__ import annotations

from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field

from btp_infra.conventions import DEFAULT_TIMEOUTS

from ._base import DEFAULT_OPERATION_TIMEOUT, CisFacade, create_without_duplicates, json_object
from .errors import BtpError, ConflictError, OperationFailedError
from .http import Deadline, poll
from .keys import CisServiceKey, ServiceManagerCredentials

__all__ = ["AccountsClient", "Subaccount"]

SUBACCOUNTS = "/accounts/v1/subaccounts"


class Subaccount(BaseModel):
    """The fields of a subaccount btp-infra uses."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    guid: str
    display_name: str = Field(default="", alias="displayName")
    subdomain: str = ""
    region: str = ""
    state: str = ""
    state_message: str | None = Field(default=None, alias="stateMessage")
    parent_guid: str | None = Field(default=None, alias="parentGUID")
    global_account_guid: str | None = Field(default=None, alias="globalAccountGUID")
    labels: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.state == "OK"


class AccountsClient(CisFacade):
    """Subaccount reads and the SM admin binding (``…/serviceManagementBinding``)."""

    api = "accounts"

    @staticmethod
    def base_url(key: CisServiceKey) -> str:
        return key.accounts_service_url

    # -- subaccounts ------

    def get_subaccount(self, guid: str) -> Subaccount:
        """The subaccount; :class:`NotFoundError` if it does not exist (or is not visible to the key)."""
        what = f"get subaccount {guid}"
        response = self.transport.request("GET", f"{SUBACCOUNTS}/{guid}", what=what)
        sub = Subaccount.model_validate(json_object(response, what))
        if sub.state_message:
            sub = sub.model_copy(update={"state_message": self.server_text(sub.state_message)})
        return sub

    def list_subaccounts(self) -> list[Subaccount]:
        what = "list subaccounts"
        body = json_object(self.transport.request("GET", SUBACCOUNTS, what=what), what)
        items = body.get("value", [])
        if not isinstance(items, list):
            raise BtpError(f"{what}: 'value' is not a list", operation=what)
        return [Subaccount.model_validate(item) for item in items]

    def wait_for_subaccount(self, guid: str, *, timeout: float = DEFAULT_OPERATION_TIMEOUT) -> Subaccount:
        """Poll until the subaccount's ``state`` is ``OK``; :class:`OperationFailedError` on ``*_FAILED``."""
        what = f"wait for subaccount {guid}"

        def done(subaccount: Subaccount) -> bool:
            if subaccount.state.endswith("FAILED"):
                raise OperationFailedError(
                    f"{what}: state {subaccount.state}", description=subaccount.state_message, operation=what
                )
            return subaccount.ready

        return poll(
            lambda: self.get_subaccount(guid),
            done=done,
            policy=self.poll_policy,
            deadline=Deadline(timeout),
            what=what,
        )

    # -- SM admin binding ------

    def _binding_path(self, guid: str) -> str:
        return f"{SUBACCOUNTS}/{guid}/serviceManagementBinding"

    def get_service_management_binding(
        self, guid: str, *, deadline: Deadline | None = None
    ) -> ServiceManagerCredentials | None:
        """The subaccount's SM admin credentials, or ``None`` if there is no binding (yet)."""
        what = f"get SM admin binding of {guid}"
        response = self.transport.request(
            "GET", self._binding_path(guid), ok=(200, 404), deadline=deadline, what=what
        )
        if response.status_code == 404:
            return None
        return _credentials(json_object(response, what), what)

    def create_service_management_binding(
        self, guid: str, *, timeout: float = DEFAULT_TIMEOUTS["adminAccess"]
    ) -> ServiceManagerCredentials:
        """Create the SM admin binding; :class:`ConflictError` if it exists. A lost response is recovered."""
        what = f"create SM admin binding of {guid}"
        deadline = Deadline(timeout)

        def post() -> requests.Response:
            return self.transport.request(
                "POST", self._binding_path(guid), ok=(200, 201, 202), deadline=deadline, what=what
            )

        def lookup() -> ServiceManagerCredentials | None:
            return self.get_service_management_binding(guid, deadline=deadline)

        result = create_without_duplicates(
            post, lookup, policy=self.retry_policy, deadline=deadline, what=what
        )
        if isinstance(result, ServiceManagerCredentials):
            return result
        if result.status_code == 202 or not result.content:
            return self._wait_for_binding(guid, deadline, what)
        body = json_object(result, what)
        if "clientsecret" not in body:
            return self._wait_for_binding(guid, deadline, what)
        return _credentials(body, what)

    def ensure_service_management_binding(
        self, guid: str, *, timeout: float = DEFAULT_TIMEOUTS["adminAccess"]
    ) -> tuple[ServiceManagerCredentials, bool]:
        """The SM admin credentials and whether this call created them (409 → adopt the existing binding)."""
        try:
            return self.create_service_management_binding(guid, timeout=timeout), True
        except ConflictError:
            existing = self._wait_for_binding(guid, Deadline(timeout), f"adopt SM admin binding of {guid}")
            return existing, False

    def delete_service_management_binding(
        self, guid: str, *, timeout: float = DEFAULT_TIMEOUTS["adminAccess"]
    ) -> None:
        """Delete the SM admin binding; returns once it is gone (404 counts as gone)."""
        what = f"delete SM admin binding of {guid}"
        deadline = Deadline(timeout)
        response = self.transport.request(
            "DELETE", self._binding_path(guid), ok=(200, 202, 204, 404), deadline=deadline, what=what
        )
        if response.status_code == 202:
            poll(
                lambda: self.get_service_management_binding(guid, deadline=deadline),
                done=lambda creds: creds is None,
                policy=self.poll_policy,
                deadline=deadline,
                what=what,
            )

    def _wait_for_binding(self, guid: str, deadline: Deadline, what: str) -> ServiceManagerCredentials:
        found = poll(
            lambda: self.get_service_management_binding(guid, deadline=deadline),
            done=lambda creds: creds is not None,
            policy=self.poll_policy,
            deadline=deadline,
            what=what,
        )
        assert found is not None
        return found


def _credentials(body: dict[str, Any], what: str) -> ServiceManagerCredentials:
    return ServiceManagerCredentials.parse(body, source=what)

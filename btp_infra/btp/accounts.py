"""Accounts API client (cis ``central`` key): subaccounts — read, and the lifecycle of §C.3a (create, update,
delete, find by label) — and the SM admin binding (§C.3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field

from btp_infra.conventions import DEFAULT_TIMEOUTS, SUBACCOUNT_TIMEOUT

from ._base import DEFAULT_OPERATION_TIMEOUT, CisFacade, create_without_duplicates, json_object
from .errors import BtpError, ConflictError, NotFoundError, OperationFailedError
from .http import Deadline, poll
from .keys import CisServiceKey, ServiceManagerCredentials

__all__ = ["PENDING_DELETION", "USED_FOR_PRODUCTION", "AccountsClient", "Subaccount"]

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
    used_for_production: str | None = Field(default=None, alias="usedForProduction")
    contract_status: str | None = Field(default=None, alias="contractStatus")

    @property
    def ready(self) -> bool:
        return self.state == "OK"

    @property
    def pending_deletion(self) -> bool:
        """Deleted where the global account keeps deletions restorable for a while: the subaccount stays,
        emptied, with its subdomain taken (user-pain-points.md B4) — gone for offboarding, a conflict for
        onboarding."""
        return self.contract_status == PENDING_DELETION

    @property
    def failed(self) -> bool:
        return self.state.endswith("FAILED")

    def has_labels(self, wanted: Mapping[str, str]) -> bool:
        """Whether every ``key: value`` of ``wanted`` is among this subaccount's labels."""
        return all(value in self.labels.get(key, []) for key, value in wanted.items())


#: ``contractStatus`` of a subaccount deleted but still restorable (terraform-provider-btp #1496).
PENDING_DELETION = "PENDING_FORCED_DELETION"
#: ``usedForProduction`` on the wire (btp-api.md §C.3a).
USED_FOR_PRODUCTION = {True: "USED_FOR_PRODUCTION", False: "NOT_USED_FOR_PRODUCTION"}


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

    def find_subaccounts(self, labels: Mapping[str, str]) -> list[Subaccount]:
        """The subaccounts carrying every ``key: value`` of ``labels``.

        The first label goes to the server as ``labelSelector`` (btp-api.md §C.3a); every label is checked
        here as well, so a server that ignores the selector (or matches more loosely) cannot mislead."""
        what = "find subaccounts by label"
        params: dict[str, str | int] = {}
        if labels:
            key, value = next(iter(labels.items()))
            params["labelSelector"] = f"{key}={value}"
        body = json_object(self.transport.request("GET", SUBACCOUNTS, params=params, what=what), what)
        items = body.get("value", [])
        if not isinstance(items, list):
            raise BtpError(f"{what}: 'value' is not a list", operation=what)
        found = [Subaccount.model_validate(item) for item in items]
        return [sub for sub in found if sub.has_labels(labels)]

    def create_subaccount(
        self,
        *,
        display_name: str,
        subdomain: str,
        region: str,
        labels: Mapping[str, Sequence[str]],
        parent_guid: str | None = None,
        used_for_production: bool = False,
        lookup: Callable[[], Subaccount | None],
        timeout: float = SUBACCOUNT_TIMEOUT,
    ) -> Subaccount:
        """``POST /accounts/v1/subaccounts``: the new subaccount, state ``STARTED``
        (:meth:`wait_for_subaccount` waits for ``OK``).

        After a failure that may hide a success (lost response, 5xx: "create can return 500 although the
        subaccount exists", user-pain-points.md E4) ``lookup`` is asked before retrying, so a retry never
        creates a second one. A subdomain already taken raises :class:`ConflictError`."""
        what = f"create subaccount {subdomain} in {region}"
        deadline = Deadline(timeout)
        body: dict[str, Any] = {
            "displayName": display_name,
            "subdomain": subdomain,
            "region": region,
            "labels": {key: list(values) for key, values in labels.items()},
            "usedForProduction": USED_FOR_PRODUCTION[used_for_production],
        }
        if parent_guid:
            body["parentGUID"] = parent_guid

        def post() -> requests.Response:
            return self.transport.request(
                "POST", SUBACCOUNTS, json=body, ok=(200, 201, 202), deadline=deadline, what=what
            )

        policy = self.retry_policy
        result = create_without_duplicates(post, lookup, policy=policy, deadline=deadline, what=what)
        if isinstance(result, Subaccount):
            return result
        return self._sanitized(Subaccount.model_validate(json_object(result, what)))

    def update_subaccount(
        self,
        guid: str,
        *,
        display_name: str,
        labels: Mapping[str, Sequence[str]],
        used_for_production: bool,
        timeout: float = SUBACCOUNT_TIMEOUT,
    ) -> Subaccount:
        """``PATCH …/{guid}``: display name, the whole label set and ``usedForProduction`` (the fields that
        can change in place, btp-api.md §C.3a); waits for ``OK`` again."""
        what = f"update subaccount {guid}"
        deadline = Deadline(timeout)
        body = {
            "displayName": display_name,
            "labels": {key: list(values) for key, values in labels.items()},
            "usedForProduction": USED_FOR_PRODUCTION[used_for_production],
        }
        self.transport.request(
            "PATCH", f"{SUBACCOUNTS}/{guid}", json=body, ok=(200, 202), deadline=deadline, what=what
        )
        return self.wait_for_subaccount(guid, timeout=max(deadline.remaining(), 1.0))

    def delete_subaccount(self, guid: str, *, timeout: float = SUBACCOUNT_TIMEOUT) -> None:
        """``DELETE …/{guid}`` (never ``forceDelete``); returns once it is gone (``DELETING`` → 404). A
        subaccount already gone counts as deleted; a refusal (not empty) raises the API's error."""
        what = f"delete subaccount {guid}"
        deadline = Deadline(timeout)
        try:
            self.transport.request(
                "DELETE", f"{SUBACCOUNTS}/{guid}", ok=(200, 202, 204, 404), deadline=deadline, what=what
            )
        except ConflictError:
            # A retried DELETE whose first attempt went through (lost response) meets its own deletion.
            try:
                sub = self.get_subaccount(guid)
            except NotFoundError:
                return
            if sub.pending_deletion:
                return
            if sub.state != "DELETING":
                raise
        self.wait_for_subaccount_gone(guid, deadline=deadline)

    def wait_for_subaccount_gone(self, guid: str, *, deadline: Deadline) -> None:
        """Poll until the subaccount answers 404 or is pending deletion (:attr:`Subaccount.pending_deletion`);
        :class:`OperationFailedError` on ``DELETION_FAILED``."""
        what = f"wait for subaccount {guid} to be deleted"

        def fetch() -> Subaccount | None:
            try:
                return self.get_subaccount(guid)
            except NotFoundError:
                return None

        def done(sub: Subaccount | None) -> bool:
            if sub is not None and sub.failed:
                raise OperationFailedError(
                    f"{what}: state {sub.state}", description=sub.state_message, operation=what
                )
            return sub is None or sub.pending_deletion

        poll(fetch, done=done, policy=self.poll_policy, deadline=deadline, what=what)

    def _sanitized(self, sub: Subaccount) -> Subaccount:
        if sub.state_message:
            return sub.model_copy(update={"state_message": self.server_text(sub.state_message)})
        return sub

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

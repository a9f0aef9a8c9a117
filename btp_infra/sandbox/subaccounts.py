"""Subaccount lifecycle of the Accounts API (btp-api.md §C.3, §C.3a): create, update, delete, the
``labelSelector`` list filter and a subaccount's JSON.

Facts: the Accounts OpenAPI of SAP's Crossplane provider
(``internal/openapi_clients/btp-accounts-service-api-go/pkg/api/openapi.yaml``: ``createSubaccount``
answers 201 and 409 "Subdomain already exists in this region", ``updateSubaccount`` and ``deleteSubaccount``
answer 200 with the subaccount, ``getSubaccounts`` takes ``labelSelector`` = ``key=value`` / ``key!=value``
terms joined by ``AND``, one value per key, no space, ``=`` or ``!`` in keys and values; labels: up to 10
keys of up to 10 values, 63 characters each; dates are epoch milliseconds) and the terraform-provider-btp VCR
fixture ``btp/provider/fixtures/resource_subaccount.yaml`` (create answers ``STARTED`` with ``technicalName``
``N/A``; ``CREATING`` "Creating subaccount tenant."; ``OK`` "Subaccount created."; ``DELETING`` "Deleting
subaccount."; then 404).

Choices where the facts are open, marked UNCONFIRMED:
- a delete without ``forceDelete`` of a subaccount that still holds Service Manager instances or bindings
  (the admin binding's too) is refused with **400** listing them (the OpenAPI lists 400 and 409 for DELETE;
  409 reads "being modified by another process", so it stays the conflict of a running job); entitlement
  assignments do not block a delete and go with the subaccount, forced or not;
- a taken subdomain (same region, any state, also ``CREATION_FAILED`` and ``DELETING``; or the global
  account's own) is 409 with code 20007 (user-pain-points.md E4);
- any mutation while a create, update or delete runs is 409; PATCH of a subaccount not ``OK`` or
  ``UPDATE_FAILED`` is 409. A PATCH is applied at once, answering ``OK`` with the old state message (the
  fixture's ``subaccount?update``); with a ``subaccount_update`` latency it shows ``UPDATING`` until the
  change is applied (a slow backend: clients must poll either way);
- the emulator also requires ``subdomain`` on create (multi-environment subaccounts only);
- a forced delete where the global account does not allow it (``SandboxConfig.force_delete``) is 400;
- where deletions are restorable (``SandboxConfig.pending_deletion``) a finished delete leaves the subaccount
  emptied, ``OK`` with ``contractStatus`` ``PENDING_FORCED_DELETION`` and its subdomain taken; every mutation
  of it is 409 (no restore endpoint is emulated).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from btp_infra.sandbox.errors import CODE_SUBDOMAIN_TAKEN, btp_error
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.schemas import SubaccountCreate, SubaccountUpdate
from btp_infra.sandbox.state import PENDING_DELETION, Subaccount, SubaccountJob, new_id

Outcome = tuple[str | None, bool]
"""An injected outcome for the step about to start: ``(failure description or None, stuck)``."""

SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
"""Lower-case letters, digits and hyphens, at most 63, no hyphen at either end (§C.3a)."""
MAX_LABELS = 10
MAX_LABEL_VALUES = 10
MAX_LABEL_LENGTH = 63
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_SELECTOR_TERM = re.compile(r"^(?P<key>[^\s=!]+)(?P<op>!=|=)(?P<value>[^\s=!]+)$")
UPDATABLE_STATES = frozenset({"OK", "UPDATE_FAILED"})


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def check_subdomain(path: str, subdomain: str) -> None:
    if not SUBDOMAIN.match(subdomain):
        raise btp_error(
            400,
            f"Invalid subdomain {subdomain!r}: use only lower-case letters (a-z), digits (0-9) and hyphens "
            "(not at the start or end), at most 63 characters",
            path,
        )


def check_labels(path: str, labels: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Labels as the OpenAPI bounds them; returns a copy."""
    if len(labels) > MAX_LABELS:
        raise btp_error(400, f"At most {MAX_LABELS} labels are allowed, got {len(labels)}", path)
    for key, values in labels.items():
        if not key.strip() or len(key) > MAX_LABEL_LENGTH:
            raise btp_error(400, f"Label key {key!r} must be 1 to {MAX_LABEL_LENGTH} characters", path)
        if len(values) > MAX_LABEL_VALUES:
            raise btp_error(400, f"Label {key!r} has more than {MAX_LABEL_VALUES} values", path)
        if any(not value or len(value) > MAX_LABEL_LENGTH for value in values):
            raise btp_error(400, f"Values of label {key!r} must be 1 to {MAX_LABEL_LENGTH} characters", path)
    return {key: list(values) for key, values in labels.items()}


def check_display_name(path: str, name: str) -> None:
    if not name.strip() or "/" in name:
        raise btp_error(400, f"Invalid displayName {name!r}: it must be non-empty and contain no '/'", path)


def unusable(sub: Subaccount) -> str:
    """Why entitlements or the SM admin binding of ``sub`` cannot be changed now."""
    if sub.state != "OK":
        return f"Subaccount {sub.guid} is in state {sub.state}, not OK"
    return f"Subaccount {sub.guid} is pending deletion"


def label_filter(path: str, selector: str | None) -> Callable[[Subaccount], bool]:
    """``k1=v1 AND k2!=v2``: ``=`` holds when the label has the value, ``!=`` when it has not (also when
    the key is absent). A malformed selector is 400."""
    if selector is None or not selector.strip():
        return lambda sub: True
    terms: list[tuple[str, bool, str]] = []
    for raw in _AND.split(selector.strip()):
        match = _SELECTOR_TERM.match(raw.strip())
        if match is None:
            raise btp_error(
                400,
                f"Invalid labelSelector term {raw!r}: expected key=value or key!=value, terms joined by AND",
                path,
            )
        terms.append((match["key"], match["op"] == "=", match["value"]))

    def holds(sub: Subaccount) -> bool:
        return all((value in sub.labels.get(key, [])) == wanted for key, wanted, value in terms)

    return holds


class SubaccountLifecycle:
    """The subaccount operations of the Accounts API over the emulator's store."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.store = rt.store

    # -- rendering and reads ---------------------------------------------------------------------------------

    def render(self, sub: Subaccount) -> dict[str, Any]:
        """The full field set of §C.3 (``SubaccountResponseObject``)."""
        ga = self.rt.config.global_account_guid
        return {
            "guid": sub.guid,
            "technicalName": sub.technical_name or sub.guid,
            "displayName": sub.display_name,
            "globalAccountGUID": ga,
            "parentGUID": sub.parent_guid or ga,
            "parentType": "FOLDER" if sub.parent_guid else "ROOT",
            "parentFeatures": ["DEFAULT"],
            "region": sub.region,
            "subdomain": sub.subdomain,
            "betaEnabled": sub.beta_enabled,
            "usedForProduction": sub.used_for_production,
            "description": sub.description,
            "state": sub.state,
            "stateMessage": sub.state_message,
            "contractStatus": sub.contract_status,
            "labels": {key: list(values) for key, values in sub.labels.items()},
            "createdBy": sub.created_by,
            "createdDate": _millis(sub.created),
            "modifiedDate": _millis(sub.modified or sub.created),
        }

    def get(self, path: str, guid: str) -> Subaccount:
        """The subaccount (call under the store lock), or 404."""
        sub = self.store.subaccounts.get(guid)
        if sub is None:
            raise btp_error(404, f"Subaccount {guid} not found", path)
        return sub

    def listing(self, path: str, label_selector: str | None, directory: str | None) -> list[dict[str, Any]]:
        holds = label_filter(path, label_selector)
        with self.store.settled():
            return [
                self.render(sub)
                for sub in self.store.subaccounts.values()
                if holds(sub) and directory in (None, sub.parent_guid or self.rt.config.global_account_guid)
            ]

    # -- create ----------------------------------------------------------------------------------------------

    def create(
        self, path: str, body: SubaccountCreate, created_by: str, outcome: Callable[[], Outcome]
    ) -> dict[str, Any]:
        check_display_name(path, body.displayName)
        check_subdomain(path, body.subdomain)
        labels = check_labels(path, self._labels(body))
        config = self.rt.config
        if body.region not in config.entitled_regions():
            raise btp_error(
                400,
                f"Region {body.region!r} is not available to the global account; entitled regions: "
                f"{', '.join(sorted(config.entitled_regions()))}",
                path,
            )
        if body.parentGUID not in (None, config.global_account_guid, *config.directories):
            raise btp_error(404, f"Directory {body.parentGUID} not found", path)
        with self.store.settled() as now:
            self._check_subdomain_free(path, body.subdomain, body.region)
            failure, stuck = outcome()
            latency = self.rt.latencies.subaccount_create
            wall = self.rt.clock.wall()
            sub = Subaccount(
                new_id(),
                body.subdomain,
                body.displayName,
                body.region,
                "STARTED",
                "",
                wall,
                description=body.description or "",
                labels=labels,
                beta_enabled=body.betaEnabled,
                used_for_production=body.usedForProduction or "UNSET",
                parent_guid=None if body.parentGUID == config.global_account_guid else body.parentGUID,
                created_by=created_by,
                modified=wall,
                technical_name="N/A",
            )
            sub.job = SubaccountJob(
                "create",
                now,
                math.inf if stuck else now + latency,
                failure,
                creating_at=now + latency / 3,
            )
            self.store.subaccounts[sub.guid] = sub
            return self.render(sub)

    @staticmethod
    def _labels(body: SubaccountCreate) -> dict[str, list[str]]:
        """``labels``, else the deprecated single-valued ``customProperties`` (ignored next to labels)."""
        if body.labels is not None:
            return body.labels
        return {
            str(prop["key"]): [str(prop["value"])] if prop.get("value") else []
            for prop in body.customProperties or []
            if prop.get("key")
        }

    def _check_subdomain_free(self, path: str, subdomain: str, region: str) -> None:
        taken = subdomain == self.rt.config.global_account_subdomain or any(
            (s.subdomain, s.region) == (subdomain, region) for s in self.store.subaccounts.values()
        )
        if taken:
            raise btp_error(
                409,
                f"Subdomain {subdomain} already exists in region {region} "
                f"[Error: {CODE_SUBDOMAIN_TAKEN}/409]",
                path,
                CODE_SUBDOMAIN_TAKEN,
            )

    # -- update ----------------------------------------------------------------------------------------------

    def _idle(self, path: str, sub: Subaccount) -> None:
        if sub.contract_status == PENDING_DELETION:
            raise btp_error(409, f"Subaccount {sub.guid} is pending deletion", path)
        if sub.busy:
            raise btp_error(
                409,
                f"Subaccount {sub.guid} is currently being modified by another process (state {sub.state})",
                path,
            )

    def update(
        self, path: str, guid: str, body: SubaccountUpdate, outcome: Callable[[], Outcome]
    ) -> dict[str, Any]:
        check_display_name(path, body.displayName)
        labels = None if body.labels is None else check_labels(path, body.labels)
        with self.store.settled() as now:
            sub = self.get(path, guid)
            self._idle(path, sub)
            for name, wanted, current in (
                ("subdomain", body.subdomain, sub.subdomain),
                ("region", body.region, sub.region),
            ):
                if wanted is not None and wanted != current:
                    raise btp_error(400, f"The {name} of a subaccount cannot be changed", path)
            if sub.state not in UPDATABLE_STATES:
                raise btp_error(409, f"Subaccount {guid} is in state {sub.state} and cannot be updated", path)
            if sub.beta_enabled and body.betaEnabled is False:
                raise btp_error(400, "betaEnabled cannot be switched off once it is enabled", path)
            changes: dict[str, Any] = {"display_name": body.displayName}
            if body.description is not None:
                changes["description"] = body.description
            if labels is not None:
                changes["labels"] = labels
            if body.betaEnabled is not None:
                changes["beta_enabled"] = body.betaEnabled
            if body.usedForProduction is not None:
                changes["used_for_production"] = body.usedForProduction
            failure, stuck = outcome()
            latency = self.rt.latencies.subaccount_update
            sub.job = SubaccountJob(
                "update", now, math.inf if stuck else now + latency, failure, changes, prior=sub.state_message
            )
            sub.state, sub.state_message = "UPDATING", "Updating subaccount."
            sub.modified = self.rt.clock.wall()
            self.store.settle()  # a zero-latency update answers already applied (the fixture's behaviour)
            return self.render(sub)

    # -- delete ----------------------------------------------------------------------------------------------

    def delete(self, path: str, guid: str, force: bool, outcome: Callable[[], Outcome]) -> dict[str, Any]:
        with self.store.settled() as now:
            sub = self.get(path, guid)
            self._idle(path, sub)
            if force and not self.rt.config.force_delete:
                raise btp_error(
                    400, "Force delete of subaccounts is not enabled for this global account", path
                )
            instances, bindings = self.store.contents(guid)
            if (instances or bindings) and not force:
                left = [f"service instance {i.name} ({i.id})" for i in instances]
                left += [f"service binding {b.name} ({b.id})" for b in bindings]
                raise btp_error(
                    400,
                    f"Subaccount {guid} is not empty; delete its content first or use forceDelete=true: "
                    + ", ".join(left),
                    path,
                )
            failure, stuck = outcome()
            latency = self.rt.latencies.subaccount_delete
            sub.job = SubaccountJob("delete", now, math.inf if stuck else now + latency, failure, force=force)
            sub.state, sub.state_message = "DELETING", "Deleting subaccount."
            sub.modified = self.rt.clock.wall()
            return self.render(sub)

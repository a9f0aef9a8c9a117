"""``SubaccountCheck``: verifies that the tenant's subaccount exists, is ``OK`` and is in the expected region.

Read-only: btp-infra never creates or deletes subaccounts, so delete is a no-op. It is the first resource of
a tenant, registered before anything else is written, so it also guards the tenant's identity: ``check``
refuses a changed ``namespace`` (renaming a tenant would delete its namespace with everything in it and
remap its subaccount) and a changed ``subaccountId`` (moving a tenant orphans the operator's instances)
before any step of the update runs. Refresh records the live state and region; a subaccount that is no
longer ``OK`` or moved region shows as a change that ``up`` reports.
"""

from __future__ import annotations

from typing import Any, TypedDict

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

from btp_infra.btp.accounts import Subaccount
from btp_infra.btp.errors import BtpError, NotFoundError
from btp_infra.providers.base import BtpProvider, is_unknown
from btp_infra.providers.spec import ResourceSpec, required_str


class SubaccountCheckInputs(TypedDict):
    """The inputs, by their names in state."""

    subaccountId: pulumi.Input[str]
    region: pulumi.Input[str] | None
    namespace: str


class SubaccountCheckOutputs(TypedDict):
    """The computed outputs (``None`` until created)."""

    displayName: str | None
    subdomain: str | None
    subaccountRegion: str | None
    state: str | None


SPEC = ResourceSpec.of(
    SubaccountCheckInputs,
    SubaccountCheckOutputs,
    replace_on=("subaccountId",),
    checks={"subaccountId": required_str},
)


def rename_failure(olds: dict[str, Any], news: dict[str, Any]) -> CheckFailure | None:
    """A failure when the tenant's namespace differs from the one in state (``None``: same, or first run)."""
    before, after = olds.get("namespace"), news.get("namespace")
    if not isinstance(before, str) or not before or is_unknown(after) or before == after:
        return None
    return CheckFailure(
        "namespace",
        f"btp-infra:namespace changed from {before!r} to {after!r}: renaming a tenant is refused (it would "
        f"delete namespace {before!r} with everything in it and strand the operator's objects). Keep "
        f"btp-infra:namespace: {before}, or offboard this tenant (pulumi destroy) and onboard {after!r} as a "
        "new stack",
    )


def remap_failure(olds: dict[str, Any], news: dict[str, Any]) -> CheckFailure | None:
    """A failure when the tenant's subaccount differs from the one in state (``None``: same, or first run).

    Moving a deployed tenant to another subaccount would replace its operator access there and point the
    operator Secret at it: the operator's ServiceInstances of the namespace live in the old subaccount, and
    with the new credentials the operator no longer finds them — orphaned, still billed (btp-api.md §A.3,
    B.9 "Visibility"). This resource is registered first, so the refusal comes before any step runs."""
    before, after = olds.get("subaccountId"), news.get("subaccountId")
    if not isinstance(before, str) or not before or not isinstance(after, str) or before == after:
        return None
    namespace = news.get("namespace") or olds.get("namespace")
    return CheckFailure(
        "subaccountId",
        f"btp-infra:subaccountId changed from {before!r} to {after!r}: moving tenant {namespace!r} to "
        f"another subaccount is refused (the operator's instances of the namespace live in {before}; with "
        f"credentials of {after} the operator no longer finds them and they are orphaned). Keep "
        f"btp-infra:subaccountId: {before}, or offboard this tenant (btp-infra destroy) and bring it up "
        f"again in {after}",
    )


class SubaccountCheckProvider(BtpProvider):
    """Looks the subaccount up through the Accounts API."""

    spec = SPEC

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [f for f in (rename_failure(olds, news), remap_failure(olds, news)) if f is not None]
        return SPEC.check(news, *failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = SPEC.diff(olds, news)
        if result.changes:
            return result
        # Drift found by refresh (the live state and region are outputs): `up` verifies again and reports it.
        region = news.get("region")
        drifted = olds.get("state") not in (None, "OK") or (
            bool(region) and olds.get("subaccountRegion") not in (None, region)
        )
        return DiffResult(changes=drifted, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._verify(props)
        return CreateResult(props["subaccountId"], outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._verify(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            sub = self.accounts().get_subaccount(id_)
        except NotFoundError:
            return ReadResult("", {})
        return ReadResult(id_, {**props, **_outputs(sub)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete: the subaccount is not owned by btp-infra."""

    def _verify(self, props: dict[str, Any]) -> dict[str, Any]:
        guid = props["subaccountId"]
        try:
            sub = self.accounts().get_subaccount(guid)
        except NotFoundError as err:
            raise BtpError(
                f"subaccount {guid} was not found in the global account of the cis service key; "
                "check btp-infra:subaccountId",
                status=404,
                code=err.code,
            ) from None
        if sub.state != "OK":
            raise BtpError(
                f"subaccount {guid} is in state {sub.state}, not OK ({sub.state_message or 'no message'})"
            )
        region = props.get("region")
        if region and sub.region != region:
            raise BtpError(
                f"subaccount {guid} is in region {sub.region}, but btp-infra:region is {region}; "
                "fix the stack config or the subaccount id"
            )
        return {**SPEC.inputs_of(props), **_outputs(sub)}


def _outputs(sub: Subaccount) -> SubaccountCheckOutputs:
    return {
        "displayName": sub.display_name,
        "subdomain": sub.subdomain,
        "subaccountRegion": sub.region,
        "state": sub.state,
    }


class SubaccountCheck(Resource, module="btp", name="SubaccountCheck"):
    """The tenant's subaccount, verified (exists, state OK, region as configured)."""

    # Output attributes carry the wire (state) names, as for every dynamic resource.
    subaccountId: pulumi.Output[str]
    subdomain: pulumi.Output[str]
    subaccountRegion: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        subaccount_id: pulumi.Input[str],
        namespace: str,
        region: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs: SubaccountCheckInputs = {
            "subaccountId": subaccount_id,
            "region": region,
            "namespace": namespace,
        }
        super().__init__(SubaccountCheckProvider(), name, SPEC.props(inputs), opts)

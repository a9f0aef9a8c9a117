"""``ServiceBinding``: a Service Manager binding whose credentials become the operator Secret.

The ``credentials`` output is always a Pulumi secret (``additional_secret_outputs``). A binding cannot be
updated except for its labels, so every other change replaces it; the binding name carries the credential
type (and the rotation key, ``btp-infra:credentialRotation``), so switching type or rotating creates the new
binding before the old one is deleted. A create succeeds only once the new credentials obtain a token
(:func:`~btp_infra.btp.credential_check.confirm_token`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi.dynamic import CheckFailure, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from btp_infra.btp import sm_models
from btp_infra.btp.credential_check import CREDENTIAL_CHECK_TIMEOUT, confirm_token, untrusted_endpoint
from btp_infra.btp.errors import BtpError
from btp_infra.btp.http import Deadline
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import binding_parameters, label_changes, managed_labels
from btp_infra.conventions import (
    CREDENTIAL_TYPES,
    DEFAULT_CREDENTIAL_TYPE,
    DEFAULT_TIMEOUTS,
    ROLLBACK_TIMEOUT,
)
from btp_infra.providers.adoption import (
    adopted_outputs,
    carry_ownership,
    check_name,
    check_unclaimed,
    give_back,
    is_kept,
    label_in_place,
    refuse,
)
from btp_infra.providers.base import BtpProvider, is_unknown, log
from btp_infra.providers.instance import read_or_keep
from btp_infra.providers.spec import (
    ResourceSpec,
    adopt_lookup,
    optional_bool,
    optional_mapping,
    optional_timeout,
    required_str,
    sm_labels,
)


def credential_type(news: Mapping[str, Any], key: str, failures: list[CheckFailure]) -> None:
    """One of :data:`~btp_infra.conventions.CREDENTIAL_TYPES` (required)."""
    value = news.get(key)
    if not is_unknown(value) and value not in CREDENTIAL_TYPES:
        failures.append(CheckFailure(key, f"{key} must be one of {CREDENTIAL_TYPES}, got {value!r}"))


class ServiceBindingInputs(TypedDict):
    """The inputs, by their names in state."""

    subaccountId: pulumi.Input[str]
    serviceInstanceId: pulumi.Input[str]
    name: str
    credentialType: str
    parameters: dict[str, Any]
    labels: dict[str, list[str]]
    timeoutSeconds: float | None
    # Adoption (btp-infra:adopt), as for the instance: both None unless adopting.
    adopt: str | bool | None
    takeOwnership: bool | None


class ServiceBindingOutputs(TypedDict):
    """The computed outputs (``None`` until created)."""

    bindingId: str | None
    credentials: dict[str, Any] | None
    # Set by an adopting create only (and carried over).
    adopted: NotRequired[bool | None]
    previousLabels: NotRequired[dict[str, list[str]] | None]


SPEC = ResourceSpec.of(
    ServiceBindingInputs,
    ServiceBindingOutputs,
    # Only the labels (and the behaviour-only timeout) change in place; everything else makes a new binding.
    replace_on=("subaccountId", "serviceInstanceId", "name", "credentialType", "parameters"),
    checks={
        "subaccountId": required_str,
        "serviceInstanceId": required_str,
        "name": required_str,
        "credentialType": credential_type,
        "parameters": optional_mapping,
        "labels": sm_labels,
        "timeoutSeconds": optional_timeout,
        "adopt": adopt_lookup,
        "takeOwnership": optional_bool,
    },
    secret_outputs=("credentials",),
)


class ServiceBindingProvider(BtpProvider):
    """Creates, adopts and deletes an SM service binding; only labels update in place."""

    spec = SPEC
    default_timeout = float(DEFAULT_TIMEOUTS["binding"])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Same name → the old binding must go first, or the by-name adoption would pick it up again.
        # An unknown name may be the same one.
        same_name = is_unknown(news.get("name")) or olds.get("name") == news.get("name")
        return SPEC.diff(olds, news, delete_before_replace=same_name)

    def create(self, props: dict[str, Any]) -> CreateResult:
        if props.get("adopt"):
            return self._adopt(props)
        sm = self.service_manager(props["subaccountId"])
        deadline = Deadline(self.timeout_of(props))
        binding = sm.create_binding(
            props["name"],
            props["serviceInstanceId"],
            parameters=binding_parameters(props["credentialType"], props.get("parameters")),
            labels=props.get("labels") or None,
            timeout=deadline.remaining(),
        )
        outputs = _outputs(binding)
        self._confirm_token(sm, binding.id, props, outputs, deadline)
        return CreateResult(binding.id, {**SPEC.inputs_of(props), **outputs})

    def _confirm_token(
        self,
        sm: ServiceManagerClient,
        binding_id: str,
        props: Mapping[str, Any],
        outputs: ServiceBindingOutputs,
        deadline: Deadline,
    ) -> None:
        """The new credentials obtain a token before the create succeeds — so before the engine updates the
        operator Secret with them and deletes the old binding (a create-before-delete replacement). New
        credentials may take a moment: retried within what is left of the binding's timeout (at most
        :data:`~btp_infra.btp.credential_check.CREDENTIAL_CHECK_TIMEOUT`). Credentials that never work fail
        the create, and the binding is deleted again (Pulumi records no failed create, so nothing else would
        delete it; should that delete fail, the next create adopts the binding by name and checks again)."""
        what = f"binding {props['name']}"
        try:
            confirm_token(
                outputs["credentials"] or {},
                what=what,
                timeout=max(1.0, min(CREDENTIAL_CHECK_TIMEOUT, deadline.remaining())),
                policy=self.poll_policy,
            )
        except BtpError as err:
            if untrusted_endpoint(err):  # inconclusive, not a credential failure (see REQUESTS_CA_BUNDLE)
                log.warning("btp-infra: %s: could not confirm its credentials: %s", what, err)
                return
            try:
                sm.delete_binding(binding_id, timeout=ROLLBACK_TIMEOUT)
            except Exception as err:
                log.warning("btp-infra: could not delete %s after its failed token check: %s", what, err)
            raise

    def _adopt(self, props: dict[str, Any]) -> CreateResult:
        """Take over the hand-made binding named in ``btp-infra:adopt``: a binding of the (adopted) instance
        with the declared name and credential type; its credentials become the Secret's as they are (the
        hand-made Secret holds the same values, so it does not change), its labels are added in place."""
        guid, name, adopt = props["subaccountId"], props["name"], props["adopt"]
        instance_id = props["serviceInstanceId"]
        sm = self.service_manager(guid)
        found = sm.get_binding(adopt) if isinstance(adopt, str) else sm.find_binding(name, instance_id)
        where = f"instance {instance_id} in subaccount {guid}"
        if found is None:
            raise refuse(
                "binding",
                adopt,
                name,
                f"is no binding of {where} (deleted, or in another subaccount)",
                f"the id or name of the binding whose credentials the tenant's Secret holds, on {where}",
            )
        if found.service_instance_id != instance_id:
            raise refuse(
                "binding",
                adopt,
                name,
                f"is a binding of instance {found.service_instance_id}, not of the adopted {instance_id}",
                "a binding of the instance named in btp-infra:adopt",
            )
        check_name("binding", adopt, name, found)
        actual = found.binding_credentials().credential_type
        if actual != props["credentialType"]:
            raise refuse(
                "binding",
                adopt,
                name,
                f"holds {actual} credentials, not {props['credentialType']}",
                f"set btp-infra:credentialType: {actual}",
            )
        check_unclaimed("binding", adopt, name, found, props.get("labels"))
        ops = label_in_place(found, props.get("labels"))
        binding = sm.update_binding(found.id, label_ops=ops, timeout=self.timeout_of(props)) if ops else found
        if not binding.credentials.get_secret_value():  # a PATCH answer may omit them
            binding = found
        outs = {**SPEC.inputs_of(props), **_outputs(binding), **adopted_outputs(found, props["labels"])}
        return CreateResult(binding.id, outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        outs = {**olds, **SPEC.inputs_of(news), **carry_ownership(olds)}
        ops = label_changes(olds.get("labels"), news.get("labels"))
        if not ops:  # only behaviour changed (e.g. the timeout): recorded, nothing to call
            return UpdateResult(outs)
        binding = self.service_manager(news["subaccountId"]).update_binding(id_, label_ops=ops)
        outs.update(_outputs(binding))
        return UpdateResult(outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        sm = read_or_keep(self, props["subaccountId"], f"binding {props.get('name')}")
        if sm is False:
            return ReadResult(id_, props)
        binding = sm.get_binding(id_) if sm is not None else None
        if binding is None:
            return ReadResult("", {})
        outs = {**props, **_outputs(binding), "labels": managed_labels(binding.labels, props.get("labels"))}
        return ReadResult(id_, outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with self.cleanup_service_manager(props["subaccountId"], f"binding {props.get('name')}") as sm:
            if sm is None:
                return
            if is_kept(props):
                give_back(sm, "binding", id_, props, timeout=self.timeout_of(props))
                return
            sm.delete_binding(id_, timeout=self.timeout_of(props))


def _outputs(binding: sm_models.ServiceBinding) -> ServiceBindingOutputs:
    return {"bindingId": binding.id, "credentials": dict(binding.credentials.get_secret_value())}


class ServiceBinding(Resource, module="btp", name="ServiceBinding"):
    """A Service Manager binding; ``credentials`` is a secret output."""

    subaccountId: pulumi.Output[str]
    bindingId: pulumi.Output[str]
    adopted: pulumi.Output[bool]
    credentials: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        name: str,
        *,
        subaccount_id: pulumi.Input[str],
        service_instance_id: pulumi.Input[str],
        binding_name: str,
        credential_type: str = DEFAULT_CREDENTIAL_TYPE,
        parameters: Mapping[str, Any] | None = None,
        labels: Mapping[str, list[str]] | None = None,
        timeout_seconds: float | None = None,
        adopt: str | bool | None = None,
        take_ownership: bool | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs: ServiceBindingInputs = {
            "subaccountId": subaccount_id,
            "serviceInstanceId": service_instance_id,
            "name": binding_name,
            "credentialType": credential_type,
            "parameters": dict(parameters or {}),
            "labels": {k: list(v) for k, v in (labels or {}).items()},
            "timeoutSeconds": timeout_seconds,
            "adopt": adopt or None,
            "takeOwnership": take_ownership if adopt else None,
        }
        super().__init__(ServiceBindingProvider(), name, SPEC.props(inputs), SPEC.options(opts))

"""``ServiceBinding``: a Service Manager binding whose credentials become the operator Secret.

The ``credentials`` output is always a Pulumi secret (``additional_secret_outputs``). A binding cannot be
updated except for its labels, so every other change replaces it; the binding name carries the credential
type, so switching type creates the new binding before the old one is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import pulumi
from pulumi.dynamic import CheckFailure, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from btp_infra.btp import sm_models
from btp_infra.btp.sm_models import binding_parameters, label_changes, managed_labels
from btp_infra.conventions import CREDENTIAL_TYPES, DEFAULT_CREDENTIAL_TYPE, DEFAULT_TIMEOUTS
from btp_infra.providers.base import BtpProvider, is_unknown
from btp_infra.providers.instance import read_or_keep
from btp_infra.providers.spec import (
    ResourceSpec,
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


class ServiceBindingOutputs(TypedDict):
    """The computed outputs (``None`` until created)."""

    bindingId: str | None
    credentials: dict[str, Any] | None


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
        sm = self.service_manager(props["subaccountId"])
        binding = sm.create_binding(
            props["name"],
            props["serviceInstanceId"],
            parameters=binding_parameters(props["credentialType"], props.get("parameters")),
            labels=props.get("labels") or None,
            timeout=self.timeout_of(props),
        )
        return CreateResult(binding.id, {**SPEC.inputs_of(props), **_outputs(binding)})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        outs = {**olds, **SPEC.inputs_of(news)}
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
            if sm is not None:
                sm.delete_binding(id_, timeout=self.timeout_of(props))


def _outputs(binding: sm_models.ServiceBinding) -> ServiceBindingOutputs:
    return {"bindingId": binding.id, "credentials": dict(binding.credentials.get_secret_value())}


class ServiceBinding(Resource, module="btp", name="ServiceBinding"):
    """A Service Manager binding; ``credentials`` is a secret output."""

    subaccountId: pulumi.Output[str]
    bindingId: pulumi.Output[str]
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
        }
        super().__init__(ServiceBindingProvider(), name, SPEC.props(inputs), SPEC.options(opts))

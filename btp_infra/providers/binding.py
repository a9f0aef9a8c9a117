"""``ServiceBinding``: a Service Manager binding whose credentials become the operator Secret.

The ``credentials`` output is always a Pulumi secret (``additional_secret_outputs``). A binding cannot be
updated except for its labels, so every other change replaces it; the binding name carries the credential
type, so switching type creates the new binding before the old one is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
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

from btp_infra.btp.sm_models import binding_parameters
from btp_infra.providers.base import (
    BtpProvider,
    check_result,
    diff_inputs,
    inputs_of,
    is_unknown,
    require_labels,
    require_mapping,
    require_str,
    require_timeout,
)
from btp_infra.providers.instance import label_changes, managed_labels, read_or_keep

INPUTS = (
    "subaccountId",
    "serviceInstanceId",
    "name",
    "credentialType",
    "parameters",
    "labels",
    "timeoutSeconds",
)
REPLACE_ON = ("subaccountId", "serviceInstanceId", "name", "credentialType", "parameters")
CREDENTIAL_TYPES = ("client-secret", "x509")


class ServiceBindingProvider(BtpProvider):
    """Creates, adopts and deletes an SM service binding; only labels update in place."""

    default_timeout = 600.0

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        for key in ("subaccountId", "serviceInstanceId", "name"):
            require_str(news, key, failures)
        ctype = news.get("credentialType")
        if not is_unknown(ctype) and ctype not in CREDENTIAL_TYPES:
            failures.append(
                CheckFailure(
                    "credentialType", f"credentialType must be one of {CREDENTIAL_TYPES}, got {ctype!r}"
                )
            )
        require_mapping(news, "parameters", failures)
        require_labels(news, failures)
        require_timeout(news, failures)
        return check_result(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Same name → the old binding must go first, or the by-name adoption would pick it up again.
        # An unknown name may be the same one.
        same_name = is_unknown(news.get("name")) or olds.get("name") == news.get("name")
        return diff_inputs(olds, news, keys=INPUTS, replace_keys=REPLACE_ON, delete_before_replace=same_name)

    def create(self, props: dict[str, Any]) -> CreateResult:
        sm = self.service_manager(props["subaccountId"])
        binding = sm.create_binding(
            props["name"],
            props["serviceInstanceId"],
            parameters=binding_parameters(props["credentialType"], props.get("parameters")),
            labels=props.get("labels") or None,
            timeout=self.timeout_of(props),
        )
        return CreateResult(binding.id, {**inputs_of(props, INPUTS), **_outputs(binding)})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        outs = {**olds, **inputs_of(news, INPUTS)}
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


def _outputs(binding: Any) -> dict[str, Any]:
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
        credential_type: str = "client-secret",
        parameters: Mapping[str, Any] | None = None,
        labels: Mapping[str, list[str]] | None = None,
        timeout_seconds: float | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "subaccountId": subaccount_id,
            "serviceInstanceId": service_instance_id,
            "name": binding_name,
            "credentialType": credential_type,
            "parameters": dict(parameters or {}),
            "labels": {k: list(v) for k, v in (labels or {}).items()},
            "timeoutSeconds": timeout_seconds,
            "bindingId": None,
            "credentials": None,
        }
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=["credentials"])
        super().__init__(
            ServiceBindingProvider(), name, props, pulumi.ResourceOptions.merge(secret_opts, opts)
        )

"""``TenantNamespace``: one Kyma namespace mapped 1:1 to one BTP subaccount.

subaccount check → SM admin access (the tenant's claim on the subaccount) → entitlements →
``service-operator-access`` instance → binding → Namespace → operator Secret → guardrails. Dependencies make
the order explicit both ways: on destroy the Secret goes before the binding, and the namespace after the
Secret. Children are named ``<name>-<role>`` after the component, whose name is constant
(:data:`~btp_infra.config.TENANT_RESOURCE`), so no config value is part of a URN. ``protect`` covers every
child. Output ``adopted`` lists the BTP objects that existed before the stack (kept on destroy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from btp_infra.components.guardrails import build_guardrails
from btp_infra.config import TenantConfig
from btp_infra.operator_secret import SECRET_LABELS, secret_data
from btp_infra.providers import (
    ServiceBinding,
    ServiceInstance,
    ServiceManagerAccess,
    SubaccountCheck,
    SubaccountEntitlement,
)

OPERATOR_OFFERING = "service-manager"
OPERATOR_PLAN = "service-operator-access"


class TenantNamespace(pulumi.ComponentResource):
    """A tenant namespace whose BTP Service Operator resources land in the tenant's own subaccount."""

    namespace_name: pulumi.Output[str]
    subaccount_id: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    secret_namespace: pulumi.Output[str]
    instance_id: pulumi.Output[str]
    binding_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: TenantConfig,
        *,
        k8s_provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # `protect` covers the whole tenant: under `pulumi destroy --skip-preview` the engine deletes
        # dependents first and checks protection per resource (step.go, DeleteStep.Apply), so a protected
        # namespace alone would lose its Secret and guardrails before the destroy stops.
        protect = config.protect
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=protect))
        super().__init__("btp-infra:index:TenantNamespace", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self, protect=protect)
        kube = pulumi.ResourceOptions(parent=self, provider=k8s_provider, protect=protect)
        timeouts = config.timeouts
        sm_labels = config.sm_labels

        subaccount = SubaccountCheck(
            f"{name}-subaccount",
            subaccount_id=config.subaccount_id,
            namespace=config.namespace,
            region=config.region,
            opts=child,
        )
        # Admin access (and with it the claim check: one subaccount, one tenant) comes before anything is
        # written to the subaccount; entitlements depend on it, so on destroy they go first, while Service
        # Manager can still tell whether anything else uses them.
        access = ServiceManagerAccess(
            f"{name}-sm-access",
            subaccount_id=subaccount.subaccountId,
            tenant=config.namespace,
            take_ownership=config.take_ownership,
            timeout_seconds=timeouts.admin_access,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(custom_timeouts=_custom_timeouts(timeouts.admin_access))
            ),
        )
        entitlements: dict[tuple[str, str], SubaccountEntitlement] = {}
        old_names = _old_entitlement_names(name, config)
        for spec in config.all_entitlements:
            old_name = old_names.get(spec.key)
            entitlements[(spec.service, spec.plan)] = SubaccountEntitlement(
                entitlement_resource_name(name, spec.service, spec.plan),
                subaccount_id=access.subaccountId,
                service_name=spec.service,
                plan_name=spec.plan,
                amount=spec.amount,
                tenant=config.namespace,
                take_ownership=config.take_ownership,
                timeout_seconds=timeouts.entitlement,
                opts=pulumi.ResourceOptions.merge(
                    child,
                    pulumi.ResourceOptions(
                        custom_timeouts=_custom_timeouts(timeouts.entitlement),
                        aliases=[pulumi.Alias(name=old_name)] if old_name else None,
                    ),
                ),
            )
        instance = ServiceInstance(
            f"{name}-operator-access",
            subaccount_id=access.subaccountId,
            instance_name=config.instance_name,
            service_offering_name=OPERATOR_OFFERING,
            service_plan_name=OPERATOR_PLAN,
            labels=sm_labels,
            timeout_seconds=timeouts.instance,
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    depends_on=[entitlements[(OPERATOR_OFFERING, OPERATOR_PLAN)]],
                    custom_timeouts=_custom_timeouts(timeouts.instance),
                ),
            ),
        )
        binding = ServiceBinding(
            f"{name}-operator-access-binding",
            subaccount_id=access.subaccountId,
            # The resource id, not the computed output `instanceId`: an id is known in the preview of an
            # update, outputs are not (the engine previews a dynamic resource's update as its new inputs), so
            # any in-place change of the instance would otherwise preview as a replacement of the binding.
            service_instance_id=instance.id,
            binding_name=config.binding_name,
            credential_type=config.credential_type,
            parameters=config.binding_parameters,  # x509 validity / key length; {} = SM's defaults
            labels=sm_labels,
            timeout_seconds=timeouts.binding,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(custom_timeouts=_custom_timeouts(timeouts.binding))
            ),
        )
        # The namespace waits for the credentials, so the Secret follows it at once and nothing can be
        # provisioned in the namespace against the cluster's default subaccount in between (btp-api.md §0.3).
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": config.namespace, "labels": config.namespace_labels},
            opts=pulumi.ResourceOptions.merge(kube, pulumi.ResourceOptions(depends_on=[binding])),
        )
        credential_type = config.credential_type
        string_data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
            binding.credentials.apply(lambda c: secret_data(c, credential_type))
        )
        secret_ns: pulumi.Input[str] = (
            namespace.metadata.name if config.secret_placement == "namespace" else config.secret_namespace
        )
        secret = k8s.core.v1.Secret(
            f"{name}-operator-secret",
            metadata={
                "name": config.secret_name,
                "namespace": secret_ns,
                "labels": {**SECRET_LABELS, "btp-infra.io/tenant": config.namespace},
            },
            type="Opaque",
            string_data=string_data,
            opts=pulumi.ResourceOptions.merge(kube, pulumi.ResourceOptions(depends_on=[namespace, binding])),
        )
        guardrails = build_guardrails(
            name,
            namespace.metadata.name,
            config,
            pulumi.ResourceOptions.merge(kube, pulumi.ResourceOptions(depends_on=[secret])),
        )

        self.namespace_name = namespace.metadata.name
        self.subaccount_id = subaccount.subaccountId
        self.secret_name = secret.metadata.name
        self.secret_namespace = secret.metadata.namespace
        self.instance_id = instance.id
        self.binding_id = binding.bindingId
        adopted_parts: list[pulumi.Output[list[str]]] = [
            access.adopted.apply(lambda adopted: ["serviceManagementBinding"] if adopted else [])
        ]
        for (service, plan), entitlement in entitlements.items():
            label = f"entitlement {service}/{plan}"
            adopted_parts.append(entitlement.adopted.apply(_listed_if(label)))
        self.adopted: pulumi.Output[list[str]] = pulumi.Output.all(*adopted_parts).apply(
            lambda parts: [item for part in parts for item in part]
        )
        self.resources: dict[str, Any] = {
            "subaccount": subaccount,
            "entitlements": entitlements,
            "access": access,
            "instance": instance,
            "binding": binding,
            "namespace": namespace,
            "secret": secret,
            "guardrails": guardrails,
        }
        self.register_outputs(
            {
                "namespace": self.namespace_name,
                "subaccountId": self.subaccount_id,
                "secretName": self.secret_name,
                "secretNamespace": self.secret_namespace,
                "instanceId": self.instance_id,
                "bindingId": self.binding_id,
                "adopted": self.adopted,
            }
        )


def entitlement_resource_name(parent: str, service: str, plan: str) -> str:
    """The Pulumi name of an entitlement: ``<parent>-entitlement-<service>/<plan>``.

    Service and plan names never contain ``/`` (config ``_BTP_NAME_RE``: letters, digits, ``.``, ``_``,
    ``-``), so distinct plans get distinct names. The old form ``<service>-<plan>`` gave ``foo-bar/baz`` and
    ``foo/bar-baz`` one name, which the engine refuses ("Duplicate resource URN").
    """
    return f"{parent}-entitlement-{service}/{plan}"


def _old_entitlement_names(parent: str, config: TenantConfig) -> dict[tuple[str, str], str]:
    """The name each entitlement had before :func:`entitlement_resource_name`, to alias it (no replacement).

    Where two entitlements had one old name, only the one declared first gets it: two resources claiming one
    old resource stop the engine ("Duplicate resource alias", ``step_generator.go`` ``getOldResource``), and a
    stack can only have been made with one of them — the earlier entry, before the later one was added.
    """
    owners: dict[str, tuple[str, str]] = {}
    for spec in config.all_entitlements:
        owners.setdefault(f"{parent}-entitlement-{spec.service}-{spec.plan}", spec.key)
    return {key: old for old, key in owners.items()}


def _listed_if(label: str) -> Callable[[bool | None], list[str]]:
    return lambda adopted: [label] if adopted else []


def _custom_timeouts(seconds: float | None) -> pulumi.CustomTimeouts | None:
    if not seconds:
        return None
    text = f"{int(seconds)}s"
    return pulumi.CustomTimeouts(create=text, update=text, delete=text)

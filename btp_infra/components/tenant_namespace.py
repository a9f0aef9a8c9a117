"""``TenantNamespace``: one Kyma namespace mapped 1:1 to one BTP subaccount.

subaccount check (or the subaccount the stack creates, :class:`~btp_infra.providers.Subaccount`) → SM admin
access (the tenant's claim on the subaccount) → entitlements → ``service-operator-access`` instance → binding
→ Namespace → operator Secret → guardrails. Dependencies make the order explicit both ways: on destroy the
Secret goes before the binding, and the namespace after the Secret; a created subaccount goes last of all
(offboarding: guardrails → Secret → namespace → binding → instance → admin access → entitlements →
subaccount, the admin access's delete sweeping this tenant's leftovers first). With a subaccount mapped by
``subaccountId`` entitlements depend on the admin access instead: the claim check runs before any is written,
and their delete can still ask Service Manager whether a plan is used.
Children are named ``<name>-<role>`` after the component, whose name is constant
(:data:`~btp_infra.conventions.TENANT_RESOURCE`), so no config value is part of a URN. ``protect`` covers
every child. Output ``adopted`` lists the objects that existed before the stack (kept on destroy unless
``takeOwnership``): admin access and entitlements found in place, and what ``btp-infra:adopt`` names — the
instance and binding (found by the providers), the Namespace and the Secret (imported, see
:meth:`TenantNamespace._kubernetes_adoption`).

Takes :class:`~btp_infra.components.args.TenantNamespaceArgs` (what to build; no credentials): the program
maps the stack config to them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pulumi
import pulumi_kubernetes as k8s

from btp_infra.components.args import EntitlementArgs, TenantNamespaceArgs
from btp_infra.components.guardrails import build_guardrails
from btp_infra.conventions import (
    LABEL_SUBACCOUNT,
    OPERATOR_OFFERING,
    OPERATOR_PLAN,
    SUBACCOUNT_TIMEOUT,
    TYPE_TENANT_NAMESPACE,
)
from btp_infra.operator_secret import secret_data
from btp_infra.providers import (
    ServiceBinding,
    ServiceInstance,
    ServiceManagerAccess,
    Subaccount,
    SubaccountCheck,
    SubaccountEntitlement,
)


class TenantNamespace(pulumi.ComponentResource):
    """A tenant namespace whose BTP Service Operator resources land in the tenant's own subaccount.

    Children are typed attributes: the BTP chain (:attr:`subaccount`, :attr:`access`, :attr:`entitlements`,
    :attr:`instance`, :attr:`binding`), then :attr:`namespace`, :attr:`secret` and :attr:`guardrails`.
    """

    subaccount: SubaccountCheck | Subaccount
    access: ServiceManagerAccess
    entitlements: dict[tuple[str, str], SubaccountEntitlement]
    instance: ServiceInstance
    binding: ServiceBinding
    namespace: k8s.core.v1.Namespace
    secret: k8s.core.v1.Secret
    guardrails: list[pulumi.Resource]

    namespace_name: pulumi.Output[str]
    subaccount_id: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    secret_namespace: pulumi.Output[str]
    instance_id: pulumi.Output[str]
    binding_id: pulumi.Output[str]
    adopted: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: TenantNamespaceArgs,
        *,
        k8s_provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # `protect` covers the whole tenant: under `pulumi destroy --skip-preview` the engine deletes
        # dependents first and checks protection per resource (step.go, DeleteStep.Apply), so a protected
        # namespace alone would lose its Secret and guardrails before the destroy stops.
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=args.protect))
        super().__init__(TYPE_TENANT_NAMESPACE, name, {}, opts)
        self._build_btp_chain(name, args)
        self._build_namespace_and_secret(
            name, args, pulumi.ResourceOptions(parent=self, provider=k8s_provider, protect=args.protect)
        )

        self.namespace_name = self.namespace.metadata.name
        self.subaccount_id = self._subaccount_guid
        self.secret_name = self.secret.metadata.name
        self.secret_namespace = self.secret.metadata.namespace
        self.instance_id = self.instance.id
        self.binding_id = self.binding.bindingId
        self.adopted = _adopted(self.access, self.entitlements, self.instance, self.binding, args)
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

    def _build_btp_chain(self, name: str, args: TenantNamespaceArgs) -> None:
        """Subaccount check → admin access → entitlements → operator-access instance → binding."""
        child = pulumi.ResourceOptions(parent=self, protect=args.protect)
        timeouts = args.timeouts
        sm_labels = {k: list(v) for k, v in args.sm_labels.items()}

        def with_timeout(
            seconds: int,
            *,
            depends_on: list[pulumi.Resource] | None = None,
            aliases: list[pulumi.Alias] | None = None,
        ) -> pulumi.ResourceOptions:
            extra = pulumi.ResourceOptions(
                custom_timeouts=_custom_timeouts(seconds), depends_on=depends_on, aliases=aliases
            )
            return pulumi.ResourceOptions.merge(child, extra)

        created = args.subaccount
        if created is not None:
            # No protect beyond the tenant's: a usedForProduction subaccount makes the program protect the
            # whole tenant (TenantConfig.effective_protect), never this resource alone — the engine deletes
            # dependents first and checks protect per step (step.go, DeleteStep.Apply), so a protected
            # subaccount alone would lose the tenant's Secret before destroy stopped.
            self.subaccount = Subaccount(
                f"{name}-subaccount",
                display_name=created.display_name,
                subdomain=created.subdomain,
                region=created.region,
                namespace=args.namespace,
                owned_plans=[f"{e.service}/{e.plan}" for e in args.entitlements],
                parent_directory=created.parent_directory,
                labels={k: list(v) for k, v in created.labels.items()},
                used_for_production=created.used_for_production,
                allow_replacement=created.allow_replacement,
                timeout_seconds=SUBACCOUNT_TIMEOUT,
                opts=with_timeout(SUBACCOUNT_TIMEOUT),
            )
        else:
            assert args.subaccount_id is not None  # TenantNamespaceArgs: exactly one of the two
            self.subaccount = SubaccountCheck(
                f"{name}-subaccount",
                subaccount_id=args.subaccount_id,
                namespace=args.namespace,
                region=args.region,
                opts=child,
            )
        # The subaccount's GUID for everything after it. A created one is fed by its resource id (the GUID),
        # not the computed output `subaccountId`: the engine previews an update of a dynamic resource as its
        # new inputs with the old id (step.go, UpdateStep.Apply), so the id is known in the preview of an
        # in-place change (a display name) and the output is not — and an unknown subaccount id would preview
        # as a replacement of the whole BTP chain (subaccountId replaces).
        self._subaccount_guid: pulumi.Output[str] = (
            self.subaccount.id if created is not None else self.subaccount.subaccountId
        )
        # In a subaccount the stack created, everything is the tenant's: what a crashed run left (found again
        # as "adopted") goes with the stack, or the subaccount would never be empty enough to delete.
        take_ownership = args.take_ownership or created is not None

        def build_access(depends_on: list[pulumi.Resource] | None) -> None:
            self.access = ServiceManagerAccess(
                f"{name}-sm-access",
                subaccount_id=self._subaccount_guid,
                tenant=args.namespace,
                take_ownership=take_ownership,
                timeout_seconds=timeouts.admin_access,
                opts=with_timeout(timeouts.admin_access, depends_on=depends_on),
            )

        def build_entitlements(subaccount_id: pulumi.Input[str]) -> None:
            self.entitlements = {}
            old_names = _old_entitlement_names(name, args.entitlements)
            for spec in args.entitlements:
                old_name = old_names.get(spec.key)
                self.entitlements[spec.key] = SubaccountEntitlement(
                    entitlement_resource_name(name, spec.service, spec.plan),
                    subaccount_id=subaccount_id,
                    service_name=spec.service,
                    plan_name=spec.plan,
                    amount=spec.amount,
                    tenant=args.namespace,
                    take_ownership=take_ownership,
                    timeout_seconds=timeouts.entitlement,
                    opts=with_timeout(
                        timeouts.entitlement, aliases=[pulumi.Alias(name=old_name)] if old_name else None
                    ),
                )

        if created is None:
            # Admin access (and with it the claim check: one subaccount, one tenant) comes before anything
            # is written to the subaccount; entitlements depend on it, so on destroy they go first, while
            # Service Manager can still tell whether anything else uses them.
            build_access(None)
            build_entitlements(self.access.subaccountId)
        else:
            # A subaccount of the stack's own has no other tenant to claim it from: entitlements come
            # first and admin access depends on them, so offboarding is binding → instance → admin access
            # (sweeping this tenant's leftovers) → entitlements → subaccount (issue 14's order).
            build_entitlements(self._subaccount_guid)
            build_access(list(self.entitlements.values()))
        self.instance = ServiceInstance(
            f"{name}-operator-access",
            subaccount_id=self.access.subaccountId,
            instance_name=args.instance_name,
            service_offering_name=OPERATOR_OFFERING,
            service_plan_name=OPERATOR_PLAN,
            labels=sm_labels,
            timeout_seconds=timeouts.instance,
            adopt=args.adopt.instance,
            take_ownership=args.take_ownership,
            opts=with_timeout(
                timeouts.instance, depends_on=[self.entitlements[(OPERATOR_OFFERING, OPERATOR_PLAN)]]
            ),
        )
        self.binding = ServiceBinding(
            f"{name}-operator-access-binding",
            subaccount_id=self.access.subaccountId,
            # The resource id, not the computed output `instanceId`: an id is known in the preview of an
            # update, outputs are not (the engine previews a dynamic resource's update as its new inputs), so
            # any in-place change of the instance would otherwise preview as a replacement of the binding.
            service_instance_id=self.instance.id,
            binding_name=args.binding_name,
            credential_type=args.operator_secret.credential_type,
            parameters=dict(args.binding_parameters),  # x509 validity / key length; {} = SM's defaults
            labels=sm_labels,
            timeout_seconds=timeouts.binding,
            adopt=args.adopt.binding,
            take_ownership=args.take_ownership,
            opts=with_timeout(timeouts.binding),
        )

    def _build_namespace_and_secret(
        self, name: str, args: TenantNamespaceArgs, kube: pulumi.ResourceOptions
    ) -> None:
        """Namespace → operator Secret → guardrails, on the tenant's explicit Kubernetes provider."""
        # The namespace waits for the credentials, so the Secret follows it at once and nothing can be
        # provisioned in the namespace against the cluster's default subaccount in between (btp-api.md §0.3).
        labels: dict[str, pulumi.Input[str]] = dict(args.namespace_labels)
        if args.subaccount is not None:  # created by the stack: its id is known once it exists
            labels[LABEL_SUBACCOUNT] = self._subaccount_guid
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": labels},
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions.merge(kube, pulumi.ResourceOptions(depends_on=[self.binding])),
                self._kubernetes_adoption(args, args.adopt.namespace, args.namespace),
            ),
        )
        secret_args = args.operator_secret
        credential_type = secret_args.credential_type
        string_data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
            self.binding.credentials.apply(lambda c: secret_data(c, credential_type))
        )
        secret_ns: pulumi.Input[str] = (
            self.namespace.metadata.name if secret_args.placement == "namespace" else secret_args.namespace
        )
        self.secret = k8s.core.v1.Secret(
            f"{name}-operator-secret",
            metadata={"name": secret_args.name, "namespace": secret_ns, "labels": dict(secret_args.labels)},
            type="Opaque",
            string_data=string_data,
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions.merge(
                    kube, pulumi.ResourceOptions(depends_on=[self.namespace, self.binding])
                ),
                self._kubernetes_adoption(
                    args, args.adopt.secret, f"{secret_args.namespace}/{secret_args.name}"
                ),
            ),
        )
        self.guardrails = build_guardrails(
            name,
            self.namespace.metadata.name,
            args.guardrails,
            pulumi.ResourceOptions.merge(kube, pulumi.ResourceOptions(depends_on=[self.secret])),
        )

    @staticmethod
    def _kubernetes_adoption(
        args: TenantNamespaceArgs, adopted: bool, import_id: str
    ) -> pulumi.ResourceOptions:
        """The options that take over an existing Namespace or Secret without delete/recreate.

        ``import_`` (id ``<name>`` / ``<namespace>/<name>``): the engine reads the live object and then diffs
        it against the program's inputs in the same run — an import step followed by an update (labels added,
        ``stringData`` written with the values it already holds), never a create or a replace
        (``pkg/resource/deploy/step_generator.go``: ``GenerateSteps`` — ``isImport`` only while the state has
        no resource with that id, so keeping ``import_`` in the program is a no-op afterwards —, and
        ``continueStepsFromImport``). A replacing diff of an imported resource is refused there ("previously-
        imported resources that still specify an ID may not be replaced"), so nothing is ever re-created.
        Not the provider-wide ``upsertExistingObjects``: with server-side apply that turns *every* create of
        the provider into a PATCH of whatever exists under that name, and a rename (create + delete of one
        object) then deletes it (pulumi-kubernetes ``provider/pkg/await/await.go``: ``Creation``;
        ``provider/pkg/provider/provider.go``: ``Configure``).

        ``retain_on_delete``: an adopted object stays in the cluster on destroy (the engine drops it from
        state without calling the provider's delete) unless ``takeOwnership``.
        """
        if not adopted:
            return pulumi.ResourceOptions()
        return pulumi.ResourceOptions(import_=import_id, retain_on_delete=not args.take_ownership)


def entitlement_resource_name(parent: str, service: str, plan: str) -> str:
    """The Pulumi name of an entitlement: ``<parent>-entitlement-<service>/<plan>``.

    Service and plan names never contain ``/`` (config ``_BTP_NAME_RE``: letters, digits, ``.``, ``_``,
    ``-``), so distinct plans get distinct names. The old form ``<service>-<plan>`` gave ``foo-bar/baz`` and
    ``foo/bar-baz`` one name, which the engine refuses ("Duplicate resource URN").
    """
    return f"{parent}-entitlement-{service}/{plan}"


def _old_entitlement_names(
    parent: str, entitlements: Sequence[EntitlementArgs]
) -> dict[tuple[str, str], str]:
    """The name each entitlement had before :func:`entitlement_resource_name`, to alias it (no replacement).

    Where two entitlements had one old name, only the one declared first gets it: two resources claiming one
    old resource stop the engine ("Duplicate resource alias", ``step_generator.go`` ``getOldResource``), and a
    stack can only have been made with one of them — the earlier entry, before the later one was added.
    """
    owners: dict[str, tuple[str, str]] = {}
    for spec in entitlements:
        owners.setdefault(f"{parent}-entitlement-{spec.service}-{spec.plan}", spec.key)
    return {key: old for old, key in owners.items()}


def _listed_if(label: str) -> Callable[[bool | None], list[str]]:
    return lambda adopted: [label] if adopted else []


def _adopted(
    access: ServiceManagerAccess,
    entitlements: dict[tuple[str, str], SubaccountEntitlement],
    instance: ServiceInstance,
    binding: ServiceBinding,
    args: TenantNamespaceArgs,
) -> pulumi.Output[list[str]]:
    """The objects that existed before the stack (kept on destroy unless takeOwnership): admin access,
    entitlements, and the instance, binding, Namespace and Secret named in ``btp-infra:adopt``."""
    parts: list[pulumi.Output[list[str]]] = [
        access.adopted.apply(lambda adopted: ["serviceManagementBinding"] if adopted else [])
    ]
    for (service, plan), entitlement in entitlements.items():
        parts.append(entitlement.adopted.apply(_listed_if(f"entitlement {service}/{plan}")))
    if args.adopt.instance:
        parts.append(instance.adopted.apply(_listed_if(f"serviceInstance {args.instance_name}")))
    if args.adopt.binding:
        parts.append(binding.adopted.apply(_listed_if(f"serviceBinding {args.binding_name}")))
    secret = args.operator_secret
    kube = [f"namespace {args.namespace}"] if args.adopt.namespace else []
    kube += [f"secret {secret.namespace}/{secret.name}"] if args.adopt.secret else []
    if kube:
        parts.append(pulumi.Output.from_input(kube))
    return pulumi.Output.all(*parts).apply(lambda found: [item for part in found for item in part])


def _custom_timeouts(seconds: float | None) -> pulumi.CustomTimeouts | None:
    if not seconds:
        return None
    text = f"{int(seconds)}s"
    return pulumi.CustomTimeouts(create=text, update=text, delete=text)

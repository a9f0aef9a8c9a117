"""The tenant guardrail policies: ``pulumi_policy`` objects wrapping :mod:`btp_infra.policy.rules`.

Importing this module builds the policy objects only; the analyzer server starts in ``PolicyPack(...)``, which
lives in ``policies/__main__.py`` alone. Configuration defaults are applied here in code, because only the
Pulumi CLI applies JSON-schema defaults (``args.get_config()`` is exactly what was configured).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from btp_infra import __version__
from btp_infra.policy import rules

PACK_NAME = "btp-infra-tenant-guardrails"
#: Also in ``policies/PulumiPolicy.yaml`` (the CLI reads it from there).
PACK_VERSION = __version__
PACK_DESCRIPTION = (
    "Guardrails that keep one Kyma namespace mapped 1:1 to one SAP BTP subaccount: namespace labels, no "
    "system namespaces, a correct operator Secret for every tenant, entitlements before services, quotas."
)

POLICY_NAMESPACE_LABELS = "btp-tenant-namespace-labels"
POLICY_NAMESPACE_NOT_SYSTEM = "btp-tenant-namespace-not-system"
POLICY_OPERATOR_SECRET = "btp-tenant-operator-secret"
POLICY_ENTITLEMENT_ALLOWED = "btp-tenant-entitlement-allowed"
POLICY_NAMESPACE_PROTECTED = "btp-tenant-namespace-protected"
POLICY_MAPPING_UNIQUE = "btp-tenant-mapping-unique"
POLICY_OPERATOR_SECRET_PRESENT = "btp-tenant-operator-secret-present"
POLICY_ENTITLEMENT_DEPENDENCY = "btp-tenant-entitlement-dependency"
POLICY_RESOURCE_QUOTA = "btp-tenant-resource-quota"
POLICY_LIMIT_RANGE = "btp-tenant-limit-range"
POLICY_SUBACCOUNT_EXCLUSIVE = "btp-tenant-subaccount-exclusive"
POLICY_X509_VALIDITY = "btp-tenant-x509-validity"
POLICY_SUBACCOUNT_REPLACEMENT = "btp-tenant-subaccount-replacement"
#: ``btp-infra plan``'s cross-stack check (not in the pack, which sees one stack at a time).
POLICY_FLEET_UNIQUE = "btp-tenant-fleet-unique"


# --------------------------------------------------------------------------------------------------
# Config: schemas (for the CLI) and defaults (here)
# --------------------------------------------------------------------------------------------------

_STRING_LIST: dict[str, Any] = {"type": "array", "items": {"type": "string", "minLength": 1}}

MANAGEMENT_NAMESPACES_SCHEMA: dict[str, Any] = {
    **_STRING_LIST,
    "description": "Namespaces where the operator looks for '<namespace>-sap-btp-service-operator' Secrets "
    "(its MANAGEMENT_NAMESPACE; kyma-system on Kyma unless credentials_namespace was customised).",
    "default": list(rules.DEFAULT_MANAGEMENT_NAMESPACES),
    "minItems": 1,
}


def config_strings(config: Mapping[str, Any], key: str, default: Sequence[str]) -> list[str]:
    """A string-list config value, or ``default`` when unset. A wrong type is an error, never ignored."""
    value = config.get(key)
    if value is None:
        return list(default)
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not all(isinstance(v, str) for v in value)
    ):
        raise ValueError(f"policy config '{key}' must be a list of strings")
    return list(value)


def _report_all(report: ReportViolation, messages: Sequence[str]) -> None:
    for message in messages:
        report(message, None)


def _report_stack(report: ReportViolation, violations: Sequence[rules.StackViolation]) -> None:
    for violation in violations:
        report(violation.message, violation.urn)


def stack_resources(args: StackValidationArgs) -> list[rules.StackResource]:
    """The SDK's ``PolicyResource`` list as plain records (explicit and property dependencies merged)."""
    records: list[rules.StackResource] = []
    for r in args.resources:
        deps = [d.urn for d in r.dependencies]
        for prop_deps in r.property_dependencies.values():
            deps.extend(d.urn for d in prop_deps)
        records.append(
            rules.StackResource(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=r.props,
                parent=r.parent.urn if r.parent is not None else None,
                dependencies=tuple(dict.fromkeys(deps)),
                protect=bool(r.opts.protect),
            )
        )
    return records


# --------------------------------------------------------------------------------------------------
# Resource validations
# --------------------------------------------------------------------------------------------------


def _tenant_namespace(args: ResourceValidationArgs) -> bool:
    return bool(args.resource_type == rules.TYPE_NAMESPACE and rules.is_tenant_namespace(args.props))


def validate_namespace_labels(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _tenant_namespace(args):
        return
    required = config_strings(args.get_config(), "requiredLabels", ())
    _report_all(report, rules.check_namespace_labels(args.name, args.props, required_labels=required))


def validate_namespace_not_system(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _tenant_namespace(args):
        return
    extra = config_strings(args.get_config(), "additionalSystemNamespaces", ())
    _report_all(
        report, rules.check_namespace_not_system(args.name, args.props, extra_system_namespaces=extra)
    )


def validate_namespace_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _tenant_namespace(args):
        return
    _report_all(
        report, rules.check_namespace_protected(args.name, args.props, protect=bool(args.opts.protect))
    )


def validate_operator_secret(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != rules.TYPE_SECRET or not rules.is_operator_secret(args.props):
        return
    config = args.get_config()
    management = config_strings(config, "managementNamespaces", rules.DEFAULT_MANAGEMENT_NAMESPACES)
    placements = config_strings(config, "allowedPlacements", rules.PLACEMENTS)
    _report_all(
        report,
        rules.check_operator_secret(
            args.name, args.props, management_namespaces=management, allowed_placements=placements
        ),
    )


def validate_entitlement_allowed(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != rules.TYPE_ENTITLEMENT:
        return
    allowed = config_strings(args.get_config(), "allowedPlans", ())
    _report_all(report, rules.check_entitlement_allowed(args.name, args.props, allowed_plans=allowed))


def validate_subaccount_exclusive(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != rules.TYPE_SM_ACCESS:
        return
    _report_all(report, rules.check_subaccount_exclusive(args.name, args.props))


def validate_subaccount_replacement(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != rules.TYPE_SUBACCOUNT_LIFECYCLE:
        return
    _report_all(report, rules.check_subaccount_replacement(args.name, args.props))


def validate_x509_validity(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != rules.TYPE_SERVICE_BINDING:
        return
    minimum = args.get_config().get("minValidityDays", rules.X509_DEFAULT_VALIDITY_DAYS)
    _report_all(report, rules.check_x509_validity(args.name, args.props, min_days=int(minimum)))


# --------------------------------------------------------------------------------------------------
# Stack validations
# --------------------------------------------------------------------------------------------------


def validate_mapping_unique(args: StackValidationArgs, report: ReportViolation) -> None:
    _report_stack(report, rules.check_mapping_unique(stack_resources(args)))


def validate_operator_secret_present(args: StackValidationArgs, report: ReportViolation) -> None:
    management = config_strings(
        args.get_config(), "managementNamespaces", rules.DEFAULT_MANAGEMENT_NAMESPACES
    )
    _report_stack(
        report, rules.check_operator_secret_present(stack_resources(args), management_namespaces=management)
    )


def validate_entitlement_dependency(args: StackValidationArgs, report: ReportViolation) -> None:
    _report_stack(report, rules.check_entitlement_dependencies(stack_resources(args)))


def _guardrail(
    resource_type: str, kind: str, config_key: str
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        _report_stack(
            report,
            rules.check_guardrail_present(
                stack_resources(args), resource_type=resource_type, kind=kind, config_key=config_key
            ),
        )

    return validate


# --------------------------------------------------------------------------------------------------
# The policies
# --------------------------------------------------------------------------------------------------

namespace_labels = ResourceValidationPolicy(
    name=POLICY_NAMESPACE_LABELS,
    description="Tenant namespaces carry istio-injection: enabled and the tenant, subaccount and "
    "managed-by labels.",
    validate=validate_namespace_labels,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "requiredLabels": {
                **_STRING_LIST,
                "description": "Further label keys every tenant namespace must carry (e.g. cost-center).",
                "default": [],
            }
        }
    ),
    remediation_steps="Keep btp-infra's own labels; add required labels to the stack's namespace labels.",
    tags=["kyma", "istio", "tenancy"],
)

namespace_not_system = ResourceValidationPolicy(
    name=POLICY_NAMESPACE_NOT_SYSTEM,
    description="No tenant namespace is a Kubernetes, Kyma or Istio system namespace (or kube-*).",
    validate=validate_namespace_not_system,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(
        properties={
            "additionalSystemNamespaces": {
                **_STRING_LIST,
                "description": "More namespaces to treat as system namespaces, besides default, kube-*, "
                "kyma-system, kyma-integration, istio-system and compass-system.",
                "default": [],
            }
        }
    ),
    remediation_steps="Choose a namespace of the tenant's own in btp-infra:namespace.",
    tags=["kyma", "tenancy"],
)

operator_secret = ResourceValidationPolicy(
    name=POLICY_OPERATOR_SECRET,
    description="The SAP BTP service operator Secret has the right name for its placement, its labels, the "
    "keys of its credential type, tokenurlsuffix /oauth/token, a bare tokenurl and https URLs.",
    validate=validate_operator_secret,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(
        properties={
            "managementNamespaces": MANAGEMENT_NAMESPACES_SCHEMA,
            "allowedPlacements": {
                "type": "array",
                "items": {"type": "string", "enum": list(rules.PLACEMENTS)},
                "minItems": 1,
                "description": "Allowed Secret placements: 'namespace' (sap-btp-service-operator in the "
                "tenant namespace) and/or 'management' (<namespace>-sap-btp-service-operator in the "
                "management namespace).",
                "default": list(rules.PLACEMENTS),
            },
        }
    ),
    remediation_steps="Let the TenantNamespace component build the Secret from the service-operator-access "
    "binding.",
    tags=["btp", "credentials", "tenancy"],
)

entitlement_allowed = ResourceValidationPolicy(
    name=POLICY_ENTITLEMENT_ALLOWED,
    description="Entitled service plans are on the allow-list (empty list = all plans; "
    "service-manager/service-operator-access is always allowed).",
    validate=validate_entitlement_allowed,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedPlans": {
                "type": "array",
                "items": {"type": "string", "pattern": "^[^/\\s]+/[^/\\s]+$"},
                "description": "Allowed plans as 'service/plan' or 'service/*'. Empty: every plan is "
                "allowed.",
                "default": [],
            }
        }
    ),
    remediation_steps="Remove the entitlement or have the plan reviewed and added to allowedPlans.",
    tags=["btp", "cost"],
)

namespace_protected = ResourceValidationPolicy(
    name=POLICY_NAMESPACE_PROTECTED,
    description="Tenant namespaces are protected against deletion (Pulumi protect).",
    validate=validate_namespace_protected,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps="Set btp-infra:protect: true in the stack file.",
    tags=["tenancy", "safety"],
)

subaccount_exclusive = ResourceValidationPolicy(
    name=POLICY_SUBACCOUNT_EXCLUSIVE,
    description="The tenant's subaccount serves no other tenant namespace (btp-infra objects of another "
    "tenant found in its Service Manager at create or refresh).",
    validate=validate_subaccount_exclusive,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Give each tenant stack a subaccount of its own (btp-infra:subaccountId).",
    tags=["btp", "tenancy"],
)

subaccount_replacement = ResourceValidationPolicy(
    name=POLICY_SUBACCOUNT_REPLACEMENT,
    description="A subaccount the stack created is not replaced (a changed subdomain or region deletes it "
    "with everything in it) unless btp-infra:allowSubaccountReplacement is set.",
    validate=validate_subaccount_replacement,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Restore btp-infra:subaccount's subdomain and region, or set "
    "btp-infra:allowSubaccountReplacement: true for a deliberate move.",
    tags=["btp", "tenancy", "safety"],
)

mapping_unique = StackValidationPolicy(
    name=POLICY_MAPPING_UNIQUE,
    description="Within a stack, each tenant namespace and each subaccount is mapped exactly once, and a "
    "tenant's namespace label and BTP resources name the same subaccount.",
    validate=validate_mapping_unique,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Keep one TenantNamespace per stack with one subaccount.",
    tags=["tenancy"],
)

operator_secret_present = StackValidationPolicy(
    name=POLICY_OPERATOR_SECRET_PRESENT,
    description="Every tenant namespace has exactly one operator Secret where the operator looks for it.",
    validate=validate_operator_secret_present,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(properties={"managementNamespaces": MANAGEMENT_NAMESPACES_SCHEMA}),
    remediation_steps="Let the TenantNamespace create the Secret; keep managementNamespaces in line with "
    "the operator's MANAGEMENT_NAMESPACE.",
    tags=["btp", "credentials", "tenancy"],
)

entitlement_dependency = StackValidationPolicy(
    name=POLICY_ENTITLEMENT_DEPENDENCY,
    description="BTP service instances and bindings depend on the entitlement of their plan.",
    validate=validate_entitlement_dependency,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Entitle the plan in the same stack and make the instance depend on the entitlement.",
    tags=["btp", "ordering"],
)

resource_quota = StackValidationPolicy(
    name=POLICY_RESOURCE_QUOTA,
    description="Every tenant namespace has a ResourceQuota.",
    validate=_guardrail(rules.TYPE_RESOURCE_QUOTA, "ResourceQuota", "quota"),
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps="Set btp-infra:quota in the stack file.",
    tags=["kyma", "tenancy", "cost"],
)

limit_range = StackValidationPolicy(
    name=POLICY_LIMIT_RANGE,
    description="Every tenant namespace has a LimitRange.",
    validate=_guardrail(rules.TYPE_LIMIT_RANGE, "LimitRange", "limitRange"),
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps="Set btp-infra:limitRange in the stack file.",
    tags=["kyma", "tenancy", "cost"],
)

x509_validity = ResourceValidationPolicy(
    name=POLICY_X509_VALIDITY,
    description="x509 operator bindings are valid long enough to be rotated in time "
    "(btp-infra:x509.validity).",
    validate=validate_x509_validity,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(
        properties={
            "minValidityDays": {
                "type": "integer",
                "minimum": 1,
                "description": "The shortest acceptable certificate validity in days (Service Manager's "
                "default is 7).",
                "default": rules.X509_DEFAULT_VALIDITY_DAYS,
            }
        }
    ),
    remediation_steps="Set btp-infra:x509: {validity: 7d} or more in the stack file, and plan the rotation.",
    tags=["btp", "credentials"],
)

#: Every policy of the pack, resource policies first.
ALL_POLICIES: list[Policy] = [
    namespace_labels,
    namespace_not_system,
    operator_secret,
    entitlement_allowed,
    namespace_protected,
    subaccount_exclusive,
    x509_validity,
    subaccount_replacement,
    mapping_unique,
    operator_secret_present,
    entitlement_dependency,
    resource_quota,
    limit_range,
]

#: Policies that only ``btp-infra plan`` runs (they need every stack at once), with their default levels.
#: ``--policy-config`` configures them like the pack's (a level, or ``{"enforcementLevel": ...}``).
PLAN_POLICIES: dict[str, EnforcementLevel] = {POLICY_FLEET_UNIQUE: EnforcementLevel.MANDATORY}

"""The typed tenant config: :class:`TenantConfig` and its sub-models.

Owns: the fields of every ``btp-infra:`` key (types, defaults, what is valid), the field and cross-field
rules, and the values derived from a config (Secret placement, Service Manager names and labels, namespace
labels, entitlements). Validators raise :class:`~btp_infra.config.issues.Invalid`; turning pydantic's errors
into issues is :mod:`btp_infra.config.translate`'s job, reading files the loaders'.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    RootModel,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from btp_infra import conventions, operator_secret
from btp_infra.catalog import OPERATOR_ACCESS, known_plan
from btp_infra.config.adopt import VALID_ADOPT, AdoptSpec
from btp_infra.config.grammar import (
    QUOTA_INTEGER,
    VALID_AMOUNT,
    VALID_BTP_NAME,
    VALID_CREDENTIAL_ROTATION,
    VALID_DNS_LABEL,
    VALID_DURATION,
    VALID_GUID,
    VALID_LABELS,
    VALID_LIMIT_RANGE,
    VALID_NAMESPACE,
    VALID_PROFILE,
    VALID_QUOTA,
    VALID_REGION,
    VALID_X509,
    VALID_X509_KEY_LENGTH,
    VALID_X509_VALIDITY,
    dns_label_problem,
    is_btp_name,
    is_guid,
    is_keyring_profile,
    is_region,
    is_reserved_label,
    label_key_problem,
    label_value_problem,
    limit_resource_problem,
    parse_quantity,
    quantity,
    quota_resource_problem,
    rotation_key_problem,
    to_days,
    to_seconds,
)
from btp_infra.config.issues import Invalid, raise_all
from btp_infra.config.keys import CONFIG_KEYS, SECRET_KEYS
from btp_infra.config.redaction import EncryptedSecret
from btp_infra.config.subaccount import (
    VALID_SUBACCOUNT,
    VALID_SUBDOMAIN_PREFIX,
    SubaccountSpec,
    prefix_problem,
)
from btp_infra.config.text import MISSING, SECRET, kind
from btp_infra.conventions import (
    DEFAULT_CREDENTIAL_TYPE,
    DEFAULT_MANAGEMENT_NAMESPACE,
    DEFAULT_TIMEOUTS,
    LABEL_ISTIO_INJECTION,
    LABEL_MANAGED_BY,
    LABEL_SUBACCOUNT,
    LABEL_TENANT,
    MANAGED_BY_VALUE,
    PROJECT,
    RESERVED_NAMESPACE_PREFIX,
    SM_MANAGED_BY_LABEL,
    SM_TENANT_LABEL,
    SYSTEM_NAMESPACES,
    default_subdomain,
)

DEFAULT_SOURCE: Final = "<config>"
"""The source of a config that came from no stack file."""

_MODEL_CONFIG: Final = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)
_VALID_SECRET: Final = "a non-empty string (a Pulumi secret)"


def _secret_input(value: object) -> object:
    """Secret keys accept a string (plaintext from the engine) or an :class:`EncryptedSecret` marker."""
    if value is None or isinstance(value, SecretStr | EncryptedSecret):
        return value
    if isinstance(value, str):
        if not value.strip():
            raise Invalid("is empty", _VALID_SECRET, value=SECRET)
        return SecretStr(value)
    raise Invalid("must be a string", _VALID_SECRET, value=SECRET)


class EntitlementSpec(BaseModel):
    """One subaccount entitlement: ``service/plan``, with ``amount`` only for plans with a numeric quota."""

    model_config = _MODEL_CONFIG

    service: str = Field(description=VALID_BTP_NAME)
    plan: str = Field(description=VALID_BTP_NAME)
    amount: int | None = Field(default=None, description=VALID_AMOUNT)

    @field_validator("service", "plan")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not is_btp_name(value):
            raise Invalid("is not a BTP technical name", VALID_BTP_NAME)
        return value

    @field_validator("amount")
    @classmethod
    def _check_amount(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise Invalid("must be at least 1 (to remove an entitlement, delete the entry)", VALID_AMOUNT)
        if value is not None and value > 2_000_000_000:
            raise Invalid("is larger than 2000000000", VALID_AMOUNT)
        return value

    @model_validator(mode="after")
    def _check_catalog(self) -> EntitlementSpec:
        info = known_plan(self.service, self.plan)
        if self.amount is not None and info is not None and not info.takes_amount:
            raise Invalid(
                f"{self.service}/{self.plan} has no numeric quota, so it is entitled with enable, "
                f"not an amount ({info.reason})",
                "omit amount for this plan",
                key=("amount",),
                value=self.amount,
            )
        return self

    @property
    def key(self) -> tuple[str, str]:
        """``(service, plan)``."""
        return (self.service, self.plan)

    def __str__(self) -> str:
        base = f"{self.service}/{self.plan}"
        return base if self.amount is None else f"{base} (amount {self.amount})"


_Seconds = Annotated[int, BeforeValidator(to_seconds)]
_Days = Annotated[int, BeforeValidator(to_days)]


class X509Settings(BaseModel):
    """The x509 binding's certificate: validity in days and RSA key length (Service Manager's parameters)."""

    model_config = _MODEL_CONFIG

    validity: _Days = Field(default=7, description=VALID_X509_VALIDITY)
    key_length: int = Field(default=2048, alias="keyLength", description=VALID_X509_KEY_LENGTH)

    @field_validator("key_length")
    @classmethod
    def _check_key_length(cls, value: int) -> int:
        if value not in (2048, 3072, 4096):
            raise Invalid("is not a supported key length", VALID_X509_KEY_LENGTH)
        return value

    @property
    def parameters(self) -> dict[str, Any]:
        """Service Manager's binding parameters (btp-api.md §B.1)."""
        return {"x509": {"key-length": self.key_length, "validity": self.validity, "validity-type": "DAYS"}}


class Timeouts(BaseModel):
    """Per-resource timeouts in seconds (input: seconds or durations like ``30m``, ``1h``, ``90s``)."""

    model_config = _MODEL_CONFIG

    entitlement: _Seconds = Field(default=DEFAULT_TIMEOUTS["entitlement"], description=VALID_DURATION)
    admin_access: _Seconds = Field(
        default=DEFAULT_TIMEOUTS["adminAccess"], alias="adminAccess", description=VALID_DURATION
    )
    instance: _Seconds = Field(default=DEFAULT_TIMEOUTS["instance"], description=VALID_DURATION)
    binding: _Seconds = Field(default=DEFAULT_TIMEOUTS["binding"], description=VALID_DURATION)


class QuotaSpec(RootModel[dict[str, str]]):
    """The ``spec.hard`` of the tenant's ResourceQuota ``tenant-quota``: resource name → quantity."""

    model_config = ConfigDict(strict=True, frozen=True, hide_input_in_errors=True)

    @model_validator(mode="before")
    @classmethod
    def _check(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            raise Invalid("must be a mapping", VALID_QUOTA)
        if not value:
            raise Invalid("is empty; set at least one resource or remove quota", VALID_QUOTA)
        problems: list[Invalid] = []
        hard: dict[str, str] = {}
        for name, amount in value.items():
            if not isinstance(name, str):
                problems.append(Invalid("resource name must be a string", VALID_QUOTA, value=name))
                continue
            problem = quota_resource_problem(name)
            if problem:
                problems.append(Invalid(f"resource name {problem}", VALID_QUOTA, key=(name,), value=name))
                continue
            integer = name in QUOTA_INTEGER or name.startswith("count/")
            try:
                hard[name] = quantity(amount, key=(name,), integer=integer)
            except Invalid as exc:
                problems.append(exc)
        raise_all(problems)
        return hard

    def hard(self) -> dict[str, str]:
        """A copy of the ``spec.hard`` mapping."""
        return dict(self.root)


def _limit_section(value: object, section: str) -> dict[str, str] | None:
    """Validate one LimitRange section (``default``, ``max``, …)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise Invalid("must be a mapping of resource name to quantity", VALID_LIMIT_RANGE)
    problems: list[Invalid] = []
    result: dict[str, str] = {}
    for name, amount in value.items():
        if not isinstance(name, str):
            problems.append(Invalid("resource name must be a string", VALID_LIMIT_RANGE, value=name))
            continue
        problem = limit_resource_problem(name)
        if problem:
            problems.append(Invalid(f"resource name {problem}", VALID_LIMIT_RANGE, key=(name,), value=name))
            continue
        try:
            result[name] = quantity(amount, key=(name,))
        except Invalid as exc:
            problems.append(exc)
    if section == "maxLimitRequestRatio":
        for name, text in result.items():
            if parse_quantity(text) < 1:
                problems.append(
                    Invalid("ratio must be at least 1", "a quantity ≥ 1, e.g. '2'", key=(name,), value=text)
                )
    raise_all(problems)
    return result


class LimitRangeSpec(BaseModel):
    """The ``type: Container`` item of the tenant's LimitRange ``tenant-limits``."""

    model_config = _MODEL_CONFIG

    default: dict[str, str] | None = Field(default=None, description=VALID_LIMIT_RANGE)
    default_request: dict[str, str] | None = Field(
        default=None, alias="defaultRequest", description=VALID_LIMIT_RANGE
    )
    max: dict[str, str] | None = Field(default=None, description=VALID_LIMIT_RANGE)
    min: dict[str, str] | None = Field(default=None, description=VALID_LIMIT_RANGE)
    max_limit_request_ratio: dict[str, str] | None = Field(
        default=None, alias="maxLimitRequestRatio", description=VALID_LIMIT_RANGE
    )

    @field_validator("default", "max", "min", mode="before")
    @classmethod
    def _check_section(cls, value: object) -> object:
        return _limit_section(value, "section")

    @field_validator("default_request", mode="before")
    @classmethod
    def _check_default_request(cls, value: object) -> object:
        return _limit_section(value, "defaultRequest")

    @field_validator("max_limit_request_ratio", mode="before")
    @classmethod
    def _check_ratio(cls, value: object) -> object:
        return _limit_section(value, "maxLimitRequestRatio")

    @model_validator(mode="after")
    def _check_order(self) -> LimitRangeSpec:
        sections = {
            "min": self.min or {},
            "defaultRequest": self.default_request or {},
            "default": self.default or {},
            "max": self.max or {},
        }
        if not any(sections.values()) and not self.max_limit_request_ratio:
            raise Invalid(
                "is empty; set at least one of default, defaultRequest, max, min", VALID_LIMIT_RANGE
            )
        order = list(sections)
        problems: list[Invalid] = []
        for low_i, low in enumerate(order):
            for high in order[low_i + 1 :]:
                for name in sorted(set(sections[low]) & set(sections[high])):
                    lo, hi = sections[low][name], sections[high][name]
                    if parse_quantity(lo) > parse_quantity(hi):
                        problems.append(
                            Invalid(
                                f"{low} {lo} is greater than {high} {hi} (limitRange.{high}.{name})",
                                "min ≤ defaultRequest ≤ default ≤ max for each resource",
                                key=(low, name),
                                value=lo,
                            )
                        )
        raise_all(problems)
        return self

    def container_limits(self) -> dict[str, object]:
        """The LimitRange ``spec.limits`` item: ``{"type": "Container", "default": {...}, ...}``."""
        dumped: dict[str, dict[str, str]] = self.model_dump(by_alias=True, exclude_none=True)
        item: dict[str, object] = {"type": "Container"}
        item.update({section: dict(values) for section, values in dumped.items() if values})
        return item


def _labels_problems(value: Mapping[object, object]) -> list[Invalid]:
    """Every problem of a tenant's ``labels`` mapping (keys, reserved keys, values)."""
    problems: list[Invalid] = []
    for key, text in value.items():
        if not isinstance(key, str):
            problems.append(Invalid("label key must be a string", VALID_LABELS, value=key))
            continue
        problem = label_key_problem(key)
        if problem:
            problems.append(Invalid(problem, VALID_LABELS, key=(key,), value=key))
        elif is_reserved_label(key):
            message = f"label {key} is reserved (set by btp-infra or Kubernetes)"
            problems.append(Invalid(message, VALID_LABELS, key=(key,), value=text))
        elif not isinstance(text, str):
            message = f"label value must be a string, not a {kind(text)}"
            problems.append(Invalid(message, VALID_LABELS, key=(key,), value=text))
        else:
            problem = label_value_problem(text)
            if problem:
                problems.append(Invalid(problem, VALID_LABELS, key=(key,), value=text))
    return problems


class TenantConfig(BaseModel):
    """One tenant stack's config. Attributes are snake_case; stack-file keys are the camelCase aliases."""

    model_config = _MODEL_CONFIG

    namespace: str = Field(description=VALID_NAMESPACE)
    subaccount_id: str | None = Field(
        default=None, alias="subaccountId", description=VALID_GUID + " (or btp-infra:subaccount instead)"
    )
    subaccount: SubaccountSpec | None = Field(default=None, description=VALID_SUBACCOUNT)
    subdomain_prefix: str | None = Field(
        default=None, alias="subdomainPrefix", description=VALID_SUBDOMAIN_PREFIX
    )
    allow_subaccount_replacement: bool = Field(
        default=False,
        alias="allowSubaccountReplacement",
        description="true or false (allow a changed subaccount.subdomain or region to replace the "
        "subaccount — it deletes the old one with everything in it; default: the policy pack refuses it)",
    )
    region: str | None = Field(default=None, description=VALID_REGION)
    credential_type: Literal["client-secret", "x509"] = Field(
        default=DEFAULT_CREDENTIAL_TYPE, alias="credentialType", description="client-secret (default) or x509"
    )
    secret_placement: Literal["namespace", "management"] = Field(
        default="namespace",
        alias="secretPlacement",
        description="namespace (default: Secret sap-btp-service-operator in the tenant namespace) or "
        "management (Secret <namespace>-sap-btp-service-operator in managementNamespace)",
    )
    management_namespace: str = Field(
        default=DEFAULT_MANAGEMENT_NAMESPACE,
        alias="managementNamespace",
        description=f"{VALID_DNS_LABEL}; the operator's management namespace (default kyma-system)",
    )
    entitlements: list[EntitlementSpec] = Field(
        default_factory=list,
        description="a list of {service, plan, amount?} mappings; amount only for plans with a numeric quota",
    )
    labels: dict[str, str] = Field(default_factory=dict, description=VALID_LABELS)
    quota: QuotaSpec | None = Field(default=None, description=VALID_QUOTA)
    limit_range: LimitRangeSpec | None = Field(
        default=None, alias="limitRange", description=VALID_LIMIT_RANGE
    )
    network_policy: Literal["none", "default-deny"] = Field(
        default="none",
        alias="networkPolicy",
        description="none (default) or default-deny (deny all, then allow same namespace, istio-system, DNS "
        "and the Kubernetes API)",
    )
    mtls: bool = Field(default=False, description="true or false (Istio PeerAuthentication STRICT)")
    protect: bool = Field(
        default=False,
        description="true or false (protect the whole tenant: namespace, Secret, guardrails and BTP objects)",
    )
    take_ownership: bool = Field(
        default=False,
        alias="takeOwnership",
        description="true or false (delete adopted objects — an admin access or entitlements that "
        "existed before the stack, and what adopt names — with the stack; default: keep them)",
    )
    kubeconfig: SecretStr | EncryptedSecret | None = Field(
        default=None, description="a kubeconfig path or content (may be a Pulumi secret)"
    )
    kube_context: str | None = Field(
        default=None,
        alias="kubeContext",
        description="the name of a context in the kubeconfig (required by the stack loaders)",
    )
    cluster_identifier: str | None = Field(
        default=None,
        alias="clusterIdentifier",
        description="a stable name of the cluster (default: kubeContext); a change replaces every Kubernetes "
        "resource of the tenant",
    )
    render_yaml_to_directory: str | None = Field(
        default=None,
        alias="renderYamlToDirectory",
        description="a directory: write the Kubernetes objects there as YAML instead of applying them "
        "(pulumi-kubernetes renderYamlToDirectory; what `btp-infra try` uses)",
    )
    cis_service_key: SecretStr | EncryptedSecret | None = Field(
        default=None,
        alias="cisServiceKey",
        description="the cis service key JSON as a Pulumi secret: "
        "pulumi config set --secret btp-infra:cisServiceKey < key.json",
    )
    keyring_profile: str | None = Field(
        default=None,
        alias="keyringProfile",
        description="a keyring profile name: " + VALID_PROFILE,
    )
    timeouts: Timeouts = Field(
        default_factory=Timeouts,
        description="a mapping with any of entitlement, adminAccess, instance, binding: " + VALID_DURATION,
    )
    x509: X509Settings | None = Field(default=None, description=VALID_X509)
    adopt: AdoptSpec | None = Field(default=None, description=VALID_ADOPT)
    credential_rotation: str | None = Field(
        default=None, alias="credentialRotation", description=VALID_CREDENTIAL_ROTATION
    )

    _source: str = PrivateAttr(default=DEFAULT_SOURCE)

    # ---- field rules -------------------------------------------------------------------------------

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        problem = dns_label_problem(value)
        if problem:
            raise Invalid(problem, VALID_NAMESPACE)
        if value in SYSTEM_NAMESPACES:
            raise Invalid("is a system namespace", VALID_NAMESPACE)
        if value.startswith(RESERVED_NAMESPACE_PREFIX):
            raise Invalid("uses the kube- prefix reserved for Kubernetes", VALID_NAMESPACE)
        return value

    @field_validator("management_namespace")
    @classmethod
    def _check_management_namespace(cls, value: str) -> str:
        problem = dns_label_problem(value)
        if problem:
            raise Invalid(problem, VALID_DNS_LABEL)
        return value

    @field_validator("subaccount_id")
    @classmethod
    def _check_guid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not is_guid(value):
            raise Invalid("is not a GUID", VALID_GUID)
        return value.lower()

    @field_validator("subdomain_prefix")
    @classmethod
    def _check_subdomain_prefix(cls, value: str | None) -> str | None:
        problem = None if value is None else prefix_problem(value)
        if problem:
            raise Invalid(problem, VALID_SUBDOMAIN_PREFIX)
        return value

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: str | None) -> str | None:
        if value is not None and not is_region(value):
            raise Invalid("is not a BTP region ID", VALID_REGION)
        return value

    @field_validator("labels", mode="before")
    @classmethod
    def _check_labels(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            raise Invalid("must be a mapping", VALID_LABELS)
        raise_all(_labels_problems(value))
        return value

    @field_validator("kubeconfig", "cis_service_key", mode="before")
    @classmethod
    def _check_secret(cls, value: object) -> object:
        return _secret_input(value)

    @field_validator("kube_context")
    @classmethod
    def _check_context(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise Invalid("is empty", "the name of a context in the kubeconfig")
        return value

    @field_validator("cluster_identifier")
    @classmethod
    def _check_cluster_identifier(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise Invalid("is empty", "a stable name of the cluster (default: kubeContext)")
        return value

    @field_validator("render_yaml_to_directory")
    @classmethod
    def _check_render_directory(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise Invalid("is empty", "a directory to write the Kubernetes objects to")
        return value

    @field_validator("keyring_profile")
    @classmethod
    def _check_profile(cls, value: str | None) -> str | None:
        if value is not None and not is_keyring_profile(value):
            raise Invalid("is not a keyring profile name", VALID_PROFILE)
        return value

    @field_validator("credential_rotation", mode="before")
    @classmethod
    def _check_rotation(cls, value: object) -> object:
        # An unquoted `2026-12-02` is a YAML date and `3` an integer: both are keys as written.
        if isinstance(value, date) or (isinstance(value, int) and not isinstance(value, bool)):
            value = value.isoformat() if isinstance(value, date) else str(value)
        if isinstance(value, str):
            problem = rotation_key_problem(value)
            if problem:
                raise Invalid(problem, VALID_CREDENTIAL_ROTATION)
        return value

    # ---- cross-field rules -------------------------------------------------------------------------

    @model_validator(mode="wrap")
    @classmethod
    def _report_missing_subaccount(
        cls, data: Any, handler: ModelWrapValidatorHandler[TenantConfig]
    ) -> TenantConfig:
        """Neither ``subaccountId`` nor ``subaccount``: reported with the other problems too (the cross-field
        rules below only run when every field is valid)."""
        try:
            return handler(data)
        except ValidationError as exc:
            absent = isinstance(data, Mapping) and all(
                data.get(k) is None for k in ("subaccountId", "subaccount")
            )
            if not absent:
                raise
            details: list[InitErrorDetails] = []
            for err in exc.errors(include_url=False):
                detail: InitErrorDetails = {"type": err["type"], "loc": err["loc"], "input": err["input"]}
                if "ctx" in err:
                    detail["ctx"] = err["ctx"]
                details.append(detail)
            details.append({"type": "missing", "loc": ("subaccountId",), "input": data})
            raise ValidationError.from_exception_data(exc.title, details) from None

    @model_validator(mode="after")
    def _check_cross_fields(self) -> TenantConfig:
        problems = [
            *self._management_namespace_problems(),
            *self._x509_problems(),
            *self._duplicate_entitlements(),
            *self._subaccount_problems(),
        ]
        raise_all(problems)
        return self

    def _management_namespace_problems(self) -> list[Invalid]:
        problems: list[Invalid] = []
        if self.management_namespace == self.namespace:
            problems.append(
                Invalid(
                    "is the tenant namespace itself",
                    "a management namespace other than the tenant namespace (default kyma-system)",
                    key=("managementNamespace",),
                    value=self.management_namespace,
                )
            )
        if not self.uses_management_namespace and self.management_namespace != DEFAULT_MANAGEMENT_NAMESPACE:
            problems.append(
                Invalid(
                    "is only used with secretPlacement: management (here secretPlacement is namespace)",
                    "remove managementNamespace, or set secretPlacement: management",
                    key=("managementNamespace",),
                    value=self.management_namespace,
                )
            )
        return problems

    def _x509_problems(self) -> list[Invalid]:
        if self.x509 is None or self.credential_type == "x509":
            return []
        return [
            Invalid(
                f"is only used with credentialType: x509 (here credentialType is {self.credential_type})",
                "remove x509, or set credentialType: x509",
                key=("x509",),
                value=self.x509.model_dump(by_alias=True),
            )
        ]

    def _subaccount_problems(self) -> list[Invalid]:
        """Exactly one of ``subaccountId`` and ``subaccount``; the keys that only go with ``subaccount``."""
        either = f"subaccountId: {VALID_GUID}; or instead btp-infra:subaccount, {VALID_SUBACCOUNT}"
        created = self.subaccount
        if created is None and self.subaccount_id is None:
            required = "is required (or btp-infra:subaccount)"
            return [Invalid(required, either, key=("subaccountId",), value=MISSING)]
        if created is not None and self.subaccount_id is not None:
            return [
                Invalid(
                    "is set together with btp-infra:subaccount",
                    either,
                    key=("subaccountId",),
                    value=self.subaccount_id,
                )
            ]
        problems: list[Invalid] = []
        if created is None:
            for key, value, default in (
                ("subdomainPrefix", self.subdomain_prefix, None),
                ("allowSubaccountReplacement", self.allow_subaccount_replacement, False),
            ):
                if value != default:
                    problems.append(
                        Invalid(
                            "is only used with btp-infra:subaccount (here the stack maps "
                            "btp-infra:subaccountId)",
                            f"remove {key}, or replace subaccountId by a subaccount block",
                            key=(key,),
                            value=value,
                        )
                    )
            return problems
        if created.subdomain is None and self.subdomain_prefix is None:
            problems.append(
                Invalid(
                    "is not set, and btp-infra:subdomainPrefix neither",
                    "set subaccount.subdomain, or btp-infra:subdomainPrefix (the subdomain is then "
                    f"<prefix>-<namespace>, e.g. acme-{self.namespace})",
                    key=("subaccount", "subdomain"),
                    value=MISSING,
                )
            )
        if self.region is not None and self.region != created.region:
            problems.append(
                Invalid(
                    f"differs from subaccount.region {created.region}",
                    "the same region as subaccount.region, or remove btp-infra:region",
                    key=("region",),
                    value=self.region,
                )
            )
        return problems

    def _duplicate_entitlements(self) -> list[Invalid]:
        problems: list[Invalid] = []
        seen: dict[tuple[str, str], int] = {}
        for index, entry in enumerate(self.entitlements):
            if entry.key in seen:
                problems.append(
                    Invalid(
                        f"duplicates entitlements[{seen[entry.key]}]",
                        "each service/plan at most once",
                        key=("entitlements", index),
                        value=f"{entry.service}/{entry.plan}",
                    )
                )
            else:
                seen[entry.key] = index
        return problems

    # ---- derived values ----------------------------------------------------------------------------

    @property
    def source(self) -> str:
        """Where this config came from (the stack file path, for messages)."""
        return self._source

    @property
    def uses_management_namespace(self) -> bool:
        """True with ``secretPlacement: management`` (the Secret lives in the management namespace)."""
        return self.secret_placement == "management"

    @property
    def secret_name(self) -> str:
        """Name of the operator credential Secret (btp-api.md §A.1)."""
        return operator_secret.secret_name(self.namespace, self.secret_placement)

    @property
    def secret_namespace(self) -> str:
        """Namespace of the operator credential Secret: the tenant or the management namespace."""
        return operator_secret.secret_namespace(
            self.namespace, self.secret_placement, self.management_namespace
        )

    @property
    def instance_name(self) -> str:
        """Service Manager name of the ``service-operator-access`` instance: an adopted one's
        (``adopt.instanceName``), else btp-infra's deterministic name."""
        if self.adopt is not None and self.adopt.instance_name is not None:
            return self.adopt.instance_name
        return conventions.instance_name(self.namespace)

    @property
    def binding_name(self) -> str:
        """Service Manager name of the binding on that instance (one per credential type): with a rotation
        key, btp-infra's name carrying it (a rotation of an adopted tenant moves it to a binding of its own;
        the hand-made one is kept, as adopted objects are); else an adopted one's (``adopt.bindingName``);
        else btp-infra's deterministic name."""
        adopted = self.adopt.binding_name if self.adopt is not None else None
        if self.credential_rotation is None and adopted is not None:
            return adopted
        return conventions.binding_name(self.namespace, self.credential_type, self.credential_rotation)

    @property
    def binding_parameters(self) -> dict[str, Any]:
        """Extra Service Manager parameters of the operator binding: the x509 settings when configured
        (else none: Service Manager's defaults apply, 7 days and 2048 bits, and existing bindings stay)."""
        return self.x509.parameters if self.x509 is not None else {}

    @property
    def namespace_labels(self) -> dict[str, str]:
        """All labels of the tenant Namespace: btp-infra's own first, then the user's. A subaccount the stack
        creates has no id yet: the component adds its ``btp-infra.io/subaccount`` label from the resource."""
        labels = {LABEL_ISTIO_INJECTION: "enabled", LABEL_TENANT: self.namespace}
        if self.subaccount_id is not None:
            labels[LABEL_SUBACCOUNT] = self.subaccount_id
        labels[LABEL_MANAGED_BY] = MANAGED_BY_VALUE
        labels.update(self.labels)
        return labels

    @property
    def creates_subaccount(self) -> bool:
        """True when the stack creates its subaccount (``btp-infra:subaccount``) instead of mapping one."""
        return self.subaccount is not None

    @property
    def subaccount_subdomain(self) -> str | None:
        """The subdomain of the subaccount the stack creates: ``subaccount.subdomain``, else
        ``<subdomainPrefix>-<namespace>`` (:func:`~btp_infra.conventions.default_subdomain`)."""
        if self.subaccount is None:
            return None
        return self.subaccount.subdomain or default_subdomain(self.namespace, self.subdomain_prefix)

    @property
    def subaccount_region(self) -> str | None:
        """The region of the tenant's subaccount as configured (``subaccount.region``, else ``region``)."""
        return self.subaccount.region if self.subaccount is not None else self.region

    @property
    def subaccount_ref(self) -> str:
        """The tenant's subaccount in messages and listings: its id, or ``<subdomain> (<region>, …)``."""
        if self.subaccount_id is not None:
            return self.subaccount_id
        return f"{self.subaccount_subdomain} ({self.subaccount_region}, created by the stack)"

    @property
    def effective_protect(self) -> bool:
        """Whether the tenant is protected: ``protect``, or a created subaccount ``usedForProduction``."""
        return self.protect or (self.subaccount is not None and self.subaccount.used_for_production)

    @property
    def sm_labels(self) -> dict[str, list[str]]:
        """Labels put on the Service Manager instance and binding (SM label keys allow ``[A-Za-z0-9._-]``)."""
        return {SM_MANAGED_BY_LABEL: [PROJECT], SM_TENANT_LABEL: [self.namespace]}

    @property
    def all_entitlements(self) -> list[EntitlementSpec]:
        """``service-manager/service-operator-access`` first (merged with a user entry), then the rest."""
        service, plan = OPERATOR_ACCESS
        own = next((e for e in self.entitlements if e.key == OPERATOR_ACCESS), None)
        first = own or EntitlementSpec(service=service, plan=plan)
        return [first, *(e for e in self.entitlements if e.key != OPERATOR_ACCESS)]

    @property
    def has_cis_service_key(self) -> bool:
        """True when ``cisServiceKey`` is set (decrypted or still encrypted)."""
        return self.cis_service_key is not None

    @property
    def cis_service_key_value(self) -> str | None:
        """The cis key JSON when known in plaintext (from the engine); None if unset or still encrypted."""
        key = self.cis_service_key
        return key.get_secret_value() if isinstance(key, SecretStr) else None

    @property
    def kube_cluster_identifier(self) -> str | None:
        """The provider's ``clusterIdentifier``: ``clusterIdentifier``, else ``kubeContext``.

        pulumi-kubernetes replaces the provider (and every resource it manages) when this changes, and only
        then; without it, any change of the kubeconfig's active cluster entry (a rotated CA) does
        (``provider.go``, ``DiffConfig``)."""
        return self.cluster_identifier or self.kube_context

    @property
    def kubeconfig_value(self) -> str | None:
        """The kubeconfig (path or content) when available in plaintext; None if unset or still encrypted."""
        value = self.kubeconfig
        return value.get_secret_value() if isinstance(value, SecretStr) else None

    def redacted(self) -> dict[str, object]:
        """The config with camelCase keys, JSON-compatible, secrets shown as ``[secret]`` (for display)."""
        data: dict[str, object] = self.model_dump(mode="json", by_alias=True)
        for key in SECRET_KEYS:
            if data.get(key) is not None:
                data[key] = "[secret]"
        return data


def _check_model_matches_keys() -> None:
    """:data:`~btp_infra.config.keys.CONFIG_KEYS` and the credential types are listed before the model
    exists (for redaction, and in the stdlib-only conventions); fail at import if they drift from it."""
    fields = tuple(info.alias or name for name, info in TenantConfig.model_fields.items())
    if fields != CONFIG_KEYS:
        raise RuntimeError(f"btp_infra.config.keys.CONFIG_KEYS {CONFIG_KEYS} != TenantConfig fields {fields}")
    types = get_args(TenantConfig.model_fields["credential_type"].annotation)
    if types != conventions.CREDENTIAL_TYPES:
        raise RuntimeError(
            f"TenantConfig.credential_type {types} != conventions {conventions.CREDENTIAL_TYPES}"
        )


_check_model_matches_keys()

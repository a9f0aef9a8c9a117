"""The ``btp-infra:adopt`` block: hand-made objects of a tenant that the stack takes over instead of creating.

Owns :class:`AdoptSpec` (its keys, what each accepts, and the rules between them) and the texts naming what
is valid. A tenant set up by hand (the Kyma multi-tenancy seed: a ``service-operator-access`` instance and
binding made in the cockpit, a namespace and a Secret made with ``kubectl``) is brought under management
without re-creating or interrupting anything::

    btp-infra:adopt:
      instanceName: kyma-ops-access      # or instanceId: <SM instance GUID>
      bindingName: kyma-ops-binding      # or bindingId: <SM binding GUID>; needs the instance
      import: [namespace, secret]        # import the existing Namespace and operator Secret (Pulumi
                                         # import); the Secret needs the binding

The BTP objects are found by id (a ``service-manager/service-operator-access`` instance of *this*
subaccount) or by name, labelled in place and recorded as adopted; the Kubernetes objects are imported
(Pulumi ``import``). Adopted objects are kept on destroy unless ``btp-infra:takeOwnership: true``, so each
is given back as it was found. Hence the one rule between the keys: a kept Secret must hold credentials that
outlive the stack, so its binding (and with it the instance) is adopted too. A namespace imported without a
Secret (it had none: ``btp-infra tenant adopt`` allows that only while no operator ServiceInstance lives in
it) gets the stack's Secret, which destroy removes again — the namespace is left as it was found.
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from btp_infra.config.grammar import is_guid
from btp_infra.config.issues import Invalid, raise_all

__all__ = ["IMPORTABLE", "VALID_ADOPT", "VALID_IMPORT", "VALID_SM_ID", "VALID_SM_NAME", "AdoptSpec"]

VALID_SM_ID: Final = (
    "a Service Manager object GUID (cockpit → Instances and Subscriptions, or `btp get services/instance`): "
    "8-4-4-4-12 hex digits"
)
VALID_SM_NAME: Final = (
    "the Service Manager name of the object: 1-255 characters, no spaces or control characters"
)
VALID_IMPORT: Final = "a list with namespace and/or secret (the Kubernetes objects to import)"
VALID_ADOPT: Final = (
    "a mapping with any of instanceId or instanceName, bindingId or bindingName, and import ("
    + VALID_IMPORT
    + ")"
)
IMPORTABLE: Final = ("namespace", "secret")
"""What ``adopt.import`` may name. (A list of words, not ``secret: true``: a key that looks secret is
redacted in every message, :func:`btp_infra.config.redaction.is_secret_key`.)"""
_SM_NAME_RE: Final = re.compile(r"[^\s\x00-\x1f\x7f]{1,255}")


class AdoptSpec(BaseModel):
    """What of the tenant exists already (made by hand) and is adopted rather than created."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)

    instance_id: str | None = Field(default=None, alias="instanceId", description=VALID_SM_ID)
    instance_name: str | None = Field(default=None, alias="instanceName", description=VALID_SM_NAME)
    binding_id: str | None = Field(default=None, alias="bindingId", description=VALID_SM_ID)
    binding_name: str | None = Field(default=None, alias="bindingName", description=VALID_SM_NAME)
    imports: tuple[str, ...] = Field(default=(), alias="import", description=VALID_IMPORT)

    @field_validator("imports", mode="before")
    @classmethod
    def _check_imports(cls, value: object) -> object:
        if not isinstance(value, list | tuple):
            raise Invalid("must be a list", VALID_IMPORT)
        problems = [
            Invalid("is not an importable object", VALID_IMPORT, key=(i,), value=item)
            for i, item in enumerate(value)
            if item not in IMPORTABLE
        ]
        problems += [
            Invalid("is listed twice", VALID_IMPORT, key=(i,), value=item)
            for i, item in enumerate(value)
            if item in IMPORTABLE and item in value[:i]
        ]
        raise_all(problems)
        return tuple(value)

    @field_validator("instance_id", "binding_id")
    @classmethod
    def _check_id(cls, value: str | None) -> str | None:
        if value is not None and not is_guid(value):
            raise Invalid("is not a Service Manager GUID", VALID_SM_ID)
        return value.lower() if value is not None else None

    @field_validator("instance_name", "binding_name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not _SM_NAME_RE.fullmatch(value):
            raise Invalid("is not a Service Manager name", VALID_SM_NAME)
        return value

    @model_validator(mode="after")
    def _check_rules(self) -> AdoptSpec:
        problems: list[Invalid] = []
        if not (self.adopts_instance or self.adopts_binding or self.imports):
            problems.append(Invalid("adopts nothing", VALID_ADOPT, value={}))
        if self.adopts_binding and not self.adopts_instance:
            key = "bindingId" if self.binding_id is not None else "bindingName"
            problems.append(
                Invalid(
                    "adopts a binding of an instance the stack would create (a new instance has no bindings)",
                    "set instanceId or instanceName of the binding's instance too",
                    key=(key,),
                    value=self.binding_id or self.binding_name,
                )
            )
        if self.secret and not self.adopts_binding:
            problems.append(
                Invalid(
                    "adopts the Secret but not the binding whose credentials it holds (a kept Secret would "
                    "hold credentials deleted with the stack)",
                    "set bindingId or bindingName of the binding the Secret's clientid belongs to",
                    key=("import",),
                    value=list(self.imports),
                )
            )
        raise_all(problems)
        return self

    @property
    def namespace(self) -> bool:
        """True when the existing Namespace is imported."""
        return "namespace" in self.imports

    @property
    def secret(self) -> bool:
        """True when the existing operator Secret is imported."""
        return "secret" in self.imports

    @property
    def adopts_instance(self) -> bool:
        """True when an existing ``service-operator-access`` instance is taken over."""
        return self.instance_id is not None or self.instance_name is not None

    @property
    def adopts_binding(self) -> bool:
        """True when an existing binding on that instance is taken over."""
        return self.binding_id is not None or self.binding_name is not None

    @property
    def instance_lookup(self) -> str | bool | None:
        """The instance provider's ``adopt`` input: the SM id, ``True`` (by the declared name) or ``None``."""
        return self.instance_id or (True if self.instance_name is not None else None)

    @property
    def binding_lookup(self) -> str | bool | None:
        """The binding provider's ``adopt`` input: the SM id, ``True`` (by the declared name) or ``None``."""
        return self.binding_id or (True if self.binding_name is not None else None)

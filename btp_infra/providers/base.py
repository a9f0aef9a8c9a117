"""What every btp-infra dynamic provider shares.

A provider is dill-pickled into state when its resource is constructed and unpickled by
``python -m pulumi.dynamic`` in another process. It therefore pickles to *nothing*: no credentials, no
sessions. The pickle refers to the provider class by its path (``btp_infra.providers.<module>.<Class>``),
which existing stacks keep in state: never move or rename a provider class.

The cis service key is resolved inside each call: ``BTP_CIS_SERVICE_KEY`` / ``BTP_CIS_SERVICE_KEY_FILE``
(read at every call), then the ``btp-infra:cisServiceKey`` config secret captured in
:meth:`BtpProvider.configure`, then a keyring profile (read at every call). What ``configure`` gets on
refresh and destroy is the stack config of the **last** ``up``, from state, not the current stack config:
those commands run no program, and the engine configures the dynamic default provider with the inputs it
stored (``pkg/resource/deploy/providers/registry.go``, ``Registry.Same``). So a cis key rotated in the stack
secret reaches refresh and destroy only after an ``up``; to refresh or destroy with a rotated key before
that, provide it through the environment (or key file), which comes first.

Inputs that only tune behaviour (:data:`BEHAVIOUR_KEYS`: timeouts, ``takeOwnership``, ``tenant``) never
replace: a change of one is an update that calls no API, so that it reaches state (delete sees only the
state's *outputs*, the engine's ``DeleteRequest.properties``, so a later destroy honours the new value only
once it is written). Each resource declares its inputs and outputs once, as a
:class:`~btp_infra.providers.spec.ResourceSpec`.

Gone is gone: once a subaccount no longer exists, everything that lived in it is reported gone by ``read``
and treated as deleted by ``delete`` (:class:`SubaccountGoneError`). A subaccount that exists but lost its
Service Manager admin access (:class:`NoAdminAccessError`) is not gone: ``delete`` borrows temporary admin
access to remove what is still there (:meth:`BtpProvider.cleanup_service_manager`), so nothing is orphaned.
Messages about what was kept or found gone go to the provider's stderr, which the engine shows as
diagnostics.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

from pulumi.dynamic import CheckResult, ConfigureRequest, DiffResult, ResourceProvider

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.errors import NoAdminAccessError, NotFoundError, SubaccountGoneError
from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.btp.keys import ServiceManagerCredentials
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.conventions import (
    BEHAVIOUR_KEYS,
    CONFIG_CIS_KEY,
    CONFIG_KEYRING_PROFILE,
    DEFAULT_TIMEOUTS,
    TEMPORARY_ACCESS_TIMEOUT,
)
from btp_infra.credentials import resolve_cis_service_key
from btp_infra.providers.spec import ResourceSpec, check_result, contains_unknowns, diff_inputs, is_unknown

__all__ = [
    "BEHAVIOUR_KEYS",
    "SM_ASYNC",
    "BtpProvider",
    "check_result",
    "contains_unknowns",
    "diff_inputs",
    "is_unknown",
    "log",
]

#: SM's ``async`` query parameter on mutations: synchronous (benchmarks/RESULTS.md, API economy).
SM_ASYNC = False
log = logging.getLogger("btp_infra.providers")


class BtpProvider(ResourceProvider):
    """Base of the btp-infra providers: per-call credentials and clients, nothing pickled."""

    #: The resource's declared inputs and outputs; ``check`` and ``diff`` follow it unless overridden.
    spec: ClassVar[ResourceSpec]

    #: Seconds an operation may take when the state has no ``timeoutSeconds``; each provider that waits
    #: sets its own entry of :data:`~btp_infra.conventions.DEFAULT_TIMEOUTS`.
    default_timeout: ClassVar[float] = float(DEFAULT_TIMEOUTS["adminAccess"])
    #: Retry and poll policies of the clients (``None``: the clients' defaults). Class attributes, so never
    #: pickled; tests shorten them.
    retry_policy: ClassVar[RetryPolicy | None] = None
    poll_policy: ClassVar[PollPolicy | None] = None

    def __init__(self) -> None:
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._config_key: str | None = None
        self._keyring_profile: str | None = None
        self._lock = threading.Lock()
        self._accounts_client: AccountsClient | None = None
        self._entitlements_client: EntitlementsClient | None = None
        self._sm_clients: dict[str, ServiceManagerClient] = {}

    # Pickling: the provider carries no state into Pulumi state.
    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._init_runtime()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """The declared input checks (:meth:`ResourceSpec.check`)."""
        return self.spec.check(news)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """The declared inputs compared, replace keys replacing (:meth:`ResourceSpec.diff`)."""
        return self.spec.diff(olds, news)

    def configure(self, req: ConfigureRequest) -> None:
        """Capture the stack's cis key secret and keyring profile (decrypted by the engine)."""
        raw = req.config.get(CONFIG_CIS_KEY)
        self._config_key = raw if isinstance(raw, str) and raw else None
        profile = req.config.get(CONFIG_KEYRING_PROFILE)
        self._keyring_profile = profile if isinstance(profile, str) and profile else None

    def timeout_of(self, props: Mapping[str, Any]) -> float:
        """The per-resource timeout in seconds (input ``timeoutSeconds``) or the provider default."""
        value = props.get("timeoutSeconds")
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        return self.default_timeout

    def accounts(self) -> AccountsClient:
        """The Accounts API client (one per provider process)."""
        with self._lock:
            if self._accounts_client is None:
                self._accounts_client = AccountsClient(
                    self._cis_key(), retry_policy=self.retry_policy, poll_policy=self.poll_policy
                )
            return self._accounts_client

    def entitlements(self) -> EntitlementsClient:
        """The Entitlements API client (one per provider process)."""
        with self._lock:
            if self._entitlements_client is None:
                self._entitlements_client = EntitlementsClient(
                    self._cis_key(), retry_policy=self.retry_policy, poll_policy=self.poll_policy
                )
            return self._entitlements_client

    def service_manager(
        self, subaccount_id: str, creds: ServiceManagerCredentials | None = None
    ) -> ServiceManagerClient:
        """An SM client with the subaccount's admin credentials (``creds``, or fetched through the Accounts
        API). Raises :class:`SubaccountGoneError` when the subaccount no longer exists and
        :class:`NoAdminAccessError` when it exists without admin access."""
        with self._lock:
            client = self._sm_clients.get(subaccount_id)
        if client is not None:
            return client
        if creds is None:
            creds = self.accounts().get_service_management_binding(subaccount_id)
        if creds is None:
            raise self._missing_admin_access(subaccount_id)
        # async=false: SM answers when the operation is done (service-operator-access is SM's own plan and
        # fast), so no status polls; an operation SM still runs asynchronously answers 202 and is polled.
        client = ServiceManagerClient(
            creds, retry_policy=self.retry_policy, poll_policy=self.poll_policy, async_mode=SM_ASYNC
        )
        with self._lock:
            return self._sm_clients.setdefault(subaccount_id, client)

    def forget_service_manager(self, subaccount_id: str) -> None:
        """Drop the cached SM client of a subaccount (its admin credentials were deleted or replaced)."""
        with self._lock:
            client = self._sm_clients.pop(subaccount_id, None)
        if client is not None:
            client.close()

    def subaccount_exists(self, subaccount_id: str) -> bool:
        """True unless the Accounts API answers 404 for the subaccount."""
        try:
            self.accounts().get_subaccount(subaccount_id)
        except NotFoundError:
            return False
        return True

    def _missing_admin_access(self, guid: str) -> SubaccountGoneError | NoAdminAccessError:
        if not self.subaccount_exists(guid):
            return SubaccountGoneError(
                f"subaccount {guid} no longer exists (deleted, or not in the global account of the cis key)",
                status=404,
            )
        return NoAdminAccessError(
            f"subaccount {guid} has no Service Manager admin access (serviceManagementBinding); "
            "`pulumi up` restores it"
        )

    @contextmanager
    def cleanup_service_manager(self, subaccount_id: str, what: str) -> Iterator[ServiceManagerClient | None]:
        """An SM client for deleting ``what``: ``None`` when the subaccount is gone (so is ``what``).

        When the subaccount exists but its admin access was removed, ``what`` may still exist: admin access is
        borrowed (created, used, and deleted again), so a destroy neither fails forever nor orphans it.
        """
        client: ServiceManagerClient | None = None
        borrow = False
        try:
            client = self.service_manager(subaccount_id)
        except SubaccountGoneError:
            log.warning(
                "btp-infra: %s: subaccount %s no longer exists; it is gone with it", what, subaccount_id
            )
        except NoAdminAccessError:
            borrow = True
        if not borrow:
            yield client
            return
        log.warning(
            "btp-infra: %s: subaccount %s has no Service Manager admin access any more; "
            "borrowing temporary admin access to delete it",
            what,
            subaccount_id,
        )
        accounts = self.accounts()
        creds = accounts.create_service_management_binding(subaccount_id, timeout=TEMPORARY_ACCESS_TIMEOUT)
        self.forget_service_manager(subaccount_id)
        try:
            yield self.service_manager(subaccount_id, creds)
        finally:
            self.forget_service_manager(subaccount_id)
            accounts.delete_service_management_binding(subaccount_id, timeout=TEMPORARY_ACCESS_TIMEOUT)

    def _cis_key(self) -> Any:
        return resolve_cis_service_key(
            config_value=self._config_key, keyring_profile=self._keyring_profile
        ).key

"""Helpers of the reliability suite: its emulator config, its default tenant (``incident`` in
``SUBACCOUNT_1``, over :mod:`btp_infra.testing.tenants`), emulator secrets, error checks, child runs."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator_fixtures import FAST, SUBACCOUNT_1, sandbox_seeds

from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.conventions import OPERATOR_OFFERING, OPERATOR_PLAN
from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.sandbox import SandboxConfig, SandboxServer
from btp_infra.testing import tenants
from btp_infra.testing.tenants import ONE_OF_EACH as ONE_OF_EACH

if TYPE_CHECKING:
    from btp_infra.testing.local_engine import LocalEngine

NAMESPACE = "incident"
OPERATOR = (OPERATOR_OFFERING, OPERATOR_PLAN)
READ_TIMEOUT = 0.5
"""The clients' read timeout in this suite: the emulator's ``timeout`` fault answers 0.5 s after it."""
FAST_RETRY = RetryPolicy(
    backoff_base=0.02, backoff_cap=0.1, read_timeout=READ_TIMEOUT, connect_timeout=2.0, call_deadline=60.0
)
FAST_POLL = PollPolicy(initial=0.02, ratio=0.1, cap=0.1)


def sandbox_config(**changes: Any) -> SandboxConfig:
    """Two subaccounts (``SUBACCOUNT_1``/``_2``), tiny latencies, plain HTTP unless ``tls=True``, and
    ``Retry-After`` in seconds (an HTTP-date rounds up to the next whole second: up to 1 s more per 429)."""
    defaults: dict[str, Any] = {
        "subaccounts": sandbox_seeds(),
        "latencies": FAST,
        "retry_after_format": "seconds",
    }
    return SandboxConfig(**{**defaults, **changes})


def tenant_config(namespace: str = NAMESPACE, subaccount: str = SUBACCOUNT_1, **extra: str) -> dict[str, str]:
    """Engine-form stack config of this suite's default tenant (plus ``extra`` ``btp-infra:`` keys)."""
    return tenants.tenant_config(namespace, subaccount, **extra)


def engine(namespace: str = NAMESPACE, subaccount: str = SUBACCOUNT_1, **extra: str) -> LocalEngine:
    return tenants.engine(namespace, subaccount, **extra)


def chain_objects(
    state: Mapping[str, Any], namespace: str = NAMESPACE, guid: str = SUBACCOUNT_1
) -> dict[str, int]:
    """How many of each BTP object of the tenant the emulator holds, ``OK`` entitlements too (1 each after a
    create: ``ONE_OF_EACH``)."""
    return tenants.chain_objects(state, namespace, guid, ready=True)


def exactly_one_of_each(sandbox: SandboxServer) -> dict[str, int]:
    return tenants.exactly_one_of_each(sandbox, NAMESPACE, SUBACCOUNT_1)


def leftovers(sandbox: SandboxServer) -> dict[str, list[Any]]:
    """Everything a tenant can leave in the emulator; all lists empty = empty."""
    return tenants.leftovers(sandbox.state())


def is_empty(sandbox: SandboxServer) -> bool:
    return tenants.is_empty(sandbox.state())


def emulator_secrets(sandbox: SandboxServer) -> list[str]:
    """Every secret the emulator issued or holds: the cis client secret, binding client secrets, and for x509
    private keys three lines of the PEM body (a multi-line secret is found even where it is JSON-escaped)."""
    store = sandbox.runtime.store
    found = [store.cis_client.secret or ""]
    for binding in store.bindings.values():
        found.append(str(binding.credentials.get("clientsecret") or ""))
        found.append(binding.client.secret or "")
        body = [
            line for line in str(binding.credentials.get("key") or "").splitlines() if "-----" not in line
        ]
        if body:
            found += [body[0], body[len(body) // 2], body[-1]]
    return sorted({s for s in found if len(s) >= 8})


_VERBS = re.compile(
    r"\b(create|delete|get|list|read|assign|unassign|update|find|wait|adopt|token|remove|poll)\b",
    re.IGNORECASE,
)
_FAILURES = re.compile(
    r"\b(429|500|502|503|504)\b|Too Many Requests|Internal Server Error|Bad Gateway|failed|time(d)? ?out"
    r"|timeout|did not finish|connection|reset|refused|not found|locked|conflict",
    re.IGNORECASE,
)


def error_text(error: BaseException) -> str:
    """What a user sees: the type, the message and the chained causes' messages."""
    parts: list[str] = []
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def clarity_problems(error: BaseException, secrets: Iterable[str]) -> list[str]:
    """Why ``error`` is not a clear error (empty list: it is): it must name the operation and what went
    wrong, and reveal no secret."""
    head = f"{type(error).__name__}: {error}"
    problems = []
    if not _VERBS.search(head):
        problems.append(f"does not name the operation: {head!r}")
    if not _FAILURES.search(head):
        problems.append(f"does not say what failed: {head!r}")
    full = error_text(error)
    problems += [f"reveals a secret ({s[:4]}…)" for s in secrets if s and s in full]
    return problems


# ---- hostile inputs: the real entry point in a child process, bounded in time and memory -------------------

BTP_INFRA = Path(sys.executable).with_name("btp-infra")
"""The installed console script (``.venv/bin/btp-infra``)."""
CHILD_MEMORY_LIMIT = 512 * 2**20
"""Address-space limit of a child ``btp-infra`` (a normal ``plan`` needs less than 200 MiB of it)."""
CHILD_TIMEOUT = 60.0
_CREDENTIAL_ENV = (ENV_KEY, ENV_KEY_FILE, ENV_PROFILE)


@dataclass(frozen=True)
class ChildRun:
    """What a child ``btp-infra`` did."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def run_btp_infra(
    *args: str,
    home: Path,
    env: Mapping[str, str] | None = None,
    stdin: Any = subprocess.DEVNULL,
    cwd: Path | None = None,
    timeout: float = CHILD_TIMEOUT,
    memory: int = CHILD_MEMORY_LIMIT,
) -> ChildRun:
    """``btp-infra ARGS`` in a child with an address-space limit and a timeout: a hang fails the test with
    ``TimeoutExpired`` (the child is killed), a runaway allocation dies in the child. No credential source
    of the caller leaks in; the keyring is a plaintext file under ``home`` (never the user's keyring)."""
    child_env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_ENV}
    child_env.update(
        {
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(home),
            "LC_ALL": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
        }
    )
    child_env.update(env or {})

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    started = time.monotonic()
    done = subprocess.run(
        [str(BTP_INFRA), *args],
        env=child_env,
        stdin=stdin,
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        preexec_fn=limit_memory,  # only setrlimit, before exec
        check=False,
    )
    return ChildRun(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
        time.monotonic() - started,
    )


def one_error_line(output: str) -> str:
    """The single ``Error: ...`` line of a click error (usage errors may add their ``Usage:``/``Try`` lines),
    asserting there is no traceback and no other error text."""
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, output
    others = [line for line in lines if not line.startswith(("Error:", "Usage:", "Try "))]
    assert others == [], output
    return errors[0]


def cis_key_document(secret: str, client_id: str = "sb-cis-central!b1") -> dict[str, Any]:
    """A cockpit-shaped cis service key (global account, plan central) whose client secret is ``secret``."""
    return {
        "endpoints": {
            "accounts_service_url": "https://accounts-service.cfapps.eu10.hana.ondemand.com",
            "entitlements_service_url": "https://entitlements-service.cfapps.eu10.hana.ondemand.com",
        },
        "uaa": {
            "clientid": client_id,
            "clientsecret": secret,
            "url": "https://ga.authentication.eu10.hana.ondemand.com",
        },
    }

"""Fleet runs over the Pulumi Automation API: ``btp-infra preview | up | refresh | destroy``.

The CLI calls :func:`run_fleet` (:mod:`.fleet`) with the selected stack names (:func:`all_stacks` for
``--all``) and prints :meth:`FleetResult.json_text` for ``--json`` (shape in :mod:`.model`). The backend,
secrets provider and passphrase defaults are in :mod:`.environment`; finding and checking the Pulumi CLI in
:mod:`.pulumi_cli`. A click command is a few lines::

    names = all_stacks(project_dir) if all_ else list(stacks)
    if operation == "destroy" and not yes:
        yes = click.confirm(f"destroy {len(names)} stack(s): {', '.join(names)}?")
    result = run_fleet(operation, names, project_dir=project_dir, parallel=parallel, yes=yes,
                       console=Console(stderr=as_json))   # progress, table, one-line errors
    if as_json:
        click.echo(result.json_text())
    sys.exit(result.exit_code)                            # 0 ok, 1 a stack failed/refused, 2 nothing run
"""

from __future__ import annotations

from btp_infra.automation.environment import (
    PASSPHRASE_KEYRING_ENTRY,
    STATE_DIR,
    Backend,
    Passphrase,
    resolve_backend,
    resolve_passphrase,
    store_passphrase_in_keyring,
)
from btp_infra.automation.fleet import (
    DEFAULT_PARALLEL,
    OPERATIONS,
    FleetResult,
    Operation,
    ProgressUpdate,
    StackOutcome,
    all_stacks,
    resolve_targets,
    run_fleet,
)
from btp_infra.automation.model import JSON_VERSION, StackTarget, fleet_json
from btp_infra.automation.pulumi_cli import INSTALL_URL, FleetSetupError, PulumiCli, find_pulumi_cli
from btp_infra.automation.report import FleetDisplay, print_error, print_summary

__all__ = [
    "DEFAULT_PARALLEL",
    "INSTALL_URL",
    "JSON_VERSION",
    "OPERATIONS",
    "PASSPHRASE_KEYRING_ENTRY",
    "STATE_DIR",
    "Backend",
    "FleetDisplay",
    "FleetResult",
    "FleetSetupError",
    "Operation",
    "Passphrase",
    "ProgressUpdate",
    "PulumiCli",
    "StackOutcome",
    "StackTarget",
    "all_stacks",
    "find_pulumi_cli",
    "fleet_json",
    "print_error",
    "print_summary",
    "resolve_backend",
    "resolve_passphrase",
    "resolve_targets",
    "run_fleet",
    "store_passphrase_in_keyring",
]

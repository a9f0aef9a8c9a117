"""``python -m btp_infra.cli``: the same as the ``btp-infra`` command."""

from btp_infra.cli import main

main()

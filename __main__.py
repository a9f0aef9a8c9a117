"""Pulumi entry point: `pulumi up -s <tenant>` runs this file from the project root."""

from btp_infra.program import main

main()

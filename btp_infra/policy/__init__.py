"""Tenant guardrails as policy-as-code.

- :mod:`btp_infra.policy.rules` — the rules as plain functions over plain data;
- :mod:`btp_infra.policy.policies` — the ``pulumi_policy`` objects wrapping them (``ALL_POLICIES``,
  ``PACK_NAME``);
- :mod:`btp_infra.policy.analyzer` — runs the pack through the SDK's analyzer servicer, configured like
  the CLI.

Nothing here starts the analyzer server: that happens only in ``policies/__main__.py`` (``PolicyPack(...)``).
"""

"""Tenant guardrails as policy-as-code.

- :mod:`btp_infra.policy.rules` — the rules as plain functions over plain data;
- :mod:`btp_infra.policy.policies` — the ``pulumi_policy`` objects wrapping them (``ALL_POLICIES``,
  ``PACK_NAME``);
Imports only :mod:`btp_infra.conventions`, :mod:`btp_infra.operator_secret`, :mod:`btp_infra.catalog` and
:mod:`btp_infra.limits` besides ``pulumi_policy``: the pack starts inside the Pulumi CLI's analyzer. Running
the pack offline (``btp-infra plan``) is :mod:`btp_infra.offline.analyzer`'s job.

Nothing here starts the analyzer server: that happens only in ``policies/__main__.py`` (``PolicyPack(...)``).
"""

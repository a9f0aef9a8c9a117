"""The btp-infra tenant guardrail policy pack: ``pulumi preview --policy-pack policies``.

Only the pack lives here: ``PolicyPack(...)`` starts the analyzer server and blocks, so the rules are in
:mod:`btp_infra.policy` where tests and ``btp-infra plan`` import them.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from btp_infra.policy.policies import ALL_POLICIES, PACK_DESCRIPTION, PACK_NAME

PolicyPack(
    name=PACK_NAME,
    policies=ALL_POLICIES,
    enforcement_level=EnforcementLevel.ADVISORY,
    description=PACK_DESCRIPTION,
)

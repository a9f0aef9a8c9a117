"""btp-infra: one tenant = one Pulumi stack = one Kyma namespace mapped 1:1 to one SAP BTP subaccount."""

__version__ = "0.1.0"

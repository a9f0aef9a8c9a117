"""Typed clients for the SAP BTP APIs btp-infra needs: Accounts, Entitlements and Service Manager.

Layering: ``errors`` ← ``keys`` ← ``http``/``auth`` (transport) ← ``accounts``, ``entitlements``,
``service_manager`` (one facade per API area). Nothing here imports Pulumi.
"""

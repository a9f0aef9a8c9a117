"""Test machinery shipped with btp-infra for its tests and benchmarks (and ``btp-infra sandbox`` demos).

Nothing here is used by the program, the components or the providers, and nothing here may be: a module of
this package stands in for parts of Pulumi (the engine) or of BTP around the real code under test.

- :mod:`btp_infra.testing.local_engine` — runs a stack's dynamic resources for real under Pulumi mocks
  (``LocalEngine``: up, preview, refresh, destroy with in-memory state);
- :mod:`btp_infra.testing.tenants` — default tenants as the tests and benchmarks stage them, and the counts
  of their BTP objects in the emulator's state.
"""

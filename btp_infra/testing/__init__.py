"""Test machinery shipped with btp-infra for its tests and benchmarks (and ``btp-infra sandbox`` demos).

Nothing here is used by the program, the components or the providers, and nothing here may be: a module of
this package stands in for parts of Pulumi (the engine) or of BTP around the real code under test.

- :mod:`btp_infra.testing.local_engine` — runs a stack's dynamic resources for real under Pulumi mocks
  (``LocalEngine``: up, preview, refresh, destroy with in-memory state);
- :mod:`btp_infra.testing.kube_api` — a stand-in Kubernetes API (the few endpoints btp-infra uses, over real
  HTTP on 127.0.0.1, with a request log, faults and a stand-in of the BTP service operator's finalizers);
- :mod:`btp_infra.testing.handmade` — a tenant set up by hand in the emulator (operator-access instance and
  binding with a person's names, no btp-infra labels), for the adoption tests;
- :mod:`btp_infra.testing.tenants` — default tenants as the tests and benchmarks stage them, and the counts
  of their BTP objects in the emulator's state.
"""

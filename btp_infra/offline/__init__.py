"""The offline plan behind ``btp-infra plan``: tenant stacks checked without Pulumi CLI, cloud or credentials.

Named ``offline`` because "plan" means a BTP *service plan* everywhere else in btp-infra. One module per
concern, the arrows pointing one way:

- :mod:`btp_infra.offline.graph` — the rendered resource graph (``RenderedResource``, ``RenderResult``) and
  the secret envelope helpers: plain data, no Pulumi runtime;
- :mod:`btp_infra.offline._sdk` — every use of private Pulumi / pulumi-policy SDK internals, in one place;
- :mod:`btp_infra.offline.rendering` — runs the program under Pulumi mocks and records the graph;
- :mod:`btp_infra.offline.analyzer` — the policy pack through the SDK's analyzer servicer, configured like
  the CLI (policy config, requests from rendered resources, diagnostics);
- :mod:`btp_infra.offline.redaction` — what may be shown: the ``Scrubber`` and the allow-listed key
  properties;
- :mod:`btp_infra.offline.report` — the report model and its text and JSON output (``docs/plan-json.md``);
- :mod:`btp_infra.offline.runner` — selecting stacks and ``run_plan`` (stacks in parallel worker processes).

Importing the package imports none of them: the CLI and the policy pack pay only for what they use.
"""

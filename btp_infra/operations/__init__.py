"""Day-2 operations on live tenants: verify the mapping, rotate the operator credentials, adopt hand-made
tenants, offboard without orphans (issue 13). ``rotate``: a new operator-access binding through the program
(:mod:`btp_infra.operations.rotate`).

Beside the CLI and imported by it: a module here may use the config model, the credentials, the BTP clients,
the Kubernetes facade (:mod:`btp_infra.kube`) and the automation layer; the program, the components and the
providers never import it.
"""

#!/usr/bin/env bash
# Prints a kubeconfig for the ServiceAccount btp-infra-ci (deploy/ci-kubeconfig), for the repository secret
# KUBECONFIG. Run it with an administrator's kubeconfig after `kubectl apply -k deploy/ci-kubeconfig`:
#
#   deploy/ci-kubeconfig/print-kubeconfig.sh [CONTEXT_NAME] > ci-kubeconfig.yaml   # then:
#   gh secret set KUBECONFIG < ci-kubeconfig.yaml && rm ci-kubeconfig.yaml
#
# CONTEXT_NAME (default: the current context's name) must equal the stacks' btp-infra:kubeContext.
# The token goes to stdout inside the kubeconfig only: never to stderr, never in a command line (`ps`), no
# `set -x`. Environment: KUBECTL (default kubectl), CI_NAMESPACE (btp-infra-ci), CI_TOKEN_SECRET
# (btp-infra-ci-token), CI_WAIT_SECONDS (30: how long to wait for Kubernetes to fill the token).
set -euo pipefail
set +x
umask 077

kubectl=${KUBECTL:-kubectl}
namespace=${CI_NAMESPACE:-btp-infra-ci}
secret=${CI_TOKEN_SECRET:-btp-infra-ci-token}
wait_seconds=${CI_WAIT_SECONDS:-30}

context=${1:-$("$kubectl" config current-context)}
cluster=$("$kubectl" config view --minify --raw -o jsonpath='{.clusters[0].name}')
server=$("$kubectl" config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')
if [ -z "$server" ]; then
  echo "print-kubeconfig: no cluster server in the current kubeconfig context" >&2
  exit 1
fi

token=""
for _ in $(seq 1 "$wait_seconds"); do
  token=$("$kubectl" -n "$namespace" get secret "$secret" -o jsonpath='{.data.token}' 2>/dev/null || true)
  [ -n "$token" ] && break
  sleep 1
done
if [ -z "$token" ]; then
  echo "print-kubeconfig: secret $namespace/$secret has no token (apply deploy/ci-kubeconfig first)" >&2
  exit 1
fi
ca=$("$kubectl" -n "$namespace" get secret "$secret" -o jsonpath='{.data.ca\.crt}')

# Built with kubectl in a private temporary directory; the token never appears on a command line (`ps`): a
# placeholder is replaced by bash itself (builtins only) when printing.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s' "$ca" | base64 -d > "$work/ca.crt"
token=$(printf '%s' "$token" | base64 -d)
out="$work/kubeconfig"
: > "$out"
"$kubectl" --kubeconfig "$out" config set-cluster "$cluster" --server "$server" \
  --certificate-authority "$work/ca.crt" --embed-certs=true > /dev/null
"$kubectl" --kubeconfig "$out" config set-credentials btp-infra-ci --token TOKEN-PLACEHOLDER > /dev/null
"$kubectl" --kubeconfig "$out" config set-context "$context" --cluster "$cluster" --user btp-infra-ci \
  --namespace "$namespace" > /dev/null
"$kubectl" --kubeconfig "$out" config use-context "$context" > /dev/null
content=$(<"$out")
printf '%s\n' "${content/TOKEN-PLACEHOLDER/$token}"

#!/usr/bin/env bash
# Creates (or updates) the Secrets the collector's manifests reference, from files you keep outside
# git. Example only: no secret value is written here, and none should be written into the
# repository. Each file holds one value (trailing whitespace is ignored by the collector).
#
#   examples/create-secrets.sh DIR [ha]
#
# DIR/agent-tokens            "name sha256" lines, one per agent group:
#                               vigilctl token generate | awk '/^token:/ {print $2}' > web.token
#                               echo "web-fleet $(vigilctl token hash web.token)" >> DIR/agent-tokens
#                             (web.token goes to the agents' token_file, not into the cluster)
# DIR/api-token               the token for POST /-/reload and silences, made the same way
# DIR/smtp-password           the mail relays' password (alerting.yaml: password_file)
# DIR/webhook-token           the webhook's bearer token (bearer_token_file)
# DIR/webhook-signing-secret  the webhook's HMAC secret (signing_secret_file)
# with `ha` also:
# DIR/postgres-password       the password of the PostgreSQL user vigil
# DIR/postgres-ca.crt         the CA certificate that signed the server's (sslmode verify-full)
#
# Namespace: $NAMESPACE (default vigil). kubectl's context decides the cluster.
set -euo pipefail
if [[ $# -lt 1 || $# -gt 2 || ( $# -eq 2 && $2 != ha ) ]]; then
  echo "usage: $0 DIR [ha]" >&2
  exit 2
fi
dir=$1
ns=${NAMESPACE:-vigil}

# Builds the Secret client-side and applies it, so a second run updates it in place.
apply_secret() {
  local name=$1
  shift
  kubectl -n "$ns" create secret generic "$name" "$@" --dry-run=client -o yaml | kubectl apply -f -
}

apply_secret vigil-collector-auth \
  --from-file=agent-tokens="$dir/agent-tokens" \
  --from-file=api-token="$dir/api-token"
apply_secret vigil-alerting \
  --from-file=smtp-password="$dir/smtp-password" \
  --from-file=webhook-token="$dir/webhook-token" \
  --from-file=webhook-signing-secret="$dir/webhook-signing-secret"
if [[ ${2:-} == ha ]]; then
  apply_secret vigil-postgres \
    --from-file=password="$dir/postgres-password" \
    --from-file=ca.crt="$dir/postgres-ca.crt"
fi

#!/usr/bin/env bash
# Builds the collector image with build-image.sh and runs it: the image's configuration (user,
# entrypoint, ports), its contents (libraries complete, CA certificates, time zones), and the
# collector run from the image's root as the pod runs it (read-only root, uid 10001, no
# capabilities, the Kubernetes base config, the repository's rules and placeholder secrets where
# the manifests mount them): /healthz, /readyz, rules and alerting config loaded, the API token
# honoured, state written, and a clean stop on SIGTERM. Exit 77 (skipped) where root, debootstrap,
# buildah or the Debian mirror is missing.
#
#   image_test.sh COLLECTOR VIGILCTL WORKDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
collector=$1 vigilctl=$2 work=$3
# The debootstrap root is kept across build trees (24 s and 30 MB of downloads each time).
base=${VIGIL_IMAGE_BASE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil/bookworm-slim}

bash "$here/build-image.sh" --collector "$collector" --vigilctl "$vigilctl" --work "$work" \
  --base "$base" --tag localhost/vigil-collector:test

buildah=(buildah --storage-driver vfs --root "$work/storage" --runroot "$work/run")
failures=0
expect() {  # expect WHAT EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    echo "ok: $1"
  else
    echo "FAIL: $1: expected '$2', got '$3'"
    failures=$((failures + 1))
  fi
}

inspect() { "${buildah[@]}" inspect --type image --format "$1" localhost/vigil-collector:test; }
expect "user" "10001:10001" "$(inspect '{{.OCIv1.Config.User}}')"
expect "entrypoint" "[/usr/bin/vigil-collector]" "$(inspect '{{.OCIv1.Config.Entrypoint}}')"
expect "cmd" "[--config /etc/vigil/config/collector.yaml]" "$(inspect '{{.OCIv1.Config.Cmd}}')"
expect "ports" "map[4317:{} 8080:{}]" "$(inspect '{{.OCIv1.Config.ExposedPorts}}')"

ctr=$("${buildah[@]}" from localhost/vigil-collector:test)
cleanup() { "${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true; }
trap cleanup EXIT
run() { "${buildah[@]}" run --isolation chroot "$ctr" -- "$@"; }

expect "version" "vigil-collector $("$collector" --version | awk '{print $NF}')" \
  "$(run /usr/bin/vigil-collector --version)"
expect "vigilctl runs" "0" "$(run /usr/bin/vigilctl token generate >/dev/null; echo $?)"
expect "runs as" "10001" "$(run /usr/bin/id -u)"
expect "no missing library" "" \
  "$(run /usr/bin/ldd /usr/bin/vigil-collector /usr/bin/vigilctl | grep 'not found' || true)"
expect "state dir owner" "vigil:vigil 750" "$(run /usr/bin/stat -c '%U:%G %a' /var/lib/vigil-collector)"
expect "CA bundle" "yes" "$(run /bin/sh -c 'test -s /etc/ssl/certs/ca-certificates.crt && echo yes')"
expect "time zones" "yes" "$(run /bin/sh -c 'test -f /usr/share/zoneinfo/Europe/Berlin && echo yes')"
expect "no compiler" "no" "$(run /bin/sh -c 'command -v cc g++ >/dev/null && echo yes || echo no')"

# The collector from the image's root as the Kubernetes manifests run it (base/deployment.yaml):
# uid/gid 10001 without privileges or capabilities, the root filesystem read-only, and writable
# or mounted only what the pod mounts: the config ConfigMap at /etc/vigil/config (the files of
# deploy/kubernetes/base), the rules at /etc/vigil/rules, the Secrets under /run/secrets/vigil
# (placeholder values), the state volume and /tmp. Only the listen addresses change: loopback
# ports of this machine.
"${buildah[@]}" rm "$ctr" >/dev/null
trap - EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
mkdir -p "$tmp"/{config,rules,auth,alerting,state,tmp}
k8s=$repo/deploy/kubernetes/base
sed -e "s|grpc: 0.0.0.0:4317|grpc: 127.0.0.1:0|" -e "s|http: 0.0.0.0:8080|http: 127.0.0.1:$port|" \
  "$k8s/collector.yaml" >"$tmp/config/collector.yaml"
grep -q "127.0.0.1:$port" "$tmp/config/collector.yaml" || { echo "FAIL: listen.http not rewritten"; exit 1; }
cp "$k8s/alerting.yaml" "$tmp/config/"
cp "$repo"/rules/*.yaml "$tmp/rules/"
api_token=$(/usr/bin/python3 -c 'import secrets; print(secrets.token_hex(32))')
echo "$api_token" >"$tmp/auth/api-token"
echo "image-test $(echo -n "$api_token" | sha256sum | cut -d' ' -f1)" >"$tmp/auth/agent-tokens"
for f in smtp-password webhook-token webhook-signing-secret; do echo placeholder >"$tmp/alerting/$f"; done
chmod -R a+rX "$tmp"
chown 10001:10001 "$tmp/state"
chmod 1777 "$tmp/tmp"
rules_loaded=$("$vigilctl" rules check "$repo/rules" | grep -o '[0-9]\+ rules' | awk '{print $1}')
root=$work/rootfs
# shellcheck disable=SC2016  # expanded by the inner shell, from its arguments
unshare --mount --propagation private bash -c '
  set -e
  root=$1 tmp=$2
  mount --bind "$root" "$root"
  mount -o remount,bind,ro "$root"
  mount --bind "$tmp/config" "$root/etc/vigil/config"
  mount --bind "$tmp/rules" "$root/etc/vigil/rules"
  mount --bind "$tmp/state" "$root/var/lib/vigil-collector"
  mount --bind "$tmp/tmp" "$root/tmp"
  mount -t tmpfs -o mode=0755 tmpfs "$root/run"
  mkdir -p "$root/run/secrets/vigil/auth" "$root/run/secrets/vigil/alerting"
  mount --bind "$tmp/auth" "$root/run/secrets/vigil/auth"
  mount --bind "$tmp/alerting" "$root/run/secrets/vigil/alerting"
  if touch "$root/etc/vigil/written" 2>/dev/null; then echo "root filesystem is writable"; exit 1; fi
  exec chroot "$root" /usr/bin/setpriv --reuid 10001 --regid 10001 --clear-groups \
    --no-new-privs --bounding-set -all --inh-caps -all \
    /usr/bin/vigil-collector --config /etc/vigil/config/collector.yaml
' pod "$root" "$tmp" >"$tmp/collector.log" 2>&1 &
runner=$!
healthz=
for _ in $(seq 100); do
  healthz=$(curl -sf "http://127.0.0.1:$port/healthz" || true)
  [[ -n "$healthz" ]] && break
  sleep 0.1
done
expect "/healthz" "ok" "$healthz"
expect "/readyz" "200" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")"
metrics=$(curl -s "http://127.0.0.1:$port/metrics")
expect "rules loaded" "vigil_rules_loaded $rules_loaded" "$(grep '^vigil_rules_loaded ' <<<"$metrics")"
expect "alerting config loaded" "vigil_alerting_config_last_reload_success 1" \
  "$(grep '^vigil_alerting_config_last_reload_success ' <<<"$metrics")"
# The API token from the Secret's file authorises a reload; another one does not.
expect "POST /-/reload with the API token" "200" "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $api_token" "http://127.0.0.1:$port/-/reload")"
expect "POST /-/reload with another token" "401" "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  -H "Authorization: Bearer x$api_token" "http://127.0.0.1:$port/-/reload")"
expect "state written as" "10001" "$(stat -c %u "$tmp/state/state.db" 2>&1)"

# The collector is the runner's own process (bash execs chroot, which execs setpriv and it).
expect "collector process" "vigil-collector" "$(cat /proc/"$runner"/comm 2>&1)"
kill -TERM "$runner"
status=0
wait "$runner" || status=$?
expect "exit status after SIGTERM" "0" "$status"
if [[ $failures -ne 0 ]]; then
  echo "--- collector log"
  cat "$tmp/collector.log"
  exit 1
fi
echo "image test: all checks passed"

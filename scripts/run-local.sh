#!/usr/bin/env bash
# The run command: installs what is missing, builds, and runs a collector and an agent on this
# host on embedded defaults (no database, broker or mail server). Ctrl-C stops both; data and
# the agent's token stay in the state directory for the next run.
#   VIGIL_STATE_DIR   state directory (default /var/lib/vigil-local)
#   VIGIL_HTTP_PORT   collector HTTP port (default 8080); VIGIL_GRPC_PORT (default 4317)
# Notifications: none unless $VIGIL_STATE_DIR/alerting.yaml exists (start from
# collector/testdata/alerting.example.yaml); the collector picks it up on the next SIGHUP.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state=${VIGIL_STATE_DIR:-/var/lib/vigil-local}
http_port=${VIGIL_HTTP_PORT:-8080}
grpc_port=${VIGIL_GRPC_PORT:-4317}

bash scripts/install-deps.sh build
bash scripts/build.sh release --target vigil-collector vigil-agent vigilctl >/dev/null
bin=$root/build/release

# The services run as an unprivileged user, never as root.
run_as=()
if [ "$(id -u)" -eq 0 ]; then
  id vigil >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin vigil
  run_as=(setpriv --reuid=vigil --regid=vigil --init-groups --)
fi
mkdir -p "$state"
if [ ! -s "$state/agent.token" ]; then
  (umask 077; "$bin/vigilctl/vigilctl" token generate | awk '/^token:/ {print $2}' > "$state/agent.token")
fi
hash=$("$bin/vigilctl/vigilctl" token hash "$state/agent.token")
if [ ! -s "$state/api.token" ]; then
  (umask 077; "$bin/vigilctl/vigilctl" token generate | awk '/^token:/ {print $2}' > "$state/api.token")
fi
cat > "$state/collector.yaml" <<YAML
# Written by scripts/run-local.sh: the embedded defaults plus this host's token and ports.
listen: {grpc: 127.0.0.1:$grpc_port, http: 127.0.0.1:$http_port}
state_dir: $state/collector
auth:
  tokens:
    - {name: local-agent, sha256: $hash}
  api_token_file: $state/api.token
rules: {directory: $root/rules}
# alerting.config_file defaults to $state/alerting.yaml: used when it exists, else nothing is sent.
YAML
if [ -f "$state/alerting.yaml" ]; then
  "$bin/vigilctl/vigilctl" config check "$state/alerting.yaml" --rules "$root/rules" ||
    { echo "fix $state/alerting.yaml (or move it away) and run again" >&2; exit 1; }
  notifications="from $state/alerting.yaml (vigilctl config check passed)"
else
  notifications="none: no $state/alerting.yaml (copy and edit collector/testdata/alerting.example.yaml, then kill -HUP the collector)"
fi
cat > "$state/agent.yaml" <<YAML
# Written by scripts/run-local.sh.
collector: {address: 127.0.0.1:$grpc_port, token_file: $state/agent.token}
labels: {role: [local], env: dev}
spool: {directory: $state/spool}
checks:
  - type: system
YAML
if [ ${#run_as[@]} -gt 0 ]; then chown -R vigil:vigil "$state"; fi

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
"${run_as[@]}" "$bin/collector/vigil-collector" --config "$state/collector.yaml" \
  > "$state/collector.out" 2> >(tee -a "$state/collector.log" >&2) &
pids+=($!)
for _ in $(seq 100); do grep -q ' ready: ' "$state/collector.out" 2>/dev/null && break; sleep 0.1; done
grep -q ' ready: ' "$state/collector.out" || { echo "collector did not start; see $state/collector.log" >&2; exit 1; }
"${run_as[@]}" "$bin/agent/vigil-agent" --config "$state/agent.yaml" \
  2> >(tee -a "$state/agent.log" >&2) &
pids+=($!)

cat <<MSG

Vigil is running on this host (Ctrl-C stops it).
  HTTP API:        http://127.0.0.1:$http_port   (/api/v1/series, /api/v1/query, /metrics, /healthz)
  agent metrics:   http://127.0.0.1:9102/metrics
  state directory: $state
  rules:           $root/rules ($(ls "$root"/rules/*.yaml | wc -l) files, hot-reloaded on change)
  try:             $bin/vigilctl/vigilctl series 'system.cpu.utilization'
                   curl -s http://127.0.0.1:$http_port/api/v1/alarms
  notifications:   $notifications
  silences:        $bin/vigilctl/vigilctl --token-file $state/api.token silence add --matcher 'host="$(hostname)"' --duration 1h --author \$USER --comment 'maintenance'
                   $bin/vigilctl/vigilctl silence list

MSG
wait -n "${pids[@]}"

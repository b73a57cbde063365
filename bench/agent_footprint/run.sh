#!/usr/bin/env bash
# Agent footprint benchmark (issue #5, "Performance"): vigil-agent with the system, nginx
# (1,000 access-log lines per second), postgres, redis, strongswan and tcp checks at a 10 s
# interval, against real servers on loopback, measured over a fixed window: CPU seconds
# (utime+stime from /proc, plus the reaped children it runs, i.e. swanctl) as % of one core,
# and peak RSS (VmHWM). Targets: under 1 % of one core and under 20 MiB.
#
#   bench/agent_footprint/run.sh [BUILD_DIR] [WINDOW_SECONDS]
#     BUILD_DIR       holds agent/vigil-agent and collector/vigil-collector (default
#                     build/release; a relative path is taken from the repository root).
#                     Nothing is built here: cmake --build BUILD_DIR --target vigil-agent
#                     vigil-collector first (RelWithDebInfo, as the release preset).
#     WINDOW_SECONDS  measurement window after the warm-up (default 120)
#   Environment:
#     VIGIL_BENCH_WARMUP=20      seconds between the agent's start and the window
#     VIGIL_BENCH_LOADGEN=http   http: real HTTP requests to nginx (keep-alive, pipelined in
#                                10 ms ticks); file: formatted lines appended to the log directly
#     VIGIL_BENCH_RATE=1000      access-log lines per second
#     VIGIL_BENCH_PERF=1         also `perf record -g` the agent over the window (kept in the dir)
#     VIGIL_BENCH_KEEP=1         keep the temporary directory (logs, configs, and agent.smaps:
#                                the agent's /proc/PID/smaps at the end of the window)
#     VIGIL_BENCH_CHECKS="..."   check types to try (default: system nginx postgres redis
#                                strongswan tcp; for attributing costs to one check)
#
# Runs as root (PostgreSQL runs as the postgres user via setpriv; charon needs root). Starts
# everything in a temporary directory on 127.0.0.1 and free ports and stops all of it on exit.
# charon is the machine's only one (/run/charon.pid): the script waits for another to finish.
# Exit status: 0 both targets met, 1 a target missed, 2 the run is not valid or setup failed.
# shellcheck disable=SC2317  # stop_pid and cleanup run from the EXIT trap
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build/release}
[[ $build = /* ]] || build=$root/$build
window=${2:-120}
warmup=${VIGIL_BENCH_WARMUP:-20}
loadgen_mode=${VIGIL_BENCH_LOADGEN:-http}
rate=${VIGIL_BENCH_RATE:-1000}
interval=10
host_label=bench-agent
py=/usr/bin/python3
helpers=$here/bench_helpers.py
agent_bin=$build/agent/vigil-agent
collector_bin=$build/collector/vigil-collector
pg_bin=/usr/lib/postgresql/15/bin
charon_bin=/usr/lib/ipsec/charon

die() { echo "agent_footprint: $*" >&2; exit 2; }
[[ $loadgen_mode = http || $loadgen_mode = file ]] || die "VIGIL_BENCH_LOADGEN must be http or file"
[[ -x $agent_bin && -x $collector_bin ]] ||
  die "$agent_bin or $collector_bin is missing: cmake --build $build --target vigil-agent vigil-collector"
for tool in nginx redis-server redis-cli swanctl pg_isready "$pg_bin/postgres" "$pg_bin/initdb" \
  "$charon_bin" setpriv sha256sum; do
  command -v "$tool" >/dev/null ||
    die "$tool is missing: bash scripts/install-deps.sh installs it (see TEST-ENVIRONMENT.md)"
done
[[ $(id -u) -eq 0 ]] || die "run as root (charon and the postgres user switch need it)"

dir=$(mktemp -d /tmp/vigil-agentbench.XXXXXX)
chmod 755 "$dir"  # nginx workers and postgres enter it
declare -a pids=()  # pid:name, stopped in reverse order
charon_started=0

stop_pid() {  # pid signal
  kill -"$2" "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local i entry pid name
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    entry=${pids[i]}; pid=${entry%%:*}; name=${entry#*:}
    case $name in
      nginx) stop_pid "$pid" QUIT ;;
      postgres) stop_pid "$pid" INT ;;  # fast shutdown
      *) stop_pid "$pid" TERM ;;
    esac
  done
  if [[ $charon_started = 1 ]]; then rm -f /run/charon.pid /run/charon.ctl "$dir/vici"; fi
  if [[ ${VIGIL_BENCH_KEEP:-0} = 1 || ${VIGIL_BENCH_PERF:-0} = 1 ]]; then
    echo "kept: $dir"
  else
    rm -rf "$dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {  # seconds description command...
  local secs=$1 what=$2; shift 2
  for _ in $(seq $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up within ${secs}s (logs in $dir; VIGIL_BENCH_KEEP=1 keeps them)"
}

read -r grpc_port http_port agent_metrics_port nginx_port upstream_port pg_port redis_port \
  ike_port natt_port < <("$py" "$helpers" ports 9)

echo "== machine"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1); nproc: $(nproc); $(uname -sr)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "build: $build ($(grep -m1 '^CMAKE_BUILD_TYPE' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2))"
echo "agent: $(ldd "$agent_bin" | grep -c '=>') shared libraries (ldd);" \
  "VIGIL_AGENT_STATIC_DEPS=$(grep -m1 '^VIGIL_AGENT_STATIC_DEPS' "$build/CMakeCache.txt" 2>/dev/null |
    cut -d= -f2)"
echo "dir: $dir"

# ---- collector (embedded defaults plus a token and the ports)
token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077; echo "$token" > "$dir/agent.token")
cat > "$dir/collector.yaml" <<YAML
listen: {grpc: 127.0.0.1:$grpc_port, http: 127.0.0.1:$http_port}
state_dir: $dir/collector
auth:
  tokens:
    - {name: bench, sha256: $(printf %s "$token" | sha256sum | cut -d' ' -f1)}
YAML
"$collector_bin" --config "$dir/collector.yaml" > "$dir/collector.out" 2> "$dir/collector.err" &
pids+=("$!:collector"); collector_pid=$!
wait_for 30 "vigil-collector" grep -q ' ready: ' "$dir/collector.out"

# ---- nginx (TEST-ENVIRONMENT.md section 3), the usual combined format plus the two times
# shellcheck disable=SC2016  # nginx variables, not shell ones
log_format='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time'
mkdir -p "$dir/nginx"
cat > "$dir/nginx/nginx.conf" <<CONF
daemon off; user root; worker_processes 1; pid $dir/nginx/nginx.pid; error_log $dir/nginx/error.log;
events {}
http {
  client_body_temp_path $dir/nginx/t1; proxy_temp_path $dir/nginx/t2; fastcgi_temp_path $dir/nginx/t3;
  uwsgi_temp_path $dir/nginx/t4; scgi_temp_path $dir/nginx/t5;
  log_format bench '$log_format';
  access_log $dir/nginx/access.log bench;
  keepalive_requests 100000000; keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$nginx_port;
    location = /ok { return 200 "ok\n"; }
    # A 500 with a body keeps the connection open (the bare error page closes keep-alive).
    location = /fail { return 500 "error\n"; }
    location = /missing { return 404 "missing\n"; }
    location = /status { stub_status; access_log off; }
    location /up/ { proxy_pass http://127.0.0.1:$upstream_port/; }
  }
  server { listen 127.0.0.1:$upstream_port; access_log off; location / { return 200 "up\n"; } }
}
CONF
touch "$dir/nginx/access.log"
nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" &
pids+=("$!:nginx"); nginx_pid=$!
wait_for 10 "nginx" curl -sf "http://127.0.0.1:$nginx_port/ok"

# ---- PostgreSQL 15, primary only (section 1)
mkdir -p "$dir/pg"; chown postgres: "$dir/pg"
as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
"${as_pg[@]}" "$pg_bin/initdb" -D "$dir/pg/data" -A trust -U postgres --no-sync > "$dir/pg/initdb.log" 2>&1 ||
  die "initdb failed: $(tail -3 "$dir/pg/initdb.log")"
"${as_pg[@]}" "$pg_bin/postgres" -D "$dir/pg/data" -p "$pg_port" -c listen_addresses=127.0.0.1 \
  -k "$dir/pg" > "$dir/pg/postgres.log" 2>&1 &
pids+=("$!:postgres"); postgres_pid=$!
wait_for 30 "postgres" pg_isready -q -h 127.0.0.1 -p "$pg_port"

# ---- Redis 7 (section 2)
mkdir -p "$dir/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize no \
  --dir "$dir/redis" > "$dir/redis/redis.log" 2>&1 &
pids+=("$!:redis"); redis_pid=$!
wait_for 10 "redis" redis-cli -h 127.0.0.1 -p "$redis_port" ping

# ---- strongSwan charon (section 9) with one tunnel, both of its ends served by this charon
if [[ -s /run/charon.pid ]]; then
  other=$(cat /run/charon.pid)
  if kill -0 "$other" 2>/dev/null; then
    echo "another charon (pid $other) is running; waiting up to 180 s for it to stop"
    for _ in $(seq 180); do kill -0 "$other" 2>/dev/null || break; sleep 1; done
    ! kill -0 "$other" 2>/dev/null || die "another charon (pid $other) is still running"
  fi
  rm -f /run/charon.pid /run/charon.ctl
fi
mkdir -p "$dir/ss"
for sub in x509 x509ca x509aa x509ac x509crl x509ocsp private rsa ecdsa bliss pkcs8 pkcs12 pubkey conf.d; do
  mkdir -p "$dir/ss/$sub"
done
cat > "$dir/ss/strongswan.conf" <<CONF
charon {
  load_modular = yes
  port = $ike_port
  port_nat_t = $natt_port
  install_routes = no
  filelog { log { path = $dir/ss/charon.log
    default = 1
    flush_line = yes } }
  plugins {
    include /etc/strongswan.d/charon/*.conf
    vici { socket = unix://$dir/vici }
  }
}
swanctl {
  socket = unix://$dir/vici
  load = pem pkcs1 pkcs8 x509 revocation constraints pubkey openssl random
}
CONF
cat > "$dir/ss/swanctl.conf" <<CONF
connections {
  site-a {
    local_addrs = 127.0.0.1
    remote_addrs = 127.0.0.2
    remote_port = $ike_port
    local { auth = psk
      id = a.bench.test }
    remote { auth = psk
      id = b.bench.test }
    children { net-a { local_ts = 10.198.1.0/24
        remote_ts = 10.198.2.0/24
        esp_proposals = aes128-sha256 } }
  }
  site-b {
    local_addrs = 127.0.0.2
    remote_addrs = 127.0.0.1
    remote_port = $ike_port
    local { auth = psk
      id = b.bench.test }
    remote { auth = psk
      id = a.bench.test }
    children { net-b { local_ts = 10.198.2.0/24
        remote_ts = 10.198.1.0/24
        esp_proposals = aes128-sha256 } }
  }
}
secrets {
  ike-ab { id-a = a.bench.test
    id-b = b.bench.test
    secret = 0sdmlnaWwtYmVuY2gtcHNrLW5vdC1hLXNlY3JldA== }
}
CONF
STRONGSWAN_CONF=$dir/ss/strongswan.conf "$charon_bin" > "$dir/ss/charon.out" 2>&1 &
pids+=("$!:charon"); charon_pid=$!; charon_started=1
swanctl_=(env STRONGSWAN_CONF="$dir/ss/strongswan.conf" swanctl)
wait_for 20 "charon (VICI)" "${swanctl_[@]}" --stats
"${swanctl_[@]}" --load-all --file "$dir/ss/swanctl.conf" > "$dir/ss/load.out" 2>&1 ||
  die "swanctl --load-all failed: $(tail -3 "$dir/ss/load.out")"
"${swanctl_[@]}" --initiate --child net-a --timeout 10 > "$dir/ss/initiate.out" 2>&1 || true
# The IKE_SA is established in any case; the CHILD_SA needs the kernel's XFRM (IPsec) support,
# which some VMs and containers lack ("unable to install ... SA (SAD) in kernel" in charon.log):
# then tunnel.up reads 0, and the check still lists and parses the SAs every interval.
wait_for 20 "the IKE_SA site-a" bash -c '"$@" --list-sas | grep -q "^site-a: .*ESTABLISHED"' _ \
  "${swanctl_[@]}"
for _ in $(seq 20); do
  "${swanctl_[@]}" --list-sas 2>/dev/null | grep -q 'net-a: .*INSTALLED' && break
  grep -q 'unable to install' "$dir/ss/charon.log" && break
  sleep 0.2
done
echo "tunnel: $("${swanctl_[@]}" --list-sas 2>/dev/null | grep -E '^site-a:|net-a:' | tr -s ' ' | tr '\n' ';')"
if ! "${swanctl_[@]}" --list-sas 2>/dev/null | grep -q 'net-a: .*INSTALLED'; then
  echo "tunnel: CHILD_SA not installed ($(grep -m1 -o 'unable to install.*' "$dir/ss/charon.log" ||
    echo 'see charon.log')): tunnel.up will read 0; the IKE_SA is up and the check runs in full"
fi

# ---- load generator
"$py" "$helpers" loadgen --mode "$loadgen_mode" --port "$nginx_port" --log "$dir/nginx/access.log" \
  --rate "$rate" --count-file "$dir/loadgen.json" 2> "$dir/loadgen.err" &
pids+=("$!:loadgen"); loadgen_pid=$!
wait_for 10 "load generator" test -s "$dir/loadgen.json"
if [[ $loadgen_mode = http ]]; then
  echo "load: $rate HTTP requests/s to nginx (python, keep-alive, pipelined every 10 ms)"
else
  echo "load: $rate formatted lines/s appended to the access log by python (nginx not in the path)"
fi

# ---- agent configuration: every wanted check type this build registers
check_yaml() {  # type
  case $1 in
    system) echo "  - type: system" ;;
    nginx) cat <<YAML
  - type: nginx
    access_log: $dir/nginx/access.log
    log_format: '$log_format'
    status_url: http://127.0.0.1:$nginx_port/status
YAML
      ;;
    postgres) printf '  - {type: postgres, host: 127.0.0.1, port: %s, user: postgres}\n' "$pg_port" ;;
    redis) printf '  - {type: redis, host: 127.0.0.1, port: %s}\n' "$redis_port" ;;
    strongswan) printf '  - {type: strongswan, mode: swanctl, vici_socket: %s, connections: [site-a]}\n' \
      "$dir/vici" ;;
    tcp) printf '  - {type: tcp, address: 127.0.0.1, port: %s}\n' "$pg_port" ;;
  esac
}
write_agent_config() {  # types...
  {
    cat <<YAML
agent_id: $host_label
hostname: $host_label
collector: {address: 127.0.0.1:$grpc_port, token_file: $dir/agent.token}
labels: {role: [bench], env: bench}
interval: ${interval}s
spool: {directory: $dir/spool}
metrics: {listen: 127.0.0.1:$agent_metrics_port}
checks:
YAML
    for t in "$@"; do check_yaml "$t"; done
  } > "$dir/agent.yaml"
}
read -r -a wanted <<< "${VIGIL_BENCH_CHECKS:-system nginx postgres redis strongswan tcp}"
write_agent_config "${wanted[@]}"
included=() missing=()
probe=$("$agent_bin" --config "$dir/agent.yaml" --check-config 2>&1) || true
for t in "${wanted[@]}"; do
  if grep -q "unknown check type '$t'" <<< "$probe"; then missing+=("$t"); else included+=("$t"); fi
done
write_agent_config "${included[@]}"
"$agent_bin" --config "$dir/agent.yaml" --check-config > "$dir/check-config.out" 2>&1 ||
  die "agent config rejected: $(cat "$dir/check-config.out")"
echo "checks included: ${included[*]}"
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "CHECKS NOT INCLUDED (not registered in this build): ${missing[*]}"
fi

# ---- agent
"$agent_bin" --config "$dir/agent.yaml" > "$dir/agent.out" 2> "$dir/agent.err" &
pids+=("$!:agent"); agent_pid=$!
wait_for 30 "vigil-agent /metrics" curl -sf "http://127.0.0.1:$agent_metrics_port/metrics"
echo "warm-up ${warmup}s, then a ${window}s window (agent pid $agent_pid) ..."
sleep "$warmup" & wait $!  # in the background, so that a signal stops the script at once
kill -0 "$agent_pid" 2>/dev/null || die "the agent exited: $(tail -5 "$dir/agent.err")"

perf_pid=
if [[ ${VIGIL_BENCH_PERF:-0} = 1 ]]; then
  perf record -g -F 999 -p "$agent_pid" -o "$dir/perf.data" -- sleep "$window" \
    > "$dir/perf.out" 2>&1 &
  perf_pid=$!
  pids+=("$perf_pid:perf")
fi
others=(--other "collector=$collector_pid" --other "nginx=$nginx_pid" --other "postgres=$postgres_pid"
  --other "redis=$redis_pid" --other "charon=$charon_pid" --other "loadgen=$loadgen_pid")
"$py" "$helpers" measure --pid "$agent_pid" --window "$window" --warmup "$warmup" \
  --interval "$interval" --http-port "$http_port" --agent-metrics-port "$agent_metrics_port" \
  --host "$host_label" --checks "$(IFS=,; echo "${included[*]}")" \
  --count-file "$dir/loadgen.json" --rate "$rate" --loadgen "$loadgen_mode" "${others[@]}" &
measure_pid=$!
pids+=("$measure_pid:measure")
status=0
wait "$measure_pid" || status=$?
if [[ ${VIGIL_BENCH_KEEP:-0} = 1 ]]; then
  cp "/proc/$agent_pid/smaps" "$dir/agent.smaps" 2>/dev/null || true  # resident pages per mapping
fi
if [[ -n $perf_pid ]]; then
  wait "$perf_pid" || true
  echo "perf data: $dir/perf.data (perf report -i $dir/perf.data --no-children)"
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "NOTE: run without ${missing[*]} (not registered in this build); the figures exclude them"
fi
grep -v ' is up$' "$dir/agent.err" | grep -iE 'warn|error|fail' | head -5 | sed 's/^/agent log: /' || true
exit "$status"

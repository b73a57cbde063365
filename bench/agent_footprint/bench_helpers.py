#!/usr/bin/python3
"""Helpers for bench/agent_footprint/run.sh (standard library only, run with /usr/bin/python3).

Subcommands:
  ports N                 N ports free for TCP on 127.0.0.1 and for UDP on 0.0.0.0
  loadgen ...             makes nginx log RATE lines per second until SIGTERM
  measure ...             measures the agent over the window, verifies it sent data, prints
                          the table and the verdicts; exit 0 all PASS, 1 a target missed,
                          2 the run is not valid (agent idle, data missing)
"""

import argparse
import json
import os
import signal
import socket
import sys
import time
import urllib.parse
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------
# ports


def free_ports(n):
    ports, held = [], []
    while len(ports) < n:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("0.0.0.0", port))
        except OSError:
            t.close()
            u.close()
            continue
        held += [t, u]  # held until all are chosen, so no port is given twice
        ports.append(port)
    for s in held:
        s.close()
    return ports


# --------------------------------------------------------------------------------------------
# load generator

# Request mix (per 20 requests): 16 x 200 served by nginx, 2 x 200 through the upstream
# (so $upstream_response_time has values), 1 x 404, 1 x 500.
PATHS = ["/ok"] * 16 + ["/up/x", "/up/y", "/missing", "/fail"]


class Counter:
    """Counts requests and answers and writes them to a file once per second."""

    def __init__(self, path):
        self.path = path
        self.sent = 0
        self.done = 0
        self.connects = 0
        self.last_write = 0.0

    def flush(self, force=False):
        now = time.time()
        if not force and now - self.last_write < 1.0:
            return
        self.last_write = now
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"time": now, "sent": self.sent, "done": self.done,
                       "connects": self.connects}, f)
        os.replace(tmp, self.path)


def loadgen_http(args, counter, stop):
    """Real HTTP/1.1 requests over keep-alive connections, pipelined in 10 ms ticks."""
    reqs = [
        ("GET %s HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: vigil-bench\r\n\r\n" % p).encode()
        for p in PATHS
    ]
    sock, tail, i = None, b"", 0
    start = time.monotonic()
    tick = 0.01
    while not stop["now"]:
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", args.port), timeout=5)
            sock.setblocking(False)
            tail = b""
            counter.connects += 1
            # Requests of a dropped connection are not known to be answered: resend the count.
            counter.sent = counter.done
        due = int((time.monotonic() - start) * args.rate)
        n = min(due - counter.sent, 200)  # catches up after a stall, 200 per tick at most
        if n > 0:
            batch = b"".join(reqs[(i + k) % len(reqs)] for k in range(n))
            i += n
            try:
                sock.setblocking(True)
                sock.sendall(batch)
                sock.setblocking(False)
                counter.sent += n
            except OSError:
                sock.close()
                sock = None
                continue
        # Read what is there; count status lines (a body never contains "HTTP/1.1 ").
        try:
            while True:
                data = sock.recv(1 << 16)
                if not data:
                    sock.close()
                    sock = None
                    break
                buf = tail + data
                counter.done += buf.count(b"HTTP/1.1 ")
                tail = buf[-8:]
        except BlockingIOError:
            pass
        except OSError:
            sock.close()
            sock = None
        counter.flush()
        next_tick = start + (int((time.monotonic() - start) / tick) + 1) * tick
        time.sleep(max(0.0, next_tick - time.monotonic()))


def loadgen_file(args, counter, stop):
    """Appends lines in nginx's format straight to the access log (no nginx in the path)."""
    statuses = {"/ok": 200, "/up/x": 200, "/up/y": 200, "/missing": 404, "/fail": 500}
    start = time.monotonic()
    i = 0
    with open(args.log, "a", buffering=1 << 20) as f:
        while not stop["now"]:
            due = int((time.monotonic() - start) * args.rate)
            n = min(due - counter.sent, args.rate)
            if n > 0:
                stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
                lines = []
                for _ in range(n):
                    p = PATHS[i % len(PATHS)]
                    i += 1
                    urt = "0.001" if p.startswith("/up/") else "-"
                    lines.append(
                        '127.0.0.1 - - [%s] "GET %s HTTP/1.1" %d 3 "-" "vigil-bench" 0.001 %s\n'
                        % (stamp, p, statuses[p], urt))
                f.write("".join(lines))
                f.flush()
                counter.sent += n
                counter.done += n
            counter.flush()
            time.sleep(0.01)


def cmd_loadgen(args):
    stop = {"now": False}

    def on_term(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    counter = Counter(args.count_file)
    counter.flush(force=True)
    try:
        (loadgen_http if args.mode == "http" else loadgen_file)(args, counter, stop)
    finally:
        counter.flush(force=True)


# --------------------------------------------------------------------------------------------
# measurement


def proc_stat(pid):
    """(utime, stime, cutime, cstime) in seconds, or None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime is field 14.
    ut, st, cut, cst = (int(x) / CLK_TCK for x in fields[11:15])
    return ut, st, cut, cst


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        return None
    return out


def kib(status, key):
    return int(status[key].split()[0]) if status and key in status else 0


def tree_cpu(pids):
    """CPU seconds of a set of processes (own time only)."""
    total = 0.0
    for pid in pids:
        s = proc_stat(pid)
        if s:
            total += s[0] + s[1]
    return total


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                text = f.read()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


def smaps_top(pid, n):
    """The n mappings (by file, anonymous together) with the most resident KiB."""
    rss, name = {}, None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    parts = line.split()
                    name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
                elif first == "Rss:":
                    rss[name] = rss.get(name, 0) + int(line.split()[1])
    except OSError:
        return []
    return sorted(rss.items(), key=lambda kv: -kv[1])[:n]


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def prom_values(text):
    """name{labels} -> value from the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


def prom_sum(values, name):
    return sum(v for k, v in values.items() if k == name or k.startswith(name + "{"))


def api_query(http_port, series, from_ms, to_ms):
    q = urllib.parse.urlencode({"series": series, "from": str(from_ms), "to": str(to_ms)})
    body = json.loads(http_get("http://127.0.0.1:%d/api/v1/query?%s" % (http_port, q)))
    if body.get("status") != "success":
        raise RuntimeError("query %s: %s" % (series, body))
    return body["data"]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def read_counts(path):
    with open(path) as f:
        return json.load(f)


def cmd_measure(a):
    checks = a.checks.split(",")
    others = {}
    for item in a.other or []:
        name, _, pid = item.partition("=")
        others[name] = int(pid)

    def others_cpu():
        # nginx counts its workers too (children of the master).
        out = {}
        for name, pid in others.items():
            pids = [pid] + (children_of(pid) if name in ("nginx", "postgres") else [])
            out[name] = tree_cpu(pids)
        return out

    def agent_metrics():
        return prom_values(http_get("http://127.0.0.1:%d/metrics" % a.agent_metrics_port))

    s0 = proc_stat(a.pid)
    if s0 is None:
        print("agent (pid %d) is not running" % a.pid, file=sys.stderr)
        return 2
    load_before = loadavg()
    m0 = agent_metrics()
    o0 = others_cpu()
    c0 = read_counts(a.count_file)
    t0 = time.time()
    rss_max_kib = 0
    deadline = time.monotonic() + a.window
    while True:
        st = proc_status(a.pid)
        if st is None:
            print("agent (pid %d) exited during the window" % a.pid, file=sys.stderr)
            return 2
        rss_max_kib = max(rss_max_kib, kib(st, "VmRSS"))
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(1.0, left))
    s1 = proc_stat(a.pid)
    t1 = time.time()
    st = proc_status(a.pid)
    m1 = agent_metrics()
    o1 = others_cpu()
    c1 = read_counts(a.count_file)
    load_after = loadavg()
    elapsed = t1 - t0

    own_cpu = (s1[0] - s0[0]) + (s1[1] - s0[1])
    child_cpu = (s1[2] - s0[2]) + (s1[3] - s0[3])
    total_cpu = own_cpu + child_cpu
    hwm_kib = kib(st, "VmHWM")
    rss_kib = kib(st, "VmRSS")

    # Wait until the collector holds the collection that follows the window, so every interval
    # inside the window has arrived (batches are sent once per interval).
    t0_ms, t1_ms = int(t0 * 1000), int(t1 * 1000)
    got_after = False
    wait_until = time.monotonic() + 3 * a.interval + 10
    while time.monotonic() < wait_until:
        data = api_query(a.http_port, '%s.up{host="%s"}' % (checks[0], a.host), t1_ms, "now")
        if any(p for s in data for p in s["points"]):
            got_after = True
            break
        time.sleep(1)
    points = []
    for s in api_query(a.http_port, 'nginx.requests{host="%s"}' % a.host, t0_ms, t1_ms):
        points += s["points"]
    points.sort()
    nginx_rate = None
    if len(points) >= 2:
        span = (points[-1][0] - points[0][0]) / 1000.0
        nginx_rate = sum(v for _, v in points[1:]) / span if span > 0 else None
    loadgen_rate = (c1["done"] - c0["done"]) / (c1["time"] - c0["time"])

    ups = {}
    for check in checks:
        data = api_query(a.http_port, '%s.up{host="%s"}' % (check, a.host), t0_ms, t1_ms)
        vals = [v for s in data for _, v in s["points"]]
        ups[check] = (min(vals) if vals else None, len(vals))
    tunnel = None
    if "strongswan" in checks:
        data = api_query(a.http_port, 'tunnel.up{host="%s"}' % a.host, t0_ms, t1_ms)
        vals = [v for s in data for _, v in s["points"]]
        tunnel = (min(vals) if vals else None, len(vals))
    series = json.loads(
        http_get("http://127.0.0.1:%d/api/v1/series?%s" %
                 (a.http_port, urllib.parse.urlencode({"match": '{host="%s"}' % a.host}))))
    n_series = len(series.get("data", []))

    def delta(name):
        return prom_sum(m1, name) - prom_sum(m0, name)

    acked = delta("vigil_agent_batches_acked_total")
    sent_points = delta("vigil_agent_datapoints_sent_total")
    collected = delta("vigil_agent_datapoints_collected_total")
    failures = {}
    for k, v in m1.items():
        if k.startswith("vigil_agent_check_failures_total"):
            failures[k] = v - m0.get(k, 0.0)

    cpu_pct = 100.0 * total_cpu / elapsed
    own_pct = 100.0 * own_cpu / elapsed
    mib = 1024.0

    def row(name, value, note=""):
        print("| %-46s | %-26s | %s" % (name, value, note))

    print()
    print("## Figures (window %.1f s, after %d s warm-up, check interval %d s)" %
          (elapsed, a.warmup, a.interval))
    row("agent CPU, own (utime+stime)", "%.2f s = %.3f %% of 1 core" % (own_cpu, own_pct))
    row("agent CPU, children (swanctl etc., reaped)", "%.2f s" % child_cpu)
    row("agent CPU, own + children", "%.2f s = %.3f %% of 1 core" % (total_cpu, cpu_pct),
        "target < 1 %")
    row("agent peak RSS (VmHWM, since start)", "%.1f MiB" % (hwm_kib / mib), "target < 20 MiB")
    row("agent RSS, max sampled in window (1 s)", "%.1f MiB" % (rss_max_kib / mib))
    row("agent RSS at end (VmRSS)", "%.1f MiB" % (rss_kib / mib),
        "anon %.1f + file %.1f MiB" % (kib(st, "RssAnon") / mib, kib(st, "RssFile") / mib))
    roll = {}
    try:
        with open("/proc/%d/smaps_rollup" % a.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if v.strip().endswith("kB"):
                    roll[k] = int(v.split()[0])
    except OSError:
        pass
    if roll:
        row("agent PSS / USS (private) at end",
            "%.1f / %.1f MiB" % (roll.get("Pss", 0) / mib,
                                 (roll.get("Private_Clean", 0) + roll.get("Private_Dirty", 0)) / mib),
            "PSS splits shared pages among their users")
    row("largest resident mappings (MiB)",
        ", ".join("%s %.1f" % (k, v / mib) for k, v in smaps_top(a.pid, 6)))
    row("agent threads", st.get("Threads", "?"))
    row("checks run", ",".join(checks))
    row("datapoints collected / sent in window", "%d / %d" % (collected, sent_points))
    row("batches acked by the collector in window", "%d" % acked)
    row("series of this host in the collector", "%d" % n_series)
    row("load generator (%s) rate" % a.loadgen, "%.1f lines/s" % loadgen_rate,
        "target %d/s" % a.rate)
    row("nginx.requests in collector (%d points)" % len(points),
        "%.1f lines/s" % nginx_rate if nginx_rate is not None else "no data")
    for check in checks:
        v, n = ups[check]
        row("%s.up (min over %d points)" % (check, n), "no data" if v is None else "%g" % v)
    if tunnel is not None:
        row("tunnel.up (min over %d points)" % tunnel[1],
            "no data" if tunnel[0] is None else "%g" % tunnel[0])
    for k, v in sorted(failures.items()):
        if v:
            row(k, "%d in window" % v)
    for name in sorted(o0):
        d = o1.get(name, 0.0) - o0[name]
        row("CPU of %s (context)" % name, "%.2f s = %.2f %% of 1 core" % (d, 100 * d / elapsed))
    print()
    print("load average before window: %s; after: %s" % (load_before, load_after))
    print()

    problems = []
    if acked <= 0:
        problems.append("the collector acknowledged no batch in the window")
    if "nginx" not in checks:
        pass
    elif nginx_rate is None:
        problems.append("no nginx.requests points in the collector for the window")
    elif abs(nginx_rate - a.rate) > 0.05 * a.rate:
        problems.append("nginx.requests rate %.1f/s is not within 5 %% of %d/s" %
                        (nginx_rate, a.rate))
    elif abs(nginx_rate - loadgen_rate) > 0.05 * a.rate:
        problems.append("nginx.requests rate %.1f/s differs from the load generator's %.1f/s" %
                        (nginx_rate, loadgen_rate))
    if not got_after:
        problems.append("the collection after the window did not reach the collector")
    for check in checks:
        if ups[check][0] != 1:
            problems.append("%s.up was not 1 throughout the window (%s)" % (check, ups[check]))

    ok_cpu = cpu_pct < 1.0
    ok_rss = hwm_kib / mib < 20.0
    print("VERDICT CPU: %s  (%.3f %% of one core incl. children, %.3f %% own; target < 1 %%)" %
          ("PASS" if ok_cpu else "FAIL", cpu_pct, own_pct))
    print("VERDICT RSS: %s  (peak %.1f MiB; target < 20 MiB)" %
          ("PASS" if ok_rss else "FAIL", hwm_kib / mib))
    print("VERDICT DATA: %s  %s" % ("PASS" if not problems else "FAIL", "; ".join(problems) or
                                   "(agent sent data, nginx.requests matches the load)"))
    if problems:
        return 2
    return 0 if ok_cpu and ok_rss else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("ports")
    s.add_argument("n", type=int)
    s = sub.add_parser("loadgen")
    s.add_argument("--mode", choices=["http", "file"], required=True)
    s.add_argument("--port", type=int)
    s.add_argument("--log")
    s.add_argument("--rate", type=int, default=1000)
    s.add_argument("--count-file", required=True)
    s = sub.add_parser("measure")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--window", type=float, required=True)
    s.add_argument("--warmup", type=int, required=True)
    s.add_argument("--interval", type=int, required=True)
    s.add_argument("--http-port", type=int, required=True)
    s.add_argument("--agent-metrics-port", type=int, required=True)
    s.add_argument("--host", required=True)
    s.add_argument("--checks", required=True)
    s.add_argument("--count-file", required=True)
    s.add_argument("--rate", type=int, required=True)
    s.add_argument("--loadgen", required=True)
    s.add_argument("--other", action="append")
    a = p.parse_args()
    if a.cmd == "ports":
        print(" ".join(str(x) for x in free_ports(a.n)))
        return 0
    if a.cmd == "loadgen":
        cmd_loadgen(a)
        return 0
    return cmd_measure(a)


if __name__ == "__main__":
    sys.exit(main())

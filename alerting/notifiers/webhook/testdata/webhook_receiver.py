#!/usr/bin/python3
"""A webhook receiver for Vigil's tests: records every request and answers scripted statuses.

Run with Debian's /usr/bin/python3 (standard library only):

  webhook_receiver.py --port 8080 --out requests.jsonl [--statuses 500,500,200]
                      [--retry-after 7] [--delay 30] [--response-body TEXT]

Listens on 127.0.0.1:PORT and prints "ready" once it accepts connections. For every request
(any method, any path) it appends one JSON line to --out, flushed before answering:
  {"method", "path", "headers": {lowercased name: value}, "body": text,
   "status_returned": int, "time": unix seconds (float)}
The Nth request is answered with the Nth status of --statuses; the last one repeats.
--retry-after adds "Retry-After: N" to every answer; --delay waits that many seconds (after
recording) before answering, to play a hung receiver. Stop it with SIGTERM or SIGKILL.
"""

import argparse
import http.server
import json
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--statuses", default="200")
    parser.add_argument("--retry-after", type=int, default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--response-body", default=None)
    args = parser.parse_args()

    try:
        statuses = [int(s) for s in args.statuses.split(",") if s.strip()]
    except ValueError:
        parser.error("--statuses: expected comma-separated status codes, got %r" % args.statuses)
    if not statuses or any(s < 100 or s > 599 for s in statuses):
        parser.error("--statuses: expected status codes 100-599, got %r" % args.statuses)

    lock = threading.Lock()
    counter = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            with lock:
                index = counter[0]
                counter[0] += 1
                status = statuses[min(index, len(statuses) - 1)]
                record = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8", errors="replace"),
                    "status_returned": status,
                    "time": time.time(),
                }
                with open(args.out, "a", encoding="utf-8") as out:
                    out.write(json.dumps(record) + "\n")
                    out.flush()
            if args.delay > 0:
                time.sleep(args.delay)
            if args.response_body is not None:
                text = args.response_body
            else:
                text = "webhook_receiver: request %d answered %d" % (index + 1, status)
            payload = text.encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                if args.retry_after is not None:
                    self.send_header("Retry-After", str(args.retry_after))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout); the request is recorded anyway

        do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = handle_any

        def log_message(self, fmt, *fmt_args):
            pass  # the --out file is the record

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", args.port), Handler)
    print("ready", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

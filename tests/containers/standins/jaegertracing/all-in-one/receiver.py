"""FIXTURE for the container test, standing in for Jaeger all-in-one on its ports:
- 4318 POST /v1/traces: OTLP/HTTP (protobuf or JSON) accepted and counted, the resources'
  `service.name` values kept (found in the bytes, not a full protobuf decode);
- 14269 the admin port: `/` health, `/metrics` the counts in Prometheus' text format;
- 16686 `/api/services`: the service names seen, as Jaeger's query API lists them.
No gRPC (4317) and no storage: it is a check that every component exports, not a trace store."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEEN: dict[str, int] = {}
COUNTS = {"requests": 0, "bytes": 0}
LOCK = threading.Lock()
NAME = re.compile(rb'service\.name(?:\x12.\x0a(.)|"\s*,\s*"value"\s*:\s*'
                  rb'\{\s*"stringValue"\s*:\s*")', re.S)


def services(body: bytes) -> set[str]:
    found = set()
    for match in NAME.finditer(body):
        length: bytes | None = match.group(1)
        if length is not None:  # protobuf: AnyValue.string_value, one length byte
            start = match.end()
            found.add(body[start:start + length[0]].decode(errors="replace"))
        else:
            found.add(body[match.end():body.index(b'"', match.end())].decode(errors="replace"))
    return found


class Handler(BaseHTTPRequestHandler):
    def reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if int(self.connection.getsockname()[1]) != 4318 or self.path != "/v1/traces":
            return self.reply(404, b"{}")
        with LOCK:
            COUNTS["requests"] += 1
            COUNTS["bytes"] += len(body)
            for name in services(body):
                SEEN[name] = SEEN.get(name, 0) + 1
        json_body = "json" in self.headers.get("Content-Type", "")
        self.reply(200, b"{}" if json_body else b"",
                   "application/json" if json_body else "application/x-protobuf")

    def do_GET(self) -> None:
        port = int(self.connection.getsockname()[1])
        with LOCK:
            if port == 14269 and self.path == "/metrics":
                lines = [f"jaeger_standin_otlp_{k}_total {v}" for k, v in COUNTS.items()]
                lines += [f'jaeger_standin_exports_total{{service="{s}"}} {n}'
                          for s, n in SEEN.items()]
                return self.reply(200, ("\n".join(lines) + "\n").encode(), "text/plain")
            if port == 14269:
                return self.reply(200, b'{"status":"Server available"}')
            if port == 16686 and self.path.startswith("/api/services"):
                return self.reply(200, json.dumps({"data": sorted(SEEN)}).encode())
        self.reply(200 if port == 16686 else 404, b"{}")

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    servers = [ThreadingHTTPServer(("0.0.0.0", port), Handler) for port in (4318, 14269, 16686)]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("jaeger stand-in (fixture) on 4318, 14269, 16686", flush=True)
    servers[0].serve_forever()

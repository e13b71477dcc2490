"""A small MCP server (JSON-RPC over HTTP), standard library only, for the proxy tests.

    python3 mcp_server.py [--port N]

prints `listening on 127.0.0.1:PORT` on standard output once it accepts connections
(port 0, the default, picks a free one), then serves:

- POST /mcp: JSON-RPC `initialize`, `tools/list`, `tools/call` and notifications.
  Every `tools/call` answers with the tool's name, its arguments and the request headers
  the server received (names in lowercase), so a test sees what the proxy forwarded.
  Arguments that change the answer (the tools themselves do nothing else):
    "delay": seconds to wait before answering;
    "stream": answer as a server-sent event stream of "events" events (default 3), each
              `{"n": i, "at": <time.time()>}`, with "pause" seconds (default 1) between;
              the JSON-RPC result comes last.
- GET /log: the JSON list of every POST /mcp received, `{"method", "tool", "path"}`, for a
  test to see what reached the server (not through the proxy).
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = []
LOG_LOCK = threading.Lock()


def result(message_id, value):
    return {"jsonrpc": "2.0", "id": message_id, "result": value}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def send_json(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/log":
            with LOG_LOCK:
                self.send_json(200, list(LOG))
            return
        self.send_json(405, {"error": "use POST"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            message = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error": "not JSON"})
            return
        method = message.get("method")
        params = message.get("params") or {}
        tool = params.get("name") if method == "tools/call" else None
        with LOG_LOCK:
            LOG.append({"method": method, "tool": tool, "path": self.path})
        message_id = message.get("id")
        if method == "initialize":
            self.send_json(200, result(message_id, {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "python-test-upstream", "version": "0.1.0"},
            }))
        elif method == "tools/list":
            self.send_json(200, result(message_id, {"tools": [
                {"name": name, "inputSchema": {"type": "object"}}
                for name in ("read_calendar", "pay_invoice", "send_email")
            ]}))
        elif method == "tools/call":
            self.call(message_id, tool, params.get("arguments") or {})
        elif method and method.startswith("notifications/"):
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_json(200, {"jsonrpc": "2.0", "id": message_id,
                                 "error": {"code": -32601, "message": "method not found"}})

    def call(self, message_id, tool, arguments):
        time.sleep(float(arguments.get("delay", 0)))
        answer = result(message_id, {
            "content": [{"type": "text", "text": f"{tool} done"}],
            "tool": tool,
            "arguments": arguments,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "path": self.path,
        })
        if not arguments.get("stream"):
            self.send_json(200, answer)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        events = int(arguments.get("events", 3))
        pause = float(arguments.get("pause", 1))
        for n in range(events):
            if n:
                time.sleep(pause)
            data = json.dumps({"n": n, "at": time.time()})
            self.wfile.write(f"event: progress\ndata: {data}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(f"event: message\ndata: {json.dumps(answer)}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    port = parser.parse_args().port
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"listening on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()

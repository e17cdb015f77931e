"""A small real reverse proxy on loopback, as nginx with `proxy_add_x_forwarded_for` behaves.

    python -m tests.servers.forwarding_proxy LISTEN_PORT UPSTREAM_PORT [UPSTREAM_PORT ...]

It accepts HTTP/1.1 connections, appends the TCP peer's address to X-Forwarded-For (keeping
whatever the client sent to the left, as nginx does), and forwards each request to the next
upstream in turn (round robin), so consecutive requests land on different nodes. Responses,
redirects included, go back unchanged. Test infrastructure only.
"""

import http.client
import itertools
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


def make_handler(upstreams: list[int]):
    ports = itertools.cycle(upstreams)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self):
            with lock:
                port = next(ports)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            sent = self.headers.get("X-Forwarded-For")
            headers["X-Forwarded-For"] = f"{sent}, {self.client_address[0]}" if sent else self.client_address[0]
            upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
            finally:
                upstream.close()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("X-Served-By", str(port))  # lets a test see the round robin
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = _forward

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            pass

    return Handler


def main(argv: list[str]) -> None:
    listen, *upstreams = (int(arg) for arg in argv)
    server = ThreadingHTTPServer(("127.0.0.1", listen), make_handler(upstreams))
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""A small HTTP/1.1 server for tests/unit/test_http.c: each path provokes one behaviour of the HTTP
layer (retryable statuses, resets, stalls, bodies to check). Prints its port on stdout, then serves
until stdin closes. With --tls CERT KEY it speaks HTTPS."""
import hashlib
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}
lock = threading.Lock()


def hit(key):
    with lock:
        counts[key] = counts.get(key, 0) + 1
        return counts[key]


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass   # clients that abort on purpose (short bodies) are part of the tests


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Test", "  spaced value  ")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        if self.headers.get("Transfer-Encoding"):
            return None
        n = int(self.headers.get("Content-Length", "0"))
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def route(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        what = parts[0]
        if what == "ok":
            return self.reply(200, b"hello")
        if what == "count":
            return self.reply(200, str(counts.get(parts[1], 0)).encode())
        if what == "status":
            # /status/ID/CODE/N: answer CODE for the first N hits of ID, then 200
            n = hit(parts[1])
            if n <= int(parts[3]):
                return self.reply(int(parts[2]), b"<Error><Code>Busy</Code></Error>", "application/xml")
            return self.reply(200, b"done")
        if what == "reset":
            # /reset/ID/N: drop the connection without a reply for the first N hits
            n = hit(parts[1])
            if n <= int(parts[2]):
                self.body()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                self.close_connection = True
                self.connection.close()
                return
            if self.command in ("PUT", "POST"):
                return self.echo()
            return self.reply(200, b"done")
        if what == "stall":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.flush()
            time.sleep(float(parts[1]) if len(parts) > 1 else 5)
            self.close_connection = True
            return
        if what == "big":
            return self.reply(200, b"y" * int(parts[1]))
        if what == "echo":
            return self.echo()
        if what == "line":
            # /line/ANY/PATH: the request line exactly as it arrived (no dot segment removed)
            return self.reply(200, self.requestline.encode())
        return self.reply(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")

    def echo(self):
        data = self.body()
        if data is None:
            return self.reply(400, b"chunked bodies are not expected")
        info = {
            "method": self.command,
            "len": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "expect": self.headers.get("Expect"),
            "ctype": self.headers.get("Content-Type"),
            "signed": self.headers.get("X-Signed"),
        }
        return self.reply(200, json.dumps(info).encode(), "application/json")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = route

    def do_PATCH(self):
        self.route()


def main():
    srv = Server(("127.0.0.1", 0), H)
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    # the test closes our stdin when it is done (or dies): then stop
    while sys.stdin.read(1):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()

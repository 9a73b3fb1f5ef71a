#!/usr/bin/env python3
"""Malformed and hostile Swift replies for tests/unit/test_swift_replies.c. A real Swift never answers
this way, which is why a stand-in is needed: each object or prefix provokes one bad reply. It checks
what Swift checks first (the X-Auth-Token). Prints its port on stdout, then serves until stdin closes."""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "tok-123"
ACCT = "/v1/AUTH_t"


class Server(ThreadingHTTPServer):
    daemon_threads = True


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        if u.path == "/info":
            return self.reply(200, "<html>not json</html>")
        if self.headers.get("X-Auth-Token") != TOKEN:
            return self.reply(401, "Unauthorized")
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        seg = ACCT + "/c_segments/"
        if u.path.startswith(seg) and ".snapfs-probe-" in u.path:
            # the SLO probe at the first upload (swift_probe.c): answered as Swift does, so that the
            # manifests below are taken for SLOs
            if q.get("multipart-manifest") == "get":
                name = "/c_segments/" + u.path[len(seg):].rsplit("/", 1)[0] + "/seg"
                return self.reply(200, '[{"name": "%s", "bytes": 6}]' % name)
            return self.reply(201 if self.command == "PUT" else 204)
        if not u.path.startswith(ACCT + "/c"):
            return self.reply(404)
        obj = u.path[len(ACCT + "/c/"):] if u.path.startswith(ACCT + "/c/") else ""
        if not obj:
            if self.command == "HEAD":
                return self.reply(204)
            pages = {
                "trunc/": '[{"name": "trunc/a", "bytes": 1',
                "nosize/": '[{"name": "nosize/a", "hash": "x"}]',
                "negsize/": '[{"name": "negsize/a", "bytes": -5}]',
                "other/": '[{"name": "elsewhere/a", "bytes": 1}]',
                "object/": '{"name": "object/a"}',
                "noname/": '[{"bytes": 1}]',
                "ok/": '[{"name": "ok/a", "bytes": 3, "hash": "h", "last_modified": "2026-01-02T03:04:05.000000"},'
                       ' {"subdir": "ok/d/"}]',
            }
            p = q.get("prefix", "")
            if p == "ok/" and q.get("marker"):
                return self.reply(200, "[]", [("Content-Type", "application/json")])
            return self.reply(200, pages.get(p, "[]"), [("Content-Type", "application/json")])
        if obj.startswith("slo-"):
            # a manifest whose manifest is bad: not a list, an entry without a path, not JSON
            if self.command == "HEAD":
                return self.reply(200, b"", [("X-Static-Large-Object", "True"), ("Content-Length", "2097152"),
                                             ("Etag", '"abc"')])
            if "multipart-manifest" in q:
                bad = {"slo-notlist": '{"path": "/c_segments/x"}', "slo-nopath": '[{"etag": "x"}]',
                       "slo-notjson": "<html>oops</html>"}
                return self.reply(200, bad.get(obj, "[]"))
            return self.reply(200, b"x" * 16)
        if obj == "long":
            return self.reply(200, b"y" * 4096)   # ignores Range: more than asked for
        if obj == "revoked":
            return self.reply(401, "token revoked")
        if obj == "plain":
            if self.command == "HEAD":
                return self.reply(200, b"", [("Content-Length", "5"), ("Etag", "0123")])
            return self.reply(206, b"hello")
        return self.reply(404)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_COPY = route


srv = Server(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
sys.stdin.read()

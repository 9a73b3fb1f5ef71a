#!/usr/bin/env python3
"""A stand-in for Keystone's Identity API v2.0 password auth, in front of the tests' real Swift.

Keystone removed v2.0 (Queens), so the real Keystone the tests run (tests/lib/keystone.sh) cannot serve it;
this checks what Keystone v2.0 checked for password auth -- user name, password, tenant -- and answers as
its API reference shows: 200 with access.token and access.serviceCatalog. The token it hands out is a real
TempAuth token of the Swift behind it, so the storage requests that follow are checked by Swift itself.

usage: keystone.py PORT SWIFT_AUTH_URL SWIFT_USER SWIFT_KEY [TOKEN_LIFE_S]
The one user: admin / keystone-pass, tenant admin (id p-admin).
Catalog: object-store in RegionOne (the real Swift) and RegionTwo (nothing listens there).
"""
import datetime
import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, SWIFT_AUTH, SWIFT_USER, SWIFT_KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
LIFE = int(sys.argv[5]) if len(sys.argv) > 5 else 3600
USER, PASSWORD, PROJECT, PROJECT_ID = "admin", "keystone-pass", "admin", "p-admin"


def swift_token():
    req = urllib.request.Request(SWIFT_AUTH, headers={"X-Auth-User": SWIFT_USER, "X-Auth-Key": SWIFT_KEY})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["X-Auth-Token"], r.headers["X-Storage-Url"]


def expires():
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=LIFE)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class H(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("keystone: " + fmt % args + "\n")

    def reply(self, code, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def unauthorized(self, why):
        self.reply(401, {"error": {"code": 401, "title": "Unauthorized", "message": why}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        try:
            req = json.loads(self.rfile.read(n))
        except ValueError:
            return self.reply(400, {"error": {"code": 400, "message": "malformed JSON"}})
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return self.reply(415, {"error": {"code": 415, "message": "need application/json"}})
        if self.path.rstrip("/") == "/v2.0/tokens":
            return self.v2(req)
        self.reply(404, {"error": {"code": 404, "message": "no such path"}})

    def v2(self, req):
        try:
            cred = req["auth"]["passwordCredentials"]
        except (KeyError, TypeError):
            return self.reply(400, {"error": {"code": 400, "message": "bad auth request"}})
        if cred.get("username") != USER or cred.get("password") != PASSWORD:
            return self.unauthorized("Invalid user / password")
        if req["auth"].get("tenantName") != PROJECT and req["auth"].get("tenantId") != PROJECT_ID:
            return self.unauthorized("not authorized for that tenant")
        token, url = swift_token()
        body = {"access": {"token": {"id": token, "expires": expires(),
                                     "tenant": {"id": PROJECT_ID, "name": PROJECT}},
                           "serviceCatalog": [{"type": "object-store", "name": "swift", "endpoints": [
                               {"region": "RegionOne", "publicURL": url,
                                "internalURL": "http://127.0.0.1:9/v1/AUTH_internal"},
                               {"region": "RegionTwo", "publicURL": "http://127.0.0.1:9/v1/AUTH_two"}]}],
                           "user": {"username": USER, "id": "u-admin"}}}
        self.reply(200, body)


ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()

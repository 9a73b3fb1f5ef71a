#!/usr/bin/env python3
"""A stand-in for Keystone's password auth (Identity API v2.0 and v3), in front of the tests' real Swift.

No Keystone runs here (it needs a database and a WSGI stack), so this checks what Keystone checks for
password auth -- user name, password, user domain, project (or tenant) and its domain -- and answers as the
public API reference shows: v3 with 201, the token in X-Subject-Token and a catalog in the body; v2 with
200 and access.token / access.serviceCatalog. The token it hands out is a real TempAuth token of the
Swift behind it, so the storage requests that follow are checked by Swift itself.

usage: keystone.py PORT SWIFT_AUTH_URL SWIFT_USER SWIFT_KEY [TOKEN_LIFE_S]
The one user: admin / keystone-pass in domain Default, project admin (id p-admin) in domain Default.
Catalog: object-store in RegionOne (the real Swift) and RegionTwo (nothing listens there).
"""
import datetime
import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, SWIFT_AUTH, SWIFT_USER, SWIFT_KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
LIFE = int(sys.argv[5]) if len(sys.argv) > 5 else 3600
USER, PASSWORD, DOMAIN, PROJECT, PROJECT_ID = "admin", "keystone-pass", "Default", "admin", "p-admin"


def swift_token():
    req = urllib.request.Request(SWIFT_AUTH, headers={"X-Auth-User": SWIFT_USER, "X-Auth-Key": SWIFT_KEY})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["X-Auth-Token"], r.headers["X-Storage-Url"]


def expires():
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=LIFE)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def domain_ok(d):
    return isinstance(d, dict) and (d.get("name") == DOMAIN or d.get("id") == "default")


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
        if self.path.rstrip("/") == "/v3/auth/tokens":
            return self.v3(req)
        if self.path.rstrip("/") == "/v2.0/tokens":
            return self.v2(req)
        self.reply(404, {"error": {"code": 404, "message": "no such path"}})

    def v3(self, req):
        try:
            ident = req["auth"]["identity"]
            user = ident["password"]["user"]
            assert ident["methods"] == ["password"]
        except (KeyError, TypeError, AssertionError):
            return self.reply(400, {"error": {"code": 400, "message": "bad auth request"}})
        if user.get("name") != USER or user.get("password") != PASSWORD or not domain_ok(user.get("domain")):
            return self.unauthorized("The request you have made requires authentication.")
        proj = req["auth"].get("scope", {}).get("project", {})
        if proj.get("id") != PROJECT_ID and (proj.get("name") != PROJECT or not domain_ok(proj.get("domain"))):
            return self.unauthorized("not authorized for that project")
        token, url = swift_token()
        eps = [
            {"id": "e1", "interface": "internal", "region": "RegionOne", "region_id": "RegionOne",
             "url": "http://127.0.0.1:9/v1/AUTH_internal"},
            {"id": "e2", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": url},
            {"id": "e3", "interface": "public", "region": "RegionTwo", "region_id": "RegionTwo",
             "url": "http://127.0.0.1:9/v1/AUTH_two"},
        ]
        body = {"token": {"methods": ["password"], "expires_at": expires(),
                          "user": {"name": USER, "id": "u-admin", "domain": {"id": "default", "name": DOMAIN}},
                          "project": {"name": PROJECT, "id": PROJECT_ID, "domain": {"id": "default"}},
                          "catalog": [{"type": "identity", "name": "keystone", "id": "s1", "endpoints": []},
                                      {"type": "object-store", "name": "swift", "id": "s2", "endpoints": eps}]}}
        self.reply(201, body, [("X-Subject-Token", token)])

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

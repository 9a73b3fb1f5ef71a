#!/usr/bin/python3
"""Checks that the GCS test server refuses what Google refuses, so tests against it mean something.
Usage: gcs_probe.py URL KEY_PEM CLIENT_EMAIL TOKEN_TTL. Prints ok / not ok lines; exits 1 on a failure."""
import base64
import hashlib
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

URL, KEY_PEM, EMAIL, TTL = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
TOKEN_URI = URL + "/token"
RW = "https://www.googleapis.com/auth/devstorage.read_write"
RO = "https://www.googleapis.com/auth/devstorage.read_only"
KEY = serialization.load_pem_private_key(open(KEY_PEM, "rb").read(), None)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
failed = 0


def check(name, cond, detail=""):
    global failed
    if cond:
        print("ok - " + name)
    else:
        failed += 1
        print("not ok - %s: %s" % (name, detail))


def b64(d):
    raw = d if isinstance(d, bytes) else json.dumps(d).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(claims=None, header=None, key=KEY, tamper=None):
    now = int(time.time())
    c = {"iss": EMAIL, "scope": RW, "aud": TOKEN_URI, "iat": now, "exp": now + 3600}
    c.update(claims or {})
    c = {k: v for k, v in c.items() if v is not None}
    inp = b64(header or {"alg": "RS256", "typ": "JWT"}) + "." + b64(c)
    sig = key.sign(inp.encode(), padding.PKCS1v15(), hashes.SHA256())
    if tamper:
        c.update(tamper)
        inp = inp.split(".")[0] + "." + b64(c)
    return inp + "." + b64(sig)


def call(method, path, body=b"", headers=None, url=None):
    req = urllib.request.Request(url or URL + path, data=body if method in ("POST", "PUT") else None,
                                 method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def token_req(assertion, grant="urn:ietf:params:oauth:grant-type:jwt-bearer"):
    body = urllib.parse.urlencode({"grant_type": grant, "assertion": assertion}).encode()
    st, data, _ = call("POST", "/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    try:
        return st, json.loads(data)
    except ValueError:
        return st, {}


def refused(name, assertion, error, grant=None):
    st, j = token_req(assertion, grant) if grant else token_req(assertion)
    check("token endpoint refuses " + name, st == 400 and j.get("error") == error and "access_token" not in j,
          "got %d %s" % (st, j))


def main():
    st, j = token_req(jwt())
    check("token endpoint accepts a good assertion", st == 200 and j.get("token_type") == "Bearer"
          and j.get("expires_in") == TTL and j.get("access_token"), "got %d %s" % (st, j))
    tok = j.get("access_token", "")
    refused("a signature by another key", jwt(key=OTHER), "invalid_grant")
    refused("claims changed after signing", jwt(tamper={"iss": "evil@x"}), "invalid_grant")
    refused("another account (iss)", jwt({"iss": "other@demo.iam.gserviceaccount.com"}), "invalid_grant")
    now = int(time.time())
    refused("an expired assertion", jwt({"iat": now - 7200, "exp": now - 3600}), "invalid_grant")
    refused("an assertion from the future", jwt({"iat": now + 900, "exp": now + 4500}), "invalid_grant")
    refused("an assertion valid for more than an hour", jwt({"exp": now + 7200}), "invalid_grant")
    refused("a wrong audience", jwt({"aud": "https://oauth2.googleapis.com/token"}), "invalid_grant")
    refused("a missing scope", jwt({"scope": None}), "invalid_scope")
    refused("an unknown scope", jwt({"scope": "email"}), "invalid_scope")
    refused("alg none", jwt(header={"alg": "none"}), "invalid_grant")
    refused("a wrong grant_type", jwt(), "unsupported_grant_type", grant="password")
    refused("a malformed assertion", "abc.def", "invalid_grant")

    auth = {"Authorization": "Bearer " + tok}
    st, _, _ = call("GET", "/storage/v1/b/kubedb")
    check("object API without a token: 401", st == 401, st)
    st, _, _ = call("GET", "/storage/v1/b/kubedb", headers={"Authorization": "Bearer ya29.forged"})
    check("object API with an unknown token: 401", st == 401, st)
    st, body, _ = call("GET", "/storage/v1/b/kubedb", headers=auth)
    check("buckets.get with the token", st == 200 and json.loads(body)["name"] == "kubedb", st)
    st, body, _ = call("GET", "/storage/v1/b/nosuch", headers=auth)
    check("buckets.get of a missing bucket: 404", st == 404 and json.loads(body)["error"]["code"] == 404, st)

    st, j = token_req(jwt({"scope": RO}))
    ro = {"Authorization": "Bearer " + j.get("access_token", "")}
    st, _, _ = call("GET", "/storage/v1/b/kubedb/o", headers=ro)
    check("a read-only token may list", st == 200, st)
    st, _, _ = call("POST", "/upload/storage/v1/b/kubedb/o?uploadType=media&name=ro", b"x", ro)
    check("a read-only token may not write: 403", st == 403, st)

    # generations and preconditions
    up = "/upload/storage/v1/b/kubedb/o?uploadType=media&name=probe%2Fg"
    st, b1, _ = call("POST", up, b"one", auth)
    st2, b2, _ = call("POST", up, b"two", auth)
    g1, g2 = int(json.loads(b1)["generation"]), int(json.loads(b2)["generation"])
    check("every write is a new generation", st == st2 == 200 and g2 > g1, (g1, g2))
    st, _, _ = call("POST", up + "&ifGenerationMatch=%d" % g1, b"three", auth)
    check("ifGenerationMatch with an old generation: 412", st == 412, st)
    st, _, _ = call("POST", up + "&ifGenerationMatch=0", b"three", auth)
    check("ifGenerationMatch=0 on an existing object: 412", st == 412, st)
    st, _, _ = call("POST", up + "&ifGenerationMatch=%d" % g2, b"three", auth)
    check("ifGenerationMatch with the current generation", st == 200, st)
    st, _, _ = call("GET", "/storage/v1/b/kubedb/o/probe/g", headers=auth)
    check("an object name with a raw '/' in the path is not found", st == 404, st)
    st, body, h = call("GET", "/storage/v1/b/kubedb/o/probe%2Fg?alt=media", headers=dict(auth, Range="bytes=1-"))
    check("ranged media download: 206", st == 206 and body == b"hree" and h["Content-Range"] == "bytes 1-4/5",
          (st, body))
    st, _, _ = call("GET", "/storage/v1/b/kubedb/o/probe%2Fg?alt=media", headers=dict(auth, Range="bytes=5-"))
    check("a range past the end: 416", st == 416, st)

    # resumable sessions
    st, _, h = call("POST", "/upload/storage/v1/b/kubedb/o?uploadType=resumable&name=probe%2Fr", b"", auth)
    loc = h.get("Location", "")
    check("resumable session: 200 with a Location", st == 200 and "upload_id=" in loc, st)
    chunk = b"a" * (256 * 1024)
    st, _, h = call("PUT", None, b"", dict(auth, **{"Content-Range": "bytes */*"}), loc)
    check("status query of a new session: 308 without Range", st == 308 and "Range" not in h, (st, h.get("Range")))
    st, _, _ = call("PUT", None, b"b" * 1000, dict(auth, **{"Content-Range": "bytes 0-999/*"}), loc)
    check("a non-final chunk that is not a multiple of 256 KiB: 400", st == 400, st)
    st, _, h = call("PUT", None, chunk, dict(auth, **{"Content-Range": "bytes 0-262143/*"}), loc)
    check("a 256 KiB chunk: 308 with Range bytes=0-262143", st == 308 and h.get("Range") == "bytes=0-262143",
          (st, h.get("Range")))
    st, _, _ = call("PUT", None, chunk, dict(auth, **{"Content-Range": "bytes 524288-786431/*"}), loc)
    check("a chunk past the persisted offset: 400", st == 400, st)
    st, _, h = call("PUT", None, b"", dict(auth, **{"Content-Range": "bytes */*"}), loc)
    check("status query: 308 with the persisted Range", st == 308 and h.get("Range") == "bytes=0-262143", st)
    st, _, _ = call("GET", "/storage/v1/b/kubedb/o/probe%2Fr", headers=auth)
    check("an unfinished session is not an object", st == 404, st)
    st, _, _ = call("PUT", None, b"", dict(auth, **{"Content-Range": "bytes */999"}), loc)
    check("finishing with a wrong total: 400", st == 400, st)
    st, body, _ = call("PUT", None, b"xyz", dict(auth, **{"Content-Range": "bytes 262144-262146/262147"}), loc)
    md5 = base64.b64encode(hashlib.md5(chunk + b"xyz").digest()).decode()
    check("the final chunk makes the object", st == 200 and json.loads(body)["size"] == "262147"
          and json.loads(body)["md5Hash"] == md5, (st, body[:300]))
    st, _, _ = call("POST", "/upload/storage/v1/b/kubedb/o?uploadType=resumable&name=probe%2Fc", b"", auth)
    st, _, h = call("POST", "/upload/storage/v1/b/kubedb/o?uploadType=resumable&name=probe%2Fc", b"", auth)
    loc = h["Location"]
    call("PUT", None, chunk, dict(auth, **{"Content-Range": "bytes 0-262143/*"}), loc)
    st, _, _ = call("DELETE", None, b"", auth, loc)
    check("cancel a session: 499", st == 499, st)
    st, _, _ = call("PUT", None, b"", dict(auth, **{"Content-Range": "bytes */*"}), loc)
    check("a cancelled session is gone", st in (404, 410), st)
    st, _, _ = call("GET", "/storage/v1/b/kubedb/o/probe%2Fc", headers=auth)
    check("a cancelled session leaves no object", st == 404, st)

    # compose and list
    body = json.dumps({"sourceObjects": [{"name": "probe/g"}] * 33}).encode()
    st, _, _ = call("POST", "/storage/v1/b/kubedb/o/probe%2Fcomp/compose", body,
                    dict(auth, **{"Content-Type": "application/json"}))
    check("compose of 33 sources: 400", st == 400, st)
    body = json.dumps({"sourceObjects": [{"name": "probe/g"}, {"name": "probe/g"}]}).encode()
    st, b, _ = call("POST", "/storage/v1/b/kubedb/o/probe%2Fcomp/compose", body,
                    dict(auth, **{"Content-Type": "application/json"}))
    check("compose concatenates", st == 200 and json.loads(b)["size"] == "10", st)
    names, prefixes, token, pages = [], [], None, 0
    while True:
        q = "?prefix=probe%2F&delimiter=%2F&maxResults=2" + ("&pageToken=" + urllib.parse.quote(token)
                                                              if token else "")
        st, b, _ = call("GET", "/storage/v1/b/kubedb/o" + q, headers=auth)
        j = json.loads(b)
        pages += 1
        names += [i["name"] for i in j.get("items", [])]
        prefixes += j.get("prefixes", [])
        token = j.get("nextPageToken")
        if not token or pages > 10:
            break
    check("list pages with pageToken", pages == 2 and names == ["probe/comp", "probe/g", "probe/r"],
          (pages, names))
    st, _, _ = call("GET", "/storage/v1/b/kubedb/o?pageToken=garbage", headers=auth)
    check("a forged pageToken: 400", st == 400, st)

    # tokens expire
    time.sleep(TTL + 1)
    st, _, _ = call("GET", "/storage/v1/b/kubedb", headers=auth)
    check("an expired token: 401", st == 401, st)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

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
# CRC32C in GCS's form (base64, big-endian) of known texts: the values Google's tools print
HELLO_CRC = "yZRlqg=="                       # b"hello world"
FOX = b"The quick brown fox jumps over the lazy dog"
FOX_CRC = "ImIEBA=="


def crc32c(data):
    """A plain bitwise CRC32C, independent of the server's, for bodies with no published value."""
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return base64.b64encode((c ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()


def mismatch(st, body, kind):
    try:
        e = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return (st == 400 and e.get("code") == 400 and ("Provided %s" % kind) in e.get("message", "")
            and "doesn't match calculated" in e["message"] and e["errors"][0]["reason"] == "invalid")


def multipart(meta, data, bnd="probe_boundary_1"):
    body = ("--%s\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n%s\r\n--%s\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % (bnd, json.dumps(meta), bnd)).encode()
    return body + data + ("\r\n--%s--\r\n" % bnd).encode(), "multipart/related; boundary=" + bnd


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
    req = urllib.request.Request(url or URL + path, data=body if method in ("POST", "PUT", "PATCH") else None,
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

    checksums(auth)

    # tokens expire
    time.sleep(TTL + 1)
    st, _, _ = call("GET", "/storage/v1/b/kubedb", headers=auth)
    check("an expired token: 401", st == 401, st)
    return 1 if failed else 0


def checksums(auth):
    """Checksums as GCS checks them: declared hashes that do not match are refused with 400 and no
    object; every object resource carries its CRC32C."""
    up = "/upload/storage/v1/b/kubedb/o?uploadType=media&name="
    get = "/storage/v1/b/kubedb/o/"
    st, b, _ = call("POST", up + "probe%2Fh1", b"hello world", dict(auth, **{"X-Goog-Hash": "crc32c=" + HELLO_CRC}))
    check("simple upload with the right X-Goog-Hash crc32c", st == 200 and json.loads(b)["crc32c"] == HELLO_CRC,
          (st, b[:200]))
    st, b, _ = call("POST", up + "probe%2Fh2", b"hello world", dict(auth, **{"X-Goog-Hash": "crc32c=" + FOX_CRC}))
    check("simple upload with a wrong crc32c: 400 with GCS's message", mismatch(st, b, "CRC32C"), (st, b[:300]))
    st, _, _ = call("GET", get + "probe%2Fh2", headers=auth)
    check("the refused upload made no object", st == 404, st)
    md5 = base64.b64encode(hashlib.md5(b"hello world").digest()).decode()
    st, b, _ = call("POST", up + "probe%2Fh2", b"hello world!",
                    dict(auth, **{"X-Goog-Hash": "crc32c=%s, md5=%s" % (crc32c(b"hello world!"), md5)}))
    check("a wrong md5 next to a right crc32c: 400", mismatch(st, b, "MD5 hash"), (st, b[:300]))
    st, b, _ = call("POST", up + "probe%2Fh2", b"x", dict(auth, **{"X-Goog-Hash": "crc32c=notbase64"}))
    check("a malformed X-Goog-Hash: 400", st == 400, st)
    st, b, _ = call("GET", get + "probe%2Fh1", headers=auth)
    check("objects.get shows the crc32c and md5Hash", st == 200 and json.loads(b)["crc32c"] == HELLO_CRC
          and json.loads(b)["md5Hash"] == md5, b[:300])

    # multipart: name, crc32c and custom metadata in the JSON part
    mp = "/upload/storage/v1/b/kubedb/o?uploadType=multipart"
    meta = {"name": "probe/h3", "crc32c": FOX_CRC, "metadata": {"snapfs-sha256": hashlib.sha256(FOX).hexdigest()}}
    body, ct = multipart(meta, FOX)
    st, b, _ = call("POST", mp, body, dict(auth, **{"Content-Type": ct}))
    j = json.loads(b) if st == 200 else {}
    check("multipart upload with the right crc32c and metadata", st == 200 and j.get("name") == "probe/h3"
          and j.get("size") == str(len(FOX)) and j.get("crc32c") == FOX_CRC
          and j.get("metadata") == meta["metadata"], (st, b[:300]))
    bad = FOX[:10] + b"X" + FOX[11:]
    body, ct = multipart(dict(meta, name="probe/h4"), bad)
    st, b, _ = call("POST", mp, body, dict(auth, **{"Content-Type": ct}))
    check("multipart upload whose bytes do not match its crc32c: 400", mismatch(st, b, "CRC32C"), (st, b[:300]))
    st, _, _ = call("GET", get + "probe%2Fh4", headers=auth)
    check("and no object", st == 404, st)
    body, ct = multipart(dict(meta, name="probe/h4", md5Hash=base64.b64encode(hashlib.md5(bad).digest()).decode(),
                              crc32c=crc32c(bad)), bad)
    st, b, _ = call("POST", mp, body, dict(auth, **{"Content-Type": ct}))
    check("multipart with matching crc32c and md5Hash", st == 200, (st, b[:200]))
    st, b, _ = call("POST", mp, b"--x\r\nContent-Type: application/json\r\n\r\n{}\r\n--x--\r\n",
                    dict(auth, **{"Content-Type": "multipart/related; boundary=x"}))
    check("multipart without a media part: 400", st == 400, st)

    # resumable: the finishing request's X-Goog-Hash covers the whole object
    st, _, h = call("POST", "/upload/storage/v1/b/kubedb/o?uploadType=resumable&name=probe%2Fh5",
                    json.dumps({"metadata": {"k": "v"}}).encode(), dict(auth, **{"Content-Type": "application/json"}))
    loc = h.get("Location", "")
    chunk = bytes(range(256)) * 1024
    st, _, h = call("PUT", None, chunk, dict(auth, **{"Content-Range": "bytes 0-262143/*",
                                                      "X-Goog-Hash": "crc32c=AAAAAA=="}), loc)
    check("a chunk that does not finish the session is not checked (no per-chunk hash)", st == 308, st)
    whole = chunk + FOX
    st, b, _ = call("PUT", None, FOX, dict(auth, **{"Content-Range": "bytes 262144-%d/%d" % (len(whole) - 1, len(whole)),
                                                    "X-Goog-Hash": "crc32c=" + HELLO_CRC}), loc)
    check("a finishing chunk whose X-Goog-Hash does not match the object: 400", mismatch(st, b, "CRC32C"),
          (st, b[:300]))
    st, _, _ = call("GET", get + "probe%2Fh5", headers=auth)
    check("the refused session made no object", st == 404, st)
    st, _, h = call("PUT", None, b"", dict(auth, **{"Content-Range": "bytes */*"}), loc)
    check("the refused request's bytes are not kept", st == 308 and h.get("Range") == "bytes=0-262143",
          (st, h.get("Range")))
    st, b, _ = call("PUT", None, FOX, dict(auth, **{"Content-Range": "bytes 262144-%d/%d" % (len(whole) - 1, len(whole)),
                                                    "X-Goog-Hash": "crc32c=" + crc32c(whole)}), loc)
    j = json.loads(b) if st == 200 else {}
    check("the session finishes with the right hash", st == 200 and j.get("crc32c") == crc32c(whole)
          and j.get("metadata") == {"k": "v"}, (st, b[:300]))
    st, _, h = call("POST", "/upload/storage/v1/b/kubedb/o?uploadType=resumable&name=probe%2Fh6", b"", auth)
    loc = h.get("Location", "")
    call("PUT", None, chunk, dict(auth, **{"Content-Range": "bytes 0-262143/*"}), loc)
    st, b, _ = call("PUT", None, b"", dict(auth, **{"Content-Range": "bytes */262144", "X-Goog-Hash": "crc32c=" + FOX_CRC}),
                    loc)
    check("finishing with no bytes and a wrong X-Goog-Hash: 400", mismatch(st, b, "CRC32C"), (st, b[:300]))
    st, _, _ = call("DELETE", None, b"", auth, loc)
    check("and the session can still be cancelled", st == 499, st)

    # compose keeps a CRC32C of the whole; patch changes metadata under preconditions
    body = json.dumps({"sourceObjects": [{"name": "probe/h1"}, {"name": "probe/h3"}],
                       "destination": {"metadata": {"a": "b"}}}).encode()
    st, b, _ = call("POST", get + "probe%2Fh7/compose", body, dict(auth, **{"Content-Type": "application/json"}))
    j = json.loads(b) if st == 200 else {}
    check("a composed object has the CRC32C of its bytes and no md5Hash", st == 200
          and j.get("crc32c") == crc32c(b"hello world" + FOX) and "md5Hash" not in j and j.get("metadata") == {"a": "b"},
          (st, b[:300]))
    gen, mg = j.get("generation"), j.get("metageneration")
    patch = json.dumps({"metadata": {"snapfs-sha256": "ab" * 32}}).encode()
    jh = dict(auth, **{"Content-Type": "application/json"})
    st, _, _ = call("PATCH", get + "probe%2Fh7?ifGenerationMatch=1", patch, jh)
    check("patch of another generation: 412", st == 412, st)
    st, _, _ = call("PATCH", get + "probe%2Fh7" + "?ifGenerationMatch=%s&ifMetagenerationMatch=9" % gen, patch, jh)
    check("patch of another metageneration: 412", st == 412, st)
    st, b, _ = call("PATCH", get + "probe%2Fh7" + "?ifGenerationMatch=%s&ifMetagenerationMatch=%s" % (gen, mg), patch, jh)
    j = json.loads(b) if st == 200 else {}
    check("patch adds metadata and bumps the metageneration", st == 200
          and j.get("metadata") == {"a": "b", "snapfs-sha256": "ab" * 32} and int(j["metageneration"]) == int(mg) + 1
          and j.get("generation") == gen, (st, b[:300]))
    st, b, _ = call("GET", "/storage/v1/b/kubedb/o?prefix=probe%2Fh", headers=auth)
    items = {i["name"]: i for i in json.loads(b).get("items", [])}
    check("listings carry every object's crc32c", st == 200 and items.get("probe/h1", {}).get("crc32c") == HELLO_CRC
          and all("crc32c" in i for i in items.values()), list(items))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A small but strict Google Cloud Storage stand-in for the tests (no GCS emulator runs here).

Written from Google's public references for the OAuth2 service-account flow and the Cloud Storage
JSON API. What it enforces:
  * token endpoint (POST /token): the jwt-bearer grant; the RS256 assertion is verified against the
    service account's public key; iss must be the account, aud this endpoint, iat/exp a short-lived
    window around now, scope present and known. Refusals use the OAuth2 error JSON.
  * object API: a valid, unexpired bearer token with a storage scope (401/403 otherwise);
    buckets.get; objects get/list (prefix, delimiter, prefixes, pageToken, maxResults), media
    download with Range (206/416), simple upload, resumable sessions (chunks a multiple of 256 KiB
    except the last, 308 with a Range header, status query with bytes */* or bytes */SIZE (which
    finishes the upload once SIZE bytes are in, as GCS documents), the next chunk must start at the
    persisted offset, DELETE cancels with 499), generations (new per write, ifGenerationMatch),
    compose (at most 32 sources), rewrite (in steps, with rewriteToken), delete, patch (custom
    metadata, ifGenerationMatch/ifMetagenerationMatch), multipart uploads (a JSON metadata part and
    the media part).
  * checksums as GCS checks them: every object keeps its CRC32C (base64 of the big-endian value, in
    every object resource) and, unless composite, its MD5. An upload that declares a hash (crc32c or
    md5Hash in the metadata of a multipart upload or of a session's first request, or an X-Goog-Hash
    header "crc32c=B64,md5=B64" on a simple upload or on the request that finishes a session) is
    refused with 400 and GCS's message ("Provided CRC32C \"x\" doesn't match calculated CRC32C
    \"y\".") when the bytes differ, and no object is made. An X-Goog-Hash on a chunk that does not
    finish the session is not checked (the resumable protocol has no per-chunk check). A session
    whose finishing request is refused keeps the bytes it had before that request, so the client can
    cancel it (or finish it again).
  * object names travel percent-encoded in one path segment ('/' as %2F).
Objects are stored on disk: DATA/BUCKET/<name percent-encoded, safe=''>.
Test hooks (no auth): GET /_test/stats, GET /_test/sessions, POST /_test/faults with a JSON object:
  {"drop_chunk": N}      drop the connection halfway through the Nth chunk from now (keeping what
                         arrived, cut to 256 KiB), without a reply
  {"short_persist": N}   persist only part of the Nth chunk from now and say so in the 308 Range
  {"fail_chunk": N}      take the whole Nth chunk from now, keep half of it and answer 503
  {"fail": N, "status": S, "match": "substring"}  answer the next N matching requests with S
  {"revoke_tokens": true} every token issued so far becomes invalid (401)
  {"revoke_next": true}  the token of the next object-API request is revoked on the spot (401)
  {"garbage": N, "match": "substring", "status": S, "body": "..."}  answer the next N matching
                         requests with status S (default 200) and this body: a malformed reply
  {"bad_range": N}       the next N 308 replies carry a malformed Range header
  {"ignore_hashes": true|false}  accept declared hashes without checking them (a store that does not
                         verify): the object keeps the CRC32C of the bytes that arrived
GET /_test/sessions lists every session with its state (open, final, cancelled) and bytes persisted.
Usage: gcs_server.py --port P --data DIR --bucket B [--bucket B2] --public-key PEM --client-email E
                     [--token-ttl S] [--max-results N] [--rewrite-step BYTES] [--forbidden-bucket B]
Prints "ready" when listening.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography import x509

try:
    import crcmod.predefined   # Debian python3-crcmod: a C extension, ~100 MB/s

    _crc32c = crcmod.predefined.mkPredefinedCrcFun("crc-32c")

    def crc32c(data, crc=0):
        return _crc32c(data, crc)
except ImportError:   # pure Python: right, but slow for big objects
    _TAB = []
    for _i in range(256):
        _c = _i
        for _k in range(8):
            _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
        _TAB.append(_c)

    def crc32c(data, crc=0):
        c = crc ^ 0xFFFFFFFF
        for b in data:
            c = _TAB[(c ^ b) & 0xFF] ^ (c >> 8)
        return c ^ 0xFFFFFFFF

CHUNK_ALIGN = 256 * 1024
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE_RW = {"https://www.googleapis.com/auth/devstorage.read_write",
            "https://www.googleapis.com/auth/devstorage.full_control",
            "https://www.googleapis.com/auth/cloud-platform"}
SCOPE_RO = SCOPE_RW | {"https://www.googleapis.com/auth/devstorage.read_only",
                       "https://www.googleapis.com/auth/cloud-platform.read-only"}
KNOWN_SCOPE_PREFIX = "https://www.googleapis.com/auth/"

lock = threading.RLock()
args = None
tokens = {}       # token -> (expiry, scopes)
objects = {}      # (bucket, name) -> metadata dict
sessions = {}     # upload_id -> session dict
rewrites = {}     # rewriteToken -> state
faults = {}
stats = {"tokens_issued": 0, "token_refused": {}, "unauthorized": 0, "chunks": 0, "chunk_drops": 0,
         "short_persists": 0, "status_queries": 0, "sessions_opened": 0, "sessions_cancelled": 0,
         "sessions_finalized": 0, "simple_uploads": 0, "composes": 0, "rewrite_calls": 0, "deletes": 0,
         "lists": 0, "media_gets": 0, "injected": 0, "misaligned_chunks": 0,
         "offset_mismatches": 0, "chunk_fails": 0, "multipart_uploads": 0, "hashes_checked": 0,
         "hash_mismatches": 0, "patches": 0}
gen_counter = [int(time.time() * 1e6)]


def stat_inc(k, n=1):
    with lock:
        stats[k] = stats.get(k, 0) + n


def next_generation():
    with lock:
        gen_counter[0] = max(gen_counter[0] + 1, int(time.time() * 1e6))
        return gen_counter[0]


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def crc_b64(crc):
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


class Digest:
    """MD5 and CRC32C of a byte stream, grown as it arrives."""

    def __init__(self):
        self.md5 = hashlib.md5()
        self.crc = 0

    def update(self, b):
        self.md5.update(b)
        self.crc = crc32c(b, self.crc)

    def copy(self):
        d = Digest()
        d.md5, d.crc = self.md5.copy(), self.crc
        return d

    def md5_b64(self):
        return base64.b64encode(self.md5.digest()).decode()


def parse_hash_header(values):
    """X-Goog-Hash values ("crc32c=B64,md5=B64", possibly repeated) into {"crc32c": ..., "md5": ...}."""
    out = {}
    for v in values or []:
        for item in v.split(","):
            item = item.strip()
            if not item:
                continue
            k, eq, val = item.partition("=")
            if not eq or k.strip().lower() not in ("crc32c", "md5"):
                raise Fail(400, "Invalid X-Goog-Hash header: %s" % v, "invalid")
            out[k.strip().lower()] = val.strip()
    return out


def check_hashes(declared, digest):
    """Refuse (400, as GCS words it) when a declared crc32c/md5 does not match the bytes received."""
    if not declared:
        return
    with lock:
        stats["hashes_checked"] += 1
        if faults.get("ignore_hashes"):
            return
    for kind in ("crc32c", "md5"):
        want = declared.get(kind)
        if want is None:
            continue
        size = 4 if kind == "crc32c" else 16
        try:
            raw = base64.b64decode(want, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != size:
            raise Fail(400, "Invalid %s hash value: %s" % ("CRC32C" if size == 4 else "MD5", want), "invalid")
        got = crc_b64(digest.crc) if kind == "crc32c" else digest.md5_b64()
        if base64.b64encode(raw).decode() != got:
            stat_inc("hash_mismatches")
            if kind == "crc32c":
                msg = "Provided CRC32C \"%s\" doesn't match calculated CRC32C \"%s\"." % (want, got)
            else:
                msg = "Provided MD5 hash \"%s\" doesn't match calculated MD5 hash \"%s\"." % (want, got)
            raise HashFail(400, msg, "invalid")


def declared_in(meta):
    """The hashes an object resource in a request declares (crc32c, md5Hash)."""
    out = {}
    if "crc32c" in meta:
        out["crc32c"] = meta["crc32c"]
    if "md5Hash" in meta:
        out["md5"] = meta["md5Hash"]
    for v in out.values():
        if not isinstance(v, str):
            raise Fail(400, "Invalid value for a hash field", "invalid")
    return out


def custom_metadata(meta):
    md = meta.get("metadata")
    if md is None:
        return None
    if not isinstance(md, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in md.items()):
        raise Fail(400, "Invalid value for metadata: a map of strings is expected", "invalid")
    return dict(md)


def obj_path(bucket, name):
    return os.path.join(args.data, bucket, urllib.parse.quote(name, safe=""))


def b64url_decode(s):
    if any(c in s for c in "+/="):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Fail(Exception):
    def __init__(self, code, message, reason="invalid", extra_headers=()):
        super().__init__(message)
        self.code, self.message, self.reason, self.extra_headers = code, message, reason, extra_headers


class HashFail(Fail):
    pass


class Dropped(Exception):
    pass


def resource(bucket, name, m):
    return {
        "kind": "storage#object",
        "id": "%s/%s/%d" % (bucket, name, m["generation"]),
        "selfLink": "%s/storage/v1/b/%s/o/%s" % (args.base, bucket, urllib.parse.quote(name, safe="")),
        "mediaLink": "%s/download/storage/v1/b/%s/o/%s?generation=%d&alt=media" % (
            args.base, bucket, urllib.parse.quote(name, safe=""), m["generation"]),
        "name": name,
        "bucket": bucket,
        "generation": str(m["generation"]),
        "metageneration": str(m.get("metageneration", 1)),
        "contentType": m.get("contentType", "application/octet-stream"),
        "storageClass": "STANDARD",
        "size": str(m["size"]),
        **({"md5Hash": m["md5"]} if m.get("md5") else {}),
        "crc32c": crc_b64(m["crc32c"]),
        **({"metadata": dict(m["metadata"])} if m.get("metadata") else {}),
        **({"componentCount": m["components"]} if m.get("components") else {}),
        "etag": base64.b64encode(("%d/1" % m["generation"]).encode()).decode(),
        "timeCreated": rfc3339(m["created"]),
        "updated": rfc3339(m["updated"]),
        "timeStorageClassUpdated": rfc3339(m["created"]),
    }


def commit_object(bucket, name, tmp_path, size, md5, precond, components=0, content_type=None, crc=0,
                  metadata=None):
    """Make tmp_path the new generation of (bucket, name), honouring ifGenerationMatch."""
    with lock:
        cur = objects.get((bucket, name))
        check_generation(bucket, name, cur, precond)
        now = time.time()
        m = {"generation": next_generation(), "size": size, "md5": md5, "created": now, "updated": now,
             "components": components, "crc32c": crc, "metadata": metadata or None, "metageneration": 1}
        if content_type:
            m["contentType"] = content_type
        os.replace(tmp_path, obj_path(bucket, name))
        objects[(bucket, name)] = m
        return resource(bucket, name, m)


def check_generation(bucket, name, cur, precond):
    if precond is None:
        return
    want = int(precond)
    have = cur["generation"] if cur else 0
    if want != have:
        raise Fail(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")


def check_name(name):
    if not name or len(name.encode()) > 1024 or "\r" in name or "\n" in name or name in (".", ".."):
        raise Fail(400, "The specified object name is not valid.", "invalid")
    if name.startswith(".well-known/acme-challenge/"):
        raise Fail(400, "The specified object name is not valid.", "invalid")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gcs-test"

    def log_message(self, fmt, *a):
        if args.verbose:
            sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % a))

    # --- plumbing ---
    def send(self, code, body=b"", ctype="application/json; charset=UTF-8", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, indent=1).encode()
        self.send_response(code, {308: "Resume Incomplete", 499: "Client Closed Request"}.get(code))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_error_json(self, f):
        err = {"error": {"code": f.code, "message": f.message,
                         "errors": [{"message": f.message, "domain": "global", "reason": f.reason}]}}
        if not self.body_done:
            # read what the client still sends so it sees this reply, unless it is too much
            try:
                n = self.content_length()
                if n <= (256 << 20):
                    self.discard_body(n)
            except (Fail, Dropped):
                pass
            if not self.body_done:
                self.close_connection = True
        self.send(f.code, err, headers=f.extra_headers)

    def content_length(self):
        if self.headers.get("Transfer-Encoding"):
            raise Fail(411, "Chunked transfer encoding is not accepted here; send Content-Length.", "required")
        v = self.headers.get("Content-Length")
        if v is None:
            return 0
        if not v.isdigit():
            raise Fail(400, "Bad Content-Length", "invalid")
        return int(v)

    def read_body(self, limit=64 << 20):
        n = self.content_length()
        if n > limit:
            raise Fail(413, "Request too large", "uploadTooLarge")
        data = self.rfile.read(n) if n else b""
        if len(data) != n:
            raise Dropped()
        self.body_done = True
        return data

    def body_to_file(self, f, n, stop_at=None, md5=None, md5_len=None):
        """Copy n request-body bytes to f; with stop_at, stop after that many (the rest is unread).
        The first md5_len bytes (default: all) also go into md5."""
        left = n if stop_at is None else min(n, stop_at)
        hash_left = left if md5_len is None else md5_len
        while left:
            blk = self.rfile.read(min(left, 1 << 20))
            if not blk:
                raise Dropped()
            f.write(blk)
            if md5 is not None and hash_left > 0:
                md5.update(blk[:hash_left])
                hash_left -= min(hash_left, len(blk))
            left -= len(blk)
        if stop_at is None or stop_at >= n:
            self.body_done = True

    def discard_body(self, n):
        left = n
        while left:
            blk = self.rfile.read(min(left, 1 << 20))
            if not blk:
                raise Dropped()
            left -= len(blk)
        self.body_done = True

    def drop(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def injected_fault(self):
        with lock:
            f = faults.get("fail")
            if f and f["n"] > 0 and f["match"] in "%s %s" % (self.command, self.path):
                f["n"] -= 1
                stats["injected"] += 1
                return f["status"]
        return None

    def garbage(self):
        with lock:
            g = faults.get("garbage")
            if g and g["n"] > 0 and g["match"] in "%s %s" % (self.command, self.path):
                g["n"] -= 1
                stats["injected"] += 1
                return g
        return None

    def route(self):
        self.body_done = self.command in ("GET", "HEAD", "DELETE")
        u = urllib.parse.urlsplit(self.path)
        self.q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        segs = u.path.split("/")[1:]
        try:
            if segs[:1] == ["_test"]:
                return self.test_hook(segs[1:])
            st = self.injected_fault()
            if st:
                if self.command in ("PUT", "POST"):
                    self.discard_body(self.content_length())
                raise Fail(st, "Injected failure", "backendError")
            if u.path == "/token" and self.command == "POST":
                return self.token()
            scopes = self.auth()
            g = self.garbage()
            if g:
                if self.command in ("PUT", "POST"):
                    self.discard_body(self.content_length())
                return self.send(g["status"], g["body"].encode())
            if segs[:3] == ["storage", "v1", "b"] or segs[:4] == ["download", "storage", "v1", "b"]:
                if segs[0] == "download":
                    segs = segs[1:]
                return self.json_api(segs[3:], scopes)
            if segs[:4] == ["upload", "storage", "v1", "b"]:
                return self.upload_api(segs[4:], scopes)
            raise Fail(404, "Not Found", "notFound")
        except Fail as f:
            self.send_error_json(f)
        except Dropped:
            self.drop()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = route

    # --- test hooks ---
    def test_hook(self, segs):
        if segs == ["stats"]:
            with lock:
                s = dict(stats)
                s["sessions_open"] = sum(1 for x in sessions.values() if x["state"] == "open")
                s["valid_tokens"] = sum(1 for t in tokens.values() if t[0] > time.time())
            return self.send(200, s)
        if segs == ["sessions"]:
            with lock:
                out = [{"id": k, "name": v["name"], "bucket": v["bucket"], "persisted": v["persisted"],
                        "state": v["state"]} for k, v in sessions.items()]
            return self.send(200, out)
        if segs == ["faults"] and self.command == "POST":
            req = json.loads(self.read_body() or b"{}")
            with lock:
                if "drop_chunk" in req:
                    faults["drop_chunk"] = stats["chunks"] + int(req["drop_chunk"])
                if "fail_chunk" in req:
                    faults["fail_chunk"] = stats["chunks"] + int(req["fail_chunk"])
                if "short_persist" in req:
                    faults["short_persist"] = stats["chunks"] + int(req["short_persist"])
                if "fail" in req:
                    faults["fail"] = {"n": int(req["fail"]), "status": int(req.get("status", 503)),
                                      "match": req.get("match", "")}
                if "garbage" in req:
                    faults["garbage"] = {"n": int(req["garbage"]), "status": int(req.get("status", 200)),
                                         "match": req.get("match", ""), "body": req.get("body", "{")}
                if "bad_range" in req:
                    faults["bad_range"] = int(req["bad_range"])
                if "ignore_hashes" in req:
                    faults["ignore_hashes"] = bool(req["ignore_hashes"])
                if req.get("revoke_next"):
                    faults["revoke_next"] = True
                if req.get("revoke_tokens"):
                    tokens.clear()
            return self.send(200, {"ok": True})
        raise Fail(404, "no such test hook", "notFound")

    # --- OAuth2 token endpoint ---
    def token_refuse(self, error, desc, why):
        with lock:
            stats["token_refused"][why] = stats["token_refused"].get(why, 0) + 1
        self.send(400, {"error": error, "error_description": desc})

    def token(self):
        ctype = self.headers.get("Content-Type", "")
        body = self.read_body(1 << 20)
        if not ctype.startswith("application/x-www-form-urlencoded"):
            return self.token_refuse("invalid_request", "Content-Type must be "
                                     "application/x-www-form-urlencoded.", "content_type")
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != JWT_BEARER:
            return self.token_refuse("unsupported_grant_type", "Invalid grant_type: %s"
                                     % form.get("grant_type", ""), "grant_type")
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3:
            return self.token_refuse("invalid_grant", "Invalid JWT: not a signed JWT.", "malformed")
        try:
            hdr = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            return self.token_refuse("invalid_grant", "Invalid JWT: malformed encoding.", "malformed")
        if not isinstance(hdr, dict) or not isinstance(claims, dict):
            return self.token_refuse("invalid_grant", "Invalid JWT: not a JSON object.", "malformed")
        if hdr.get("alg") != "RS256":
            return self.token_refuse("invalid_grant", "Invalid JWT: only RS256 is accepted.", "alg")
        if claims.get("iss") != args.client_email:
            return self.token_refuse("invalid_grant", "Invalid grant: account not found", "iss")
        if "kid" in hdr and args.key_id and hdr["kid"] != args.key_id:
            return self.token_refuse("invalid_grant", "Invalid JWT Signature.", "kid")
        try:
            args.pubkey.verify(sig, (parts[0] + "." + parts[1]).encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return self.token_refuse("invalid_grant", "Invalid JWT Signature.", "signature")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if (not isinstance(iat, int) or not isinstance(exp, int) or exp <= iat or exp - iat > 3600
                or exp <= now or iat > now + 60):
            return self.token_refuse("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 "
                                     "minutes) and in a reasonable timeframe. Check your iat and exp values "
                                     "in the JWT claim.", "time")
        if claims.get("aud") != args.token_uri:
            return self.token_refuse("invalid_grant", "Invalid JWT: Failed audience check.", "aud")
        scope = claims.get("scope")
        if not isinstance(scope, str) or not scope.strip():
            return self.token_refuse("invalid_scope", "Empty or missing scope not allowed.", "scope")
        scopes = set(scope.split())
        if any(not s.startswith(KNOWN_SCOPE_PREFIX) for s in scopes):
            return self.token_refuse("invalid_scope", "Invalid OAuth scope or ID token audience provided.",
                                     "scope")
        tok = "ya29.test-" + secrets.token_urlsafe(24)
        with lock:
            tokens[tok] = (now + args.token_ttl, scopes)
            stats["tokens_issued"] += 1
        self.send(200, {"access_token": tok, "expires_in": args.token_ttl, "token_type": "Bearer"})

    def auth(self):
        h = self.headers.get("Authorization", "")
        if not h:
            stat_inc("unauthorized")
            raise Fail(401, "Anonymous caller does not have storage access to the Google Cloud Storage "
                       "bucket.", "required", (("WWW-Authenticate", 'Bearer realm="test"'),))
        tok = h[7:] if h.startswith("Bearer ") else None
        with lock:
            t = tokens.get(tok)
            if t and faults.get("revoke_next"):
                faults["revoke_next"] = False
                del tokens[tok]
                t = None
        if not t or t[0] <= time.time():
            stat_inc("unauthorized")
            raise Fail(401, "Invalid Credentials", "authError",
                       (("WWW-Authenticate", 'Bearer realm="test", error="invalid_token"'),))
        return t[1]

    def need(self, scopes, write):
        if not (scopes & (SCOPE_RW if write else SCOPE_RO)):
            raise Fail(403, "Access denied: the access token lacks the scope this request needs.",
                       "insufficientPermissions")

    def bucket(self, name):
        if name in args.forbidden_bucket:
            raise Fail(403, "%s does not have storage.buckets.get access to the Google Cloud Storage bucket. "
                       "Permission 'storage.buckets.get' denied on resource (or it may not exist)."
                       % args.client_email, "forbidden")
        if name not in args.bucket:
            raise Fail(404, "The specified bucket does not exist.", "notFound")
        return name

    # --- JSON API ---
    def json_api(self, segs, scopes):
        if not segs or not segs[0]:
            raise Fail(404, "Not Found", "notFound")
        b = self.bucket(urllib.parse.unquote(segs[0]))
        if len(segs) == 1 and self.command == "GET":
            self.need(scopes, False)
            return self.send(200, {"kind": "storage#bucket", "id": b, "name": b, "projectNumber": "1",
                                   "metageneration": "1", "location": "US", "storageClass": "STANDARD",
                                   "etag": "CAE=", "timeCreated": rfc3339(args.started),
                                   "updated": rfc3339(args.started)})
        if len(segs) == 2 and segs[1] == "o" and self.command == "GET":
            self.need(scopes, False)
            return self.list_objects(b)
        if len(segs) >= 3 and segs[1] == "o":
            name = urllib.parse.unquote(segs[2])
            check_name(name)
            rest = segs[3:]
            if not rest and self.command in ("GET", "HEAD"):
                self.need(scopes, False)
                return self.get_object(b, name)
            if not rest and self.command == "DELETE":
                self.need(scopes, True)
                return self.delete_object(b, name)
            if not rest and self.command == "PATCH":
                self.need(scopes, True)
                return self.patch_object(b, name)
            if rest == ["compose"] and self.command == "POST":
                self.need(scopes, True)
                return self.compose(b, name)
            if (len(rest) == 5 and rest[0] == "rewriteTo" and rest[1] == "b" and rest[3] == "o"
                    and self.command == "POST"):
                self.need(scopes, True)
                dst_b = self.bucket(urllib.parse.unquote(rest[2]))
                dst = urllib.parse.unquote(rest[4])
                check_name(dst)
                return self.rewrite(b, name, dst_b, dst)
        raise Fail(404, "Not Found", "notFound")

    def lookup(self, b, name):
        with lock:
            m = objects.get((b, name))
        if not m:
            raise Fail(404, "No such object: %s/%s" % (b, name), "notFound")
        if "ifGenerationMatch" in self.q and int(self.q["ifGenerationMatch"]) != m["generation"]:
            raise Fail(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")
        if "generation" in self.q and int(self.q["generation"]) != m["generation"]:
            raise Fail(404, "No such object: %s/%s" % (b, name), "notFound")
        return m

    def get_object(self, b, name):
        m = self.lookup(b, name)
        if self.q.get("alt") != "media":
            return self.send(200, resource(b, name, m))
        stat_inc("media_gets")
        size = m["size"]
        start, end, code = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng:
            if not rng.startswith("bytes=") or "," in rng:
                raise Fail(400, "Bad Range header", "invalid")
            a, _, z = rng[6:].partition("-")
            try:
                if a == "":
                    start, end = max(0, size - int(z)), size - 1
                else:
                    start = int(a)
                    end = min(int(z), size - 1) if z else size - 1
            except ValueError:
                raise Fail(400, "Bad Range header", "invalid")
            if start >= size or start > end:
                raise Fail(416, "The requested range cannot be satisfied.", "requestedRangeNotSatisfiable",
                           (("Content-Range", "bytes */%d" % size),))
            code = 206
        n = end - start + 1 if size else 0
        with open(obj_path(b, name), "rb") as f:
            f.seek(start)
            self.send_response(code)
            self.send_header("Content-Type", m.get("contentType", "application/octet-stream"))
            self.send_header("Content-Length", str(n))
            self.send_header("X-Goog-Generation", str(m["generation"]))
            if code == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.end_headers()
            if self.command == "HEAD":
                return
            while n:
                blk = f.read(min(n, 1 << 20))
                if not blk:
                    break
                self.wfile.write(blk)
                n -= len(blk)

    def list_objects(self, b):
        stat_inc("lists")
        prefix = self.q.get("prefix", "")
        delim = self.q.get("delimiter", "")
        maxr = args.max_results
        if "maxResults" in self.q:
            try:
                maxr = max(1, min(maxr, int(self.q["maxResults"])))
            except ValueError:
                raise Fail(400, "Invalid value for maxResults", "invalid")
        after = None
        if self.q.get("pageToken"):
            try:
                after = base64.urlsafe_b64decode(self.q["pageToken"].encode()).decode()
                if not after.startswith("after:"):
                    raise ValueError()
                after = after[6:]
            except ValueError:
                raise Fail(400, "Invalid page token.", "invalid")
        with lock:
            names = sorted((n for (bb, n) in objects if bb == b and n.startswith(prefix)),
                           key=lambda s: s.encode())
            snap = {n: objects[(b, n)] for n in names}
        entries = []   # (sort key, kind, value)
        seen = set()
        for n in names:
            if delim:
                i = n.find(delim, len(prefix))
                if i >= 0:
                    p = n[:i + len(delim)]
                    if p not in seen:
                        seen.add(p)
                        entries.append((p, "prefix"))
                    continue
            entries.append((n, "item"))
        if after is not None:
            entries = [e for e in entries if e[0].encode() > after.encode()]
        page, more = entries[:maxr], len(entries) > maxr
        out = {"kind": "storage#objects"}
        items = [resource(b, n, snap[n]) for n, k in page if k == "item"]
        prefixes = [n for n, k in page if k == "prefix"]
        if items:
            out["items"] = items
        if prefixes:
            out["prefixes"] = prefixes
        if more:
            out["nextPageToken"] = base64.urlsafe_b64encode(("after:" + page[-1][0]).encode()).decode()
        self.send(200, out)

    def delete_object(self, b, name):
        with lock:
            self.lookup(b, name)
            del objects[(b, name)]
            os.unlink(obj_path(b, name))
            stats["deletes"] += 1
        self.send(204)

    def patch_object(self, b, name):
        req = self.json_body()
        with lock:
            m = self.lookup(b, name)
            if "ifMetagenerationMatch" in self.q and int(self.q["ifMetagenerationMatch"]) != m["metageneration"]:
                raise Fail(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")
            if "metadata" in req:
                raw = req["metadata"]
                if raw is None:
                    m["metadata"] = None
                else:
                    if not isinstance(raw, dict) or not all(isinstance(v, (str, type(None))) for v in raw.values()):
                        raise Fail(400, "Invalid value for metadata: a map of strings is expected", "invalid")
                    cur = dict(m.get("metadata") or {})
                    for k, v in raw.items():
                        if v is None:
                            cur.pop(k, None)
                        else:
                            cur[k] = v
                    m["metadata"] = cur or None
            if isinstance(req.get("contentType"), str):
                m["contentType"] = req["contentType"]
            m["metageneration"] += 1
            m["updated"] = time.time()
            stats["patches"] += 1
            r = resource(b, name, m)
        self.send(200, r)

    def compose(self, b, name):
        req = self.json_body()
        srcs = req.get("sourceObjects")
        if not isinstance(srcs, list) or not srcs:
            raise Fail(400, "Required: sourceObjects", "required")
        if len(srcs) > 32:
            raise Fail(400, "The number of source components provided (%d) exceeds the maximum (32)."
                       % len(srcs), "invalid")
        dest = req.get("destination") or {}
        if not isinstance(dest, dict):
            raise Fail(400, "Invalid destination", "invalid")
        md = custom_metadata(dest)
        tmp = os.path.join(args.data, ".tmp", secrets.token_hex(8))
        total, comps, crc = 0, 0, 0
        with lock:
            metas = []
            for s in srcs:
                if not isinstance(s, dict) or not isinstance(s.get("name"), str):
                    raise Fail(400, "Invalid sourceObjects entry", "invalid")
                m = objects.get((b, s["name"]))
                if not m:
                    raise Fail(404, "Object %s (generation: 0) not found." % s["name"], "notFound")
                pre = (s.get("objectPreconditions") or {}).get("ifGenerationMatch")
                if pre is not None and int(pre) != m["generation"]:
                    raise Fail(412, "At least one of the pre-conditions you specified did not hold.",
                               "conditionNotMet")
                if "generation" in s and int(s["generation"]) != m["generation"]:
                    raise Fail(404, "Object %s (generation: %s) not found." % (s["name"], s["generation"]),
                               "notFound")
                metas.append((s["name"], m))
            with open(tmp, "wb") as out:
                for n, m in metas:
                    with open(obj_path(b, n), "rb") as f:
                        for blk in iter(lambda: f.read(1 << 20), b""):
                            out.write(blk)
                            crc = crc32c(blk, crc)
                    total += m["size"]
                    comps += m.get("components") or 1
            if comps > 1024:
                os.unlink(tmp)
                raise Fail(400, "The composite object would have too many components.", "invalid")
            stats["composes"] += 1
            # composite objects carry no MD5, as in GCS
            r = commit_object(b, name, tmp, total, None, self.q.get("ifGenerationMatch"), comps,
                              dest.get("contentType"), crc, md)
        self.send(200, r)

    def rewrite(self, sb, src, db, dst):
        self.json_body()
        stat_inc("rewrite_calls")
        tok = self.q.get("rewriteToken")
        with lock:
            if tok:
                st = rewrites.get(tok)
                if not st or (st["src"], st["dst"]) != ((sb, src), (db, dst)):
                    raise Fail(400, "Invalid rewrite token.", "invalid")
                m = objects.get((sb, src))
                if not m or m["generation"] != st["gen"]:
                    raise Fail(412, "The source object changed during the rewrite.", "conditionNotMet")
            else:
                m = self.lookup(sb, src)
                tok = secrets.token_urlsafe(16)
                st = {"src": (sb, src), "dst": (db, dst), "gen": m["generation"], "done": 0,
                      "tmp": os.path.join(args.data, ".tmp", secrets.token_hex(8))}
                open(st["tmp"], "wb").close()
                rewrites[tok] = st
            step = args.rewrite_step or m["size"]
            n = min(step, m["size"] - st["done"])
            with open(obj_path(sb, src), "rb") as f, open(st["tmp"], "ab") as out:
                f.seek(st["done"])
                out.write(f.read(n))
            st["done"] += n
            out = {"kind": "storage#rewriteResponse", "totalBytesRewritten": str(st["done"]),
                   "objectSize": str(m["size"]), "done": st["done"] >= m["size"]}
            if not out["done"]:
                out["rewriteToken"] = tok
            else:
                del rewrites[tok]
                out["resource"] = commit_object(db, dst, st["tmp"], m["size"], m.get("md5"),
                                                self.q.get("ifGenerationMatch"), m.get("components", 0),
                                                m.get("contentType"), m["crc32c"], m.get("metadata"))
        self.send(200, out)

    def json_body(self):
        data = self.read_body(1 << 20)
        if not data:
            return {}
        try:
            j = json.loads(data)
        except ValueError:
            raise Fail(400, "Parse Error", "parseError")
        if not isinstance(j, dict):
            raise Fail(400, "Parse Error", "parseError")
        return j

    # --- uploads ---
    def upload_api(self, segs, scopes):
        if len(segs) != 2 or segs[1] != "o":
            raise Fail(404, "Not Found", "notFound")
        b = self.bucket(urllib.parse.unquote(segs[0]))
        self.need(scopes, True)
        kind = self.q.get("uploadType")
        if self.command == "POST" and kind == "media":
            return self.simple_upload(b)
        if self.command == "POST" and kind == "multipart":
            return self.multipart_upload(b)
        if self.command == "POST" and kind == "resumable":
            return self.open_session(b)
        if kind == "resumable" and "upload_id" in self.q and self.command in ("PUT", "POST"):
            return self.chunk(b)
        if kind == "resumable" and "upload_id" in self.q and self.command == "DELETE":
            return self.cancel(b)
        raise Fail(400, "Upload requests must include an uploadType URL parameter and a URL-encoded name.",
                   "invalid")

    def simple_upload(self, b):
        name = self.q.get("name", "")
        check_name(name)
        declared = parse_hash_header(self.headers.get_all("X-Goog-Hash"))
        n = self.content_length()
        tmp = os.path.join(args.data, ".tmp", secrets.token_hex(8))
        with open(tmp, "wb") as f:
            h = Digest()
            try:
                self.body_to_file(f, n, None, h)
            except Dropped:
                f.close()
                os.unlink(tmp)
                raise
        try:
            check_hashes(declared, h)
            r = commit_object(b, name, tmp, n, h.md5_b64(), self.q.get("ifGenerationMatch"),
                              content_type=self.headers.get("Content-Type"), crc=h.crc)
        except Fail:
            os.unlink(tmp)
            raise
        stat_inc("simple_uploads")
        self.send(200, r)

    def multipart_upload(self, b):
        """uploadType=multipart: multipart/related, a JSON object resource, then the bytes."""
        ctype = self.headers.get("Content-Type", "")
        kind, _, params = ctype.partition(";")
        bnd = None
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.lower() == "boundary":
                bnd = v.strip().strip('"')
        if kind.strip().lower() != "multipart/related" or not bnd:
            raise Fail(400, "Multipart uploads need Content-Type multipart/related with a boundary.", "invalid")
        body = self.read_body(256 << 20)
        delim = b"--" + bnd.encode()
        parts = []
        segs = (b"\r\n" + body).split(b"\r\n" + delim)[1:] if body.startswith(delim) else []
        # segs: what follows each delimiter; the last is the close delimiter's "--"
        if len(segs) >= 2 and segs[-1].startswith(b"--"):
            for seg in segs[:-1]:
                if not seg.startswith(b"\r\n"):
                    parts = []
                    break
                seg = seg[2:]
                if seg.startswith(b"\r\n"):
                    parts.append(("", seg[2:]))   # a part with no headers
                    continue
                head, sep, content = seg.partition(b"\r\n\r\n")
                if not sep:
                    parts = []
                    break
                parts.append((head.decode("latin-1"), content))
        if len(parts) != 2 or "application/json" not in parts[0][0].lower():
            raise Fail(400, "Invalid multipart request: expected a JSON metadata part and a media part.",
                       "invalid")
        try:
            meta = json.loads(parts[0][1])
        except ValueError:
            raise Fail(400, "Parse Error", "parseError")
        if not isinstance(meta, dict):
            raise Fail(400, "Parse Error", "parseError")
        name = self.q.get("name") or meta.get("name") or ""
        if not isinstance(name, str):
            raise Fail(400, "Invalid object name", "invalid")
        check_name(name)
        declared = declared_in(meta)
        md = custom_metadata(meta)
        data = parts[1][1]
        media_ct = None
        for ln in parts[1][0].split("\r\n"):
            k, _, v = ln.partition(":")
            if k.strip().lower() == "content-type":
                media_ct = v.strip()
        h = Digest()
        h.update(data)
        check_hashes(declared, h)
        tmp = os.path.join(args.data, ".tmp", secrets.token_hex(8))
        with open(tmp, "wb") as f:
            f.write(data)
        try:
            r = commit_object(b, name, tmp, len(data), h.md5_b64(), self.q.get("ifGenerationMatch"),
                              content_type=meta.get("contentType") or media_ct, crc=h.crc, metadata=md)
        except Fail:
            os.unlink(tmp)
            raise
        stat_inc("multipart_uploads")
        self.send(200, r)

    def open_session(self, b):
        meta = self.json_body()
        name = self.q.get("name") or meta.get("name", "")
        check_name(name)
        declared = declared_in(meta)
        md = custom_metadata(meta)
        total = self.headers.get("X-Upload-Content-Length")
        sid = secrets.token_urlsafe(18)
        with lock:
            check_generation(b, name, objects.get((b, name)), self.q.get("ifGenerationMatch"))
            sessions[sid] = {"bucket": b, "name": name, "persisted": 0, "state": "open",
                             "total": int(total) if total and total.isdigit() else None,
                             "precond": self.q.get("ifGenerationMatch"),
                             "tmp": os.path.join(args.data, ".uploads", sid), "lock": threading.Lock(),
                             "ctype": meta.get("contentType"), "result": None, "md5": Digest(),
                             "declared": declared, "metadata": md}
            open(sessions[sid]["tmp"], "wb").close()
            stats["sessions_opened"] += 1
        # the session URI names the host the client reached (GCS answers on the host it was asked), so a
        # proxy in front of this server stays in the path of every chunk
        host = self.headers.get("Host", "")
        base = "http://" + host if re.fullmatch(r"(127\.0\.0\.1|localhost):[0-9]{1,5}", host) else args.base
        loc = "%s/upload/storage/v1/b/%s/o?uploadType=resumable&name=%s&upload_id=%s" % (
            base, b, urllib.parse.quote(name, safe=""), sid)
        self.send(200, b"", "text/plain; charset=utf-8", (("Location", loc), ("X-GUploader-UploadID", sid)))

    def session(self, b):
        with lock:
            s = sessions.get(self.q["upload_id"])
        if not s or s["bucket"] != b:
            raise Fail(404, "No such upload session.", "notFound")
        if s["state"] == "cancelled":
            raise Fail(410, "The upload session was cancelled.", "gone")
        return s

    def incomplete(self, s):
        hdrs = [("Range", "bytes=0-%d" % (s["persisted"] - 1))] if s["persisted"] else []
        with lock:
            if faults.get("bad_range", 0) > 0:
                faults["bad_range"] -= 1
                stats["injected"] += 1
                hdrs = [("Range", "bytes=zero-many")]
        self.send(308, b"", "text/plain; charset=utf-8", hdrs)

    def chunk(self, b):
        s = self.session(b)
        n = self.content_length()
        cr = self.headers.get("Content-Range")
        # "bytes a-b/total", "bytes a-b/*", "bytes */total", "bytes */*"; none: the whole object at once
        if cr is None:
            first, last, total = (0, n - 1, n) if n else (None, None, 0)
        else:
            try:
                unit, _, spec = cr.partition(" ")
                rng, _, tot = spec.partition("/")
                if unit != "bytes" or not tot:
                    raise ValueError()
                total = None if tot == "*" else int(tot)
                if rng == "*":
                    first = last = None
                else:
                    a, _, z = rng.partition("-")
                    first, last = int(a), int(z)
                    if last < first:
                        raise ValueError()
            except ValueError:
                raise Fail(400, "Failed to parse Content-Range header.", "invalid")
        with s["lock"]:
            if s["state"] == "final":
                self.discard_body(n)
                return self.send(200, s["result"])
            if first is None:
                # a status query, or the finish of an upload whose bytes are all there
                if n:
                    raise Fail(400, "Content-Range says no bytes but the request has a body.", "invalid")
                # GCS documents both as the status check ("bytes */OBJECT_SIZE" when the size is
                # known): with every byte of that size persisted it finishes the upload, short of it
                # it answers 308 with what it has; more bytes than that size is an error
                if total is not None and total == s["persisted"]:
                    return self.finalize(s, parse_hash_header(self.headers.get_all("X-Goog-Hash")))
                if total is not None and total < s["persisted"]:
                    raise Fail(400, "Invalid request. The total size %d is less than the %d bytes "
                               "uploaded." % (total, s["persisted"]), "invalid")
                stat_inc("status_queries")
                return self.incomplete(s)
            if last - first + 1 != n:
                raise Fail(400, "Content-Range length %d does not match Content-Length %d."
                           % (last - first + 1, n), "invalid")
            if first != s["persisted"]:
                stat_inc("offset_mismatches")
                raise Fail(400, "Invalid request. The upload offset %d does not match the %d bytes already "
                           "persisted; ask for the upload status first." % (first, s["persisted"]), "invalid")
            if total is not None and last + 1 != total:
                raise Fail(400, "Content-Range end %d does not match the total size %d." % (last, total),
                           "invalid")
            if total is None and n % CHUNK_ALIGN:
                stat_inc("misaligned_chunks")
                raise Fail(400, "Invalid request. Every chunk but the last must be a multiple of 262144 "
                           "bytes; this one has %d bytes." % n, "invalid")
            with lock:
                stats["chunks"] += 1
                k = stats["chunks"]
                drop = faults.get("drop_chunk") == k
                short = faults.get("short_persist") == k
                failc = faults.get("fail_chunk") == k
            # what the session was before this request: a finishing request refused for its hashes
            # leaves the session as it was
            before = (s["persisted"], s["md5"].copy())
            with open(s["tmp"], "r+b") as f:
                f.seek(s["persisted"])
                if drop:
                    keep = (n // 2) // CHUNK_ALIGN * CHUNK_ALIGN
                    try:
                        self.body_to_file(f, n, keep, s["md5"])
                    finally:
                        f.truncate(s["persisted"] + keep)
                    s["persisted"] += keep
                    stat_inc("chunk_drops")
                    raise Dropped()
                short = short and total is None and n > CHUNK_ALIGN
                keep = (n // 2) // CHUNK_ALIGN * CHUNK_ALIGN if failc else n - CHUNK_ALIGN if short else n
                self.body_to_file(f, n, None, s["md5"], keep)
                f.truncate(s["persisted"] + keep)
            s["persisted"] += keep
            if failc:
                stat_inc("chunk_fails")
                raise Fail(503, "Backend Error", "backendError")
            if short:
                stat_inc("short_persists")
            if total is not None and s["persisted"] == total:
                try:
                    return self.finalize(s, parse_hash_header(self.headers.get_all("X-Goog-Hash")))
                except HashFail:
                    s["persisted"], s["md5"] = before
                    with open(s["tmp"], "r+b") as f:
                        f.truncate(s["persisted"])
                    raise
            return self.incomplete(s)

    def finalize(self, s, header_hashes):
        with lock:
            cur = objects.get((s["bucket"], s["name"]))
            check_generation(s["bucket"], s["name"], cur, s["precond"])
        if s["total"] is not None and s["total"] != s["persisted"]:
            raise Fail(400, "The upload size differs from X-Upload-Content-Length.", "invalid")
        # the digest grew with the chunks (they arrive in order); the hashes declared at the start
        # and on this finishing request both hold the whole object to it
        check_hashes(s["declared"], s["md5"])
        check_hashes(header_hashes, s["md5"])
        r = commit_object(s["bucket"], s["name"], s["tmp"], s["persisted"], s["md5"].md5_b64(), s["precond"],
                          content_type=s["ctype"], crc=s["md5"].crc, metadata=s["metadata"])
        s["state"], s["result"] = "final", r
        stat_inc("sessions_finalized")
        self.send(200, r)

    def cancel(self, b):
        s = self.session(b)
        with s["lock"]:
            if s["state"] == "final":
                raise Fail(400, "The upload is already complete.", "invalid")
            s["state"] = "cancelled"
            try:
                os.unlink(s["tmp"])
            except FileNotFoundError:
                pass
        stat_inc("sessions_cancelled")
        self.send(499, b"", "text/plain; charset=utf-8")


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--bucket", action="append", default=[])
    p.add_argument("--forbidden-bucket", action="append", default=[])
    p.add_argument("--public-key", required=True, help="PEM public key or certificate of the account")
    p.add_argument("--client-email", required=True)
    p.add_argument("--key-id", default="")
    p.add_argument("--token-ttl", type=int, default=3600)
    p.add_argument("--max-results", type=int, default=1000)
    p.add_argument("--rewrite-step", type=int, default=0, help="bytes copied per rewrite call (0: all)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    pem = open(args.public_key, "rb").read()
    if b"CERTIFICATE" in pem:
        args.pubkey = x509.load_pem_x509_certificate(pem).public_key()
    else:
        args.pubkey = serialization.load_pem_public_key(pem)
    args.base = "http://127.0.0.1:%d" % args.port
    args.token_uri = args.base + "/token"
    args.started = time.time()
    for d in args.bucket + [".tmp", ".uploads"]:
        os.makedirs(os.path.join(args.data, d), exist_ok=True)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

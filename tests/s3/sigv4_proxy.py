#!/usr/bin/env python3
"""A reverse proxy in front of s3rver that checks AWS Signature V4 as S3 does, because s3rver itself only
checks the access key id (its SigV4 verification is unimplemented). Written from the published
specification with Python's standard library, independently of backends/s3/sigv4.c.

Every request must carry a header-form SigV4 Authorization for a known key; the canonical request is
rebuilt from what arrived on the wire (method, raw path, query, the signed headers), the payload hash
must be signed and, unless UNSIGNED-PAYLOAD, match the body; x-amz-date must be within 15 minutes.
A bad request gets S3's 403 error document; a good one is forwarded to s3rver and its reply streamed back.

usage: sigv4_proxy.py UPSTREAM_PORT KEY_ID SECRET PORT_FILE   (writes its port to PORT_FILE, serves until
SIGTERM, then prints how many requests it verified and refused)
"""
import datetime
import hashlib
import hmac
import http.client
import os
import re
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = int(sys.argv[1])
KEYS = {sys.argv[2]: sys.argv[3]}
CHUNK = 1 << 20
stats = {"ok": 0, "refused": 0}
lock = threading.Lock()

AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                     r"SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$")


def q(s):
    return urllib.parse.quote(s, safe="-_.~")


def canonical_query(raw):
    pairs = []
    for part in raw.split("&") if raw else []:
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((q(urllib.parse.unquote(name)), q(urllib.parse.unquote(value))))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None

    def log_message(self, *a):
        pass

    def refuse(self, code, message, status=403):
        with lock:
            stats["refused"] += 1
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message></Error>").encode()
        self.drain()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def drain(self):
        n = int(self.headers.get("Content-Length") or 0) - getattr(self, "consumed", 0)
        while n > 0:
            got = self.rfile.read(min(n, CHUNK))
            if not got:
                break
            n -= len(got)
        self.consumed = int(self.headers.get("Content-Length") or 0)

    def verify(self):
        """None when the signature holds, else (code, message). May read a signed body into self.body."""
        self.consumed = 0
        self.body = None
        auth = self.headers.get("Authorization")
        if not auth:
            return ("AccessDenied", "Anonymous requests are not allowed here")
        m = AUTH_RE.match(auth)
        if not m:
            return ("AuthorizationHeaderMalformed", "The authorization header is malformed")
        key_id, date, region, service, signed, sig = m.groups()
        if key_id not in KEYS:
            return ("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names or "x-amz-content-sha256" not in names:
            return ("AccessDenied", "host, x-amz-date and x-amz-content-sha256 must be signed")
        if names != sorted(names):
            return ("SignatureDoesNotMatch", "SignedHeaders are not sorted")
        amz_date = self.headers.get("x-amz-date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return ("AccessDenied", "x-amz-date is malformed")
        if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900:
            return ("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
        if amz_date[:8] != date or service != "s3":
            return ("SignatureDoesNotMatch", "the credential scope does not match the request")
        payload = self.headers.get("x-amz-content-sha256", "")
        if payload != "UNSIGNED-PAYLOAD":
            if not re.fullmatch(r"[0-9a-f]{64}", payload):
                return ("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256")
            n = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(n) if n else b""
            self.consumed = n
            if hashlib.sha256(self.body).hexdigest() != payload:
                return ("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
        lines = []
        for name in names:
            values = self.headers.get_all(name)
            if values is None:
                return ("SignatureDoesNotMatch", f"signed header {name} is missing")
            lines.append(name + ":" + ",".join(" ".join(v.split()) for v in values))
        path, _, query = self.path.partition("?")
        creq = "\n".join([self.command, path, canonical_query(query), "\n".join(lines) + "\n", signed, payload])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, f"{date}/{region}/{service}/aws4_request",
                         hashlib.sha256(creq.encode()).hexdigest()])
        want = hmac.new(signing_key(KEYS[key_id], date, region, service), sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            return ("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
        return None

    def forward(self):
        if self.upstream is None:
            self.upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=300)
        up = self.upstream
        n = int(self.headers.get("Content-Length") or 0)
        up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in ("connection", "keep-alive", "expect"):
                up.putheader(k, v)
        up.endheaders()
        if self.body is not None:
            up.send(self.body)
        else:
            left = n
            while left > 0:
                chunk = self.rfile.read(min(left, CHUNK))
                if not chunk:
                    raise ConnectionError("client body ended early")
                up.send(chunk)
                left -= len(chunk)
        r = up.getresponse()
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding"):
                self.send_header(k, v)
        length = r.getheader("Content-Length")
        if r.getheader("Content-Range", "").endswith("/0") and length == "1":
            # s3rver's 206 for a range of an empty object announces a byte it never sends: pass the
            # headers on and end the connection, as s3rver's own would after its keep-alive wait
            self.end_headers()
            self.upstream.close()
            self.upstream = None
            self.close_connection = True
            return
        if length is None and self.command != "HEAD" and r.status not in (204, 304):
            data = r.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.end_headers()
        if self.command == "HEAD":
            r.read()
            return
        sent = 0
        while True:
            chunk = r.read(CHUNK)
            if not chunk:
                break
            self.wfile.write(chunk)
            sent += len(chunk)
        if length is not None and sent < int(length):
            # pass a short reply on as it came: the client sees the connection end early
            self.upstream = None
            self.close_connection = True

    def handle_any(self):
        err = self.verify()
        if err:
            self.refuse(*err)
            return
        with lock:
            stats["ok"] += 1
        try:
            self.forward()
        except (OSError, http.client.HTTPException):
            self.upstream = None
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def main():
    srv = Server(("127.0.0.1", 0), Proxy)

    def stop(*_):
        sys.stderr.write(f"sigv4_proxy: {stats['ok']} verified, {stats['refused']} refused\n")
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    with open(sys.argv[4] + ".tmp", "w") as f:
        f.write(f"{srv.server_address[1]}\n")
    os.rename(sys.argv[4] + ".tmp", sys.argv[4])
    srv.serve_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""A fault-injecting HTTP/1.1 reverse proxy for the snapfs fault tests (python3 standard library only).

    fault_proxy.py --port P --upstream http://127.0.0.1:UP [--rules FILE] [--journal FILE]
                   [--verify-checksums] [--tls-cert C --tls-key K]

It listens on 127.0.0.1:P and forwards every request to the upstream test server (which must be on the
loopback too) over a kept-alive connection per client connection, with the reply sent back as it came
(status line, headers, Content-Length or chunked framing). Rules chosen at run time decide which
requests meet a fault instead.

Control (in-band, on the same port; snapfs never sends these paths):
    PUT  /__fault/rules   body: a JSON rule list, or {"seed": N, "rules": [...]}; replaces the rules
    GET  /__fault/rules   the rules with their counters
    GET  /__fault/stats   {"requests": n, "injected": {action: n}, "rules": [...], ...}
    POST /__fault/reset   no rules, counters zeroed
--rules FILE is read at start and again whenever it changes (the same JSON).

A rule:
    {"method": "PUT", "path": "regex", "query": "substring", "header": "regex on the raw request head",
     "skip": 0, "times": 3, "prob": 1.0, "min_body": 0,
     "action": "status" | "reset_request" | "reset_reply" | "drop_reply" | "stall" | "truncate" | "corrupt" |
               "mangle",
     ...action arguments}
Every field but action is optional. A request matches when method, path regex (searched in the path),
query substring, header regex and min_body (request body bytes) all match; the first matching rule
that still has faults to give wins. The first `skip` matches pass, then `times` matches are faulted
(null: every one), each with probability `prob` (seeded random).

Actions:
    status        answer {"status": 503} without asking the upstream; "body" (text), "content_type",
                  "s3_code" (an S3 <Error> document with that Code, e.g. SlowDown) or "azure_code"
                  (an Azure <Error> document), "headers" ({"Retry-After": "1"}).
    reset_request read "at" of the request body (bytes, or a fraction < 1 of it; default 0.5), then
                  reset the connection (RST); the upstream never sees the request.
    reset_reply   forward, send the reply head and "at" of its body (default 0.5), then reset.
    drop_reply    forward (the upstream does the work), then reset the connection without sending a byte
                  of the reply: a request that succeeded and whose answer was lost.
    stall         forward (unless "forward": false), then send nothing for "seconds" (default 30)
                  and close: a reply that never comes.
    truncate      forward, send the reply head with its real length and only "at" of the body
                  (default 0.5), then close cleanly (FIN).
    corrupt       flip one bit of the request body at "offset" (default the middle) and forward it.
                  The stats keep the upstream's status for each corrupted request (corrupt_replies).
                  With --verify-checksums the proxy does what S3 does and s3rver does not: a request
                  carrying Content-MD5 or an x-amz-checksum-{sha256,sha1,crc32,crc32c} header that
                  does not match the body as it arrived is answered 400 BadDigest instead of being
                  forwarded (counted in checksum_refused). Azurite checks Content-MD5 itself.
    mangle        forward, then replace the reply body (status and other headers kept, new
                  Content-Length): "how": "truncate" (the first half of the real body), "garbage"
                  (bytes that are not XML or JSON), or "body" (the given text).

It only ever listens on and connects to 127.0.0.1.
"""

import argparse
import base64
import hashlib
import json
import os
import random
import re
import socket
import ssl
import struct
import sys
import threading
import time
import zlib
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
MAX_HEAD = 256 * 1024
CHECKSUM_HEADERS = ("content-md5", "x-amz-checksum-sha256", "x-amz-checksum-sha1", "x-amz-checksum-crc32",
                    "x-amz-checksum-crc32c")


class ClientGone(Exception):
    pass


def read_exact(rf, n):
    out = bytearray()
    while len(out) < n:
        b = rf.read(min(n - len(out), 1 << 20))
        if not b:
            raise ClientGone("eof after %d of %d bytes" % (len(out), n))
        out += b
    return bytes(out)


def read_head(rf):
    """The raw head (request or status line and headers) up to and with the blank line; b'' at EOF."""
    lines = []
    size = 0
    while True:
        line = rf.readline(65537)
        if not line:
            if lines:
                raise ClientGone("eof inside a head")
            return b""
        if not lines and line in (b"\r\n", b"\n"):
            continue   # stray CRLF between messages (RFC 7230 3.5)
        lines.append(line)
        size += len(line)
        if size > MAX_HEAD:
            raise ClientGone("head too long")
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def parse_headers(head):
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0]
    hdrs = []
    for ln in lines[1:]:
        if not ln:
            continue
        name, _, val = ln.partition(":")
        hdrs.append((name.strip(), val.strip()))
    return first, hdrs


def hget(hdrs, name):
    name = name.lower()
    for k, v in hdrs:
        if k.lower() == name:
            return v
    return None


def read_chunked(rf):
    """Returns (raw bytes as framed, decoded data)."""
    raw = bytearray()
    data = bytearray()
    while True:
        line = rf.readline(65537)
        if not line:
            raise ClientGone("eof in chunked body")
        raw += line
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while True:
                t = rf.readline(65537)
                if not t:
                    raise ClientGone("eof in trailers")
                raw += t
                if t in (b"\r\n", b"\n"):
                    return bytes(raw), bytes(data)
        chunk = read_exact(rf, size)
        raw += chunk + read_exact(rf, 2)
        data += chunk


def crc32c(data):
    # only for requests this proxy corrupted (pure Python is slow)
    tab = crc32c.table
    if tab is None:
        tab = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            tab.append(c)
        crc32c.table = tab
    c = 0xFFFFFFFF
    for b in data:
        c = tab[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


crc32c.table = None


def checksum_mismatch(hdrs, body, corrupted):
    """The name of a checksum header the body does not match, or None (S3's BadDigest check)."""
    for name in CHECKSUM_HEADERS:
        val = hget(hdrs, name)
        if val is None:
            continue
        try:
            want = base64.b64decode(val, validate=True)
        except Exception:
            return name
        if name == "content-md5":
            got = hashlib.md5(body).digest()
        elif name.endswith("sha256"):
            got = hashlib.sha256(body).digest()
        elif name.endswith("sha1"):
            got = hashlib.sha1(body).digest()
        elif name.endswith("crc32"):
            got = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        else:
            if not corrupted:
                continue
            got = struct.pack(">I", crc32c(body))
        if got != want:
            return name
    return None


def s3_error(code, msg):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>FAULTPROXY</RequestId></Error>' % (code, msg)).encode()


def azure_error(code, msg):
    return ('<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s\n'
            'RequestId:faultproxy</Message></Error>' % (code, msg)).encode()


REASONS = {400: "Bad Request", 404: "Not Found", 408: "Request Timeout", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


class Rules:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.rng = random.Random(1)
        self.requests = 0
        self.injected = {}
        self.checksum_refused = 0
        self.corrupt_replies = []
        self.bytes_up = 0
        self.bytes_down = 0
        self.methods = {}

    def load(self, doc):
        if isinstance(doc, dict):
            seed = doc.get("seed", 1)
            rules = doc.get("rules", [])
        else:
            seed, rules = 1, doc
        if not isinstance(rules, list):
            raise ValueError("rules must be a list")
        compiled = []
        for i, r in enumerate(rules):
            if not isinstance(r, dict) or "action" not in r:
                raise ValueError("rule %d has no action" % i)
            if r["action"] not in ACTIONS:
                raise ValueError("rule %d: unknown action %r" % (i, r["action"]))
            c = dict(r)
            c["_path"] = re.compile(r["path"]) if r.get("path") else None
            c["_header"] = re.compile(r["header"], re.I) if r.get("header") else None
            c["matched"] = 0
            c["injected"] = 0
            compiled.append(c)
        with self.lock:
            self.rules = compiled
            self.rng = random.Random(seed)

    def reset(self):
        with self.lock:
            self.rules = []
            self.requests = 0
            self.injected = {}
            self.checksum_refused = 0
            self.corrupt_replies = []
            self.bytes_up = self.bytes_down = 0
            self.methods = {}

    def pick(self, method, path, query, head, body_len):
        with self.lock:
            self.requests += 1
            self.methods[method] = self.methods.get(method, 0) + 1
            for r in self.rules:
                if r.get("method") and r["method"].upper() != method:
                    continue
                if r["_path"] and not r["_path"].search(path):
                    continue
                if r.get("query") is not None and r["query"] not in query:
                    continue
                if r["_header"] and not r["_header"].search(head):
                    continue
                if body_len < r.get("min_body", 0):
                    continue
                r["matched"] += 1
                if r["matched"] <= r.get("skip", 0):
                    continue
                times = r.get("times")
                if times is not None and r["injected"] >= times:
                    continue
                if self.rng.random() >= r.get("prob", 1.0):
                    continue
                r["injected"] += 1
                a = r["action"]
                self.injected[a] = self.injected.get(a, 0) + 1
                return r
        return None

    def public(self):
        with self.lock:
            rules = [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.rules]
            return {"requests": self.requests, "injected": dict(self.injected),
                    "injected_total": sum(self.injected.values()), "checksum_refused": self.checksum_refused,
                    "corrupt_replies": list(self.corrupt_replies),
                    "bytes_up": self.bytes_up, "bytes_down": self.bytes_down, "methods": dict(self.methods),
                    "rules": rules}


ACTIONS = ("status", "reset_request", "reset_reply", "drop_reply", "stall", "truncate", "corrupt", "mangle")


def portion(at, total, default=0.5):
    if at is None:
        at = default
    if isinstance(at, float) and at < 1:
        return int(total * at)
    return min(int(at), total)


def rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class Upstream:
    """One kept-alive connection to the upstream server."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.sock = None
        self.rf = None

    def connect(self):
        self.close()
        self.sock = socket.create_connection((self.host, self.port), timeout=300)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rf = self.sock.makefile("rb", buffering=1 << 16)

    def close(self):
        if self.sock:
            try:
                self.rf.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = self.rf = None

    def exchange(self, head, body, method):
        """Send one request, return (head bytes, status, headers, raw body, data, close_after)."""
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self.connect()
            try:
                self.sock.sendall(head + body)
                rhead = read_head(self.rf)
                if not rhead:
                    raise ClientGone("upstream closed")
            except (OSError, ClientGone):
                self.close()
                if fresh or attempt:
                    raise
                continue   # a kept-alive connection the server had closed: once more on a new one
            break
        while True:
            first, hdrs = parse_headers(rhead)
            status = int(first.split()[1])
            if 100 <= status < 200 and status != 101:
                rhead = read_head(self.rf)   # interim reply: the client suppresses Expect anyway
                continue
            break
        te = (hget(hdrs, "Transfer-Encoding") or "").lower()
        cl = hget(hdrs, "Content-Length")
        close_after = (hget(hdrs, "Connection") or "").lower() == "close" or first.startswith("HTTP/1.0")
        if method == "HEAD" or status in (204, 304):
            raw = data = b""
        elif "chunked" in te:
            raw, data = read_chunked(self.rf)
        elif cl is not None:
            raw = data = read_exact(self.rf, int(cl))
        else:
            raw = data = self.rf.read()
            close_after = True
        if close_after:
            self.close()
        return rhead, status, hdrs, raw, data, close_after


def rebuild_head(first, hdrs, drop=(), extra=()):
    drop = {d.lower() for d in drop}
    lines = [first] + ["%s: %s" % (k, v) for k, v in hdrs if k.lower() not in drop]
    lines += ["%s: %s" % kv for kv in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Proxy:
    def __init__(self, port, upstream, rules_file, tls, journal=None, verify=False):
        u = urlsplit(upstream)
        if u.hostname not in ("127.0.0.1", "localhost") or u.scheme != "http":
            sys.exit("fault_proxy: the upstream must be http://127.0.0.1:PORT")
        self.up_host, self.up_port = LOOPBACK, u.port or 80
        self.rules = Rules()
        self.rules_file = rules_file
        self.rules_mtime = None
        self.tls = tls
        self.verify = verify
        self.journal = open(journal, "a", buffering=1) if journal else None
        self.jlock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((LOOPBACK, port))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        self.reload()

    def reload(self):
        if not self.rules_file:
            return
        try:
            st = os.stat(self.rules_file)
        except FileNotFoundError:
            return
        key = (st.st_mtime_ns, st.st_size)
        if key == self.rules_mtime:
            return
        self.rules_mtime = key
        with open(self.rules_file) as f:
            text = f.read()
        try:
            self.rules.load(json.loads(text) if text.strip() else [])
        except ValueError as e:
            print("fault_proxy: bad rules file: %s" % e, file=sys.stderr, flush=True)

    def serve(self):
        while True:
            c, _ = self.lsock.accept()
            threading.Thread(target=self.conn, args=(c,), daemon=True).start()

    def note(self, method, target, what):
        if self.journal:
            with self.jlock:
                self.journal.write("%s %s %s\n" % (method, target, what))

    def log(self, msg):
        sys.stderr.write("fault_proxy: %s\n" % msg)
        sys.stderr.flush()

    def conn(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            try:
                c = self.tls.wrap_socket(c, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.log("TLS handshake failed: %s" % e)
                c.close()
                return
        rf = c.makefile("rb", buffering=1 << 16)
        up = Upstream(self.up_host, self.up_port)
        try:
            while self.one(c, rf, up):
                pass
        except (ClientGone, OSError, ssl.SSLError) as e:
            if not isinstance(e, ClientGone) or "eof after" in str(e):
                self.log("connection ended: %s" % e)
        finally:
            up.close()
            try:
                rf.close()
                c.close()
            except OSError:
                pass

    def reply(self, c, status, body, ctype="application/xml", extra=()):
        head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
            status, REASONS.get(status, "Error"), ctype, len(body))
        for k, v in extra:
            head += "%s: %s\r\n" % (k, v)
        c.sendall(head.encode() + b"\r\n" + body)

    def control(self, c, method, path, body):
        if path == "/__fault/stats" or (path == "/__fault/rules" and method == "GET"):
            self.reply(c, 200, json.dumps(self.rules.public()).encode(), "application/json")
        elif path == "/__fault/rules" and method in ("PUT", "POST"):
            try:
                self.rules.load(json.loads(body or b"[]"))
            except ValueError as e:
                self.reply(c, 400, ("bad rules: %s\n" % e).encode(), "text/plain")
                return
            self.reply(c, 200, b"ok\n", "text/plain")
        elif path == "/__fault/reset":
            self.rules.reset()
            self.reply(c, 200, b"ok\n", "text/plain")
        else:
            self.reply(c, 404, b"no such control\n", "text/plain")

    def one(self, c, rf, up):
        """Serve one request; False when the client connection must end."""
        head = read_head(rf)
        if not head:
            return False
        self.reload()
        first, hdrs = parse_headers(head)
        parts = first.split()
        if len(parts) != 3:
            self.reply(c, 400, b"bad request line\n", "text/plain", [("Connection", "close")])
            return False
        method, target, version = parts
        path, _, query = target.partition("?")
        te = (hget(hdrs, "Transfer-Encoding") or "").lower()
        cl = hget(hdrs, "Content-Length")
        body_len = int(cl) if cl is not None and "chunked" not in te else 0
        client_close = (hget(hdrs, "Connection") or "").lower() == "close" or version == "HTTP/1.0"

        if path.startswith("/__fault/"):
            body = read_exact(rf, body_len) if body_len else b""
            self.control(c, method, path, body)
            return not client_close

        rule = self.rules.pick(method, path, query, head.decode("latin-1"), body_len)
        action = rule["action"] if rule else None
        if action:
            self.note(method, target, "fault:" + action)

        if action == "reset_request":
            # take part of the body, then drop the connection under the client's feet
            n = portion(rule.get("at"), body_len)
            if n:
                read_exact(rf, n)
            self.log("reset %s %s after %d of %d body bytes" % (method, path, n, body_len))
            rst_close(c)
            raise ClientGone("reset by rule")

        if "chunked" in te:
            raw_body, data = read_chunked(rf)
        else:
            raw_body = data = read_exact(rf, body_len) if body_len else b""
        with self.rules.lock:
            self.rules.bytes_up += len(data)

        if action == "status":
            st = int(rule.get("status", 503))
            if rule.get("s3_code"):
                body = s3_error(rule["s3_code"], rule.get("message", "Please reduce your request rate."))
                ctype = "application/xml"
            elif rule.get("azure_code"):
                body = azure_error(rule["azure_code"], rule.get("message", "The server is busy."))
                ctype = "application/xml"
            else:
                body = rule.get("body", "").encode()
                ctype = rule.get("content_type", "text/plain")
            extra = list((rule.get("headers") or {}).items())
            if method == "HEAD":
                head_only = "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (st, REASONS.get(st, "Error"), len(body))
                head_only += "".join("%s: %s\r\n" % kv for kv in extra)
                c.sendall(head_only.encode() + b"\r\n")
            else:
                self.reply(c, st, body, ctype, extra)
            self.log("answered %s %s with %d" % (method, path, st))
            return not client_close

        corrupted = False
        if action == "corrupt" and data and "chunked" not in te:
            off = portion(rule.get("offset"), len(data), default=0.5)
            off = min(off, len(data) - 1)
            b = bytearray(data)
            b[off] ^= 0x01
            raw_body = data = bytes(b)
            corrupted = True
            self.log("corrupted byte %d of %s %s (%d bytes)" % (off, method, path, len(data)))
        bad = checksum_mismatch(hdrs, data, corrupted) if data and self.verify else None
        if bad:
            with self.rules.lock:
                self.rules.checksum_refused += 1
                if corrupted:
                    self.rules.corrupt_replies.append(400)
            self.reply(c, 400, s3_error("BadDigest", "The %s you specified did not match what we received."
                                        % bad))
            self.log("refused %s %s: %s does not match the body" % (method, path, bad))
            return not client_close

        if action == "stall" and rule.get("forward", True) is False:
            # as documented: the upstream never sees it (a request held back, then lost)
            secs = float(rule.get("seconds", 30))
            self.log("holding %s %s for %gs without forwarding it" % (method, path, secs))
            time.sleep(secs)
            c.close()
            raise ClientGone("stalled")

        # forward with the request's own framing
        try:
            rhead, status, rh, raw, rdata, up_close = up.exchange(head, raw_body, method)
        except (OSError, ClientGone) as e:
            self.log("upstream failed for %s %s: %s" % (method, path, e))
            self.reply(c, 502, b"upstream failed\n", "text/plain", [("Connection", "close")])
            return False
        with self.rules.lock:
            self.rules.bytes_down += len(rdata)
            if corrupted:
                self.rules.corrupt_replies.append(status)
        self.note(method, target, str(status))
        rfirst, _ = parse_headers(rhead)

        if action == "stall":
            secs = float(rule.get("seconds", 30))
            self.log("stalling %s %s for %gs" % (method, path, secs))
            time.sleep(secs)
            c.close()
            raise ClientGone("stalled")
        if action == "drop_reply":
            self.log("dropped the %d reply to %s %s" % (status, method, path))
            rst_close(c)
            raise ClientGone("reply dropped by rule")
        if action == "reset_reply":
            n = portion(rule.get("at"), len(raw))
            c.sendall(rhead + raw[:n])
            self.log("reset reply to %s %s after %d of %d bytes" % (method, path, n, len(raw)))
            rst_close(c)
            raise ClientGone("reset by rule")
        if action == "truncate":
            n = portion(rule.get("at"), len(raw))
            c.sendall(rhead + raw[:n])
            self.log("truncated reply to %s %s at %d of %d bytes" % (method, path, n, len(raw)))
            c.shutdown(socket.SHUT_RDWR)
            raise ClientGone("truncated by rule")
        if action == "mangle":
            how = rule.get("how", "garbage")
            if how == "truncate":
                nb = rdata[:len(rdata) // 2]
            elif how == "body":
                nb = rule.get("body", "").encode()
            else:
                nb = b"\x00\xffthis is not a reply }{ <<<>\x01" * 8
            c.sendall(rebuild_head(rfirst, rh, drop=("Content-Length", "Transfer-Encoding"),
                                   extra=(("Content-Length", str(len(nb))),)) + nb)
            self.log("mangled reply to %s %s (%s)" % (method, path, how))
            return not (client_close or up_close)

        c.sendall(rhead + raw)
        return not (client_close or up_close)


def main():
    ap = argparse.ArgumentParser(description="fault-injecting HTTP/1.1 reverse proxy (127.0.0.1 only)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--rules", help="JSON rules file, reloaded when it changes")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--journal", help="append 'METHOD TARGET STATUS-or-fault' per request to this file")
    ap.add_argument("--verify-checksums", action="store_true",
                    help="refuse (400 BadDigest) a body that does not match its Content-MD5/x-amz-checksum")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    a = ap.parse_args()
    tls = None
    if a.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(a.tls_cert, a.tls_key)
    p = Proxy(a.port, a.upstream, a.rules, tls, a.journal, a.verify_checksums)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % p.port)
        os.rename(tmp, a.port_file)
    print("fault_proxy: listening on %s:%d -> %s%s" % (LOOPBACK, p.port, a.upstream, " (TLS)" if tls else ""),
          file=sys.stderr, flush=True)
    p.serve()


if __name__ == "__main__":
    main()

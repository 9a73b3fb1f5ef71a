#!/usr/bin/env python3
"""A minimal S3 for tests/unit/test_s3_commit.c: multipart uploads whose completion reply gets lost. It
names objects as S3 and Ceph RGW do (a PUT by its MD5, a completed upload by the MD5 of its parts' MD5s
and "-N") and, by the key, loses the reply of the first CompleteMultipartUpload:
  .../lost-*      the upload completes, the connection closes without a reply
  .../vanished-*  the upload disappears without completing (aborted, expired), no reply either
  .../rgw-*       completes and answers with an empty <ETag>, as Ceph RGW does
  .../flaky-I-B-* answers the first I completions 200 with an InternalError document, the next B 503
                  SlowDown, then completes
A retry of a completion whose upload is gone answers 404 NoSuchUpload. No signature is checked.
Prints its port on stdout, then serves until stdin closes."""
import hashlib
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

objects = {}   # key -> (bytes, etag without quotes)
uploads = {}   # id -> {"key": key, "parts": {n: (bytes, md5hex)}}
lock = threading.Lock()


class Server(ThreadingHTTPServer):
    daemon_threads = True


def error(code, msg=""):
    return ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>'
            % (code, msg)).encode()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def lose_reply(self):
        self.close_connection = True
        self.wfile.flush()

    def route(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        parts = u.path.lstrip("/").split("/", 1)
        key = unquote(parts[1]) if len(parts) > 1 else ""
        data = self.body()
        name = key.rsplit("/", 1)[-1]
        if not key:
            return self.reply(200, b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>'
                              b'<IsTruncated>false</IsTruncated></ListBucketResult>')
        if self.command == "POST" and "uploads" in q:
            uid = uuid.uuid4().hex
            with lock:
                uploads[uid] = {"key": key, "parts": {}}
            return self.reply(200, ("<InitiateMultipartUploadResult><UploadId>%s</UploadId>"
                                    "</InitiateMultipartUploadResult>" % uid).encode())
        if self.command == "PUT" and "partNumber" in q:
            md5 = hashlib.md5(data).hexdigest()
            with lock:
                up = uploads.get(q["uploadId"])
                if not up:
                    return self.reply(404, error("NoSuchUpload"))
                up["parts"][int(q["partNumber"])] = (data, md5)
            return self.reply(200, headers=[("ETag", '"%s"' % md5)])
        if self.command == "POST" and "uploadId" in q:
            if name.startswith("flaky-"):
                inner, busy = (int(x) for x in name.split("-")[1:3])
                with lock:
                    up = uploads.get(q["uploadId"], {})
                    n = up["tries"] = up.get("tries", 0) + 1
                if n <= inner:
                    return self.reply(200, error("InternalError", "We encountered an internal error."))
                if n <= inner + busy:
                    return self.reply(503, error("SlowDown", "Please reduce your request rate."))
            with lock:
                up = uploads.pop(q["uploadId"], None)
                if not up:
                    return self.reply(404, error("NoSuchUpload", "The specified upload does not exist."))
                if not name.startswith("vanished-"):
                    ns = sorted(up["parts"])
                    whole = b"".join(up["parts"][n][0] for n in ns)
                    md5s = b"".join(bytes.fromhex(up["parts"][n][1]) for n in ns)
                    etag = "%s-%d" % (hashlib.md5(md5s).hexdigest(), len(ns))
                    objects[key] = (whole, etag)
            if name.startswith(("lost-", "vanished-")):
                return self.lose_reply()
            shown = "" if name.startswith("rgw-") else '"%s"' % etag
            return self.reply(200, ("<CompleteMultipartUploadResult><Key>%s</Key><ETag>%s</ETag>"
                                    "</CompleteMultipartUploadResult>" % (key, shown)).encode())
        if self.command == "DELETE" and "uploadId" in q:
            with lock:
                uploads.pop(q["uploadId"], None)
            return self.reply(204)
        if self.command == "PUT":
            etag = hashlib.md5(data).hexdigest()
            with lock:
                objects[key] = (data, etag)
            return self.reply(200, headers=[("ETag", '"%s"' % etag)])
        if self.command in ("HEAD", "GET"):
            with lock:
                obj = objects.get(key)
            if not obj:
                return self.reply(404, error("NoSuchKey"))
            return self.reply(200, obj[0], [("ETag", '"%s"' % obj[1]),
                                            ("Last-Modified", "Mon, 07 Dec 2026 01:00:00 GMT")])
        return self.reply(400, error("NotImplemented"))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = route


def main():
    srv = Server(("127.0.0.1", 0), H)
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    while sys.stdin.read(1):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()

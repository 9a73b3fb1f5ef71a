#!/usr/bin/env python3
"""A second, independent Azure Blob client for the tests: Python's own hmac and http.client, so what the
tests read back from Azurite never goes through snapfs code.

env: AZ_ENDPOINT (http://127.0.0.1:PORT/ACCOUNT), AZ_ACCOUNT, AZ_KEY
  azcli.py sign METHOD URL LENGTH [HEADER: VALUE]...  print the x-ms-date, x-ms-version and Authorization
                                                       headers for curl (LENGTH: body bytes, 0 for none)
  azcli.py mkcontainer NAME                            create a container (exit 0 if it exists)
  azcli.py list CONTAINER PREFIX [DELIM]               every name below PREFIX, one a line (all pages)
  azcli.py count CONTAINER PREFIX                      number of blobs below PREFIX
  azcli.py size CONTAINER BLOB                         size in bytes, or "missing"
  azcli.py get CONTAINER BLOB FILE                     download to FILE
  azcli.py put CONTAINER BLOB FILE                     Put Blob from FILE
  azcli.py putmany CONTAINER PREFIX N                  N small blobs PREFIX00000.. in parallel
  azcli.py uncommitted CONTAINER BLOB                  number of uncommitted blocks (0 if none)
  azcli.py lease acquire CONTAINER BLOB                an infinite lease; prints its id
  azcli.py lease release CONTAINER BLOB ID             release it
"""
import base64
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import os
import sys
import urllib.parse
import xml.etree.ElementTree as ET

VERSION = "2023-11-03"
STD = ["content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
       "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range"]


def sign(method, url, headers):
    """headers: dict with lowercase names; adds x-ms-date, x-ms-version and authorization."""
    headers["x-ms-date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    headers.setdefault("x-ms-version", VERSION)
    u = urllib.parse.urlsplit(url)
    vals = []
    for h in STD:
        v = headers.get(h, "")
        if h == "content-length" and v == "0":
            v = ""
        vals.append(v)
    canon_h = "".join("%s:%s\n" % (k, headers[k].strip()) for k in sorted(headers) if k.startswith("x-ms-"))
    res = "/" + os.environ["AZ_ACCOUNT"] + (u.path or "/")
    q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
    for k in sorted(q, key=str.lower):
        res += "\n%s:%s" % (k.lower(), ",".join(sorted(q[k])))
    sts = method + "\n" + "\n".join(vals) + "\n" + canon_h + res
    key = base64.b64decode(os.environ["AZ_KEY"])
    sig = base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha256).digest()).decode()
    headers["authorization"] = "SharedKey %s:%s" % (os.environ["AZ_ACCOUNT"], sig)
    return headers


def url_of(container, blob=None, query=None):
    u = os.environ["AZ_ENDPOINT"].rstrip("/") + "/" + container
    if blob is not None:
        u += "/" + urllib.parse.quote(blob, safe="/")
    if query:
        u += "?" + query
    return u


def request(method, url, body=None, headers=None, out=None):
    headers = dict(headers or {})
    length = 0
    if body is not None:
        length = os.fstat(body.fileno()).st_size if hasattr(body, "fileno") else len(body)
    if method in ("PUT", "POST"):
        headers["content-length"] = str(length)
    sign(method, url, headers)
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.request(method, u.path + ("?" + u.query if u.query else ""), body=body, headers=headers)
    r = conn.getresponse()
    if out is not None and r.status // 100 == 2:
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            out.write(chunk)
        data = b""
    else:
        data = r.read()
    conn.close()
    return r.status, r.headers, data


def list_names(container, prefix, delim=None):
    names, marker = [], ""
    while True:
        q = "restype=container&comp=list&prefix=" + urllib.parse.quote(prefix, safe="")
        if delim:
            q += "&delimiter=" + urllib.parse.quote(delim, safe="")
        if marker:
            q += "&marker=" + urllib.parse.quote(marker, safe="")
        st, _, data = request("GET", url_of(container, query=q))
        if st != 200:
            sys.exit("list: HTTP %d %s" % (st, data[:200]))
        root = ET.fromstring(data)
        for b in root.iter():
            if b.tag in ("Blob", "BlobPrefix"):
                names.append(b.find("Name").text)
        marker = root.findtext("NextMarker") or ""
        if not marker:
            return names


def main(argv):
    cmd = argv[1]
    if cmd == "sign":
        method, url, length = argv[2], argv[3], argv[4]
        headers = {}
        for h in argv[5:]:
            k, v = h.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        if method in ("PUT", "POST"):
            headers["content-length"] = length
        sign(method, url, headers)
        for k in ("x-ms-date", "x-ms-version", "authorization"):
            print("%s: %s" % (k, headers[k]))
    elif cmd == "mkcontainer":
        st, _, data = request("PUT", url_of(argv[2], query="restype=container"))
        if st not in (201, 409):
            sys.exit("mkcontainer: HTTP %d %s" % (st, data[:300]))
    elif cmd == "list":
        for n in list_names(argv[2], argv[3], argv[4] if len(argv) > 4 else None):
            print(n)
    elif cmd == "count":
        print(len(list_names(argv[2], argv[3])))
    elif cmd == "size":
        st, h, _ = request("HEAD", url_of(argv[2], argv[3]))
        print(h["Content-Length"] if st == 200 else "missing")
    elif cmd == "meta":
        # one metadata value of a blob (x-ms-meta-NAME), or "none"
        st, h, _ = request("HEAD", url_of(argv[2], argv[3]))
        want = "x-ms-meta-" + argv[4].lower()
        print(next((v for k, v in h.items() if k.lower() == want), "none") if st == 200 else "missing")
    elif cmd == "get":
        with open(argv[4], "wb") as f:
            st, _, data = request("GET", url_of(argv[2], argv[3]), out=f)
        if st != 200:
            sys.exit("get: HTTP %d" % st)
    elif cmd == "put":
        with open(argv[4], "rb") as f:
            st, _, data = request("PUT", url_of(argv[2], argv[3]), body=f,
                                  headers={"x-ms-blob-type": "BlockBlob"})
        if st != 201:
            sys.exit("put: HTTP %d %s" % (st, data[:300]))
    elif cmd == "putmany":
        container, prefix, n = argv[2], argv[3], int(argv[4])

        def one(i):
            st, _, _ = request("PUT", url_of(container, "%s%05d" % (prefix, i)), body=b"%d\n" % i,
                               headers={"x-ms-blob-type": "BlockBlob"})
            return st
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            bad = [s for s in ex.map(one, range(n)) if s != 201]
        if bad:
            sys.exit("putmany: %d failures" % len(bad))
    elif cmd == "uncommitted":
        st, _, data = request("GET", url_of(argv[2], argv[3], "comp=blocklist&blocklisttype=uncommitted"))
        if st == 404:
            print(0)
        elif st != 200:
            sys.exit("uncommitted: HTTP %d %s" % (st, data[:300]))
        else:
            print(len(ET.fromstring(data).findall("./UncommittedBlocks/Block")))
    elif cmd == "lease":
        # lease acquire CONTAINER BLOB (prints the lease id) | lease release CONTAINER BLOB ID
        hdrs = {"x-ms-lease-action": argv[2]}
        if argv[2] == "acquire":
            hdrs["x-ms-lease-duration"] = "-1"
        else:
            hdrs["x-ms-lease-id"] = argv[5]
        st, h, data = request("PUT", url_of(argv[3], argv[4], "comp=lease"), body=b"", headers=hdrs)
        if st not in (200, 201):
            sys.exit("lease: HTTP %d %s" % (st, data[:300]))
        if argv[2] == "acquire":
            print(h["x-ms-lease-id"])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)

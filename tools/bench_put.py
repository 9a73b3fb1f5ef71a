#!/usr/bin/env python3
"""Create many small objects in an S3 endpoint, fast, for the listing and delete benchmarks.

bench_put.py ENDPOINT BUCKET PREFIX COUNT [SIZE] [THREADS]
Keys are PREFIX + "obj-%05d"; each object holds SIZE bytes. Requests are signed with SigV4
(UNSIGNED-PAYLOAD), keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, over keep-alive connections.
"""
import datetime
import hashlib
import hmac
import http.client
import os
import sys
import threading
import urllib.parse

REGION = "us-east-1"


def _hmac(key, msg):
	return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(method, host, path, key_id, key):
	now = datetime.datetime.now(datetime.timezone.utc)
	amz_date = now.strftime("%Y%m%dT%H%M%SZ")
	day = now.strftime("%Y%m%d")
	headers = {"host": host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz_date}
	names = sorted(headers)
	canon = "\n".join([method, path, "", "".join(f"{n}:{headers[n]}\n" for n in names), ";".join(names),
			   "UNSIGNED-PAYLOAD"])
	scope = f"{day}/{REGION}/s3/aws4_request"
	to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canon.encode()).hexdigest()])
	k = _hmac(_hmac(_hmac(_hmac(("AWS4" + key).encode(), day), REGION), "s3"), "aws4_request")
	sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
	headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
				    f"SignedHeaders={';'.join(names)}, Signature={sig}")
	return headers


def main():
	endpoint, bucket, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
	size = int(sys.argv[5]) if len(sys.argv) > 5 else 100
	threads = int(sys.argv[6]) if len(sys.argv) > 6 else 8
	key_id, key = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
	u = urllib.parse.urlsplit(endpoint)
	body = (b"snapfs bench object\n" * (size // 20 + 1))[:size]
	todo = list(range(count))
	lock = threading.Lock()
	errors = []

	def worker():
		conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
		while True:
			with lock:
				if not todo or errors:
					break
				i = todo.pop()
			path = "/" + bucket + "/" + urllib.parse.quote(f"{prefix}obj-{i:05d}")
			h = sign("PUT", u.netloc, path, key_id, key)
			h["content-length"] = str(len(body))
			for attempt in range(3):
				try:
					conn.request("PUT", path, body=body, headers=h)
					r = conn.getresponse()
					r.read()
					if r.status != 200:
						raise OSError(f"PUT {path}: HTTP {r.status}")
					break
				except (OSError, http.client.HTTPException) as e:
					conn.close()
					conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
					if attempt == 2:
						with lock:
							errors.append(str(e))
		conn.close()

	ts = [threading.Thread(target=worker) for _ in range(threads)]
	for t in ts:
		t.start()
	for t in ts:
		t.join()
	if errors:
		print("bench_put: " + errors[0], file=sys.stderr)
		sys.exit(1)


if __name__ == "__main__":
	main()

#!/usr/bin/env python3
"""Delete-then-list race: one thread unlinks the files of DIR one by one while others list DIR over and
over. A listing begun after unlink(name) returned must not show name (the mount promised it gone at
once, even while its delete is queued or was answered by the store after that listing was sent).
Prints the number of listings and violations; exits 1 on any violation.
Usage: delete_lister.py DIR"""
import os
import sys
import threading
import time

d = sys.argv[1]
names = sorted(os.listdir(d))
gone = {}            # name -> monotonic time its unlink returned
lock = threading.Lock()
stop = threading.Event()
bad = []
listings = [0]


def lister():
    while not stop.is_set():
        t0 = time.monotonic()
        seen = os.listdir(d)
        with lock:
            listings[0] += 1
            for n in seen:
                if n in gone and gone[n] < t0:
                    bad.append(n)


threads = [threading.Thread(target=lister) for _ in range(3)]
for t in threads:
    t.start()
for n in names:
    os.unlink(os.path.join(d, n))
    with lock:
        gone[n] = time.monotonic()
time.sleep(0.5)  # listings in flight when the last deletes finish
stop.set()
for t in threads:
    t.join()
print("%d files, %d listings, %d violations%s" % (len(names), listings[0], len(bad),
                                                  (": " + ", ".join(sorted(set(bad))[:5])) if bad else ""))
sys.exit(1 if bad else 0)

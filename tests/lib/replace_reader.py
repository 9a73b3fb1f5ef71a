#!/usr/bin/env python3
"""Read FILE in 1 MiB chunks; once AT bytes are read, run CMD (which replaces the object behind the
mount) and read on, slowly enough for the replacement to land mid-read. Prints "ok SHA256 BYTES"
when the read ended cleanly, "eio BYTES" when it failed with EIO; any other error is a failure.
Usage: replace_reader.py FILE AT CMD..."""
import errno
import hashlib
import subprocess
import sys
import time

path, at, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
h = hashlib.sha256()
got = 0
ran = False
try:
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            got += len(b)
            if not ran and got >= at:
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                ran = True
            time.sleep(0.005)
except OSError as e:
    if e.errno != errno.EIO:
        raise
    print("eio %d" % got)
    sys.exit(0)
if not ran:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
print("ok %s %d" % (h.hexdigest(), got))

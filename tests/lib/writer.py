#!/usr/bin/env python3
"""A writer process a test steers line by line, so that a kill or an exit really closes its descriptor
through the kernel's exit path. Usage: writer.py PATH trunc|append|keep; then commands on stdin, one
per line, each answered on stdout with "ok" or "err ERRNO-NAME":
  write N [BYTE]   write N bytes of BYTE (default 'x') at the current offset, in 1 MiB writes
  pwrite OFF N     write N bytes of 'y' at OFF
  fsync            fsync the descriptor
  close            close it (the process stays)
  exit CODE        exit with CODE, the descriptor still open if not closed
Opening answers "ok" or "err ERRNO-NAME" first."""
import errno
import os
import signal
import sys

# a background job of a script starts with SIGINT ignored; a writer dies of it, as pg_dumpall does
signal.signal(signal.SIGINT, signal.SIG_DFL)


def say(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def err(e):
    return "err " + errno.errorcode.get(e.errno, str(e.errno))


path, how = sys.argv[1], sys.argv[2]
flags = os.O_WRONLY | os.O_CREAT
flags |= {"trunc": os.O_TRUNC, "append": os.O_APPEND, "keep": 0}[how]
try:
    fd = os.open(path, flags, 0o644)
    say("ok")
except OSError as e:
    say(err(e))
    sys.exit(3)
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    try:
        if words[0] == "write":
            n, byte = int(words[1]), (words[2] if len(words) > 2 else "x").encode()
            while n > 0:
                k = min(n, 1 << 20)
                os.write(fd, byte * k)
                n -= k
        elif words[0] == "pwrite":
            os.pwrite(fd, b"y" * int(words[2]), int(words[1]))
        elif words[0] == "fsync":
            os.fsync(fd)
        elif words[0] == "close":
            os.close(fd)
        elif words[0] == "exit":
            os._exit(int(words[1]))
        say("ok")
    except OSError as e:
        say(err(e))

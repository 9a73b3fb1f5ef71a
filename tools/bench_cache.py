#!/usr/bin/env python3
"""Peak cache use of a snapfs daemon, sampled every 50 ms until STOPFILE exists; prints KiB.

bench_cache.py CACHE_DIR PID STOPFILE

Counts the blocks allocated to files under CACHE_DIR (the journal and its records) plus the blocks of
the daemon's open, unlinked spools there (O_TMPFILE: invisible to du). One process with no forks: a
shell loop of du and stat costs a core's worth of forks on a small machine, and that time would be
charged to the dump it measures.
"""
import os
import sys
import time


def allocated(cache_dir, pid):
    used = 0
    for root, _dirs, files in os.walk(cache_dir):
        for name in files:
            try:
                used += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass   # removed while walking
    fds = f"/proc/{pid}/fd"
    try:
        entries = os.listdir(fds)
    except OSError:
        return used   # the daemon is gone
    for fd in entries:
        try:
            target = os.readlink(f"{fds}/{fd}")
            if target.startswith(cache_dir + "/") and target.endswith(" (deleted)"):
                used += os.stat(f"{fds}/{fd}").st_blocks * 512
        except OSError:
            pass   # closed while looking
    return used


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip())
    cache_dir, pid, stop = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    peak = 0
    while not os.path.exists(stop):
        peak = max(peak, allocated(cache_dir, pid))
        time.sleep(0.05)
    peak = max(peak, allocated(cache_dir, pid))
    print(peak // 1024)


if __name__ == "__main__":
    main()

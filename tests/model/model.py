#!/usr/bin/env python3
"""Stateful, model-based test of snapfs's publishing promise: "whole or absent, never silent".

Random sequences of operations (writers opening, writing, appending, truncating, closing, exiting,
being killed; renames, removals, second opens; kill -9 of the daemon and a remount) run against a
real mount. After each step the mount and the store itself (the file:// directory, or the S3 bucket
through its API) are checked against a reference model, the way mountpoint-s3's reference tests work.

Writers are child processes driven through a pipe, so a kill really closes the descriptor through
the kernel's exit path. The driver itself is "another process" for every writer.

The rules encoded (numbers used in failure messages):
  R1 a path in the store is absent or holds exactly one complete, successful write session
  R2 explicit close, or exit 0 holding the descriptor, publishes; close() returns once stored
  R3 a writer killed by a signal or exiting non-zero publishes nothing; the previous version stays
  R4 one writer per path: other process's write-open / truncate gets EBUSY; read-open sees the data
  R5 rm of a file being written: gone at once, the writer's close returns 0 and publishes nothing
  R6 mv of closed / open file, mv onto an open target, mv of a folder holding an open file (EBUSY)
  R7 an O_APPEND session on a committed file publishes old + appended bytes
  R8 kill -9 of the daemon publishes nothing open; committed objects stay; the remount shows the store
  R0 the mount agrees with the model (listing, sizes, content), and nothing hangs

Where the rules leave an outcome open (an open file moved and then killed, a replaced file's writer's
later calls, a write after rm), the model accepts each reasonable outcome but requires the mount and
the store to agree; such behaviour is listed as "model: note:" lines, not failed.

Exit status: 0 all checks held, 1 a rule broke (seed, history and the minimized sequence printed),
2 bad usage or an environment failure.

Run by tests/model/t_model_file.sh and t_model_s3.sh; by hand (the driver mounts, and remounts after
kill -9, with the command after --; --exclude KINDS leaves step kinds out, e.g. to look past a known
failure; --replay FILE reruns a saved history, or its minimized form):
  model.py --mount MNT --pid-file PID --store-dir DIR --seed 7 --time 120 -v \
      -- snapfs file://DIR MNT --pid-file PID --cache-dir CACHE --part-size 5M
"""
import argparse
import errno
import hashlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import time

MiB = 1 << 20
BASE = "kubedb/ns1/db1"
SNAPS = ["snapa", "snapb", "snapc"]
NAMES = ["f0", "f1", "f2"]
PATHS = [f"{BASE}/{s}/{n}" for s in SNAPS for n in NAMES]

# The writer child: one JSON command a line on stdin, one JSON answer a line on stdout.
CHILD = r'''
import hashlib, json, os, random, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
fds = {}
def gen(seed, size):
    return random.Random(seed).randbytes(size)
def reply(**kw):
    sys.stdout.write(json.dumps(kw) + "\n"); sys.stdout.flush()
for line in sys.stdin:
    c = json.loads(line)
    op = c["op"]
    try:
        if op == "open":
            fl = {"trunc": os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "append": os.O_WRONLY | os.O_APPEND,
                  "rdonly": os.O_RDONLY}[c["mode"]]
            fds[c["fd"]] = os.open(c["path"], fl, 0o644)
            reply(ok=True)
        elif op == "write":
            b = memoryview(gen(c["seed"], c["size"]))
            fd = fds[c["fd"]]
            off = c.get("off")
            while len(b):
                n = os.pwrite(fd, b, off) if off is not None else os.write(fd, b)
                b = b[n:]
                if off is not None:
                    off += n
            reply(ok=True)
        elif op == "ftruncate":
            os.ftruncate(fds[c["fd"]], c["size"]); reply(ok=True)
        elif op == "fsync":
            os.fsync(fds[c["fd"]]); reply(ok=True)
        elif op == "read":
            fd = fds[c["fd"]]; h = hashlib.sha1(); n = 0; off = 0
            while True:
                b = os.pread(fd, 1 << 20, off)
                if not b:
                    break
                h.update(b); n += len(b); off += len(b)
            reply(ok=True, len=n, sha=h.hexdigest())
        elif op == "close":
            fd = fds.pop(c["fd"]); os.close(fd); reply(ok=True)
        elif op == "exit":
            sys.stdout.flush(); os._exit(c["code"])
    except OSError as e:
        reply(ok=False, errno=e.errno)
'''


PART = 5 << 20   # the wrappers' --part-size: past it a session has parts in the store


def gen(seed, size):
    return random.Random(seed).randbytes(size)


def digest(b):
    """A content's identity: None (absent) or (length, sha1)."""
    if b is None:
        return None
    return (len(b), hashlib.sha1(b).hexdigest())


def show(d):
    if d is None:
        return "absent"
    if isinstance(d, str):
        return d
    return f"{d[0]} bytes sha1 {d[1][:10]}"


class Violation(Exception):
    def __init__(self, rule, msg):
        super().__init__(f"{rule}: {msg}")
        self.rule = rule


class Skip(Exception):
    """A replayed step whose preconditions no longer hold (the minimizer removed what it needed)."""


class Child:
    """A writer process, driven through its stdin/stdout."""

    def __init__(self, timeout):
        self.p = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, cwd="/", start_new_session=True)
        self.timeout = timeout
        self.buf = b""

    def cmd(self, **kw):
        self.p.stdin.write((json.dumps(kw) + "\n").encode())
        self.p.stdin.flush()
        fd = self.p.stdout.fileno()
        end = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise Violation("R0", f"writer pid {self.p.pid}: '{kw['op']}' did not return in "
                                      f"{self.timeout:.0f}s (hung)")
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise Violation("R0", f"writer pid {self.p.pid} died during '{kw['op']}'")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def end(self, how):
        """how: ('exit', code) or ('signal', sig). Returns the wait status as Popen reports it."""
        if how[0] == "exit":
            self.p.stdin.write((json.dumps({"op": "exit", "code": how[1]}) + "\n").encode())
            self.p.stdin.flush()
        else:
            os.kill(self.p.pid, how[1])
        try:
            rc = self.p.wait(self.timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.p.pid, signal.SIGKILL)
            self.p.wait()
            raise Violation("R0", f"writer pid {self.p.pid} did not exit in {self.timeout:.0f}s "
                                  f"after {how} (its exit path hung in the filesystem)")
        self.p.stdin.close()
        self.p.stdout.close()
        return rc


class Session:
    """One write session: a child that opened a path for writing and has not ended yet."""

    def __init__(self, sid, child, path, data, mode):
        self.sid = sid
        self.child = child
        self.path = path          # current name, None once removed or replaced (orphan)
        self.orphan_why = None    # "rm" or "mv-over"
        self.data = bytearray(data)
        self.pos = len(data)      # the descriptor's file offset (O_APPEND: always the end)
        self.mode = mode
        self.failed = False       # an operation of this session was refused: it must publish nothing
        self.uncertain = False    # a rewrite may be refused later (writeback cache): publish all or nothing
        self.moved_from = []      # committed contents of names this open file was moved away from
        self.left_behind = []     # names it was moved away from: their old object may stay until it ends

    def active(self):
        return self.path is not None


class Store:
    """The store seen through its own interface, not through snapfs."""

    def contents(self):
        """{key: digest} of every object below BASE."""
        raise NotImplementedError


class FileStore(Store):
    def __init__(self, root):
        self.root = root
        self.cache = {}

    def contents(self):
        out = {}
        top = os.path.join(self.root, BASE)
        for d, _, files in os.walk(top):
            for f in files:
                p = os.path.join(d, f)
                key = os.path.relpath(p, self.root)
                try:
                    st = os.lstat(p)
                    stamp = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
                    if self.cache.get(key, (None,))[0] != stamp:
                        with open(p, "rb") as fh:
                            self.cache[key] = (stamp, digest(fh.read()))
                    out[key] = self.cache[key][1]
                except FileNotFoundError:
                    pass
        return out


class S3Store(Store):
    def __init__(self, endpoint, bucket, prefix, secret_dir, ca):
        import boto3
        from botocore.config import Config
        rd = lambda n: open(os.path.join(secret_dir, n)).read().strip()
        kw = {}
        try:
            Config(request_checksum_calculation="when_required")
            kw = dict(request_checksum_calculation="when_required",
                      response_checksum_validation="when_required")
        except TypeError:
            pass
        self.s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                               aws_access_key_id=rd("AWS_ACCESS_KEY_ID"),
                               aws_secret_access_key=rd("AWS_SECRET_ACCESS_KEY"),
                               verify=ca or True,
                               config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                                             **kw))
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.cache = {}

    def contents(self):
        out = {}
        pag = self.s3.get_paginator("list_objects_v2")
        for page in pag.paginate(Bucket=self.bucket, Prefix=self.prefix + BASE + "/"):
            for o in page.get("Contents", []):
                full = o["Key"]
                key = full[len(self.prefix):]
                if key.endswith("/"):
                    continue  # a folder marker
                stamp = (o["Size"], o["ETag"], str(o["LastModified"]))
                if self.cache.get(key, (None,))[0] != stamp:
                    try:
                        body = self.s3.get_object(Bucket=self.bucket, Key=full)["Body"].read()
                    except self.s3.exceptions.NoSuchKey:
                        continue
                    self.cache[key] = (stamp, digest(body))
                out[key] = self.cache[key][1]
        return out

    def open_uploads(self):
        try:
            r = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix + BASE + "/")
        except Exception:
            return None  # the server has no ListMultipartUploads (s3rver)
        return [u["Key"] for u in r.get("Uploads", [])]


class Driver:
    def __init__(self, a, store):
        self.a = a
        self.mnt = a.mount
        self.store = store
        self.rng = random.Random(a.seed)
        self.committed = {}   # path -> bytes: what the store must hold
        self.loose = {}       # path -> [bytes|None]: other outcomes the rules leave open (collapsed on settle)
        self.sessions = {}    # sid -> Session
        self.next_sid = 1
        self.history = []     # the steps as concrete, replayable dicts
        self.written = 0
        self.late = []        # publications seen only after close() returned (R2's strict half)
        self.recent = []      # data of the sessions ended last (to recognize a partial publish)
        self.notes = {}       # behaviour the rules leave open but worth a look: first step seen, count

    def note(self, what):
        n = self.notes.setdefault(what, [len(self.history), 0])
        n[1] += 1

    # --- the mount --------------------------------------------------------------------------
    def mp(self, path):
        return os.path.join(self.mnt, path)

    def mount(self):
        try:
            old = open(self.a.pid_file).read().strip()
        except OSError:
            old = None
        # a daemon killed with -9 closes its files (and frees the cache dir's lock) only at the end of
        # its exit, after its memory is gone (slow for an ASan build on a loaded machine): a mount
        # refused for that lock is asked again, for a bounded time
        end = time.monotonic() + 60
        while True:
            r = subprocess.run(self.a.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            said = r.stdout.decode(errors="replace")
            if r.returncode == 0 or "is in use by another snapfs" not in said or time.monotonic() > end:
                break
            time.sleep(0.2)
        if r.returncode != 0:
            raise Violation("R8", f"mount failed ({r.returncode}): {said[-400:]}")
        # the daemon writes its pid file just after the mount command returns: wait for the new one,
        # or a later kill -9 would aim at the daemon before it
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                cur = open(self.a.pid_file).read().strip()
            except OSError:
                cur = None
            if cur and cur != old:
                break
            time.sleep(0.05)

    def daemon_pid(self):
        with open(self.a.pid_file) as f:
            return int(f.read().strip())

    def unmount_dead(self):
        for args in (["fusermount3", "-u", self.mnt], ["fusermount3", "-uz", self.mnt], ["umount", "-l", self.mnt]):
            if subprocess.run(args, stderr=subprocess.DEVNULL).returncode == 0:
                return
        raise Violation("R8", f"cannot unmount {self.mnt} after the daemon was killed")

    # --- the model's expectations ------------------------------------------------------------
    def active_on(self, path):
        for s in self.sessions.values():
            if s.path == path:
                return s
        return None

    def expect_mount(self, path):
        """bytes, None (absent) or ... (unknown: a session whose content is uncertain)."""
        s = self.active_on(path)
        if s is not None:
            # a failed session's file may show what the store holds, or its data, until it is closed
            return ... if s.uncertain or s.failed else bytes(s.data)
        if path in self.loose:
            return ...
        return self.committed.get(path)

    def store_allowed(self, path):
        ok = {digest(self.committed.get(path))}
        for b in self.loose.get(path, []):
            ok.add(digest(b))
        return ok

    # --- checks -----------------------------------------------------------------------------
    def read_mount(self, path):
        try:
            with open(self.mp(path), "rb") as f:
                return digest(f.read())
        except FileNotFoundError:
            return None
        except OSError as e:
            return f"<read failed: {errno.errorcode.get(e.errno, e.errno)}>"

    def quiet(self):
        """The daemon has no upload beyond the live sessions' own (a release finished publishing)."""
        try:
            with open(os.path.join(self.mnt, ".snapfs/status")) as f:
                st = json.load(f)
            return len(st.get("uploads", [])) <= len(self.sessions)
        except (OSError, ValueError):
            return False

    def check(self, prev, strict=(), content=(), rule="R1", wait=None):
        """prev: {path: {digest}} what the store could hold before the step (a transient it may still show).
        strict: paths that must hold their new content already (close() returned, R2).
        content: paths whose mount content is read and compared (the others: listing and size)."""
        wait = self.a.settle if wait is None else wait
        sc = self.store.contents()
        for p in strict:
            want = digest(self.committed.get(p)) if p not in self.loose else None
            if p not in self.loose and sc.get(p) != want:
                self.late.append((len(self.history), p))
                if self.a.strict_close:
                    raise Violation("R2", f"{p}: close() returned 0 but the store holds {show(sc.get(p))}, "
                                          f"not {show(want)}")
        end = time.monotonic() + wait
        while True:
            bad = self.compare(prev, sc, content, rule)
            if not bad:
                break
            final = time.monotonic() > end
            hard = [b for b in bad if b[0] == "hard"]
            if hard or final:
                rule, msg = (hard or bad)[0][1:]
                raise Violation(rule, msg + ("" if hard else f" (still after {wait:.0f}s)"))
            time.sleep(0.1)
            sc = self.store.contents()
        self.collapse(sc)

    def compare(self, prev, sc, content, rule0):
        bad = []
        for k in sc:
            if k not in PATHS:
                bad.append(("hard", "R1", f"the store holds an object the model never named: {k}"))
        for p in PATHS:
            got = sc.get(p)
            allowed = self.store_allowed(p)
            if got not in allowed:
                transient = prev.get(p, {None}) if prev else set()
                rule = self.rule_for(p, got, rule0)
                if got in transient:
                    bad.append(("soft", rule, f"{p}: the store still holds {show(got)}, expected "
                                              f"{' or '.join(show(x) for x in allowed)}"))
                else:
                    bad.append(("hard", rule, f"{p}: the store holds {show(got)}, expected "
                                              f"{' or '.join(show(x) for x in allowed)}"))
        # the mount: listing of every snapshot, then each name's size and (some) content
        for s in SNAPS:
            # a loose name (present or absent, the rules leave it open) is left out of both sides
            open_ = {n for n in NAMES if self.listing_open(f"{BASE}/{s}/{n}")}
            want = sorted(n for n in NAMES if n not in open_ and self.expect_mount(f"{BASE}/{s}/{n}") is not None)
            try:
                got = sorted(n for n in os.listdir(self.mp(f"{BASE}/{s}")) if n not in open_)
            except OSError as e:
                got = [f"<{errno.errorcode.get(e.errno, e.errno)}>"]
            if got != want:
                bad.append(("soft", "R0", f"mount: ls {BASE}/{s} shows {got}, the model {want}"))
        for p in PATHS:
            want = self.expect_mount(p)
            if want is ...:
                continue
            try:
                size = os.stat(self.mp(p)).st_size
            except FileNotFoundError:
                size = None
            except OSError as e:
                bad.append(("soft", "R0", f"mount: stat {p}: {e}"))
                continue
            wsize = None if want is None else len(want)
            if size != wsize:
                bad.append(("soft", "R0", f"mount: {p} has size {size}, the model {wsize}"))
            elif p in content and want is not None:
                writing = self.active_on(p) is not None
                if writing and "peek" in self.a.exclude:
                    continue  # reads of a file being written are not under test in this run
                got = self.read_mount(p)
                if writing and got == "<read failed: EIO>" and len(want) >= PART:
                    continue  # README: bytes already sent to the store in parts read as EIO until the commit
                if got != digest(want):
                    bad.append(("soft", "R4" if writing else rule0 if rule0 != "R1" else "R0",
                                f"mount: {p}{' (being written)' if writing else ''} reads {show(got)}, "
                                f"the model {show(digest(want))}"))
        return bad

    def listing_open(self, p):
        """A name the rules let be listed or not: loose, or held by a failed session."""
        s = self.active_on(p)
        return (p in self.loose and s is None) or (s is not None and s.failed)

    def rule_for(self, p, got, rule0):
        """Name the rule a wrong store content breaks, for the report: R1 for a partial session."""
        for d in [bytes(s.data) for s in self.sessions.values()] + self.recent:
            if got is not None and 0 < got[0] < len(d) and digest(d[:got[0]]) == got:
                return "R1"
        return rule0

    def collapse(self, sc):
        """Loose paths: once the daemon is quiet and the mount agrees with the store, take what is there."""
        if not self.loose:
            return
        end = time.monotonic() + self.a.settle
        while not self.quiet() and time.monotonic() < end:
            time.sleep(0.1)
        end = time.monotonic() + self.a.settle
        sc = self.store.contents()
        behind = {p for s in self.sessions.values() for p in s.left_behind}
        for p in list(self.loose):
            if self.active_on(p) is not None or p in behind:
                continue
            while True:
                got = sc.get(p)
                if got not in self.store_allowed(p):
                    raise Violation("R1", f"{p}: the store holds {show(got)}, expected one of "
                                          f"{', '.join(show(x) for x in self.store_allowed(p))}")
                m = self.read_mount(p)
                if m == got:
                    break
                if time.monotonic() > end:
                    raise Violation("R0", f"{p}: the mount reads {show(m)} but the store holds {show(got)}")
                time.sleep(0.2)
                sc = self.store.contents()
            cand = [self.committed.get(p)] + self.loose[p]
            self.committed.pop(p, None)
            for b in cand:
                if digest(b) == got and b is not None:
                    self.committed[p] = b
            del self.loose[p]

    # --- steps --------------------------------------------------------------------------------
    def step(self, st):
        """Apply one concrete step (a dict), then check. Raises Skip if its preconditions fail."""
        prev = {p: self.store_allowed(p) for p in PATHS}
        fn = getattr(self, "op_" + st["op"])
        self.history.append(st)
        try:
            res = fn(st)
        except Skip:
            self.history.pop()
            raise
        strict, content = res if res else ((), ())
        self.check(prev, strict, content, self.rule_of(st))

    RULES = {"close": "R2", "exit": "R2", "kill": "R3", "rm": "R5", "mv": "R6", "mvdir": "R6", "crash": "R8",
             "second": "R4", "peek": "R4", "reread": "R4"}

    def rule_of(self, st):
        """The rule a wrong store content after this step breaks (R1 when it is a partial session)."""
        if st["op"] == "exit" and st["code"] != 0:
            return "R3"
        return self.RULES.get(st["op"], "R1")

    def need_session(self, st, active=True):
        s = self.sessions.get(st["sid"])
        if s is None or (active and not s.active()):
            raise Skip()
        return s

    def free_target(self, p):
        return self.active_on(p) is None

    def open_session(self, st, path, mode, data):
        ch = Child(self.a.op_timeout)
        r = ch.cmd(op="open", fd=0, path=self.mp(path), mode=mode)
        if not r["ok"]:
            ch.end(("signal", signal.SIGKILL))
            orphans = {x.orphan_why for x in self.sessions.values() if x.path is None}
            raise Violation("R6" if "mv-over" in orphans else "R5" if orphans else "R7" if mode == "append" else "R0",
                            f"open({path}, {mode}) by a new writer failed: {errno.errorcode.get(r['errno'])}")
        s = Session(st["sid"], ch, path, data, mode)
        self.sessions[s.sid] = s
        self.next_sid = max(self.next_sid, s.sid + 1)
        return s

    def op_open(self, st):
        p = st["path"]
        if self.active_on(p) is not None or st["sid"] in self.sessions or p in self.loose:
            raise Skip()
        if st["mode"] == "append":
            if p not in self.committed or p in self.loose:
                raise Skip()
            self.open_session(st, p, "append", self.committed[p])
        else:
            self.open_session(st, p, "trunc", b"")
        return (), (p,)

    def op_write(self, st):
        s = self.need_session(st, active=False)
        off = st.get("off")
        if off is not None and off > len(s.data):
            raise Skip()
        r = s.child.cmd(op="write", fd=0, seed=st["seed"], size=st["size"], off=off)
        self.written += st["size"]
        b = gen(st["seed"], st["size"])
        if off is None or s.mode == "append":
            if not r["ok"]:
                if s.failed or s.orphan_why == "mv-over":
                    s.failed = True  # the rules leave a replaced file's writer's later calls open
                    return
                if s.orphan_why == "rm":
                    # R5 specifies the close (0) and the store (nothing), not the writes in between
                    self.note(f"a write after rm of the open file fails with {errno.errorcode.get(r['errno'])}"
                              f" ({s.mode} session; a local file accepts it)")
                    s.failed = True
                    return
                rule = {"rm": "R5", "mv-over": "R6"}.get(s.orphan_why, "R0")
                raise Violation(rule, f"write of {st['size']} bytes to session {s.sid} "
                                      f"({s.path or 'orphaned by ' + s.orphan_why}) failed: "
                                      f"{errno.errorcode.get(r['errno'])}")
            pos = len(s.data) if s.mode == "append" else s.pos
            if pos < len(s.data):
                s.uncertain = True  # behind an ftruncate: a rewrite below the end
            s.data[len(s.data):] = b"\0" * max(0, pos - len(s.data))
            s.data[pos:pos + len(b)] = b
            s.pos = pos + len(b)
        else:
            if not r["ok"]:
                s.failed = True  # a refused rewrite: this session must now publish nothing (R1)
                return
            s.data[off:off + len(b)] = b
            s.uncertain = True
        return (), ((s.path,) if s.active() and not s.uncertain else ())

    def op_ftruncate(self, st):
        s = self.need_session(st, active=False)
        r = s.child.cmd(op="ftruncate", fd=0, size=st["size"])
        if not r["ok"]:
            s.failed = True
            return
        if st["size"] < len(s.data):
            del s.data[st["size"]:]
            s.uncertain = True
        else:
            s.data += b"\0" * (st["size"] - len(s.data))

    def op_fsync(self, st):
        s = self.need_session(st, active=False)
        r = s.child.cmd(op="fsync", fd=0)
        if not r["ok"] and not s.failed:
            if s.uncertain or s.orphan_why == "mv-over":
                s.failed = True
                return
            raise Violation("R0", f"fsync of session {s.sid} ({s.path}) failed: {errno.errorcode.get(r['errno'])}")

    def end_session(self, s, publishes, how):
        """The session ended: publish its data under its current name, or nothing."""
        del self.sessions[s.sid]
        self.recent = (self.recent + [bytes(s.data)])[-4:]
        for p in s.left_behind:
            self.loose.pop(p, None)  # the name it was moved away from: absent from now on (R6)
        p = s.path
        if p is None:
            return ()
        if publishes and not s.failed:
            if s.uncertain:
                self.loose.setdefault(p, []).append(bytes(s.data))
            else:
                self.committed[p] = bytes(s.data)
                self.loose.pop(p, None)
            return (p,)
        if s.moved_from:
            # an open file moved onto p and then abandoned: the rules leave p's outcome open between
            # what was there and what the file carried; the mount must agree with the store
            self.loose.setdefault(p, []).extend([None] + s.moved_from)
        return ()

    def op_close(self, st):
        s = self.need_session(st, active=False)
        r = s.child.cmd(op="close", fd=0)
        s.child.end(("exit", 0))
        if s.path is None and (s.failed or s.orphan_why == "mv-over"):
            if s.orphan_why == "rm" and not r["ok"]:
                self.note(f"close after rm of the open file (after a failed write) returns "
                          f"{errno.errorcode.get(r['errno'])}")
            self.end_session(s, False, "close")  # only "publishes nothing" is specified here
            return
        if s.failed:
            if r["ok"]:
                raise Violation("R1", f"session {s.sid} ({s.path}) had a refused write, yet close() returned 0 "
                                      f"(a silent failure)")
            self.end_session(s, False, "close")
            return
        if not r["ok"]:
            if s.uncertain:
                s.failed = True
                self.end_session(s, False, "close")
                return
            raise Violation("R5" if s.orphan_why == "rm" else "R2",
                            f"close() of session {s.sid} ({s.path or 'removed'}) failed: "
                            f"{errno.errorcode.get(r['errno'])}")
        strict = self.end_session(s, True, "close")
        if strict and len(self.committed.get(strict[0], b"")) == 0:
            strict = ()  # an empty file is published at release, a moment after close()
        return strict, strict

    def op_exit(self, st):
        s = self.need_session(st, active=False)
        code = st["code"]
        rc = s.child.end(("exit", code))
        if rc != code:
            raise Violation("R0", f"writer exit status {rc}, expected {code}")
        p = self.end_session(s, code == 0, f"exit {code}")
        return (), p

    def op_kill(self, st):
        s = self.need_session(st, active=False)
        sig = getattr(signal, st["sig"])
        rc = s.child.end(("signal", sig))
        if rc != -sig:
            raise Violation("R0", f"writer wait status {rc}, expected death by {st['sig']}")
        self.end_session(s, False, st["sig"])
        return (), ((s.path,) if s.path else ())

    def op_reread(self, st):
        """The writer itself opens its file again read-only, reads, closes that descriptor (R4)."""
        s = self.need_session(st)
        if s.uncertain or s.failed:
            raise Skip()
        r = s.child.cmd(op="open", fd=1, path=self.mp(s.path), mode="rdonly")
        if not r["ok"]:
            raise Violation("R4", f"the writer's own read-open of {s.path} failed: {errno.errorcode.get(r['errno'])}")
        r = s.child.cmd(op="read", fd=1)
        c = s.child.cmd(op="close", fd=1)
        if not r["ok"] and r.get("errno") == errno.EIO and len(s.data) >= PART:
            pass   # README: bytes already sent to the store in parts read as EIO until the commit
        elif not r["ok"] or (r["len"], r["sha"]) != digest(bytes(s.data)):
            raise Violation("R4", f"the writer's own read of {s.path} gave {r}, the model {show(digest(bytes(s.data)))}")
        if not c["ok"]:
            raise Violation("R4", f"close of the writer's own read-only descriptor failed: {c}")

    def op_peek(self, st):
        """Another process opens a file being written read-only and reads what was written so far (R4)."""
        s = self.need_session(st)
        if s.uncertain or s.failed:
            raise Skip()
        try:
            with open(self.mp(s.path), "rb") as f:
                got = digest(f.read())
        except OSError as e:
            if e.errno == errno.EIO and len(s.data) >= PART:
                return   # README: bytes already sent to the store in parts read as EIO until the commit
            raise Violation("R4", f"read-open of {s.path} (being written) failed: {e}")
        if got != digest(bytes(s.data)):
            raise Violation("R4", f"read of {s.path} (being written) gave {show(got)}, written so far "
                                  f"{show(digest(bytes(s.data)))}")

    def op_second(self, st):
        """Another process write-opens or truncates a file being written: EBUSY (R4)."""
        s = self.need_session(st)
        p = s.path
        how = st["how"]
        try:
            if how == "truncate":
                os.truncate(self.mp(p), st.get("size", 0))
            else:
                fl = {"trunc": os.O_WRONLY | os.O_TRUNC, "wronly": os.O_WRONLY, "append": os.O_WRONLY | os.O_APPEND,
                      "rdwr": os.O_RDWR}[how]
                fd = os.open(self.mp(p), fl)
                os.close(fd)
        except OSError as e:
            if e.errno == errno.EBUSY:
                return
            raise Violation("R4", f"second {how} of {p} by another process failed with "
                                  f"{errno.errorcode.get(e.errno)}, not EBUSY")
        raise Violation("R4", f"second {how} of {p} by another process while session {s.sid} writes it succeeded "
                              f"(expected EBUSY)")

    def op_truncate(self, st):
        p = st["path"]
        if p not in self.committed or p in self.loose or self.active_on(p) is not None:
            raise Skip()
        try:
            os.truncate(self.mp(p), st["size"])
        except OSError as e:
            raise Violation("R0", f"truncate({p}, {st['size']}) of a committed file failed: {e}")
        old = self.committed[p]
        self.committed[p] = old[:st["size"]] + b"\0" * max(0, st["size"] - len(old))
        return (), (p,)

    def op_rm(self, st):
        p = st["path"]
        s = self.active_on(p)
        if p in self.loose or (s is None and p not in self.committed):
            raise Skip()
        try:
            os.unlink(self.mp(p))
        except OSError as e:
            raise Violation("R5", f"rm {p} failed: {e}")
        if s is not None:
            s.path, s.orphan_why = None, "rm"
        self.committed.pop(p, None)
        try:
            os.stat(self.mp(p))
            raise Violation("R5", f"{p} is still visible right after rm")
        except FileNotFoundError:
            pass

    def op_mv(self, st):
        src, dst = st["src"], st["dst"]
        if src == dst or src in self.loose or dst in self.loose:
            raise Skip()
        ss, ds = self.active_on(src), self.active_on(dst)
        if ss is not None and ds is not None:
            raise Skip()
        if ss is None and src not in self.committed:
            raise Skip()
        try:
            os.rename(self.mp(src), self.mp(dst))
        except OSError as e:
            # README: an open append session, or an upload open over an existing object, cannot move
            # (the old name's object cannot go first): refused, loudly, nothing changes
            if ss is not None and e.errno == errno.EBUSY and (ss.mode == "append" or src in self.committed):
                raise Skip()
            raise Violation("R6", f"mv {src} {dst} failed: {e}"
                                  f"{' (src open for writing)' if ss else ''}{' (dst open for writing)' if ds else ''}")
        if ss is not None:
            # the open file moves: its commit lands under dst only; src is absent in the mount now, and
            # in the store once the session ends (its old object may stay until then)
            # dst may hold its old object, or the file's committed base moved along, until the commit
            self.loose[dst] = []
            if dst in self.committed:
                ss.moved_from.append(self.committed.pop(dst))
                self.loose[dst].append(ss.moved_from[-1])
            if src in self.committed:
                ss.moved_from.append(self.committed.pop(src))
                self.loose[src] = [ss.moved_from[-1]]
                self.loose[dst].append(ss.moved_from[-1])
                ss.left_behind.append(src)
            ss.path = dst
            return (), (dst,)
        if ds is not None:
            ds.path, ds.orphan_why = None, "mv-over"
        self.committed[dst] = self.committed.pop(src)
        return (), (dst,)

    def op_mvdir(self, st):
        src, dst = st["src"], st["dst"]
        sp, dp = f"{BASE}/{src}/", f"{BASE}/{dst}/"
        if any(p.startswith(dp) for p in list(self.committed) + list(self.loose)) or \
                any(s.path and s.path.startswith(dp) for s in self.sessions.values()):
            raise Skip()
        if any(p.startswith(sp) for p in self.loose):
            raise Skip()
        busy = any(s.path and s.path.startswith(sp) for s in self.sessions.values())
        if not busy and not any(p.startswith(sp) for p in self.committed):
            raise Skip()
        try:
            os.rename(self.mp(sp[:-1]), self.mp(dp[:-1]))
        except OSError as e:
            if busy and e.errno == errno.EBUSY:
                return
            raise Violation("R6", f"mv {src} {dst} failed: {e}" + (" (expected EBUSY)" if busy else ""))
        if busy:
            raise Violation("R6", f"mv {src} {dst} succeeded while a file in {src} is open for writing "
                                  f"(expected EBUSY)")
        for p in [p for p in self.committed if p.startswith(sp)]:
            self.committed[dp + p[len(sp):]] = self.committed.pop(p)
        return (), tuple(p for p in self.committed if p.startswith(dp))

    def op_crash(self, st):
        """kill -9 of the daemon, every writer killed, remount with the same cache dir (R8)."""
        pid = self.daemon_pid()
        os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + 30
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < end:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().split(") ", 1)[1][0] == "Z":
                        break
            except OSError:
                break
            time.sleep(0.05)
        for s in list(self.sessions.values()):
            s.child.end(("signal", signal.SIGKILL))
            del self.sessions[s.sid]
        self.unmount_dead()
        self.mount()
        return (), tuple(PATHS)

    # --- random generation -------------------------------------------------------------------
    def size(self, room):
        r = self.rng.random()
        if r < 0.45:
            n = self.rng.randint(1, 4096)
        elif r < 0.85:
            n = self.rng.randint(4096, MiB)
        else:
            n = self.rng.randint(MiB, 6 * MiB)
        return max(0, min(n, room))

    def gen_step(self):
        R = self.rng
        act = [s for s in self.sessions.values() if s.active()]
        live = list(self.sessions.values())
        idle = [p for p in PATHS if self.active_on(p) is None and p not in self.loose]
        closed = [p for p in idle if p in self.committed]
        opts = []
        if len(self.sessions) < self.a.max_writers:
            opts += [("open", 6)]
            if closed:
                opts += [("append", 3)]
        if live:
            opts += [("write", 14), ("close", 5), ("exit0", 1.5), ("exit1", 1.5), ("kill9", 1.5),
                     ("sigint", 1.5), ("fsync", 0.5), ("rewrite", 0.7), ("ftruncate", 0.4)]
        if act:
            opts += [("peek", 1.5), ("reread", 0.7), ("second", 2), ("rm_open", 1), ("mv_open", 1.5)]
            if closed:
                opts += [("mv_over_open", 1)]
        if closed:
            opts += [("mv", 2), ("rm", 1.5), ("truncate", 0.7)]
        opts += [("mvdir", 0.6), ("crash", self.a.crash_weight)]
        opts = [o for o in opts if o[0] not in self.a.exclude]
        kind = R.choices([o[0] for o in opts], [o[1] for o in opts])[0]
        sid = lambda pool: R.choice(pool).sid
        if kind in ("open", "append"):
            pool = closed if kind == "append" else idle
            if not pool:
                return None
            return {"op": "open", "sid": self.next_sid, "path": R.choice(pool),
                    "mode": "append" if kind == "append" else "trunc"}
        if kind == "write":
            s = R.choice(live)
            n = self.size(min(self.a.max_file - len(s.data), self.a.max_data - self.written))
            if n <= 0:
                return {"op": "close", "sid": s.sid}
            return {"op": "write", "sid": s.sid, "size": n, "seed": R.getrandbits(32)}
        if kind == "rewrite":
            s = R.choice(live)
            if not s.data or s.mode == "append":
                return None
            off = R.randrange(len(s.data))
            return {"op": "write", "sid": s.sid, "size": R.randint(1, 8192), "seed": R.getrandbits(32), "off": off}
        if kind == "ftruncate":
            s = R.choice(live)
            return {"op": "ftruncate", "sid": s.sid, "size": R.randint(0, len(s.data) + 4096)}
        if kind == "close":
            return {"op": "close", "sid": sid(live)}
        if kind == "fsync":
            return {"op": "fsync", "sid": sid(live)}
        if kind in ("exit0", "exit1"):
            return {"op": "exit", "sid": sid(live), "code": int(kind[-1])}
        if kind in ("kill9", "sigint"):
            return {"op": "kill", "sid": sid(live), "sig": "SIGKILL" if kind == "kill9" else "SIGINT"}
        if kind in ("peek", "reread"):
            return {"op": kind, "sid": sid(act)}
        if kind == "second":
            how = R.choice(["trunc", "wronly", "append", "rdwr", "truncate"])
            return {"op": "second", "sid": sid(act), "how": how, "size": R.randint(0, 100)}
        if kind == "rm_open":
            return {"op": "rm", "path": R.choice(act).path}
        if kind == "mv_open":
            s = R.choice(act)
            dst = [p for p in idle if p != s.path]
            return {"op": "mv", "src": s.path, "dst": R.choice(dst)} if dst else None
        if kind == "mv_over_open":
            return {"op": "mv", "src": R.choice(closed), "dst": R.choice(act).path}
        if kind == "mv":
            src = R.choice(closed)
            return {"op": "mv", "src": src, "dst": R.choice([p for p in idle if p != src] or [src])}
        if kind == "rm":
            return {"op": "rm", "path": R.choice(closed)}
        if kind == "truncate":
            p = R.choice(closed)
            return {"op": "truncate", "path": p, "size": R.randint(0, len(self.committed[p]) + 5000)}
        if kind == "mvdir":
            a, b = R.sample(SNAPS, 2)
            return {"op": "mvdir", "src": a, "dst": b}
        if kind == "crash":
            return {"op": "crash"}
        return None

    def finish_all(self):
        """End of the run: every live session closes; then a full check of everything."""
        for s in sorted(self.sessions.values(), key=lambda s: s.sid):
            self.step({"op": "close", "sid": s.sid})
        self.check(None, (), tuple(PATHS))

    def cleanup(self):
        for s in list(self.sessions.values()):
            try:
                s.child.end(("signal", signal.SIGKILL))
            except Exception:
                pass
        self.sessions.clear()


def print_notes(d):
    for what, (first, count) in d.notes.items():
        print(f"model: note: {what}: {count} times, first at step {first}")


def fmt(st):
    return " ".join(f"{k}={v}" for k, v in st.items())


def wipe_store(a, store):
    """Empty the store's BASE (between a failing run and a minimizing replay)."""
    if a.store_dir:
        import shutil
        shutil.rmtree(os.path.join(a.store_dir, "kubedb"), ignore_errors=True)
    else:
        s3 = store.s3
        for k in list(store.contents()):
            s3.delete_object(Bucket=store.bucket, Key=store.prefix + k)
        try:
            for u in s3.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []):
                s3.abort_multipart_upload(Bucket=store.bucket, Key=u["Key"], UploadId=u["UploadId"])
        except Exception:
            pass


def run(a, store, steps=None):
    """One run: random (steps None) or a replay of the given steps. Returns (driver, violation|None)."""
    d = Driver(a, store)
    t0 = time.monotonic()
    try:
        d.mount()
        d.check(None, (), ())
        if steps is None:
            i = 0
            while i < a.steps and time.monotonic() - t0 < a.time:
                st = d.gen_step()
                if st is None:
                    continue
                if a.verbose:
                    print(f"  {len(d.history) + 1:4d} {fmt(st)}", flush=True)
                try:
                    d.step(st)
                except Skip:
                    continue
                i += 1
        else:
            for st in steps:
                if time.monotonic() > getattr(a, "deadline", float("inf")):
                    return d, None  # out of the minimizer's time: counts as not reproduced
                try:
                    d.step(dict(st))
                except Skip:
                    pass
        d.finish_all()
        return d, None
    except Violation as v:
        return d, v
    except Exception as e:
        import traceback
        traceback.print_exc()
        return d, Violation("R0", f"the driver stopped on {e!r}")
    finally:
        d.cleanup()
        subprocess.run(["fusermount3", "-u", a.mount], stderr=subprocess.DEVNULL)
        wait_daemon_gone(a)


def wait_daemon_gone(a):
    end = time.monotonic() + 120
    try:
        pid = int(open(a.pid_file).read().strip())
    except (OSError, ValueError):
        return
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < end:
        try:
            if open(f"/proc/{pid}/stat").read().split(") ", 1)[1][0] == "Z":
                return
        except OSError:
            return
        time.sleep(0.05)
    if os.path.exists(f"/proc/{pid}"):
        subprocess.run(["fusermount3", "-uz", a.mount], stderr=subprocess.DEVNULL)


def minimize(a, store, hist, rule, budget):
    """Delete chunks of steps while the replay still breaks the same rule (ddmin, bounded in time)."""
    end = time.monotonic() + budget
    a.deadline = end
    cur = list(hist)
    a.settle = min(a.settle, 8)  # a replay that only waits out a slow outcome fails sooner
    n = 2
    while len(cur) > 1 and time.monotonic() < end:
        chunk = max(1, len(cur) // n)
        shrunk = False
        for i in range(0, len(cur), chunk):
            if time.monotonic() >= end:
                break
            cand = cur[:i] + cur[i + chunk:]
            wipe_store(a, store)
            d, v = run(a, store, cand)
            if v is not None and v.rule == rule:
                cur, shrunk = d.history, True  # the steps that applied (the others lost their preconditions)
                n = max(n - 1, 2)
                break
        if not shrunk:
            if chunk == 1:
                break
            n = min(len(cur), n * 2)
    return cur


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mount", required=True)
    ap.add_argument("--pid-file", required=True, help="the --pid-file the snapfs command writes")
    ap.add_argument("--store-dir", help="file:// store: its directory")
    ap.add_argument("--s3-endpoint")
    ap.add_argument("--s3-bucket")
    ap.add_argument("--s3-prefix", default="")
    ap.add_argument("--secret-dir")
    ap.add_argument("--ca")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=1000000)
    ap.add_argument("--time", type=float, default=60, help="seconds of random steps (then everything closes)")
    ap.add_argument("--max-writers", type=int, default=3)
    ap.add_argument("--max-file", type=int, default=20 * MiB)
    ap.add_argument("--max-data", type=int, default=400 * MiB, help="bytes written in the whole run")
    ap.add_argument("--crash-weight", type=float, default=0.3)
    ap.add_argument("--settle", type=float, default=20, help="bound of every wait for an asynchronous outcome")
    ap.add_argument("--op-timeout", type=float, default=120)
    ap.add_argument("--strict-close", type=int, default=1, help="R2: the store holds the file when close returns")
    ap.add_argument("--exclude", default="", help="comma-separated step kinds not to generate (e.g. second,mv_open)")
    ap.add_argument("--replay", help="a JSON file of steps to replay instead of random ones")
    ap.add_argument("--save", help="write the failing history (and the minimized one) here as JSON")
    ap.add_argument("--minimize", type=float, default=0, help="seconds to spend minimizing a failure")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the snapfs mount command")
    a = ap.parse_args()
    if a.cmd and a.cmd[0] == "--":
        a.cmd = a.cmd[1:]
    if not a.cmd:
        ap.error("the snapfs command is missing after --")
    a.exclude = set(x for x in a.exclude.split(",") if x)
    if a.store_dir:
        store = FileStore(a.store_dir)
    elif a.s3_endpoint and a.s3_bucket and a.secret_dir:
        store = S3Store(a.s3_endpoint, a.s3_bucket, a.s3_prefix, a.secret_dir, a.ca)
    else:
        ap.error("give --store-dir, or --s3-endpoint --s3-bucket --secret-dir")

    t0 = time.monotonic()
    steps = None
    if a.replay:
        steps = json.load(open(a.replay))
        if isinstance(steps, dict):
            steps = steps.get("minimized") or steps["history"]
    d, v = run(a, store, steps)
    dt = time.monotonic() - t0
    n = len(d.history)
    if v is None:
        print(f"model: seed {a.seed}: {n} steps, {d.written / MiB:.0f} MiB written, all rules held "
              f"({dt:.0f}s); {len(d.late)} publications seen only after close returned")
        print_notes(d)
        return 0
    print(f"model: seed {a.seed}: RULE BROKEN after {n} steps ({dt:.0f}s): {v}")
    print_notes(d)
    print(f"model: the steps that led there{f' (saved in {a.save}, rerun them with --replay)' if a.save else ''}:")
    for i, st in enumerate(d.history, 1):
        print(f"  {i:4d} {fmt(st)}")
    hist = d.history
    saved = {"seed": a.seed, "violation": str(v), "history": hist}
    if a.minimize > 0:
        wipe_store(a, store)
        small = minimize(a, store, hist, v.rule, a.minimize)
        print(f"model: minimized to {len(small)} steps (same rule {v.rule} broken):")
        for i, st in enumerate(small, 1):
            print(f"  {i:4d} {fmt(st)}")
        saved["minimized"] = small
    if a.save:
        with open(a.save, "w") as f:
            json.dump(saved, f, indent=1)
    return 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# One writer per file, when the writers come at once: 6 processes open one existing file for writing
# together (a barrier holds every descriptor open until all have tried), 150 rounds. Exactly one open
# succeeds each round and the others get EBUSY; the file holds the winner's bytes. Before the fix an
# open was checked before its handle was listed, so two could pass (7 of 100 rounds).
source "$SNAPFS_SRC/tests/lib/common.sh"

STORE=$T_DIR/store
M=$T_DIR/mnt
mkdir -p "$STORE"
mount_snapfs "file://$STORE" "$M" --cache-dir "$T_DIR/cache"
D=$M/kubedb/demo/pg/snap
mkdir -p "$D"

python3 - "$D" 150 >"$T_DIR/race.out" 2>&1 <<'PY'
import multiprocessing as mp, os, sys

def worker(path, bar, q, i):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    except OSError as e:
        bar.wait()
        q.put(("refused", e.errno))
        return
    bar.wait()
    os.write(fd, (str(i) * 1000).encode())
    try:
        os.close(fd)
        q.put(("wrote", i))
    except OSError as e:
        q.put(("close failed", e.errno))

base, rounds, n = sys.argv[1], int(sys.argv[2]), 6
bad = 0
for r in range(rounds):
    path = "%s/f%d" % (base, r)
    with open(path, "w") as f:
        f.write("seed")
    bar, q = mp.Barrier(n), mp.Queue()
    ps = [mp.Process(target=worker, args=(path, bar, q, i)) for i in range(n)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    res = [q.get() for _ in range(n)]
    won = [x[1] for x in res if x[0] == "wrote"]
    others_busy = all(x == ("refused", 16) for x in res if x[0] != "wrote")
    with open(path) as f:
        whole = len(won) == 1 and f.read() == str(won[0]) * 1000
    if not (whole and others_busy):
        bad += 1
        print("round %d: %s" % (r, res))
print("rounds with other than one writer: %d of %d" % (bad, rounds))
sys.exit(1 if bad else 0)
PY
rc=$?
cat "$T_DIR/race.out"
check "6 openers at once, 150 rounds: exactly one writes, the rest get EBUSY, the file is its bytes" [ "$rc" -eq 0 ]
check "the rounds ran" grep -q "of 150$" "$T_DIR/race.out"
umount_snapfs "$M"
finish

#!/usr/bin/env python3
"""layers.py BUILD_DIR: the dependency rules of the code layout, checked on the compiled objects.

A file depends on another when it calls or reads a symbol the other defines (nm on the object files
of snapfs_core), or includes its header. Rules (README, Code layout):
  - layers point down only: fs -> cache -> backends -> common (skipping a layer is fine);
  - one store's folder (backends/<store>/) never reaches into another's;
  - no cycles between files, at any size.
Prints each breach and exits 1 if there is any."""
import os
import re
import subprocess
import sys

RANK = {'common': 0, 'backends': 1, 'cache': 2, 'fs': 3}


def layer(src):
    return RANK.get(src.split('/')[0])


def store(src):
    p = src.split('/')
    return p[1] if p[0] == 'backends' and len(p) > 2 else None


def objects(build):
    objdir = os.path.join(build, 'CMakeFiles', 'snapfs_core.dir')
    for root, _, names in os.walk(objdir):
        for n in names:
            if n.endswith('.c.o'):
                path = os.path.join(root, n)
                yield os.path.relpath(path, objdir)[:-2], path


def symbols(path):
    out = subprocess.run(['nm', path], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == 'U':
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in 'TDRBGSVW':
            defined.add(parts[2])
    return defined, used


def includes(src_root, src):
    deps = set()
    with open(os.path.join(src_root, src)) as f:
        for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', f.read(), re.M):
            deps.add(m.group(1))
    return deps


def sccs(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    build = sys.argv[1]
    src_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    objs = dict(objects(build))
    if not objs:
        sys.exit('layers.py: no objects of snapfs_core under %s' % build)
    owner, uses = {}, {}
    for src, path in objs.items():
        d, u = symbols(path)
        for s in d:
            owner[s] = src
        uses[src] = u
    graph = {src: set() for src in objs}
    why = {}
    for src, u in uses.items():
        for s in u:
            o = owner.get(s)
            if o and o != src:
                graph[src].add(o)
                why.setdefault((src, o), s)
    bad = 0
    # headers: an include of a header of a higher layer or another store is a breach too
    for src in objs:
        for h in includes(src_root, src):
            if layer(h) is not None and layer(src) is not None and layer(h) > layer(src):
                print('upward include: %s includes %s' % (src, h))
                bad += 1
    for src, deps in sorted(graph.items()):
        for o in sorted(deps):
            if layer(o) > layer(src):
                print('upward call: %s uses %s from %s' % (src, why[(src, o)], o))
                bad += 1
            if store(src) and store(o) and store(src) != store(o):
                print('cross-store call: %s uses %s from %s' % (src, why[(src, o)], o))
                bad += 1
    for comp in sccs(graph):
        print('cycle: ' + ' <-> '.join(comp))
        for a in comp:
            for b in sorted(graph[a]):
                if b in comp:
                    print('    %s uses %s from %s' % (a, why[(a, b)], b))
        bad += 1
    print('%d files, %d breaches' % (len(objs), bad))
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""cycle_check: no two files of engine/ and rpc/ depend on each other.

Two graphs, one node per module (x.c with its x.h):
  - includes: x -> y when x.c or x.h includes "y.h" (quoted, found in the
    tree); a header with no .c of its own (server_internal.h,
    engine_internal.h) has no code, so what it includes is not counted as
    its dependency (it declares what other modules define);
  - calls (with a build directory): x -> y when x.c's object file uses a
    global symbol y.c's object file defines (nm), which sees what a shared
    header such as engine/engine_internal.h hides from the include graph.
Prints every cycle (a strongly connected component of two modules or more)
and exits 1 if there is any; prints the edge counts and exits 0 otherwise.

  cycle_check.py SOURCE_DIR [BUILD_DIR]
"""
import os
import re
import subprocess
import sys

FOLDERS = ("engine", "rpc")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def sources(root):
    """Every .c and .h below FOLDERS (generated code and tests aside)."""
    out = []
    for folder in FOLDERS:
        for d, _, files in os.walk(os.path.join(root, folder)):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def module(path):
    return os.path.splitext(path)[0]


def include_graph(root, files):
    by_name = {}
    for f in files:
        by_name.setdefault(os.path.basename(f), []).append(f)
    with_code = {module(f) for f in files if f.endswith(".c")}
    graph = {}
    for f in files:
        if module(f) not in with_code:
            graph.setdefault(module(f), set())
            continue
        text = open(os.path.join(root, f), encoding="utf-8", errors="replace").read()
        src = module(f)
        graph.setdefault(src, set())
        for inc in INCLUDE.findall(text):
            here = os.path.normpath(os.path.join(os.path.dirname(f), inc))
            targets = [here] if here in files else by_name.get(os.path.basename(inc), [])
            for t in targets:
                if module(t) != src:
                    graph[src].add(module(t))
    return graph


def objects(build):
    """Object file per source module (the first target that compiles it)."""
    out = {}
    for folder in FOLDERS:
        base = os.path.join(build, folder, "CMakeFiles")
        if not os.path.isdir(base):
            continue
        for d, _, files in os.walk(base):
            for f in files:
                if not f.endswith(".c.o"):
                    continue
                rel = os.path.relpath(os.path.join(d, f), base)
                parts = rel.split(os.sep)
                # <target>.dir/<path below the folder>/<name>.c.o
                src = os.path.join(folder, *parts[1:])[: -len(".c.o")]
                if "/__/" in "/" + src + "/" or "proto/gen" in src:
                    continue
                out.setdefault(src, os.path.join(d, f))
    return out


def symbols(obj):
    defined, used = set(), set()
    text = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRVWG":
            defined.add(parts[2])
    return defined, used


def call_graph(build):
    objs = objects(build)
    syms = {m: symbols(o) for m, o in objs.items()}
    owner = {}
    for m, (defined, _) in syms.items():
        for s in defined:
            owner.setdefault(s, m)
    graph = {m: set() for m in syms}
    for m, (_, used) in syms.items():
        for s in used:
            o = owner.get(s)
            if o is not None and o != m:
                graph[m].add(o)
    return graph


def cycles(graph):
    """Tarjan's strongly connected components of two nodes or more."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def report(name, graph):
    found = cycles(graph)
    for comp in found:
        edges = [f"{a} -> {b}" for a in comp for b in sorted(graph[a]) if b in comp]
        print(f"cycle_check: {name} cycle: {' <-> '.join(comp)} ({'; '.join(edges)})")
    if not found:
        n = sum(len(v) for v in graph.values())
        print(f"cycle_check: {name}: {len(graph)} modules, {n} edges, no cycle")
    return len(found)


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    root = sys.argv[1]
    bad = report("includes", include_graph(root, sources(root)))
    if len(sys.argv) == 3:
        graph = call_graph(sys.argv[2])
        if not graph:
            print(f"cycle_check: no object files under {sys.argv[2]}", file=sys.stderr)
            return 1
        bad += report("calls", call_graph(sys.argv[2]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""No two source files call into each other, and no header includes itself.

Files are layered: a file may call the functions (and use the data) of the
files below it, never of a file that calls it back, directly or through
others.  The call graph is read from the objects the build made (nm:
what each defines, what it needs), the include graph from the sources.
A cycle in either is printed and fails the test.  Run from the build
directory, with the source directory as $FC_SRCDIR (make check sets it).
"""
import os
import re
import subprocess
import sys

SRCDIR = os.environ.get("FC_SRCDIR", os.environ.get("srcdir", "."))
MODULES = ["lib", "conf", "shm", "worker", "health", "ha", "master", "tools"]


def objects():
    """{source file: object file} for the objects of the library and tools."""
    found = {}
    for mod in MODULES:
        if not os.path.isdir(mod):
            continue
        for name in sorted(os.listdir(mod)):
            m = re.match(r"^(?:[a-z_]+-)?(.+)\.o$", name)
            if m:
                found[f"{mod}/{m.group(1)}.c"] = os.path.join(mod, name)
    return found


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, needed = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            needed.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRC":
            defined.add(parts[2])
    return defined, needed


def call_graph():
    objs = objects()
    owner, needs = {}, {}
    for src, obj in objs.items():
        defined, needed = symbols(obj)
        for sym in defined:
            owner.setdefault(sym, src)
        needs[src] = needed
    graph = {src: set() for src in objs}
    for src, needed in needs.items():
        for sym in needed:
            dst = owner.get(sym)
            if dst is not None and dst != src:
                graph[src].add(dst)
    return graph


def include_graph():
    graph = {}
    for mod in MODULES:
        d = os.path.join(SRCDIR, mod)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h")):
                continue
            path = f"{mod}/{name}"
            with open(os.path.join(SRCDIR, path), encoding="utf-8") as f:
                graph[path] = set(re.findall(r'^#include "([a-z]+/[^"]+\.h)"', f.read(), re.M))
    return graph


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
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
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    calls = call_graph()
    if len(calls) < 20:
        print(f"not ok - only {len(calls)} objects found: run from the build directory")
        return 1
    bad = 0
    for kind, graph in (("call", calls), ("include", include_graph())):
        found = cycles(graph)
        for comp in found:
            print(f"not ok - {kind} circle between: " + ", ".join(comp))
            for v in comp:
                print(f"    {v} -> " + ", ".join(sorted(w for w in graph[v] if w in comp)))
        if not found:
            print(f"ok - no {kind} circle among {len(graph)} files")
        bad += len(found)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

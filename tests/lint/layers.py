#!/usr/bin/env python3
"""Checks that user/ keeps its layers: reads the #include lines of every
.c and .h file under user/ and fails when

  - a folder includes a folder that is not below it in LAYERS (a back
    edge: a lower stage reaching up, or two stages of one rank reaching
    sideways), or one its stage does not use (MAY_INCLUDE), or
  - a generated or shared header is included where it does not belong
    (EXTERNAL), or
  - files include each other in a circle.

`--graph` prints the folder graph (edges with include counts, back edges,
folder cycles) whatever the verdict.  `--rank NAME=N` places a folder not
in the table (to measure a tree laid out differently).  Exit status: 0
when clean, 1 when a rule is broken, 2 on bad usage.
"""
import argparse
import os
import re
import sys

# Rank of each folder of user/: a folder may include its own headers and
# those of folders of a strictly lower rank.  Folders of one rank are
# independent of each other.  main.c is the top.
LAYERS = {
    "util": 0,       # logging, clock, hash table, random, strings
    "span": 1,       # the span model and pool, resources, the span sink
    "transport": 1,  # the exporter's HTTP/1.1, HTTP/2 and gRPC client
    "capture": 2,    # kernel hooks, BPF loading, ring buffer, /proc
    "k8s": 2,        # Kubernetes API (list/watch pods), pod metadata on resources
    "protocol": 3,   # stream decoders (HTTP/1.x) and connection state
    "assemble": 4,   # calls and exchanges become spans, with context
    "export": 4,     # batch processor, console, OTLP encoders, exporter
    "cli": 5,        # settings, parsed once
    "daemon": 6,     # the life cycle: wires the stages together
    "main": 7,       # user/main.c
}

# Stages that may use fewer of the folders below them than their layer
# allows (besides their own): the pipeline's data flows one way.
MAY_INCLUDE = {
    "util": set(),
    "span": {"util"},
    "transport": {"util"},
    "capture": {"util"},
    "k8s": {"span", "transport", "util"},
    "protocol": {"capture", "util"},
    "assemble": {"protocol", "capture", "span", "util"},
    "export": {"span", "transport", "util"},
}

# Headers from outside user/: the prefix, and the folders that may use it.
EXTERNAL = [
    ("spanprobe/", {"capture", "protocol", "assemble", "cli", "daemon", "main"}),
    ("opentelemetry/", {"export"}),  # protobuf-c: the test oracle encoder
    (re.compile(r".*\.skel\.h$"), {"capture"}),
]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(rel):
    """user/a/b.c -> a; user/main.c -> main."""
    parts = rel.split("/")
    return parts[1] if len(parts) > 2 else os.path.splitext(parts[1])[0]


def read_includes(root):
    """{file: [(line number, included path)]} for every file of user/."""
    out = {}
    for d, _, names in os.walk(os.path.join(root, "user")):
        for n in sorted(names):
            if not n.endswith((".c", ".h")):
                continue
            path = os.path.join(d, n)
            rel = os.path.relpath(path, root)
            with open(path, encoding="utf-8", errors="replace") as f:
                out[rel] = [(i, m.group(1)) for i, line in enumerate(f, 1)
                            if (m := INCLUDE.match(line))]
    return out


def external_rule(inc):
    for pat, allowed in EXTERNAL:
        if (inc.startswith(pat) if isinstance(pat, str) else pat.match(inc)):
            return allowed
    return None


def find_cycles(graph):
    """Strongly connected components of more than one node (or a self
    loop), each as a sorted list: the circles of the graph."""
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
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check(root, ranks):
    files = read_includes(root)
    problems, edges, file_graph = [], {}, {}
    for rel, incs in files.items():
        src = folder_of(rel)
        for line, inc in incs:
            where = f"{rel}:{line}: #include \"{inc}\""
            allowed = external_rule(inc)
            if allowed is not None:
                if src not in allowed:
                    problems.append(f"{where}: {src}/ may not use this header")
                continue
            target = os.path.join("user", inc)
            if target not in files:
                continue  # a system or build header found elsewhere
            file_graph.setdefault(rel, set()).add(target)
            dst = folder_of(target)
            if dst == src:
                continue
            edges[(src, dst)] = edges.get((src, dst), 0) + 1
            if src not in ranks or dst not in ranks:
                problems.append(f"{where}: folder {src if src not in ranks else dst}/ "
                                "has no layer (add it to LAYERS)")
            elif ranks[dst] >= ranks[src]:
                problems.append(f"{where}: {src}/ (layer {ranks[src]}) may not "
                                f"include {dst}/ (layer {ranks[dst]})")
            elif src in MAY_INCLUDE and dst not in MAY_INCLUDE[src]:
                problems.append(f"{where}: {src}/ may include only "
                                + ", ".join(sorted(MAY_INCLUDE[src])) + f" (not {dst}/)")
    folder_graph = {}
    for s, d in edges:
        folder_graph.setdefault(s, set()).add(d)
    for c in find_cycles(file_graph):
        problems.append("files include each other in a circle: " + ", ".join(c))
    return problems, edges, find_cycles(folder_graph)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--graph", action="store_true", help="print the folder graph")
    ap.add_argument("--rank", action="append", default=[], metavar="NAME=N")
    a = ap.parse_args()
    ranks = dict(LAYERS)
    for r in a.rank:
        name, _, n = r.partition("=")
        if not n.isdigit():
            ap.error(f"--rank {r}: want NAME=N")
        ranks[name] = int(n)
    problems, edges, cycles = check(os.path.abspath(a.root), ranks)
    if a.graph:
        back = [e for e in edges if e[0] in ranks and e[1] in ranks
                and ranks[e[1]] >= ranks[e[0]]]
        print(f"{len(edges)} folder-to-folder edges, {len(back)} back edges, "
              f"{len(cycles)} folder cycles")
        for (s, d), n in sorted(edges.items()):
            mark = "  BACK" if (s, d) in back else ""
            print(f"  {s} -> {d} ({n}){mark}")
        for c in cycles:
            print("  cycle among: " + ", ".join(c))
    for p in problems:
        print("layers: " + p, file=sys.stderr)
    if not problems:
        print("layers: user/ keeps its layers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

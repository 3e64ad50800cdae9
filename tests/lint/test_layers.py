#!/usr/bin/env python3
"""The include-layer check (tests/lint/layers.py) passes on the tree and
fails on each kind of wrong include, planted in a copy of user/."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CHECK = os.path.join(HERE, "layers.py")
results = []


def check(name, cond, detail=""):
    results.append(cond)
    print(("ok - " if cond else "not ok - ") + name + ("" if cond else f": {detail}"))


def run(root):
    p = subprocess.run([sys.executable, CHECK, "--root", root],
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def planted(edit):
    """Copy user/ to a temporary root, apply `edit(root)`, run the check."""
    with tempfile.TemporaryDirectory() as root:
        shutil.copytree(os.path.join(ROOT, "user"), os.path.join(root, "user"))
        edit(root)
        return run(root)


def add_include(rel, inc):
    def edit(root):
        with open(os.path.join(root, "user", rel), "a") as f:
            f.write(f'\n#include "{inc}"\n')
    return edit


def write(rel, text):
    def edit(root):
        path = os.path.join(root, "user", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return edit


def both(*edits):
    def edit(root):
        for e in edits:
            e(root)
    return edit


rc, out = run(ROOT)
check("the tree keeps its layers", rc == 0, out)

rc, out = planted(add_include("capture/stream.h", "assemble/exchange.h"))
check("capture/ including assemble/ (upwards) fails", rc == 1 and
      "user/capture/stream.h" in out and "may not include assemble/" in out, out)

rc, out = planted(add_include("export/batch.c", "assemble/pipeline.h"))
check("export/ including assemble/ (sideways, same layer) fails",
      rc == 1 and "export/ (layer 4) may not include assemble/ (layer 4)" in out, out)

rc, out = planted(add_include("util/log.c", "span/span.h"))
check("util/ including span/ fails", rc == 1 and "util/ (layer 0)" in out, out)

rc, out = planted(add_include("capture/loader.c", "transport/url.h"))
check("capture/ including transport/ (lower, but not its input) fails",
      rc == 1 and "capture/ may include only util" in out, out)

rc, out = planted(add_include("protocol/streams.c", "sock.skel.h"))
check("a BPF skeleton outside capture/ fails",
      rc == 1 and "protocol/ may not use this header" in out, out)

rc, out = planted(both(write("util/a_loop.h", '#include "util/b_loop.h"\n'),
                       write("util/b_loop.h", '#include "util/a_loop.h"\n')))
check("two headers including each other fail",
      rc == 1 and "circle" in out and "user/util/a_loop.h" in out, out)

rc, out = planted(write("newstage/thing.c", '#include "util/log.h"\n'))
check("a folder without a layer fails", rc == 1 and
      "folder newstage/ has no layer" in out, out)

failed = results.count(False)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP capture as a kernel without bpf_loop() (before 5.17: Ubuntu 22.04's
5.15, 5.16) gets it, on this kernel: the BPF programs pick their branch by
the kernel's BTF (CO-RE), so they are loaded with a copy of this kernel's
BTF in which BPF_FUNC_loop is renamed (tests/tools/btf_hide_enum), given
by SPANPROBE_BTF.  They then copy a vector's segments by the unrolled
loop and capture HTTP/2 by its first bytes, as on such a kernel, and the
verifier of the kernel under test checks that code.

The HTTP/1 tests whose expectations hold there run again with it
(test_http_servers and test_http_pipelining on the host, test_http_hooks
on the host and in the first kernel of the matrix); their checks come
back as "[before bpf_loop] CHECK".  HTTP/2's frames and the databases'
whole calls need bpf_loop() and are left out."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import BUILD, IN_KERNEL_MATRIX, check, finish, require_root, run  # noqa: E402

require_root()
HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(BUILD, "tests", "tools", "btf_hide_enum")
LABEL = "[before bpf_loop]"
TESTS = ["test_http_hooks"] if IN_KERNEL_MATRIX else \
    ["test_http_servers", "test_http_hooks", "test_http_pipelining"]


def make_btf(path):
    p = subprocess.run([TOOL, "bpf_func_id", "BPF_FUNC_loop", path],
                       capture_output=True, text=True)
    return check("a copy of the kernel's BTF without BPF_FUNC_loop",
                 p.returncode == 0 and os.path.getsize(path) > 0, p.stderr)


def probes(env, args=()):
    rc, out, err = run(["probes", *args], env=env)
    return rc, out + err


def has_line(out, *words):
    return list(words) in [line.split() for line in out.splitlines()]


def test_probes(btf):
    rc, out = probes({"SPANPROBE_BTF": btf})
    check("spanprobe probes with SPANPROBE_BTF: bpf_loop() no, HTTP capture on",
          rc == 0 and has_line(out, "bpf_loop()", "no") and "HTTP capture (auto:" in out, out)
    if IN_KERNEL_MATRIX:
        return
    rc, out = probes({})
    check("without it: bpf_loop() yes", rc == 0 and has_line(out, "bpf_loop()", "yes"), out)
    rc, out = probes({"SPANPROBE_BTF": btf}, ["--btf", "/sys/kernel/btf/vmlinux"])
    check("--btf wins over SPANPROBE_BTF", rc == 0 and has_line(out, "bpf_loop()", "yes"), out)
    rc, out = probes({"SPANPROBE_BTF": "/nonexistent.btf"})
    check("SPANPROBE_BTF naming no file: no BTF reported",
          rc == 0 and has_line(out, "BTF", "(CO-RE)", "no"), out)


def relay(name, btf):
    """Runs tests/integration/NAME.py with SPANPROBE_BTF; its checks, labelled."""
    # The process life cycle under `trace` does not copy sockets' bytes:
    # not what this changes (test_http_hooks runs it without SPANPROBE_BTF).
    env = dict(os.environ, SPANPROBE_BTF=btf, SP_PATH_CHECKS_ONLY="1")
    try:
        p = subprocess.run([sys.executable, os.path.join(HERE, name + ".py")],
                           capture_output=True, text=True, env=env, timeout=600)
    except subprocess.TimeoutExpired as e:
        check(f"{LABEL} {name}: ran to its end", False, f"timed out after {e.timeout} s")
        return
    seen = failed = 0
    for line in p.stdout.splitlines():
        for mark, ok in (("ok - ", True), ("not ok - ", False)):
            if line.startswith(mark):
                seen += 1
                failed += not ok
                check(f"{LABEL} {name}: {line[len(mark):]}", ok)
    # A failed check is reported already; anything else that ended it is not.
    if (p.returncode != 0 and not failed) or seen == 0:
        check(f"{LABEL} {name}: ran to its end", False,
              f"status {p.returncode}, {seen} checks\n{p.stderr[-2000:]}")


def main():
    with tempfile.TemporaryDirectory(prefix="sp-btf-") as tmp:
        btf = os.path.join(tmp, "vmlinux-no-bpf-loop.btf")
        if make_btf(btf):
            test_probes(btf)
            for name in TESTS:
                relay(name, btf)
    finish()


main()

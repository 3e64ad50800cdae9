#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bad input: each case gives one clear line on stderr and a non-zero exit,
never a libbpf dump or a crash."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, program, require_root, run  # noqa: E402

require_root()
NESTED = program("nested")


def one_line_error(name, args, expected, rc_expected=1, env=None, prefix=None):
    if prefix:
        p = subprocess.run(prefix + [SPANPROBE] + args, capture_output=True, text=True,
                           env=env)
        rc, out, err = p.returncode, p.stdout, p.stderr
    else:
        rc, out, err = run(args, env=env)
    lines = [line for line in err.splitlines() if line.strip()]
    check(f"{name}: exit {rc_expected}, one line: {expected!r}",
          rc == rc_expected and len(lines) == 1 and expected in lines[0]
          and lines[0].startswith("spanprobe: ") and out == "",
          f"rc={rc} stderr={err!r} stdout={out[:200]!r}")


def without_root():
    """No capability at all: one line for each of the two trace needs."""
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", SPANPROBE, "trace", "-u", "inner", "--", NESTED, "1"],
                       capture_output=True, text=True)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    check("without root: exit 1, a line for CAP_BPF and one for CAP_PERFMON, nothing else",
          p.returncode == 1 and len(lines) == 2 and p.stdout == ""
          and lines[0].startswith("spanprobe: missing capability CAP_BPF: ")
          and lines[1].startswith("spanprobe: missing capability CAP_PERFMON: ")
          and all(line.endswith("(give it, or run as root)") for line in lines),
          f"rc={p.returncode} stderr={p.stderr!r} stdout={p.stdout[:200]!r}")


def main():
    sleeper = subprocess.Popen(["sleep", "60"])
    tmp = tempfile.mkdtemp()
    try:
        script = os.path.join(tmp, "script.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(script, 0o755)
        one_line_error("missing PID", ["attach", "-p", "999999", "-u", "main"],
                       "no process with PID 999999")
        one_line_error("unknown symbol", ["trace", "-u", "no_such_fn", "--", NESTED, "1"],
                       "function 'no_such_fn' not found in")
        one_line_error("unknown symbol in a library",
                       ["attach", "-p", str(sleeper.pid), "-u", "libc.so.6:no_such_fn"],
                       "function 'no_such_fn' not found in")
        one_line_error("IFUNC symbol", ["trace", "-u", "libc.so.6:memcpy", "--", NESTED, "1"],
                       "'memcpy' in ")
        one_line_error("library not mapped",
                       ["attach", "-p", str(sleeper.pid), "-u", "libnope.so:f"],
                       f"process {sleeper.pid} has no library 'libnope.so' mapped")
        one_line_error("library not found for trace",
                       ["trace", "-u", "libnope.so:f", "--", NESTED, "1"],
                       "library 'libnope.so' not found")
        one_line_error("non-ELF file", ["trace", "-u", "main", "--", script],
                       "is not an ELF file")
        one_line_error("command not found", ["trace", "-u", "main", "--", "no-such-command-x"],
                       "command 'no-such-command-x' not found", rc_expected=127)
        one_line_error("kernel without BTF", ["trace", "--btf", os.path.join(tmp, "none"),
                                              "-u", "inner", "--", NESTED, "1"],
                       "no kernel BTF at")
        if shutil.which("setpriv"):
            without_root()
        else:
            check("without root: setpriv (util-linux) is needed for this test", False)
        one_line_error("bad option value", ["trace", "--max-depth", "zero", "-u", "x", "--",
                                            NESTED], "--max-depth: 'zero' is not a number",
                       rc_expected=2)
        one_line_error("attach without -p", ["attach", "-u", "x"], "give -p PID", rc_expected=2)
        one_line_error("trace without command", ["trace", "-u", "x"], "give it after --",
                       rc_expected=2)
        # A PID namespace of its own: the kernel's process IDs are not
        # its own, so it would trace nothing; refused, with the way out.
        if shutil.which("unshare"):
            one_line_error("own PID namespace", ["trace", "-u", "inner", "--", NESTED, "1"],
                           "runs in a PID namespace of its own", rc_expected=1,
                           prefix=["unshare", "--pid", "--fork", "--mount-proc"])
        else:
            check("own PID namespace: unshare (util-linux) is needed for this test", False)
        one_line_error("bad OTEL_BSP_MAX_QUEUE_SIZE", ["trace", "-u", "x", "--", NESTED],
                       "OTEL_BSP_MAX_QUEUE_SIZE: 'lots' is not a number", rc_expected=2,
                       env=dict(os.environ, OTEL_BSP_MAX_QUEUE_SIZE="lots"))
    finally:
        sleeper.kill()
        sleeper.wait()
        shutil.rmtree(tmp)


main()
finish()

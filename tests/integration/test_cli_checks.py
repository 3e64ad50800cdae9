#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What the user asked for is checked before tracing starts, and what
cannot be done is said, with a non-zero exit: attach to PID 1, a kernel
thread, a zombie, spanprobe itself or a thread's ID; run -p the same; a
command trace cannot run (127, 126); trace -p; a cgroup that does not exist; an
endpoint with another output; and spans that cannot be written
(/dev/full, a closed stdout, a closed pipe)."""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, require_root, wait_started  # noqa: E402
from httptest import curl, free_port, python_server, wait_port  # noqa: E402

require_root()


def run_briefly(argv):
    """Run argv for at most 10 s; an accepted run is stopped and says so."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        err = "accepted: still running after 10 s: " + err
    return p.returncode, err


def refused(name, args, want, status=None):
    """Refused, with one line holding `want`, and exit status `status`
    (any but 0 when None)."""
    rc, err = run_briefly([SPANPROBE, *args])
    check(f"{name}: refused with one line naming the problem"
          + (f", exit status {status}" if status is not None else ""),
          rc != 0 and (status is None or rc == status) and want in err
          and len(err.strip().splitlines()) == 1, f"rc={rc} {err!r}")


def test_attach_targets():
    with open("/proc/1/stat") as f:
        comm1 = f.read().split("(")[1].rsplit(")")[0]
    rc, err = run_briefly([SPANPROBE, "attach", "-p", "1"])
    # PID 1 exists: whatever stops us (not allowed here), it is named.
    check("attach -p 1: says what is wrong, not 'no process'",
          rc != 0 and "no process" not in err and f"1 ({comm1})" in err, err)
    refused("attach -p 2", ["attach", "-p", "2"], "PID 2 (kthreadd) is a kernel thread")
    zombie = subprocess.Popen(["true"])
    time.sleep(0.5)  # exited, not collected: a zombie
    refused("attach to a zombie", ["attach", "-p", str(zombie.pid)],
            f"process {zombie.pid} (true) is a zombie")
    zombie.wait()
    rc, err = run_briefly(["sh", "-c", f"exec {SPANPROBE} attach -p $$"])
    check("attach to spanprobe itself: refused", rc != 0 and "is spanprobe itself" in err, err)
    refused("attach -p to no process", ["attach", "-p", "4000000"],
            "no process with PID 4000000")
    # A thread's ID opens /proc/TID too, but probes go by process.
    proc = subprocess.Popen([sys.executable, "-c", "import threading, sys; "
                             "threading.Thread(target=sys.stdin.read).start()"],
                            stdin=subprocess.PIPE)
    try:
        tids = []
        deadline = time.monotonic() + 10
        while len(tids) < 2 and time.monotonic() < deadline:
            tids = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task"))
            time.sleep(0.05)
        tid = max(tids)
        refused("attach -p to a thread", ["attach", "-p", str(tid)],
                f"PID {tid} is a thread of process {proc.pid} (python")
    finally:
        proc.stdin.close()
        proc.wait()


def test_command_cannot_run():
    """As shells, env and timeout say it: 127 not found, 126 not run."""
    refused("trace of a command not found", ["trace", "--", "no-such-command-here"],
            "command 'no-such-command-here' not found", 127)
    with tempfile.TemporaryDirectory() as tmp:
        plain = os.path.join(tmp, "plain")
        with open(plain, "w") as f:
            f.write("#!/bin/sh\n")
        refused("trace of a file that is not executable", ["trace", "--", plain],
                f"'{plain}' is not executable", 126)
        junk = os.path.join(tmp, "junk")
        with open(junk, "wb") as f:
            f.write(b"\0\1\2 not a program")
        os.chmod(junk, 0o755)
        refused("trace of an executable the kernel cannot run", ["trace", "-o", "none",
                                                                  "--", junk],
                "cannot run", 126)


def test_settings():
    refused("trace -p", ["trace", "-p", "1", "--", "true"], "trace: -p is for attach and run", 2)
    refused("run -p to no process", ["run", "-p", "1", "-p", "4000000"],
            "run: no process with PID 4000000")
    refused("run -p to a kernel thread", ["run", "-p", "2"],
            "run: PID 2 (kthreadd) is a kernel thread")
    refused("--cgroup /nonexistent", ["run", "--cgroup", "/nonexistent"],
            "--cgroup: no cgroup /nonexistent")
    refused("--otlp-endpoint http://", ["run", "--otlp-endpoint", "http://"],
            'endpoint "http://" is not a valid')
    refused("--otlp-endpoint with -o text", ["run", "-o", "text", "--otlp-endpoint", "http://"],
            "--otlp-endpoint sends spans to a collector")


def write_failure(name, web, port, extra=(), **popen):
    """spanprobe writing spans where they cannot go: it must stop with one
    message and a non-zero status."""
    sp = subprocess.Popen([SPANPROBE, "run", "-v", "-p", str(web.pid), *extra],
                          stderr=subprocess.PIPE, text=True, **popen)
    head = wait_started(sp)  # probes attached
    curl(f"http://127.0.0.1:{port}/")
    try:
        _, err = sp.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        sp.send_signal(signal.SIGINT)
        _, err = sp.communicate(timeout=30)
    err = head + err
    msgs = [line for line in err.splitlines() if "writing spans failed" in line]
    check(f"{name}: non-zero exit, one message", sp.returncode not in (0, None) and
          len(msgs) == 1, f"rc={sp.returncode} {err!r}")


def test_write_failures():
    port = free_port()
    web = python_server(port, os.path.dirname(__file__))
    try:
        wait_port("127.0.0.1", port)
        with open("/dev/full", "w") as full:
            write_failure("stdout on /dev/full", web, port, stdout=full)
        write_failure("--output-file /dev/full", web, port, ["--output-file", "/dev/full"])
        write_failure("closed stdout", web, port, preexec_fn=lambda: os.close(1))
        r, w = os.pipe()
        os.close(r)
        write_failure("stdout a pipe nobody reads (EPIPE)", web, port, stdout=w)
        os.close(w)
    finally:
        web.stop()


test_attach_targets()
test_command_cannot_run()
test_settings()
test_write_failures()
finish()

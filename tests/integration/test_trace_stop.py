#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Stopping `spanprobe trace`: told to stop (Ctrl-C, SIGTERM), it reads on
while the command winds down, so what the command's signal handler calls
is traced; it passes SIGTERM on when the command did not get the signal
itself, and exits with the command's status.  Stopped before the command
was let run, it does not run it; started with SIGCHLD ignored, it still
ends with the command."""
import fcntl
import os
import pty
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, parse_otlp_json, program, require_root  # noqa: E402

require_root()
STOPPER = program("stopper")
PROBES = ["-u", "on_stop", "-u", "cleanup"]


class Trace:
    """spanprobe trace -- stopper ARGS, spans to a file; started() once the
    command runs traced (it prints "ready" after the probes are in)."""

    def __init__(self, args, tty=False, http=("--no-http",)):
        fd, self.path = tempfile.mkstemp(suffix=".jsonl")
        os.close(fd)
        argv = [SPANPROBE, "trace", *http, *PROBES, "-o", "otlp-json", "--output-file", self.path,
                "--", STOPPER, *args]
        self.master = None
        if tty:
            # A terminal of its own, spanprobe's group in its foreground:
            # ^C there is the kernel's SIGINT to the whole group.
            self.master, slave = pty.openpty()
            self.proc = subprocess.Popen(
                argv, stdin=slave, stdout=slave, stderr=subprocess.PIPE, text=True,
                start_new_session=True,
                preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
            os.close(slave)
            self.out = os.fdopen(self.master, "r", errors="replace")
        else:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)
            self.out = self.proc.stdout
        self.lines = []
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_err(self):
        # Line by line: a command left running holds the pipe open.
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def err(self):
        return "".join(self.lines)

    def started(self):
        ready = threading.Event()
        threading.Thread(target=lambda: self.out.readline() == "ready\n" and ready.set(),
                         daemon=True).start()
        return ready.wait(30)

    def ctrl_c(self):
        os.write(self.master, b"\x03")

    def wait(self, timeout=30):
        """(exit status, seconds taken, spans by name)."""
        start = time.monotonic()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        took = time.monotonic() - start
        time.sleep(0.2)  # the stderr reader
        with open(self.path) as f:
            spans = parse_otlp_json(f.read())
        os.unlink(self.path)
        names = {}
        for s in spans:
            names[s["name"]] = names.get(s["name"], 0) + 1
        self.spans = spans
        return self.proc.returncode, took, names


def test_kill_spanprobe():
    t = Trace(["exit", "5"])
    check("kill: the command runs traced", t.started(), t.err)
    t.proc.send_signal(signal.SIGTERM)
    rc, took, names = t.wait()
    check("kill spanprobe: SIGTERM passed on, the command's shutdown traced "
          "(1 on_stop, 3 cleanup)", names == {"on_stop": 1, "cleanup": 3}, f"{names} {t.err}")
    check("kill spanprobe: exits with the command's status (5)", rc == 5, f"rc={rc} {t.err}")
    check("kill spanprobe: no wait past the command's end", took < 4, took)


def test_ctrl_c_on_terminal():
    t = Trace(["exit", "4"], tty=True)
    check("Ctrl-C: the command runs traced", t.started(), t.err)
    t.ctrl_c()
    rc, took, names = t.wait()
    check("Ctrl-C on the terminal: the command's shutdown traced, the signal "
          "not passed on a second time (1 on_stop, 3 cleanup)",
          names == {"on_stop": 1, "cleanup": 3}, f"{names} {t.err}")
    check("Ctrl-C on the terminal: exits with the command's status (4)", rc == 4,
          f"rc={rc} {t.err}")
    os.close(t.master)


def test_command_dies_of_signal():
    t = Trace(["die"])
    check("die: the command runs traced", t.started(), t.err)
    t.proc.send_signal(signal.SIGINT)
    rc, took, names = t.wait()
    check("command killed by the SIGTERM passed on: status 128 + 15, shutdown traced",
          rc == 143 and names == {"on_stop": 1, "cleanup": 3}, f"rc={rc} {names} {t.err}")


def test_command_lingers():
    t = Trace(["linger"])
    check("linger: the command runs traced", t.started(), t.err)
    t.proc.send_signal(signal.SIGTERM)
    rc, took, names = t.wait()
    pid = t.spans[0]["_resource"]["process.pid"] if t.spans else 0
    alive = pid and os.path.exists(f"/proc/{pid}")
    check("a command still running after the grace period: stop after about 5 s, "
          "status 128 + 15, said", rc == 143 and 4.5 < took < 10 and "still running" in t.err,
          f"rc={rc} took={took:.1f} {t.err}")
    check("  what it did meanwhile is traced, and it is left running",
          names == {"on_stop": 1, "cleanup": 3} and alive, f"{names} pid={pid}")
    if alive:
        os.kill(pid, signal.SIGKILL)


def test_second_signal():
    # Batches held a minute: the shutdown's spans are still queued when
    # the second signal comes.
    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "60000"
    try:
        t = Trace(["linger"])
    finally:
        del os.environ["OTEL_BSP_SCHEDULE_DELAY"]
    check("second signal: the command runs traced", t.started(), t.err)
    t.proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    t.proc.send_signal(signal.SIGTERM)
    rc, took, names = t.wait()
    check("a second signal stops at once (status 128 + 15)", rc == 143 and took < 3,
          f"rc={rc} took={took:.1f} {t.err}")
    check("a second signal ends the wait, not the export: the shutdown read before it "
          "is exported (1 on_stop, 3 cleanup)", names == {"on_stop": 1, "cleanup": 3},
          f"{names} {t.err}")
    pid = t.spans[0]["_resource"]["process.pid"] if t.spans else 0
    if pid and os.path.exists(f"/proc/{pid}"):
        os.kill(pid, signal.SIGKILL)


def processes_with(token):
    """PIDs whose command line holds token."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def test_stop_while_starting():
    """Stopped while loading (HTTP capture's programs take a second or
    more), at several moments: the command must not run untraced and be
    left behind; stopped before it was let run, the status is 130."""
    for delay in (0.1, 0.3, 0.6, 0.9, 1.2, 1.6):
        token = f"sp-start-{os.getpid()}-{delay}"
        t = Trace(["exit", "3", token], http=())
        time.sleep(delay)
        t.proc.send_signal(signal.SIGINT)
        rc, took, names = t.wait()
        left = processes_with(token)
        ran = bool(names)
        # Let run just before the signal, the command may die of the
        # SIGTERM passed on before its handler is in: 143, no span.
        check(f"SIGINT {delay} s into the start: exit 130 and the command never ran, "
              f"or it ran traced and its status is the exit status (rc={rc})",
              (rc == 130 and not ran and "stopped before" in t.err)
              or rc in (3, 143), f"rc={rc} {names} {t.err}")
        check(f"  SIGINT {delay} s into the start: no command left running", not left, left)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        if delay == 0.1:
            check("  SIGINT 0.1 s into the start: before the launch", rc == 130, rc)


def test_sigchld_ignored():
    """A parent that ignores SIGCHLD passes SIG_IGN on across exec: the
    kernel then reaps the command, and waiting for it found nothing."""
    try:
        p = subprocess.run([SPANPROBE, "trace", "--no-http", "-u", "outer", "-o", "none",
                            "--", program("nested"), "3", "0", "0", "7"],
                           preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN),
                           capture_output=True, text=True, timeout=30)
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, err = None, f"still running after 30 s: {e.stderr}"
    check("SIGCHLD ignored by the parent: trace ends with its command, its status (7)",
          rc == 7 and "3 finished" in err, f"rc={rc} {err}")
    # What the command is given: SIGCHLD ignored, as without spanprobe;
    # SIGINT as spanprobe got it (not ignored here).
    p = subprocess.run([SPANPROBE, "trace", "-o", "none", "--", "grep", "SigIgn",
                        "/proc/self/status"],
                       preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN),
                       capture_output=True, text=True, timeout=30)
    ign = int(p.stdout.split()[1], 16) if p.stdout.startswith("SigIgn:") else -1
    check("SIGCHLD ignored by the parent: the command has it ignored too, SIGINT not",
          ign >= 0 and ign >> (signal.SIGCHLD - 1) & 1 and not ign >> (signal.SIGINT - 1) & 1,
          f"rc={p.returncode} {p.stdout!r} {p.stderr[-300:]}")


TESTS = {f.__name__: f for f in (test_sigchld_ignored, test_kill_spanprobe, test_ctrl_c_on_terminal,
                                 test_command_dies_of_signal, test_command_lingers,
                                 test_second_signal, test_stop_while_starting)}
for name in sys.argv[1:] or TESTS:
    TESTS[name]()
finish()

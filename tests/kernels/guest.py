#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs a command inside a Debian kernel under QEMU (TCG) and brings its
output and exit status back.

The guest sees this machine's root file system read-only over 9p, with a
tmpfs overlay on top so it may write; the command runs in the repository's
directory (the same path as here), so it runs the host's build.  Its output
comes back through a second 9p share, line by line as it is written.

    tests/kernels/guest.py [--kernel REGEX] [--timeout S] -- COMMAND ...

As a module: boot(kernel_dir, command, ...) returns a Result."""
import argparse
import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(REPO, os.environ.get("SP_BUILD", "build"))
CACHE = os.environ.get("SP_KERNELS_CACHE", os.path.join(BUILD, "kernels"))
QEMU = "qemu-system-x86_64"
MEMORY_MB = int(os.environ.get("SP_GUEST_MEMORY_MB", "4096"))
# Two emulated CPUs, each on a thread of its own (QEMU's multi-threaded
# TCG), so a guest uses both cores of this machine.
CPUS = int(os.environ.get("SP_GUEST_CPUS", "2"))
UP_MARK = "spguest: up "  # the job's first line: the guest has booted


class Result:
    """status: the command's exit status, None when it did not finish
    (then `reason` says why); boot_s: seconds until the command started;
    total_s: seconds until the guest was gone; console: its serial log;
    panicked: whether the guest's kernel panicked."""

    def __init__(self):
        self.status = None
        self.reason = ""
        self.panicked = False
        self.boot_s = None
        self.total_s = None
        self.console = ""


def kernel_dir(package):
    return os.path.join(CACHE, package)


def missing_tools():
    """Host programs a guest needs that are not installed."""
    return [t for t in (QEMU, "cpio", "xz", "busybox") if not shutil.which(t)]


def initramfs(kdir):
    """The guest's initramfs for the unpacked kernel package in kdir, built
    when missing or older than its sources.  Raises RuntimeError."""
    out = os.path.join(kdir, "initrd.img")
    sources = [os.path.join(HERE, n) for n in ("init", "initramfs.sh")]
    if (not os.path.exists(out)
            or os.path.getmtime(out) < max(os.path.getmtime(s) for s in sources)):
        p = subprocess.run([os.path.join(HERE, "initramfs.sh"), kdir, out],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"initramfs for {kdir} failed: {p.stderr.strip()}")
    return out


def vmlinuz(kdir):
    found = sorted(glob.glob(os.path.join(kdir, "boot", "vmlinuz-*")))
    if not found:
        raise RuntimeError(f"no boot/vmlinuz-* in {kdir}")
    return found[0]


def job_script(command, env):
    """The shell script the guest runs (as the chrooted root)."""
    lines = ["set -u", f"cd {shlex.quote(REPO)}",
             "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "export HOME=/root LANG=C.UTF-8",
             f'echo "{UP_MARK}$(cut -d" " -f1 /proc/uptime) s after the kernel started"']
    for k, v in sorted(env.items()):
        lines.append(f"export {k}={shlex.quote(v)}")
    lines.append(command if isinstance(command, str) else shlex.join(command))
    return "\n".join(lines) + "\n"


def boot(kdir, command, env=None, timeout=600, on_line=print, cpus=CPUS):
    """Boot the kernel unpacked in kdir and run command (a shell string or an
    argument list) in the repository's directory with env added; every line
    it prints goes to on_line as it comes (the first one is the UP_MARK
    line).  The guest is killed after `timeout` seconds."""
    res = Result()
    start = time.monotonic()
    try:
        kernel, initrd = vmlinuz(kdir), initramfs(kdir)
    except RuntimeError as e:
        res.reason = str(e)
        return res
    job = tempfile.mkdtemp(prefix="spguest-")
    try:
        with open(os.path.join(job, "cmd"), "w") as f:
            f.write(job_script(command, env or {}))
        out_path = os.path.join(job, "out")
        console_path = os.path.join(job, "console.log")
        args = [QEMU, "-accel", "tcg", "-cpu", "max", "-m", str(MEMORY_MB), "-smp", str(cpus),
                "-nographic", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
                "-append", "console=ttyS0 panic=-1 quiet",
                "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,"
                           "readonly=on,multidevs=remap",
                "-virtfs", f"local,path={job},mount_tag=job,security_model=none"]
        with open(console_path, "wb") as console:
            qemu = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=console,
                                    stderr=subprocess.STDOUT)
            _follow(qemu, out_path, start, timeout, res, on_line)
        res.total_s = time.monotonic() - start
        with open(console_path, errors="replace") as f:
            res.console = f.read()
        res.panicked = "Kernel panic - not syncing" in res.console
        status_path = os.path.join(job, "status")
        if res.reason:
            pass
        elif os.path.exists(status_path):
            with open(status_path) as f:
                res.status = int(f.read().strip() or "125")
            if res.status == 125 and "spguest: " in res.console:
                res.reason = _console_reason(res.console)
        else:
            res.reason = (f"the guest stopped (qemu status {qemu.returncode}) without the "
                          f"command's status; console: {_tail(res.console)}")
    finally:
        shutil.rmtree(job, ignore_errors=True)
    return res


def _follow(qemu, out_path, start, timeout, res, on_line):
    """Pass the job's output on, line by line, until qemu exits or the time
    is up (then qemu is killed and res.reason set)."""
    pos, partial = 0, b""
    while True:
        done = qemu.poll() is not None
        try:
            with open(out_path, "rb") as f:
                f.seek(pos)
                data = f.read()
        except FileNotFoundError:
            data = b""
        pos += len(data)
        partial += data
        *lines, partial = partial.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace")
            if res.boot_s is None and line.startswith(UP_MARK):
                res.boot_s = time.monotonic() - start
            on_line(line)
        if done:
            if partial:
                on_line(partial.decode(errors="replace"))
            return
        if time.monotonic() - start > timeout:
            qemu.kill()
            qemu.wait()
            res.reason = (f"timed out after {timeout} s"
                          + ("" if res.boot_s is not None else " before the command started"))
            if partial:
                on_line(partial.decode(errors="replace"))
            return
        time.sleep(0.2)


def _console_reason(console):
    lines = [ln.strip() for ln in console.splitlines() if "spguest: " in ln
             and "status" not in ln]
    return "; ".join(lines) or "the guest's set-up failed"


def _tail(text, n=15):
    """The console's last n lines; for a kernel that crashed, the lines
    from the first report of the crash (what it hit, where) instead."""
    lines = text.strip().splitlines()
    for i, ln in enumerate(lines):
        if any(w in ln for w in ("BUG:", "Oops", "general protection", "invalid opcode",
                                 "kernel BUG", "Kernel panic")):
            return " | ".join(x.strip() for x in lines[i:i + n])
    return " | ".join(ln.strip() for ln in lines[-n:])


def kernels_sh(function, *args):
    """The output of one function of common.sh (the kernel list's rules)."""
    p = subprocess.run(["sh", "-c", '. "$KERNELS_DIR/common.sh"; "$@"', "sh", function, *args],
                       capture_output=True, text=True, env=dict(os.environ, KERNELS_DIR=HERE))
    return p.stdout.strip()


def resolve(regex):
    """The package the kernel matrix's scripts resolve regex to, or ""."""
    return kernels_sh("kernels_resolve", regex)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel", default=r"linux-image-6\.1\.0-[0-9]+-amd64-unsigned",
                    help="regex of the kernel package (fetched by tests/kernels/fetch.sh)")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("command", nargs="+")
    a = ap.parse_args()
    missing = missing_tools()
    if missing:
        sys.exit(f"guest: missing {', '.join(missing)} (sh deploy/deps.sh installs them)")
    package = resolve(a.kernel)
    kdir = kernel_dir(package) if package else ""
    if not package or not os.path.exists(os.path.join(kdir, ".unpacked")):
        sys.exit(f"guest: kernel {a.kernel} not unpacked in {CACHE} (tests/kernels/fetch.sh)")
    res = boot(kdir, a.command, timeout=a.timeout, on_line=lambda s: print(s, flush=True))
    if res.status is None or res.reason:
        print(f"guest: {res.reason}", file=sys.stderr)
    print(f"guest: {package}: boot {res.boot_s or 0:.1f} s, total {res.total_s:.1f} s",
          file=sys.stderr)
    sys.exit(125 if res.status is None else res.status)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The x86-64 length decoder (capture/x86insn, driven by tests/tools/x86walk)
against objdump on real code: every function of a Go program
(tls_server), of a C program (spanprobe itself, gcc -O2 -flto) and of libc
(its exported functions, then all its code cut at its symbols, which
reaches the hidden AVX2 and EVEX string functions).  For each function
objdump decodes without "(bad)", the decoder must give exactly objdump's
instruction starts and return instructions.  objdump says "(bad)" only in
functions that are data, not code (Go's crypto/internal/boring/sig
markers are bytes laid out as a function): any other is a failure.
Counts of functions, instructions and returns compared are printed."""
import bisect
import os
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import BUILD, check, finish, program  # noqa: E402

X86WALK = os.path.join(BUILD, "tests", "tools", "x86walk")
SHF_EXECINSTR = 0x4
STT_FUNC = 2
# objdump's spelling of a near return, with the prefixes it may show.
# Functions that hold marker bytes rather than instructions (Go's
# src/crypto/internal/boring/sig/sig_amd64.s): objdump may not decode them.
NOT_CODE = re.compile(r"^crypto/internal/boring/sig\.")
RET = re.compile(r"^(?:(?:repz|rep|bnd|notrack|data16|cs|ds|rex\.\w*)\s+)*ret[qwl]?\b")


def elf_sections(data):
    """[(name, type, flags, addr, offset, size, link, entsize)] of an ELF64 file."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    raw = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
           for i in range(shnum)]
    strtab_off = raw[shstrndx][4]
    out = []
    for name, typ, flags, addr, off, size, link, _, _, entsize in raw:
        end = data.index(b"\0", strtab_off + name)
        out.append((data[strtab_off + name:end].decode(), typ, flags, addr, off,
                    size, link, entsize))
    return out


def elf_functions(path):
    """{(file offset, size): name} of the defined functions with a size, from
    .symtab (else .dynsym), in executable sections; aliases appear once."""
    with open(path, "rb") as f:
        data = f.read()
    secs = elf_sections(data)
    tables = [s for s in secs if s[1] == 2] or [s for s in secs if s[1] == 11]
    funcs = {}
    for _, _, _, _, off, size, link, entsize in tables:
        stroff = secs[link][4]
        for i in range(size // entsize):
            name, info, _, shndx, value, fsize = struct.unpack_from(
                "<IBBHQQ", data, off + i * entsize)
            if info & 0xf != STT_FUNC or fsize == 0 or shndx == 0 or shndx >= len(secs):
                continue
            sec = secs[shndx]
            if not sec[2] & SHF_EXECINSTR or not sec[3] <= value < sec[3] + sec[5]:
                continue
            fileoff = value - sec[3] + sec[4]
            end = data.index(b"\0", stroff + name)
            funcs.setdefault((fileoff, fsize, value), data[stroff + name:end].decode())
    return funcs, data


def sync_ranges(path):
    """The executable sections cut at every symbol's address, as objdump's
    linear sweep restarts there: {(file offset, size, vaddr): "section+off"}.
    For a library with only exported symbols this covers its hidden
    functions too (libc's AVX2 and EVEX string functions are not exported)."""
    with open(path, "rb") as f:
        data = f.read()
    secs = elf_sections(data)
    points = {}
    for _, typ, _, _, off, size, _, entsize in secs:
        if typ not in (2, 11):
            continue
        for i in range(size // entsize):
            _, _, _, shndx, value, _ = struct.unpack_from("<IBBHQQ", data, off + i * entsize)
            if 0 < shndx < len(secs) and secs[shndx][2] & SHF_EXECINSTR:
                points.setdefault(shndx, set()).add(value)
    ranges = {}
    for shndx, (name, _, flags, addr, off, size, _, _) in enumerate(secs):
        if not flags & SHF_EXECINSTR or not size:
            continue
        cuts = sorted({addr, addr + size} | {v for v in points.get(shndx, ())
                                             if addr <= v < addr + size})
        for lo, hi in zip(cuts, cuts[1:]):
            ranges[(lo - addr + off, hi - lo, lo)] = f"{name}+{lo - addr:#x}"
    return ranges, data


def objdump_insns(path):
    """(sorted instruction addresses, {address: text}) of objdump -d."""
    out = subprocess.run(["objdump", "-d", "-w", "-z", "--no-show-raw-insn", path],
                         capture_output=True, text=True, check=True).stdout
    text = {}
    for line in out.splitlines():
        m = re.match(r"^\s+([0-9a-f]+):\t(.*)$", line)
        if m:
            text[int(m.group(1), 16)] = m.group(2).strip()
    return sorted(text), text


def walk(path, ranges):
    """x86walk's answer per range: {offset: (status, starts, rets)}."""
    feed = "".join(f"{off} {size}\n" for off, size in ranges)
    out = subprocess.run([X86WALK, path], input=feed, capture_output=True, text=True,
                         check=True).stdout
    res = {}
    for line in out.splitlines():
        off, status, _, starts, rets = line.split(" ")
        res[int(off)] = (status,
                         [] if starts == "-" else [int(x) for x in starts.split(",")],
                         [] if rets == "-" else [int(x) for x in rets.split(",")])
    return res


def objdump_view(addrs, text, vaddr, size):
    """objdump's instruction starts and returns in [vaddr, vaddr+size), relative."""
    lo = bisect.bisect_left(addrs, vaddr)
    hi = bisect.bisect_left(addrs, vaddr + size)
    starts = [a - vaddr for a in addrs[lo:hi]]
    rets = [a - vaddr for a in addrs[lo:hi] if RET.match(text[a])]
    bad = any("(bad)" in text[a] for a in addrs[lo:hi])
    return starts, rets, bad


def describe_diff(name, off, vaddr, data, text, ours, theirs):
    """Where the decoder's walk first leaves objdump's."""
    i = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
             min(len(ours), len(theirs)))
    a = ours[i] if i < len(ours) else None
    b = theirs[i] if i < len(theirs) else None
    at = b if b is not None else (a or 0)
    return (f"{name} (file offset {off:#x}), instruction {i}: decoder +{a}, "
            f"objdump +{b} {text.get(vaddr + at, '')!r} "
            f"(bytes {data[off + at:off + at + 10].hex()})")


def compare(label, path, min_funcs, sweep=False):
    """One binary: every function (with `sweep`, every stretch of code
    between two symbols) compared; returns the returns compared."""
    funcs, data = sync_ranges(path) if sweep else elf_functions(path)
    addrs, text = objdump_insns(path)
    got = walk(path, [(off, size) for off, size, _ in funcs])
    same = differ = insns = rets = undecodable = vex = evex = 0
    bad_names = []
    first_diff = ""
    for (off, size, vaddr), name in sorted(funcs.items()):
        starts, orets, bad = objdump_view(addrs, text, vaddr, size)
        status, wstarts, wrets = got[off]
        if bad:
            bad_names.append(name)
            continue
        if status == "ok" and wstarts == starts and wrets == orets:
            same += 1
            insns += len(starts)
            vex += sum(data[off + a] in (0xc4, 0xc5) for a in starts)
            evex += sum(data[off + a] == 0x62 for a in starts)
            rets += len(orets)
            continue
        differ += 1
        undecodable += status != "ok"
        if not first_diff:
            first_diff = describe_diff(name, off, vaddr, data, text, wstarts, starts)
    what = "stretches" if sweep else "functions"
    print(f"# {label}: {len(funcs)} {what}, {same} identical "
          f"({insns} instructions, {vex} VEX, {evex} EVEX, {rets} returns), {differ} different "
          f"({undecodable} not decoded), {len(bad_names)} not compared "
          f"(objdump: (bad)) {' '.join(bad_names)}")
    check(f"{label}: at least {min_funcs} compared", same >= min_funcs,
          f"{same} compared")
    check(f"{label}: all {what} have objdump's instruction starts and returns",
          differ == 0, f"{differ} differ; first: {first_diff}")
    code = [n for n in bad_names if not NOT_CODE.match(n)]
    check(f"{label}: objdump decodes all {what} that hold code", not code,
          " ".join(code))
    return rets


def libc_path():
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if os.path.basename(p).startswith("libc.so"):
                return p
    return None


def main():
    if not check("x86walk is built (make tests-build)", os.access(X86WALK, os.X_OK)):
        finish()
    go_prog = program("tls_server")
    if check("the Go test program is built (deploy/deps.sh installs golang-go; "
             "make tests-build)", os.access(go_prog, os.X_OK)):
        go_rets = compare("go tls_server", go_prog, 3000)
        check("go tls_server: returns found", go_rets > 1000, f"{go_rets}")
    # Built with link-time optimisation, which inlines small functions
    # across files: fewer functions than one object per file gives.
    compare("C spanprobe", os.path.join(BUILD, "spanprobe"), 300)
    libc = libc_path()
    if check("libc found in this process's maps", libc is not None):
        name = os.path.basename(os.path.realpath(libc))
        compare(f"libc {name}", libc, 1000)
        compare(f"libc {name} code between symbols", libc, 1000, sweep=True)
    finish()


if __name__ == "__main__":
    main()

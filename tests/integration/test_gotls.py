#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capture/gotls (driven by tests/tools/gotls_facts) on the Go test program
tls_server and copies of it, against the Go toolchain, binutils and the
program's DWARF:
  - the version is the one `go version` names; the register ABI applies;
  - Read and Write entries are the symbols' file offsets (nm, program
    headers), their sizes the symbols' sizes;
  - the return offsets are exactly objdump's ret instructions in each
    function, and each is a C3 byte in the file;
  - the copy built with -ldflags=-s is "Go executable without symbols";
  - without .go.buildinfo the version comes from runtime.buildVersion;
  - a C program is not Go, a text file not ELF;
  - the *tls.Conn-to-fd field offsets are those of the DWARF."""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import BUILD, check, finish, program  # noqa: E402

FACTS = os.path.join(BUILD, "tests", "tools", "gotls_facts")
GO_PROG = program("tls_server")
FUNCS = {"read": "crypto/tls.(*Conn).Read", "write": "crypto/tls.(*Conn).Write"}


def facts(path):
    p = subprocess.run([FACTS, path], capture_output=True, text=True)
    out = {}
    fields = {}
    for line in p.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "field":
            name, off = value.rsplit(" ", 1)
            fields[name] = int(off)
        else:
            out[key] = value
    out["fields"] = fields
    out["rc"] = p.returncode
    return out


def offsets(value):
    return [] if value == "-" else [int(x) for x in value.split(",")]


def vaddr_to_offset(path, vaddr):
    """Through the PT_LOAD segment holding vaddr, as uprobes want it."""
    with open(path, "rb") as f:
        data = f.read()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        typ, _, off, va, _, _, memsz, _ = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if typ == 1 and va <= vaddr < va + memsz:
            return vaddr - va + off
    return None


def nm_symbols(path):
    """{name: (vaddr, size)} of nm -S."""
    out = subprocess.run(["nm", "-S", path], capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4:
            syms[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    return syms


def objdump_rets(path, vaddr, size):
    out = subprocess.run(["objdump", "-d", "-w", "--no-show-raw-insn",
                          f"--start-address={vaddr:#x}", f"--stop-address={vaddr + size:#x}",
                          path], capture_output=True, text=True).stdout
    return [int(m.group(1), 16) for m in
            re.finditer(r"^\s+([0-9a-f]+):\t(?:repz |rep |bnd )?ret", out, re.M)]


def check_functions(f, data):
    syms = nm_symbols(GO_PROG)
    for key, sym in FUNCS.items():
        vaddr, size = syms.get(sym, (0, 0))
        entry = int(f.get(f"{key}_entry", "0"))
        check(f"{sym}: entry at the symbol's file offset", vaddr and
              entry == vaddr_to_offset(GO_PROG, vaddr),
              f"gotls {entry}, nm {vaddr:#x}")
        check(f"{sym}: size {size} as the symbol's",
              int(f.get(f"{key}_size", "0")) == size, f.get(f"{key}_size"))
        rets = offsets(f.get(f"{key}_returns", "-"))
        want = [a - vaddr + entry for a in objdump_rets(GO_PROG, vaddr, size)]
        check(f"{sym}: returns are objdump's ret instructions ({len(want)})",
              want and rets == want, f"gotls {rets}, objdump {want}")
        check(f"{sym}: every return is a C3 byte",
              rets and all(data[r] == 0xc3 for r in rets), f"{rets}")


def dwarf_members(path, wanted):
    """{struct name: {member: offset}} for the named DWARF structures."""
    out = subprocess.run(["readelf", "--debug-dump=info", path], capture_output=True,
                         text=True).stdout
    structs, current, member = {}, None, None
    for line in out.splitlines():
        tag = re.match(r"^\s*<(\d+)><[0-9a-f]+>: Abbrev Number: \d+ \((\w+)\)", line)
        if tag:
            level, kind = int(tag.group(1)), tag.group(2)
            if level <= 1:
                current = "?" if kind == "DW_TAG_structure_type" else None
            member = {} if current and level == 2 and kind == "DW_TAG_member" else None
            continue
        name = re.search(r"DW_AT_name\s*:\s*(?:\(.*\): )?(\S+)\s*$", line)
        loc = re.search(r"DW_AT_data_member_location\s*:\s*(\d+)", line)
        if current == "?" and name:
            current = name.group(1)
            if current in wanted and current not in structs:
                structs[current] = {}
            elif current in structs:
                current = None  # a second copy: the first is kept
        elif member is not None and name:
            member["name"] = name.group(1)
        elif member is not None and loc and current in structs and "name" in member:
            structs[current][member["name"]] = int(loc.group(1))
    return structs


def check_dwarf(f):
    want = {  # tool's field name: (DWARF structure, member)
        "crypto/tls.Conn.conn": ("crypto/tls.Conn", "conn"),
        "runtime.iface.data": ("runtime.iface", "data"),
        "net.TCPConn.conn": ("net.TCPConn", "conn"),
        "net.conn.fd": ("net.conn", "fd"),
        "net.netFD.pfd": ("net.netFD", "pfd"),
        "internal/poll.FD.Sysfd": ("internal/poll.FD", "Sysfd"),
    }
    structs = dwarf_members(GO_PROG, {s for s, _ in want.values()})
    for field, (st, member) in want.items():
        dw = structs.get(st, {}).get(member)
        check(f"offset of {field} is {f['fields'].get(field)}, as in the DWARF",
              dw is not None and f["fields"].get(field) == dw, f"DWARF {dw}")


def check_variants(version):
    stripped = GO_PROG + ".stripped"
    s = facts(stripped)
    check("stripped copy: \"Go executable without symbols: PATH\"",
          s.get("verdict") == "NO_SYMBOLS" and
          s.get("message") == f"Go executable without symbols: {stripped}", f"{s}")
    check("stripped copy: no offsets given", s.get("read_returns") == "-" and
          s.get("write_returns") == "-" and s.get("read_entry") == "0", f"{s}")
    check("stripped copy: its version still read", s.get("version") == version,
          s.get("version"))
    with tempfile.TemporaryDirectory() as tmp:
        renamed = os.path.join(tmp, "renamed")
        subprocess.run(["objcopy", "--rename-section", ".go.buildinfo=.go.other",
                        GO_PROG, renamed], check=True)
        r = facts(renamed)
        check("without .go.buildinfo: version from runtime.buildVersion",
              r.get("verdict") == "PROBEABLE" and r.get("version") == version, f"{r}")
        text = os.path.join(tmp, "text")
        with open(text, "w") as fh:
            fh.write("#!/bin/sh\necho not elf\n")
        t = facts(text)
        check("a text file: not ELF", t.get("verdict") == "NOT_ELF" and
              t.get("message") == f"not an ELF file: {text}", f"{t}")
    c = facts(os.path.join(BUILD, "spanprobe"))
    check("a C program: not Go", c.get("verdict") == "NOT_GO" and c.get("is_go") == "0"
          and c.get("version") == "-", f"{c}")
    m = facts("/no/such/file")
    check("a missing file: an error, exit status 1", m["rc"] == 1, f"{m}")


def main():
    if not check("gotls_facts is built (make tests-build)", os.access(FACTS, os.X_OK)):
        finish()
    go = shutil.which("go")
    if not check("go is installed (deploy/deps.sh installs golang-go)", go) or \
            not check("the Go test program is built (make tests-build)",
                      os.access(GO_PROG, os.X_OK)):
        finish()
    # "go version go1.19.8 linux/amd64": the toolchain that built the program.
    version = subprocess.run([go, "version"], capture_output=True, text=True).stdout.split()[2]
    f = facts(GO_PROG)
    check(f"tls_server: probeable ({f.get('message')})", f.get("verdict") == "PROBEABLE",
          f"{f}")
    check(f"tls_server: version {version}, as go version says", f.get("version") == version,
          f.get("version"))
    m = re.match(r"go(\d+)\.(\d+)", version)
    check("tls_server: release and register ABI", m and
          f.get("release") == f"{m.group(1)}.{m.group(2)}" and f.get("regabi") == "1" and
          f.get("is_go") == "1" and f.get("has_symbols") == "1", f"{f}")
    with open(GO_PROG, "rb") as fh:
        data = fh.read()
    check_functions(f, data)
    check_dwarf(f)
    check_variants(version)
    finish()


if __name__ == "__main__":
    main()

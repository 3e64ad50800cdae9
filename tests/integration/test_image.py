#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`make image`: the OCI archive it writes holds one image whose config
runs spanprobe, and whose root file system, unpacked here by hand (index,
manifest, layers), runs it: chrooted, with /proc, /sys and /dev of the
host bound in as a DaemonSet container gets them, in a mount namespace of
its own (the mounts go with it, whatever happens), `spanprobe probes`
(privileged) sees what the host's build sees, and `spanprobe run`, with
only the capabilities deploy/k8s gives it and a read-only root, makes
the SERVER span of a request between a server and curl on the host, and
both spans of an HTTPS request from a short-lived curl (the host's
libssl, which no running process has loaded, probed from the image).
The root holds no compiler and no headers."""
import ctypes
import hashlib
import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import BUILD, ROOT, SPANPROBE, check, finish, parse_otlp_json, require_root  # noqa: E402

require_root()

ENTRYPOINT = "/usr/local/bin/spanprobe"


def version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        return re.search(r"^VERSION\s*:=\s*(\S+)", f.read(), re.M).group(1)


def make_image():
    """make image with this test's build; (rc, output, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run(["make", "--no-print-directory", f"BUILD={os.path.relpath(BUILD, ROOT)}",
                        "image"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, SP_KERNEL_MATRIX="0"))
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


def blob(oci, digest):
    algo, _, hexdigest = digest.partition(":")
    return os.path.join(oci, "blobs", algo, hexdigest)


def read_json_blob(oci, desc):
    with open(blob(oci, desc["digest"]), "rb") as f:
        data = f.read()
    check(f"blob {desc['digest'][:19]}... has its digest and size",
          "sha256:" + hashlib.sha256(data).hexdigest() == desc["digest"]
          and len(data) == desc["size"])
    return json.loads(data)


def unpack(archive, tmp, name):
    """The root file system and config of image `name` in an OCI archive."""
    oci = os.path.join(tmp, "oci")
    os.mkdir(oci)
    subprocess.run(["tar", "-xf", archive, "-C", oci], check=True)
    with open(os.path.join(oci, "index.json")) as f:
        index = json.load(f)
    found = [m for m in index["manifests"]
             if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == name]
    if not check(f"the archive's index names one image {name}", len(found) == 1,
                 json.dumps(index)):
        finish()
    manifest = read_json_blob(oci, found[0])
    config = read_json_blob(oci, manifest["config"])
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    layers = manifest["layers"]
    check("the image has layers, each a gzipped tar", layers and all(
        layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip" for layer in layers),
        json.dumps(layers))
    for layer in layers:
        path = blob(oci, layer["digest"])
        check(f"layer {layer['digest'][:19]}... has its size", os.path.getsize(path) == layer["size"])
        # A layer made from scratch has no whiteouts to apply.
        subprocess.run(["tar", "-xzpf", path, "-C", root, "--numeric-owner"], check=True)
    return root, config


def containerfile():
    """ENTRYPOINT, CMD, ENV and LABEL of deploy/Containerfile's last stage."""
    with open(os.path.join(ROOT, "deploy", "Containerfile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    stage = text[text.rindex("\nFROM "):]
    out = {"Env": [], "Labels": {}}
    for line in stage.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("ENTRYPOINT", "CMD"):
            out[word.capitalize() if word == "CMD" else "Entrypoint"] = json.loads(rest)
        elif word == "ENV":
            out["Env"] += shlex.split(rest)
        elif word == "LABEL":
            out["Labels"].update(kv.split("=", 1) for kv in shlex.split(rest))
    return out, text


def check_containerfile(cfg):
    cf, text = containerfile()
    labels = {k: v for k, v in cfg.get("Labels", {}).items() if not k.startswith("io.buildah.")}
    check("deploy/Containerfile: the entrypoint, command, environment and labels of make image's",
          cf["Entrypoint"] == cfg.get("Entrypoint") and cf.get("Cmd") == cfg.get("Cmd")
          and cf["Env"] == cfg.get("Env") and cf["Labels"] == labels, f"{cf} vs {cfg}")
    check("deploy/Containerfile takes its packages and root from the scripts make image runs",
          "deploy/image-packages.sh" in text and "image-rootfs.sh" in text
          and "deploy/deps.sh --build" in text)


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


def dpkg_packages(root):
    try:
        with open(os.path.join(root, "var/lib/dpkg/status")) as f:
            return set(re.findall(r"^Package: (\S+)$", f.read(), re.M))
    except OSError:
        return set()


def check_contents(root):
    """What the root holds: the build's spanprobe, its runtime packages,
    no toolchain, no headers."""
    inside = os.path.join(root, ENTRYPOINT.lstrip("/"))
    check("the root has spanprobe, the build's (same build ID)",
          os.access(inside, os.X_OK) and build_id(inside) == build_id(SPANPROBE) is not None,
          f"{build_id(inside)} vs {build_id(SPANPROBE)}")
    want = subprocess.run(["sh", os.path.join(ROOT, "deploy/image-packages.sh"), SPANPROBE],
                          capture_output=True, text=True).stdout.split()
    have = dpkg_packages(root)
    check("the dpkg status lists every runtime package (libbpf1, libc6, ...)",
          "libbpf1" in want and "libc6" in want and set(want) <= have, f"{want} vs {sorted(have)}")
    dev = sorted(p for p in have if p.endswith("-dev") or p in ("gcc", "cpp", "binutils", "clang"))
    check("no compiler or -dev package in the dpkg status", not dev, str(dev))
    tools = [t for t in ("gcc", "cc", "cpp", "clang", "ld", "as", "make", "apt", "apt-get", "dpkg")
             for d in ("usr/bin", "bin", "usr/local/bin") if os.path.lexists(os.path.join(root, d, t))]
    check("no compiler, linker, make or package manager in the root", not tools, str(tools))
    headers = [d for d in ("usr/include", "usr/local/include")
               if os.path.isdir(os.path.join(root, d)) and os.listdir(os.path.join(root, d))]
    check("no C headers in the root", not headers, str(headers))
    left = [d for d in ("usr/share/man", "usr/share/locale", "usr/share/info")
            if os.path.exists(os.path.join(root, d))]
    docs = [f for dp, _, fs in os.walk(os.path.join(root, "usr/share/doc")) for f in fs
            if f != "copyright"]
    check("no manuals, translations or documentation but copyright files",
          not left and not docs, f"{left} {docs[:5]}")
    check("the CA bundle is there (for a collector over TLS)",
          os.path.getsize(os.path.join(root, "etc/ssl/certs/ca-certificates.crt")) > 100000)


LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, PR_CAPBSET_DROP = 0x20000, 24
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
# What deploy/k8s/base/daemonset.yaml adds to uid 0 after dropping ALL.
DAEMONSET_CAPS = {"DAC_READ_SEARCH": 2, "SYS_PTRACE": 19, "PERFMON": 38, "BPF": 39}


def _sys(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, target, flags):
    _sys(LIBC.mount(src and src.encode(), target.encode(), None, flags, None),
         f"mount {src} {target}")


def chrooted(root, args, daemonset=False, **kw):
    """spanprobe ARGS chrooted into root, in a private mount namespace
    holding what a DaemonSet container of it has from the host: /proc
    (hostPID), /sys with what is mounted under it (BTF, tracefs, debugfs,
    bpffs, cgroups) and /dev.  Privileged (every capability) by default;
    with daemonset=True as deploy/k8s runs it: only the four capabilities
    its DaemonSet adds, and the image's root read-only.  The namespace and
    its mounts end with spanprobe."""
    for d in ("proc", "sys", "dev"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    last_cap = int(open("/proc/sys/kernel/cap_last_cap").read())

    def enter():
        _sys(LIBC.unshare(CLONE_NEWNS), "unshare")
        _mount("none", "/", MS_REC | MS_PRIVATE)
        if daemonset:
            _mount(root, root, MS_BIND)
            _mount(None, root, MS_BIND | MS_REMOUNT | MS_RDONLY)
        for d in ("proc", "sys", "dev"):
            _mount("/" + d, os.path.join(root, d), MS_BIND | MS_REC)
        os.chroot(root)
        os.chdir("/")
        if daemonset:
            for cap in range(last_cap + 1):
                if cap not in DAEMONSET_CAPS.values():
                    _sys(LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")

    return subprocess.Popen([ENTRYPOINT, *args], preexec_fn=enter, **kw)


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path + "/")]


def check_probes(root):
    p = chrooted(root, ["probes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=120)
    host = subprocess.run([SPANPROBE, "probes"], capture_output=True, text=True, timeout=120).stdout
    chosen = re.search(r"HTTP capture \(auto: (\w+)\)", out)
    check("spanprobe probes in the image: exit 0, names the HTTP hooks chosen",
          p.returncode == 0 and chosen and chosen.group(1) in ("sock", "fentry", "kprobes", "syscalls"),
          f"rc {p.returncode}: {out[-1500:]} {err[-1500:]}")
    # What the kernel offers, line by line, as the host's own build sees it.
    table = [line for line in out.splitlines() if re.match(r"  \S.* (yes|no)$", line)]
    host_table = [line for line in host.splitlines() if re.match(r"  \S.* (yes|no)$", line)]
    check("probes in the image sees what the host's build sees (BTF, tracefs, hooks)",
          table == host_table and len(table) >= 10, f"{table} vs {host_table}")


def start_server(docroot):
    p = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1",
                          "-d", docroot], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    line = ""
    if select.select([p.stdout], [], [], 20)[0]:
        line = p.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N (...)"
    if " port " not in line:
        p.kill()
        return None, 0
    return p, int(line.split(" port ")[1].split()[0])


def traced(root, port, server, url, curl_args=()):
    """spanprobe run in the image as deploy/k8s runs it (four capabilities,
    a read-only root, spans on stdout: the pod's log), narrowed to `port`;
    once it has started, one curl on the host to `url`, then SIGINT.
    Stops `server` too.  Returns (started, curl's status, exit status,
    stdout, stderr)."""
    agent = chrooted(root, ["run", "-v", "--port", str(port), "--output", "otlp-json"],
                     daemonset=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines, started, status = [], False, ""
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not started:
            if not select.select([agent.stderr], [], [], 1)[0]:
                continue
            line = agent.stderr.readline()
            if not line:
                break
            err_lines.append(line)
            started = "tracing HTTP of every process" in line
        status = subprocess.run(["curl", "-s", *curl_args, "-o", "/dev/null",
                                 "-w", "%{http_code}", url],
                                capture_output=True, text=True, timeout=30).stdout
        time.sleep(1.0)
    finally:
        agent.send_signal(signal.SIGINT)
        try:
            out, rest = agent.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
            out, rest = agent.communicate()
        server.kill()
        server.wait()
    return started, status, agent.returncode, out, "".join(err_lines) + rest


def check_run(root, tmp):
    docroot = os.path.join(tmp, "www")
    os.mkdir(docroot)
    with open(os.path.join(docroot, "hello-image.txt"), "w") as f:
        f.write("hello\n")
    server, port = start_server(docroot)
    if not check("a python3 http.server started on the host", server is not None):
        return
    started, status, rc, out, err = traced(root, port, server,
                                           f"http://127.0.0.1:{port}/hello-image.txt")
    check("spanprobe run started in the image with the DaemonSet's four capabilities"
          " and a read-only root", started, err[-2000:])
    check("curl on the host got 200", status == "200", status)
    check("spanprobe run in the image, as the DaemonSet runs it, exited 0 on SIGINT",
          rc == 0, err[-2000:])
    check("it had no capability missing to say (the DaemonSet's four suffice)",
          "missing capability" not in err, err[-2000:])
    spans = parse_otlp_json(out)
    servers = [s for s in spans if s["kind"] == 2]
    want = {"http.request.method": "GET", "url.path": "/hello-image.txt",
            "http.response.status_code": 200, "server.port": port}
    got = [{k: s["_attrs"].get(k) for k in want} for s in servers]
    check("exactly one SERVER span: GET /hello-image.txt, 200, the server's port",
          got == [want], f"{got}; all spans: {[(s['name'], s['kind']) for s in spans]}")
    if servers:
        res = servers[0]["_resource"]
        check("its resource names the host's server process (read through /proc)",
              res.get("process.pid") == server.pid
              and str(res.get("process.executable.name", "")).startswith("python3"),
              str(res))


def start_https_server():
    """The Go TLS test server (crypto/tls: no libssl) on a free port;
    (process, port).  Not the host's libssl: then only the short-lived
    client below loads it."""
    prog = os.path.join(BUILD, "tests", "programs", "tls_server")
    if not os.access(prog, os.X_OK):
        return None, 0
    p = subprocess.Popen([prog, "serve", "-port", "0"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline() if select.select([p.stdout], [], [], 20)[0] else ""
    if not line.startswith("listening "):
        p.kill()
        return None, 0
    return p, int(line.split()[1])


def check_https(root):
    """The host's libssl is probed from inside the image (the image's own
    is another file), though no running process has it loaded: a curl
    started after spanprobe, short-lived, gives its CLIENT span of an
    HTTPS request, and the Go server its SERVER span."""
    server, port = start_https_server()
    if not check("the Go HTTPS test server (tests/programs/tls_server.go; the Go toolchain "
                 "builds it) started on the host", server is not None):
        return
    _, status, _, out, err = traced(root, port, server, f"https://127.0.0.1:{port}/tls-in-image",
                                    ["-k"])
    check("HTTPS: curl on the host got 200", status == "200", status)
    spans = parse_otlp_json(out)
    got = sorted((s["kind"], s["_attrs"].get("url.path"), s["_attrs"].get("http.response.status_code"))
                 for s in spans)
    check("HTTPS from the image: one SERVER and one CLIENT span (curl, short-lived, on the "
          "host's libssl), GET /tls-in-image, 200",
          got == [(2, "/tls-in-image", 200), (3, "/tls-in-image", 200)],
          f"{got}; {[x for x in err.splitlines() if 'tls' in x]}")


def main():
    name = "spanprobe:" + version()
    rc, out, seconds = make_image()
    print(f"# make image: {seconds:.1f} s")
    if not check("make image exits 0", rc == 0, out[-3000:]):
        finish()
    size = re.search(r"image: ([\d.]+) MB compressed .*, ([\d.]+) MB unpacked", out)
    check("make image reports the compressed and unpacked sizes", size is not None, out[-1000:])
    if size:
        print(f"# image size: {size.group(1)} MB compressed, {size.group(2)} MB unpacked")
    archive = os.path.join(BUILD, "image", "spanprobe-oci.tar")
    tmp = tempfile.mkdtemp(prefix="sp-image-", dir="/var/tmp")
    try:
        root, config = unpack(archive, tmp, name)
        cfg = config.get("config", {})
        check("the image config: entrypoint spanprobe, command run",
              cfg.get("Entrypoint") == [ENTRYPOINT] and cfg.get("Cmd") == ["run"], json.dumps(cfg))
        check("the image config: its version label and os/architecture",
              cfg.get("Labels", {}).get("org.opencontainers.image.version") == version()
              and config.get("os") == "linux" and config.get("architecture"), json.dumps(config))
        check_containerfile(cfg)
        check_contents(root)
        check_probes(root)
        check_run(root, tmp)
        check_https(root)
        check("no mount is left under the image's root", not mounts_under(root),
              str(mounts_under(root)))
    finally:
        left = mounts_under(tmp)
        if not left:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            check("nothing mounted under the test's directory", False, f"{left}; {tmp} kept")
    finish()


if __name__ == "__main__":
    main()

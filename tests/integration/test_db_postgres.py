#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PostgreSQL calls as CLIENT spans, against Debian's PostgreSQL server
started here (data in a temporary directory, TCP on 127.0.0.1, TLS with a
self-signed certificate): psql's simple queries, a syntax error, a
transaction, a statement psql sends over TLS; pgbench's protocol-level
prepared statement executed 100 times; psycopg2's queries (client-side
parameters), SQL PREPARE/EXECUTE and an error; a small HTTP service that
runs one query per request, whose database span is the child of the
request's SERVER span; a result past the capture.  Each in text,
OTLP/JSON and OTLP to a receiver, with exact counts, names, statuses and
attributes; and the literals sent ('s3cret', a card number) appear in no
exported byte.  Then the server's side (nothing by default, SERVER spans
with --db-server-spans) and a pool's connection opened before spanprobe
started (met mid-stream)."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, parse_otlp_json, require_root  # noqa: E402
from otlprx import Receiver, attrs, spans_of  # noqa: E402

require_root()

PORT = 25432
HTTP_PORT = 28432
PY = "/usr/bin/python3"
SECRET, CARD = "s3cret", "4111111111111111"
PREPARED = "SELECT owner FROM accounts WHERE id = $1"
BIG = 200000

# The client side of the workload: psycopg2 (literals interpolated by the
# client), SQL PREPARE/EXECUTE, an error.
PSYCOPG = r'''
import sys, psycopg2
port, secret, card = sys.argv[1], sys.argv[2], sys.argv[3]
c = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="shop",
                     sslmode="disable")
cur = c.cursor()
cur.execute("SELECT owner FROM accounts WHERE card = %s AND owner <> %s", (card, secret))
cur.fetchall()
c.commit()
c.autocommit = True
cur.execute("PREPARE byid (int) AS SELECT owner FROM accounts WHERE id = $1")
for i in range(3):
    cur.execute("EXECUTE byid (%s)", (i,))
try:
    cur.execute("SELEC owner FROM accounts")
except psycopg2.errors.SyntaxError:
    pass
c.close()
'''

# A pool's connection, opened before spanprobe starts: its queries come
# when told.
POOLED = r'''
import sys, psycopg2
c = psycopg2.connect(host="127.0.0.1", port=sys.argv[1], user="postgres", dbname="shop",
                     sslmode="disable")
c.autocommit = True
cur = c.cursor()
cur.execute("SELECT 1")
print("connected", flush=True)
sys.stdin.readline()
cur.execute("SELECT owner FROM accounts WHERE id = %s", (2,))
cur.fetchall()
cur.execute("UPDATE accounts SET owner = owner WHERE id = %s", (3,))
print("done", flush=True)
sys.stdin.readline()
'''

# The HTTP service: one connection and one query per request.
SERVICE = r'''
import sys, psycopg2
from http.server import BaseHTTPRequestHandler, HTTPServer
port, http_port = sys.argv[1], int(sys.argv[2])

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        c = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="shop",
                             sslmode="disable")
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SELECT count(*) FROM accounts WHERE id = %s", (int(self.path.rsplit("/", 1)[1]),))
        body = str(cur.fetchone()[0]).encode()
        c.close()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass

srv = HTTPServer(("127.0.0.1", http_port), H)
print("ready", flush=True)
srv.serve_forever()
'''


def pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return os.path.dirname(found[-1]) if found else None


class Postgres:
    """A server of our own: initdb as postgres (it refuses root), TLS with
    a self-signed certificate, stopped (immediately) at the end."""

    def __init__(self, bindir):
        self.bin = bindir
        self.dir = tempfile.mkdtemp(prefix="sp-pg-")
        os.chmod(self.dir, 0o755)
        shutil.chown(self.dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        self.as_pg([os.path.join(bindir, "initdb"), "-D", self.data, "-A", "trust", "-U",
                    "postgres", "--no-sync"])
        key, crt = os.path.join(self.data, "server.key"), os.path.join(self.data, "server.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", crt],
                       check=True, capture_output=True)
        for f in (key, crt):
            shutil.chown(f, "postgres")
            os.chmod(f, 0o600)
        opts = (f"-p {PORT} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c ssl=on -c ssl_cert_file={crt} -c ssl_key_file={key}")
        self.as_pg([os.path.join(bindir, "pg_ctl"), "-D", self.data, "-o", opts, "-l",
                    os.path.join(self.dir, "log"), "-w", "start"])
        self.psql("postgres", "-c", "CREATE DATABASE shop")
        self.psql("shop", "-c", "CREATE TABLE accounts (id int, owner text, card text)",
                  "-c", "INSERT INTO accounts VALUES (1, 'ann', '5500000000000004'), "
                  "(2, 'bob', '5500000000000012'), (3, 'cy', '5500000000000020')")

    def as_pg(self, args):
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                       capture_output=True, cwd=self.dir)

    def psql(self, db, *args, ssl="disable", check_rc=True):
        env = dict(os.environ, PGSSLMODE=ssl, PGCONNECT_TIMEOUT="10")
        return subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(PORT), "-U",
                               "postgres", "-d", db, *args], env=env, capture_output=True,
                              text=True, check=check_rc, timeout=60)

    def stop(self):
        try:
            self.as_pg([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate",
                        "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def workload(pg, run_id, tmp):
    """Every client's calls; the spans expected from them, in order of the
    checks."""
    pg.psql("shop", "-c", f"SELECT id FROM accounts WHERE owner = '{SECRET}'",
            "-c", f"INSERT INTO accounts VALUES ({10 + run_id}, 'dave', '{CARD}')")
    pg.psql("shop", "-c", "SELEC 1", check_rc=False)
    pg.psql("shop", "-c", "BEGIN", "-c",
            f"INSERT INTO accounts VALUES ({20 + run_id}, 'erin', '{SECRET}')",
            "-c", "COMMIT")
    pg.psql("shop", "-c", "SELECT count(*) FROM accounts", ssl="require")
    # A result past the capture: its rows are skipped, its span cut short;
    # the next query is read again.
    pg.psql("shop", "-o", "/dev/null", "-c", f"SELECT g FROM generate_series(1, {BIG}) g",
            "-c", "SELECT 2 AS after")
    script = os.path.join(tmp, "prepared.sql")
    with open(script, "w") as f:
        f.write("\\set id random(1, 3)\n" + PREPARED.replace("$1", ":id") + ";\n")
    subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", "1", "-t", "100", "-f", script,
                    "-h", "127.0.0.1", "-p", str(PORT), "-U", "postgres", "shop"],
                   env=dict(os.environ, PGSSLMODE="disable"), check=True, capture_output=True,
                   timeout=60)
    subprocess.run([PY, "-c", PSYCOPG, str(PORT), SECRET, CARD], check=True, timeout=60)
    for i in (1, 2, 3):
        subprocess.run(["curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{HTTP_PORT}/owner/{i}"],
                       check=True, timeout=30)


TEXT_LINE = re.compile(r"^\S+Z\s+[\d.]+us\s+(SERVER|CLIENT|INTERNAL)\s+(.*?) status=(\S+?)(?:\((.*?)\))?"
                       r" trace=(\S+) span=(\S+)(?: parent=(\S+))?(.*)$")
TEXT_ATTR = re.compile(r'(\S+?)=("(?:[^"\\]|\\.)*"|\S+)')


def parse_text(out):
    """Spans of the text output, in the shape of the OTLP/JSON ones."""
    spans = []
    for line in out.splitlines():
        m = TEXT_LINE.match(line)
        if not m:
            continue
        kind, name, status, msg, trace, span, parent, rest = m.groups()
        a = {}
        for k, v in TEXT_ATTR.findall(rest):
            a[k] = json.loads(v) if v.startswith('"') else int(v) if v.lstrip("-").isdigit() else v
        spans.append({"kind": {"SERVER": 2, "CLIENT": 3}.get(kind, 1), "name": name,
                      "status": {"code": 2 if status == "ERROR" else 0, "message": msg or ""},
                      "traceId": trace, "spanId": span, "parentSpanId": parent or "",
                      "_attrs": a})
    return spans


def otlp_shape(span):
    """A receiver's span in the shape of the OTLP/JSON ones."""
    s = dict(span)
    s["_attrs"] = attrs(span.get("attributes"))
    st = span.get("status") or {}
    s["status"] = {"code": st.get("code", 0), "message": st.get("message", "")}
    s["parentSpanId"] = span.get("parentSpanId") or ""
    return s


def code(s):
    c = s["status"].get("code", 0)
    return {"STATUS_CODE_ERROR": 2, "STATUS_CODE_OK": 1, "STATUS_CODE_UNSET": 0}.get(c, c)


def ours(spans):
    """Our server's database spans, and the HTTP service's spans."""
    db = [s for s in spans if s["_attrs"].get("db.system.name") == "postgresql"
          and s["_attrs"].get("server.port") == PORT]
    http = [s for s in spans if s["_attrs"].get("server.port") == HTTP_PORT
            and int(s["kind"]) == 2]
    return db, http


def by_text(db, text):
    return [s for s in db if s["_attrs"].get("db.query.text") == text]


def check_spans(fmt, spans, exported):
    db, http = ours(spans)
    t = lambda q: by_text(db, q)  # noqa: E731
    check(f"{fmt}: every database span is a CLIENT span of db.namespace shop",
          db and all(int(s["kind"]) == 3 and s["_attrs"].get("db.namespace") == "shop"
                     for s in db), [(s["name"], s["kind"], s["_attrs"].get("db.namespace"))
                                    for s in db if int(s["kind"]) != 3 or
                                    s["_attrs"].get("db.namespace") != "shop"])
    sel = t("SELECT id FROM accounts WHERE owner = ?")
    check(f"{fmt}: psql's SELECT: one span 'SELECT accounts', sanitised",
          len(sel) == 1 and sel[0]["name"] == "SELECT accounts"
          and sel[0]["_attrs"].get("db.operation.name") == "SELECT"
          and sel[0]["_attrs"].get("db.collection.name") == "accounts"
          and sel[0]["_attrs"].get("db.response.returned_rows") == 0 and code(sel[0]) == 0,
          sel)
    ins = t("INSERT INTO accounts VALUES (?)")
    check(f"{fmt}: psql's INSERTs (alone and in the transaction): 2 spans 'INSERT accounts'",
          len(ins) == 2 and all(s["name"] == "INSERT accounts" and code(s) == 0 for s in ins),
          [(s["name"], s["_attrs"].get("db.query.text")) for s in db if "INSERT" in s["name"]])
    for word in ("BEGIN", "COMMIT"):
        got = t(word)
        check(f"{fmt}: {word}: a span each in psql's transaction and psycopg2's",
              len(got) == 2 and all(s["name"] == word and code(s) == 0 for s in got),
              [(s["name"], s["_attrs"].get("db.query.text")) for s in got])
    err = t("SELEC ?")
    check(f"{fmt}: psql's syntax error: ERROR, SQLSTATE 42601",
          len(err) == 1 and code(err[0]) == 2
          and err[0]["_attrs"].get("db.response.status_code") == "42601"
          and err[0]["_attrs"].get("error.type") == "42601"
          and err[0]["status"]["message"] == "syntax error at or near ?", err)
    tls = t("SELECT count(*) FROM accounts")
    check(f"{fmt}: psql over TLS (sslmode=require): one span from the plaintext",
          len(tls) == 1 and tls[0]["name"] == "SELECT accounts"
          and tls[0]["_attrs"].get("db.response.returned_rows") == 1, tls)
    big = t("SELECT g FROM generate_series(?) g")
    after = t("SELECT ? AS after")
    check(f"{fmt}: a result of {BIG} rows: its span cut short (spanprobe.partial), no status",
          len(big) == 1 and big[0]["_attrs"].get("spanprobe.partial") == "response"
          and code(big[0]) == 0 and "db.response.returned_rows" not in big[0]["_attrs"],
          [(s["name"], s["_attrs"]) for s in db if "generate" in s["_attrs"].get("db.query.text", "")])
    check(f"{fmt}: the query after it is decoded whole",
          len(after) == 1 and "spanprobe.partial" not in after[0]["_attrs"]
          and after[0]["_attrs"].get("db.response.returned_rows") == 1, after)
    prep = t(PREPARED + ";")  # as pgbench's script line has it
    check(f"{fmt}: pgbench's prepared statement executed 100 times: 100 spans with its text",
          len(prep) == 100 and all(s["name"] == "SELECT accounts" and code(s) == 0
                                   and s["_attrs"].get("db.response.returned_rows") == 1
                                   for s in prep),
          (len(prep), sorted({(s["name"], s["_attrs"].get("db.query.text")) for s in db})))
    pq = t("SELECT owner FROM accounts WHERE card = ? AND owner <> ?")
    check(f"{fmt}: psycopg2's query: one span, sanitised", len(pq) == 1 and code(pq[0]) == 0, pq)
    pp = [s for s in db if s["_attrs"].get("db.operation.name") == "PREPARE"]
    ex = [s for s in db if s["_attrs"].get("db.operation.name") == "EXECUTE"]
    check(f"{fmt}: SQL PREPARE once, EXECUTE three times",
          len(pp) == 1 and len(ex) == 3 and all(s["_attrs"].get("db.query.text") == "EXECUTE byid (?)"
                                                for s in ex),
          [(s["name"], s["_attrs"].get("db.query.text")) for s in pp + ex])
    perr = t("SELEC owner FROM accounts")
    check(f"{fmt}: psycopg2's syntax error: ERROR 42601", len(perr) == 1 and code(perr[0]) == 2
          and perr[0]["_attrs"].get("db.response.status_code") == "42601", perr)
    svc = t("SELECT count(*) FROM accounts WHERE id = ?")
    check(f"{fmt}: the HTTP service: 3 SERVER spans", len(http) == 3,
          [(s["name"], s["kind"]) for s in http])
    kids = sorted(len([d for d in db if d.get("parentSpanId") == h["spanId"]]) for h in http)
    check(f"{fmt}: each request's SERVER span has exactly one child, its query's CLIENT span",
          kids == [1, 1, 1] and len(svc) == 3 and all(
              any(s.get("parentSpanId") == h["spanId"] and s["traceId"] == h["traceId"]
                  for h in http) for s in svc), kids)
    # psql: 2 + 1 + 3 + 1 (TLS) + 2 (the large result); pgbench: 100;
    # psycopg2: 3 + 1 + 3 + 1; the service: 3.
    want = 2 + 1 + 3 + 1 + 2 + 100 + 3 + 1 + 3 + 1 + 3
    check(f"{fmt}: exactly {want} database spans in all", len(db) == want,
          sorted({s["name"] for s in db}) if len(db) != want else "")
    for lit in (SECRET, CARD):
        check(f"{fmt}: the literal {lit[:3]}... appears in no exported byte",
              lit.encode() not in exported)


def agent(fmt, extra, exe=True):
    clients = ["--exe", "psql", "--exe", "pgbench", "--exe", "python3*"] if exe else []
    args = [SPANPROBE, "run", "-v", *clients, *extra]
    a = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = []
    ready = threading.Event()

    def read_err():
        for line in a.stderr:
            err.append(line.decode(errors="replace"))
            if "tracing HTTP of" in err[-1]:
                ready.set()
    th = threading.Thread(target=read_err, daemon=True)
    th.start()
    out = []
    tout = threading.Thread(target=lambda: out.append(a.stdout.read()), daemon=True)
    tout.start()
    check(f"{fmt}: spanprobe started", ready.wait(30) and a.poll() is None, "".join(err)[-2000:])
    return a, err, out, th, tout


def stop(a, th, tout):
    a.send_signal(signal.SIGINT)
    a.wait(timeout=30)
    th.join(5)
    tout.join(5)
    return a.returncode


def one_run(pg, run_id, fmt, tmp):
    rx = None
    extra = {"text": ["-o", "text"], "OTLP/JSON": ["-o", "otlp-json"]}.get(fmt)
    if extra is None:
        rx = Receiver(tmp)
        check("OTLP: the receiver listens", rx.ready)
        extra = ["--otlp-endpoint", rx.endpoint()]
    a, err, out, th, tout = agent(fmt, extra)
    try:
        workload(pg, run_id, tmp)
        time.sleep(1)
    finally:
        rc = stop(a, th, tout)
    raw = out[0] if out else b""
    if fmt == "text":
        spans = parse_text(raw.decode(errors="replace"))
    elif fmt == "OTLP/JSON":
        spans = parse_otlp_json(raw.decode(errors="replace"))
    else:
        time.sleep(0.5)
        reqs, dumps = rx.take()
        spans = [otlp_shape(s) for _, _, s in spans_of(dumps)]
        raw = json.dumps([reqs, dumps]).encode()
        for path in glob.glob(os.path.join(tmp, "*.jsonl")):
            with open(path, "rb") as f:
                raw += f.read()
        rx.stop()
    check(f"{fmt}: spanprobe exited cleanly", rc == 0, "".join(err)[-1500:])
    report = [line for line in err if line.startswith("pgsql:")]
    check(f"{fmt}: the decoder lost its place once (the large result), knew every statement",
          report and re.search(r" 0 executes of unknown statements, .* 0 frontend and 1 backend "
                               r"framing losses, 0 responses to no call", report[-1]), report)
    check_spans(fmt, spans, raw)


def server_side(pg):
    """The server traced: nothing by default; a SERVER span a query with
    --db-server-spans."""
    for flag in ([], ["--db-server-spans"]):
        what = "with --db-server-spans" if flag else "by default"
        a, err, out, th, tout = agent(f"server {what}", ["--exe", "postgres", "-o", "otlp-json",
                                                         *flag], exe=False)
        try:
            # The session stays a second: the server's process (a fork
            # for this connection) is then still there when spanprobe
            # reads what it is (the --exe filter).
            pg.psql("shop", "-c", f"SELECT id FROM accounts WHERE card = '{CARD}'",
                    "-c", "\\! sleep 1")
            time.sleep(0.5)
        finally:
            rc = stop(a, th, tout)
        raw = out[0] if out else b""
        spans = [s for s in parse_otlp_json(raw.decode(errors="replace"))
                 if s["_attrs"].get("db.system.name") == "postgresql"]
        check(f"server {what}: spanprobe exited cleanly", rc == 0, "".join(err)[-1500:])
        if not flag:
            check("server by default: no span", spans == [], [s["name"] for s in spans])
            continue
        check("server with --db-server-spans: one SERVER span for the query",
              len(spans) == 1 and int(spans[0]["kind"]) == 2
              and spans[0]["name"] == "SELECT accounts"
              and spans[0]["_attrs"].get("db.namespace") == "shop"
              and spans[0]["_attrs"].get("db.query.text") == "SELECT id FROM accounts WHERE card = ?",
              [(s["name"], s["kind"], s["_attrs"]) for s in spans])
        check("server with --db-server-spans: the card number appears in no exported byte",
              CARD.encode() not in raw)


def midstream(pg):
    """A connection met mid-stream (opened before spanprobe started): its
    queries are spans all the same, without the database's name."""
    pool = subprocess.Popen([PY, "-c", POOLED, str(PORT)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        check("mid-stream: the pool's connection is open", pool.stdout.readline().strip() ==
              "connected")
        a, err, out, th, tout = agent("mid-stream", ["-o", "otlp-json"])
        try:
            pool.stdin.write("go\n")
            pool.stdin.flush()
            check("mid-stream: the queries ran", pool.stdout.readline().strip() == "done")
            time.sleep(0.5)
        finally:
            rc = stop(a, th, tout)
    finally:
        pool.stdin.close()
        pool.wait(timeout=10)
    spans = ours(parse_otlp_json((out[0] if out else b"").decode(errors="replace")))[0]
    check("mid-stream: spanprobe exited cleanly", rc == 0, "".join(err)[-1500:])
    got = [(s["name"], s["_attrs"].get("db.query.text"), "db.namespace" in s["_attrs"])
           for s in spans]
    check("mid-stream: the 2 queries after spanprobe started, no db.namespace",
          got == [("SELECT accounts", "SELECT owner FROM accounts WHERE id = ?", False),
                  ("UPDATE accounts", "UPDATE accounts SET owner = owner WHERE id = ?", False)],
          got)


def main():
    bindir = pg_bin()
    if not check("PostgreSQL server installed (deploy/deps.sh: postgresql)", bindir is not None):
        finish()
    for tool in ("psql", "pgbench", "curl", "openssl"):
        if not check(f"{tool} installed", shutil.which(tool) is not None):
            finish()
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        check("python3-psycopg2 installed (deploy/deps.sh)", False)
        finish()
    pg = Postgres(bindir)
    tmp = tempfile.mkdtemp(prefix="sp-pgtest-")
    service = subprocess.Popen([PY, "-c", SERVICE, str(PORT), str(HTTP_PORT)],
                               stdout=subprocess.PIPE, text=True)
    try:
        check("the HTTP service is up", service.stdout.readline().strip() == "ready")
        for i, fmt in enumerate(("OTLP/JSON", "text", "OTLP")):
            one_run(pg, i, fmt, tmp)
        server_side(pg)
        midstream(pg)
    finally:
        service.kill()
        service.wait()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()

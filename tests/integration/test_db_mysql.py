#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""MariaDB calls as CLIENT spans, against a real MariaDB server (Debian's
mariadb-server) started here on 127.0.0.1:23306 with its data in a
temporary directory (TLS offered; two clients ask for it): the `mariadb`
client (queries, a syntax error, a duplicate key, a transaction,
PREPARE/EXECUTE in SQL, USE), PyMySQL (parameters, 20,000 rows, an error,
a transaction, select_db, ping, USE) and a C program on libmariadb's
binary protocol (a statement prepared once, executed 100 times), each
checked alike in text, OTLP/JSON and OTLP to a real receiver; the first
two over TLS; a small HTTP service running a query per request (the call
is the child of the request).  The literals 's3cret' and 4111111111111111
never appear in any exported byte.  The server itself, traced, gives no
spans unless asked."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import (SPANPROBE, check, finish, parse_otlp_json, require_root,  # noqa: E402
                    run)
from otlprx import Receiver, attrs, spans_of  # noqa: E402

require_root()

PORT = 23306
CLIENT = ["mariadb", "-h", "127.0.0.1", "-P", str(PORT), "--skip-ssl", "-u", "root"]
SECRETS = ("s3cret", "4111111111111111")

SCRIPT = """SELECT id FROM cards WHERE n = 's3cret';
INSERT INTO cards VALUES (1, 's3cret');
INSERT INTO cards VALUES (2, 's3cret');
selec 4111111111111111;
BEGIN;
UPDATE cards SET id = 3 WHERE n = 's3cret';
COMMIT;
PREPARE s FROM 'SELECT n FROM cards WHERE id = ?';
SET @a = 3;
EXECUTE s USING @a;
DEALLOCATE PREPARE s;
USE other;
SELECT 1;
"""

# (name, db.namespace, db.query.text, status code) of each call, in order.
# USE is the client's "SELECT DATABASE()" and a COM_INIT_DB.
SCRIPT_SPANS = [
    ("SELECT cards", "shop", "SELECT id FROM cards WHERE n = ?", None),
    ("INSERT cards", "shop", "INSERT INTO cards VALUES (?)", None),
    ("INSERT cards", "shop", "INSERT INTO cards VALUES (?)", "1062"),
    ("SELEC", "shop", "selec ?", "1064"),
    ("BEGIN", "shop", "BEGIN", None),
    ("UPDATE cards", "shop", "UPDATE cards SET id = ? WHERE n = ?", None),
    ("COMMIT", "shop", "COMMIT", None),
    ("PREPARE", "shop", "PREPARE s FROM ?", None),
    ("SET", "shop", "SET @a = ?", None),
    ("EXECUTE", "shop", "EXECUTE s USING @a", None),
    ("DEALLOCATE", "shop", "DEALLOCATE PREPARE s", None),
    ("SELECT", "shop", "SELECT DATABASE()", None),
    ("INIT_DB", "other", None, None),
    ("SELECT", "other", "SELECT ?", None),
]

PYMYSQL = r'''
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", database="shop")
cur = c.cursor()
cur.execute("SELECT id, n FROM cards WHERE n = %s", ("s3cret",))
cur.fetchall()
cur.execute("SELECT seq FROM seq_1_to_20000")  # 20,000 rows: past the capture
assert len(cur.fetchall()) == 20000
try:
    cur.execute("SELEC %s", (4111111111111111,))
except pymysql.err.ProgrammingError:
    pass
c.begin()
cur.execute("INSERT INTO cards VALUES (%s, %s)", (7, "s3cret7"))
cur.execute("UPDATE cards SET n = %s WHERE id = %s", ("s3cret8", 7))
c.commit()
c.select_db("other")
c.ping(reconnect=False)
cur.execute("USE shop")
cur.execute("SELECT COUNT(*) FROM cards")
c.close()
'''

STMT_C = r'''
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One statement prepared, executed argv[2] times with two parameters,
 * its rows read each time, closed. */
int main(int argc, char **argv)
{
	const char *sql = "SELECT id FROM cards WHERE n = ? AND id <> ?";
	MYSQL *db = mysql_init(NULL);
	MYSQL_STMT *st;
	MYSQL_BIND b[2];
	char s[] = "s3cret";
	unsigned long slen = 6;
	long long big = 4111111111111111LL;
	int n = atoi(argv[2]);

	if (!mysql_real_connect(db, "127.0.0.1", "root", NULL, "shop", atoi(argv[1]),
				NULL, 0)) {
		fprintf(stderr, "connect: %s\n", mysql_error(db));
		return 1;
	}
	st = mysql_stmt_init(db);
	if (mysql_stmt_prepare(st, sql, strlen(sql))) {
		fprintf(stderr, "prepare: %s\n", mysql_stmt_error(st));
		return 1;
	}
	memset(b, 0, sizeof(b));
	b[0].buffer_type = MYSQL_TYPE_STRING;
	b[0].buffer = s;
	b[0].buffer_length = slen;
	b[0].length = &slen;
	b[1].buffer_type = MYSQL_TYPE_LONGLONG;
	b[1].buffer = &big;
	mysql_stmt_bind_param(st, b);
	for (int i = 0; i < n; i++) {
		if (mysql_stmt_execute(st) || mysql_stmt_store_result(st)) {
			fprintf(stderr, "execute: %s\n", mysql_stmt_error(st));
			return 1;
		}
		mysql_stmt_free_result(st);
	}
	mysql_stmt_close(st);
	mysql_close(db);
	return 0;
}
'''


def start_server(tmp):
    """mariadbd on 127.0.0.1:PORT, data in tmp (as user mysql); or None."""
    data = os.path.join(tmp, "data")
    shutil.chown(tmp, "mysql", "mysql")
    p = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}",
                        "--user=mysql", "--auth-root-authentication-method=normal",
                        "--skip-test-db"], capture_output=True, text=True)
    if not check("mariadb-install-db made a data directory", p.returncode == 0, p.stderr[-500:]):
        return None
    log = open(os.path.join(tmp, "server.log"), "w")
    # TLS on offer (a certificate made here), for the one client that asks.
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", f"{tmp}/key.pem", "-out", f"{tmp}/cert.pem", "-days", "1",
                        "-subj", "/CN=127.0.0.1"], capture_output=True, text=True)
    if not check("a server certificate made (openssl)", p.returncode == 0, p.stderr[-300:]):
        return None
    for f in ("key.pem", "cert.pem"):
        shutil.chown(f"{tmp}/{f}", "mysql", "mysql")
    server = subprocess.Popen(["mariadbd", "--no-defaults", f"--datadir={data}",
                               f"--socket={tmp}/sock", f"--port={PORT}",
                               "--bind-address=127.0.0.1", "--user=mysql",
                               "--skip-grant-tables", f"--ssl-cert={tmp}/cert.pem",
                               f"--ssl-key={tmp}/key.pem",
                               f"--pid-file={tmp}/pid"], stdout=log, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline and server.poll() is None:
        ok = subprocess.run(CLIENT + ["-e", "SELECT 1"], capture_output=True).returncode == 0
        if ok:
            break
        time.sleep(0.2)
    check("mariadbd answers on 127.0.0.1:%d" % PORT, server.poll() is None and ok,
          open(os.path.join(tmp, "server.log")).read()[-800:])
    return server


def sql(text):
    p = subprocess.run(CLIENT + ["-e", text], capture_output=True, text=True)
    check(f"setup: {text[:40]}", p.returncode == 0, p.stderr)


def no_secret(label, blob):
    found = [s for s in SECRETS if s.encode() in blob]
    check(f"{label}: no literal ({', '.join(SECRETS)}) in any exported byte",
          blob and not found, found)


# One normaliser per output format, each giving spans in one shape: name,
# kind (3: CLIENT), code (0 unset, 2 ERROR), message, traceId,
# parentSpanId ("" for none), attrs (plain values).
TEXT_LINE = re.compile(r"^\S+Z\s+\S+\s+(SERVER|CLIENT|INTERNAL|PRODUCER|CONSUMER)\s+(.*?) "
                       r"status=(\w+)(?:\((.*?)\))? trace=(\w+) span=(\w+)(?: parent=(\w+))?(.*)$")
TEXT_ATTR = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S+)')
KINDS = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
CODES = {"UNSET": 0, "OK": 1, "ERROR": 2}


def text_value(v):
    if v.startswith('"'):
        return json.loads(v)
    return int(v) if v.lstrip("-").isdigit() else v


def from_text(blob):
    spans = []
    for line in blob.decode(errors="replace").splitlines():
        m = TEXT_LINE.match(line)
        if not m:
            continue
        kind, name, status, msg, trace, span, parent, rest = m.groups()
        spans.append({"name": name, "kind": KINDS[kind], "code": CODES[status],
                      "message": msg or "", "traceId": trace, "spanId": span,
                      "parentSpanId": parent or "",
                      "attrs": {k: text_value(v) for k, v in TEXT_ATTR.findall(rest)}})
    return spans


def otlp_span(s, a):
    st = s.get("status") or {}
    return {"name": s["name"], "kind": int(s["kind"]), "code": int(st.get("code", 0)),
            "message": st.get("message", ""), "traceId": s["traceId"], "spanId": s["spanId"],
            "parentSpanId": s.get("parentSpanId") or "", "attrs": a}


def from_otlp_json(blob):
    return [otlp_span(s, s["_attrs"]) for s in parse_otlp_json(blob.decode(errors="replace"))]


def from_receiver(dumps):
    return [otlp_span(s, attrs(s.get("attributes"))) for _, _, s in spans_of(dumps)]


FORMATS = {"text": ["-o", "text"], "OTLP/JSON": ["-o", "otlp-json"], "OTLP": None}


def trace(fmt, argv, rx, stdin=None):
    """spanprobe trace over argv, exporting in fmt: (rc, the command's
    stdout, stderr, the CLIENT spans, every exported byte).  OTLP's bytes:
    what the receiver recorded of each request, decoded (gunzipped)."""
    if FORMATS[fmt]:
        out = os.path.join(TMP, "spans.out")
        rc, stdout, err = run(["trace", *FORMATS[fmt], "--output-file", out, "--", *argv],
                              stdin=stdin, timeout=60)
        with open(out, "rb") as f:
            blob = f.read()
        os.unlink(out)
        spans = from_text(blob) if fmt == "text" else from_otlp_json(blob)
    else:
        rc, stdout, err = run(["trace", "--otlp-endpoint", rx.endpoint(), "--", *argv],
                              stdin=stdin, timeout=60)
        blob = b""
        for path in (rx.out, rx.dump):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    blob += f.read()
        spans = from_receiver(rx.take()[1])
    return rc, stdout, err, [s for s in spans if s["kind"] == 3], blob


def summary(spans):
    """(name, db.namespace, db.query.text, db.response.status_code) of each."""
    return [(s["name"], s["attrs"].get("db.namespace"), s["attrs"].get("db.query.text"),
             s["attrs"].get("db.response.status_code")) for s in spans]


def client_case(fmt, rx):
    """The mariadb client over SCRIPT (its errors passed over: --force)."""
    label = f"mariadb client, {fmt}"
    _, stdout, err, spans, blob = trace(fmt, CLIENT + ["-D", "shop", "--force"], rx,
                                        stdin=SCRIPT)
    got = summary(spans)
    check(f"{label}: 14 CLIENT spans, names, namespaces, sanitised texts, codes",
          got == SCRIPT_SPANS, "\n".join(map(str, got)) + err[-1500:])
    check(f"{label}: db.system.name mariadb on every span",
          spans and all(s["attrs"].get("db.system.name") == "mariadb" for s in spans))
    errors = [(s["name"], s["code"], s["message"]) for s in spans if s["code"] != 0]
    check(f"{label}: the duplicate key and the syntax error are ERROR, "
          "with SQLSTATE and the message, values hidden",
          errors == [("INSERT cards", 2, "SQLSTATE 23000: Duplicate entry ?"),
                     ("SELEC", 2, "SQLSTATE 42000: You have an error in your SQL "
                      "syntax; check the manual that corresponds to your MariaDB server "
                      "version for the right syntax to use near ? at line ?")], errors)
    check(f"{label}: the client's own output shows the literals (the test can see them)",
          "s3cret" in stdout and "4111111111111111" in err, stdout[-300:])
    no_secret(label, blob)


PYMYSQL_SPANS = [
    ("SET", "shop", "SET AUTOCOMMIT = ?", None),
    ("SELECT cards", "shop", "SELECT id, n FROM cards WHERE n = ?", None),
    ("SELECT seq_1_to_20000", "shop", "SELECT seq FROM seq_1_to_20000", None),
    ("SELEC", "shop", "SELEC ?", "1064"),
    ("BEGIN", "shop", "BEGIN", None),
    ("INSERT cards", "shop", "INSERT INTO cards VALUES (?)", None),
    ("UPDATE cards", "shop", "UPDATE cards SET n = ? WHERE id = ?", None),
    ("COMMIT", "shop", "COMMIT", None),
    ("INIT_DB", "other", None, None),
    ("PING", "other", None, None),
    ("USE", "shop", "USE shop", None),
    ("SELECT cards", "shop", "SELECT COUNT(*) FROM cards", None),
]


def pymysql_case(fmt, rx):
    """PyMySQL: parameters, 20,000 rows, an error, a transaction, select_db,
    ping, USE."""
    label = f"PyMySQL, {fmt}"
    path = os.path.join(TMP, "app_pymysql.py")  # not "pymysql.py": the module
    with open(path, "w") as f:
        f.write(PYMYSQL)
    rc, _, err, spans, blob = trace(fmt, ["/usr/bin/python3", path, str(PORT)], rx)
    got = summary(spans)
    check(f"{label}: exit 0, 12 CLIENT spans: names, namespaces, texts, codes",
          rc == 0 and got == PYMYSQL_SPANS, "\n".join(map(str, got)) + err[-3000:])
    check(f"{label}: status ERROR exactly on the syntax error; server 127.0.0.1:23306",
          [s["name"] for s in spans if s["code"] == 2] == ["SELEC"]
          and all(s["attrs"].get("server.address") == "127.0.0.1"
                  and s["attrs"].get("server.port") == PORT for s in spans),
          [(s["name"], s["code"], s["message"]) for s in spans])
    big = [s for s in spans if s["name"] == "SELECT seq_1_to_20000"]
    check(f"{label}: the 20,000 rows' call is partial (rows past the capture), "
          "not an error, no row count; the calls after it are whole",
          len(big) == 1 and big[0]["attrs"].get("spanprobe.partial") == "response"
          and "db.response.returned_rows" not in big[0]["attrs"] and big[0]["code"] == 0
          and [s["name"] for s in spans if "spanprobe.partial" in s["attrs"]]
          == ["SELECT seq_1_to_20000"]
          and spans[1]["attrs"].get("db.response.returned_rows") == 1, big)
    check(f"{label}: one trace per call (no HTTP request around them)",
          spans and len({s["traceId"] for s in spans}) == len(spans) and
          all(not s["parentSpanId"] for s in spans))
    no_secret(label, blob)


def prepared_case(fmt, rx, exe):
    """libmariadb's binary protocol: a statement prepared once, executed
    100 times."""
    label = f"libmariadb, {fmt}"
    rc, _, err, spans, blob = trace(fmt, [exe, str(PORT), "100"], rx)
    text = "SELECT id FROM cards WHERE n = ? AND id <> ?"
    execs = [s for s in spans if s["attrs"].get("db.operation.name") == "SELECT"]
    prep = [s for s in spans if s["attrs"].get("db.operation.name") == "PREPARE"]
    check(f"{label}: exit 0; one PREPARE span and 100 executions, nothing else",
          rc == 0 and len(prep) == 1 and len(execs) == 100 and len(spans) == 101,
          [s["name"] for s in spans][:8] + [len(spans)] + [err[-1500:]])
    # The table holds (3, 's3cret') then: 1 row each time, in a binary
    # result set whose definitions the server leaves out (cached metadata).
    check(f"{label}: every execution named 'SELECT cards' with the statement's "
          "text, the namespace, 1 row, status unset",
          execs and all(s["name"] == "SELECT cards" and s["attrs"].get("db.query.text") == text
                        and s["attrs"].get("db.namespace") == "shop"
                        and s["attrs"].get("db.response.returned_rows") == 1
                        and s["code"] == 0 for s in execs),
          [(s["name"], s["attrs"].get("db.response.returned_rows")) for s in execs[:4]])
    line = re.search(r"^mysql: .*$", err, re.M)
    check(f"{label}: the exit report's mysql line: 0 responses to no command "
          "(each execution's response ends after its rows, not before)",
          line is not None and ", 0 responses to no command," in line.group(0),
          line.group(0) if line else err[-1500:])
    check(f"{label}: the PREPARE span carries the text too",
          prep and prep[0]["attrs"].get("db.query.text") == text, prep[:1])
    no_secret(label, blob)


def client_cases(exe):
    """The three clients in each format, each time on the same table (made
    again): the mariadb client's script, then PyMySQL, then libmariadb."""
    rx = Receiver(TMP)
    try:
        ready = check("OTLP receiver (node, tests/otlp-node) started", rx.ready)
        for fmt in FORMATS:
            if fmt == "OTLP" and not ready:
                continue
            sql("DROP TABLE IF EXISTS shop.cards")
            sql("CREATE TABLE shop.cards (id INT PRIMARY KEY, n VARCHAR(32) UNIQUE)")
            client_case(fmt, rx)
            pymysql_case(fmt, rx)
            if exe:
                prepared_case(fmt, rx, exe)
    finally:
        rx.stop()


PYMYSQL_TLS = r'''
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", database="shop",
                    ssl={"ca": sys.argv[2], "check_hostname": False})
cur = c.cursor()
cur.execute("SHOW STATUS LIKE 'Ssl_version'")
print(cur.fetchall()[0][1])
cur.execute("SELECT id FROM cards WHERE n = %s", ("s3cret",))
c.close()
'''


def test_tls():
    """Through TLS (Python's ssl and libmariadb, on OpenSSL): the socket is left alone after
    the SSL request; the plaintext, read at OpenSSL, is decoded from its
    first bytes, the handshake response, which names the database.  The
    greeting that named MariaDB went before TLS, on the socket: the
    plaintext's calls say "mysql"."""
    path = os.path.join(TMP, "app_tls.py")
    with open(path, "w") as f:
        f.write(PYMYSQL_TLS)
    rc, stdout, err, spans, blob = trace("OTLP/JSON", ["/usr/bin/python3", path, str(PORT),
                                                       f"{TMP}/cert.pem"], None)
    got = [(s["name"], s["attrs"].get("db.query.text"), s["attrs"].get("db.system.name"),
            s["attrs"].get("db.namespace")) for s in spans]
    check("PyMySQL over TLS: the connection is TLS", rc == 0 and "TLSv1" in stdout,
          stdout + err[-800:])
    check("PyMySQL over TLS: 3 CLIENT spans from the plaintext, texts sanitised, database shop",
          got == [("SET", "SET AUTOCOMMIT = ?", "mysql", "shop"),
                  ("SHOW", "SHOW STATUS LIKE ?", "mysql", "shop"),
                  ("SELECT cards", "SELECT id FROM cards WHERE n = ?", "mysql", "shop")],
          "\n".join(map(str, got)) + err[-1500:])
    no_secret("PyMySQL over TLS, OTLP/JSON", blob)
    # The mariadb client: libmariadb on OpenSSL.
    _, stdout, err, spans, text = trace(
        "text", ["mariadb", "-h", "127.0.0.1", "-P", str(PORT), "-u", "root", "--ssl",
                 "--ssl-verify-server-cert=0", "-D", "shop", "-e",
                 "SHOW STATUS LIKE 'Ssl_version'; SELECT n FROM cards WHERE id = 3"], None)
    got = [(s["name"], s["attrs"].get("db.query.text")) for s in spans]
    check("mariadb client over TLS: 2 CLIENT spans from the plaintext",
          "TLSv1" in stdout and got == [("SHOW", "SHOW STATUS LIKE ?"),
                                        ("SELECT cards", "SELECT n FROM cards WHERE id = ?")],
          (got, stdout, err[-1000:]))
    no_secret("mariadb client over TLS, text", text)


HTTP_SERVICE = r'''
import sys, pymysql
from http.server import BaseHTTPRequestHandler, HTTPServer

db = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", database="shop",
                     autocommit=True)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        with db.cursor() as cur:
            cur.execute("SELECT n FROM cards WHERE id = %s", (int(self.path.rsplit("/", 1)[1]),))
            cur.fetchall()
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = HTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
for _ in range(3):
    srv.handle_request()
'''


def test_http_parent():
    """A service that runs a query per request: each database call is the
    child of the request's SERVER span (the thread's context)."""
    path = os.path.join(TMP, "service.py")
    with open(path, "w") as f:
        f.write(HTTP_SERVICE)
    out = os.path.join(TMP, "service.jsonl")
    agent = subprocess.Popen([SPANPROBE, "trace", "-o", "otlp-json", "--output-file", out, "--",
                              "/usr/bin/python3", path, str(PORT)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = agent.stdout.readline().strip()
    for i in (1, 3, 4):
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/card/{i}"],
                       timeout=20)
    err = agent.communicate(timeout=60)[1]
    with open(out) as f:
        spans = parse_otlp_json(f.read())
    servers = [s for s in spans if s["kind"] == 2]
    calls = [s for s in spans if s["kind"] == 3]
    ids = {s["spanId"]: s for s in servers}
    check("a service's queries: 3 SERVER spans (GET), 3 CLIENT spans 'SELECT cards'",
          len(servers) == 3 and [s["name"] for s in calls] == ["SELECT cards"] * 3,
          ([s["name"] for s in spans], err[-1500:]))
    check("a service's queries: each database call is the child of its request's SERVER span",
          len(calls) == 3 and all(c.get("parentSpanId") in ids
                                  and ids[c["parentSpanId"]]["traceId"] == c["traceId"]
                                  for c in calls)
          and len({c["parentSpanId"] for c in calls}) == 3,
          [(c.get("parentSpanId"), c["traceId"]) for c in calls] + list(ids))


def build_stmt_program():
    src = os.path.join(TMP, "stmt.c")
    exe = os.path.join(TMP, "stmt")
    with open(src, "w") as f:
        f.write(STMT_C)
    p = subprocess.run(["gcc", "-O1", "-I/usr/include/mariadb", src, "-o", exe, "-lmariadb"],
                       capture_output=True, text=True)
    check("a libmariadb (binary protocol) client builds (libmariadb-dev)",
          p.returncode == 0, p.stderr[-800:])
    return exe if p.returncode == 0 else None


def test_server_side(server):
    """The traced server: no spans by default; SERVER spans on request."""
    for flags, want in (([], 0), (["--db-server-spans"], 1)):
        out = os.path.join(TMP, f"server{len(flags)}.jsonl")
        # The server and the client (the client's spans show the link).
        agent = subprocess.Popen([SPANPROBE, "run", "-v", "-o", "otlp-json", "--output-file", out,
                                  "--exe", "mariadbd", "--exe", "mariadb"] + flags,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        line = ""
        while time.time() < deadline:
            line = agent.stderr.readline()
            if "tracing HTTP of" in line or not line:
                break
        subprocess.run(CLIENT + ["-D", "shop", "-e", "SELECT n FROM cards WHERE id = 4"],
                       capture_output=True)
        time.sleep(0.5)
        agent.terminate()
        err = agent.communicate(timeout=20)[1]
        with open(out) as f:
            every = parse_otlp_json(f.read())
        spans = [s for s in every if s["kind"] == 2 and s["name"] == "SELECT cards"]
        clients = [s for s in every if s["kind"] == 3 and s["name"] == "SELECT cards"]
        label = "with --db-server-spans" if flags else "by default"
        check(f"the traced server, {label}: {want} SERVER span of the query (and the "
              "client's CLIENT span), spanprobe reported at its end",
              len(spans) == want and len(clients) == 1 and "\nmysql: " in err
              and agent.returncode == 0,
              ([s["name"] for s in spans], agent.returncode, err[-1000:]))
        if want:
            check("the traced server: its SERVER span is the child of the client's call "
                  "(same host), with the query's text",
                  len(clients) == 1 and spans[0].get("parentSpanId") == clients[0]["spanId"]
                  and spans[0]["traceId"] == clients[0]["traceId"]
                  and spans[0]["_attrs"].get("db.query.text")
                  == "SELECT n FROM cards WHERE id = ?"
                  and spans[0]["_attrs"].get("db.namespace") == "shop",
                  ([(c["spanId"], c["traceId"]) for c in clients], spans[0]))


def main():
    global TMP
    with tempfile.TemporaryDirectory(prefix="spmysql.") as tmp:
        TMP = tmp
        os.chmod(tmp, 0o755)
        server = start_server(tmp)
        try:
            if not server or server.poll() is not None:
                return
            sql("CREATE DATABASE shop")
            sql("CREATE DATABASE other")
            client_cases(build_stmt_program())
            test_tls()
            test_http_parent()
            test_server_side(server)
        finally:
            if server:
                server.terminate()
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()


TMP = None
main()
finish()

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""MariaDB calls as CLIENT spans, against a real MariaDB server (Debian's
mariadb-server) started here on 127.0.0.1:23306 with its data in a
temporary directory (TLS offered; two clients ask for it): the `mariadb`
client (queries, a syntax error, a duplicate key, a transaction,
PREPARE/EXECUTE in SQL, USE) in text; PyMySQL (parameters, 20,000 rows,
an error, a transaction, select_db, ping, USE) in OTLP/JSON; both over TLS; a
C program on libmariadb's binary protocol (a statement prepared once,
executed 100 times) in OTLP to a real receiver; a small HTTP service
running a query per request (the call is the child of the request).  The
literals 's3cret' and 4111111111111111 never appear in any exported
byte.  The server itself, traced, gives no spans unless asked."""
import os
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
    found = [s for s in SECRETS if s in blob]
    check(f"{label}: no literal ({', '.join(SECRETS)}) in any exported byte",
          blob and not found, found)


def text_spans(out):
    """CLIENT span lines of text output: (name, {attribute: value})."""
    spans = []
    for line in out.splitlines():
        parts = line.split(" CLIENT ", 1)
        if len(parts) != 2:
            continue
        rest = parts[1].strip()
        name = rest.split(" status=")[0]
        at = {}
        for key in ("db.system.name", "db.namespace", "db.query.text",
                    "db.response.status_code", "db.operation.name"):
            marker = f" {key}="
            if marker in rest:
                v = rest.split(marker, 1)[1]
                at[key] = v[1:v.index('"', 1)] if v.startswith('"') else v.split()[0]
        at["_status"] = rest.split(" status=")[1].split(" trace=")[0]
        spans.append((name, at))
    return spans


def test_client_text():
    with open(os.path.join(TMP, "script.sql"), "w") as f:
        f.write(SCRIPT)
    out = os.path.join(TMP, "client.txt")
    with open(os.path.join(TMP, "script.sql")) as f:
        # The spans to a file: the client prints the rows it reads.
        p = subprocess.run([SPANPROBE, "trace", "-o", "text", "--output-file", out, "--"] +
                           CLIENT + ["-D", "shop", "--force"], stdin=f, capture_output=True,
                           text=True, timeout=60)
    with open(out) as f:
        text = f.read()
    spans = text_spans(text)
    got = [(n, a.get("db.namespace"), a.get("db.query.text"),
            a.get("db.response.status_code")) for n, a in spans]
    check("mariadb client, text: 14 CLIENT spans, names, namespaces, sanitised texts, codes",
          got == SCRIPT_SPANS, "\n".join(map(str, got)) + p.stderr[-1500:])
    check("mariadb client, text: db.system.name mariadb on every span",
          spans and all(a.get("db.system.name") == "mariadb" for _, a in spans))
    errors = [(n, a["_status"]) for n, a in spans if a["_status"] != "UNSET"]
    check("mariadb client, text: the duplicate key and the syntax error are ERROR, "
          "with SQLSTATE and the message, values hidden",
          errors == [("INSERT cards", "ERROR(SQLSTATE 23000: Duplicate entry ?)"),
                     ("SELEC", "ERROR(SQLSTATE 42000: You have an error in your SQL "
                      "syntax; check the manual that corresponds to your MariaDB server "
                      "version for the right syntax to use near ? at line ?)")], errors)
    check("mariadb client: its own output shows the literals (the test can see them)",
          "s3cret" in p.stdout and "4111111111111111" in p.stderr, p.stdout[-300:])
    no_secret("mariadb client, text", text)


def test_pymysql_json():
    path = os.path.join(TMP, "app_pymysql.py")  # not "pymysql.py": the module
    with open(path, "w") as f:
        f.write(PYMYSQL)
    out = os.path.join(TMP, "pymysql.jsonl")
    rc, _, err = run(["trace", "-o", "otlp-json", "--output-file", out, "--",
                      "/usr/bin/python3", path, str(PORT)], timeout=60)
    with open(out) as f:
        blob = f.read()
    spans = [s for s in parse_otlp_json(blob) if s["kind"] == 3]
    got = [(s["name"], s["_attrs"].get("db.namespace"), s["_attrs"].get("db.query.text"),
            s["_attrs"].get("db.response.status_code")) for s in spans]
    want = [
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
    check("PyMySQL, OTLP/JSON: exit 0, 12 CLIENT spans: names, namespaces, texts, codes",
          rc == 0 and got == want, "\n".join(map(str, got)) + err[-3000:])
    check("PyMySQL, OTLP/JSON: status ERROR exactly on the syntax error; server 127.0.0.1:23306",
          [s["name"] for s in spans if s.get("status", {}).get("code") == 2] == ["SELEC"]
          and all(s["_attrs"].get("server.address") == "127.0.0.1"
                  and s["_attrs"].get("server.port") == PORT for s in spans),
          [(s["name"], s.get("status")) for s in spans])
    big = [s for s in spans if s["name"] == "SELECT seq_1_to_20000"]
    check("PyMySQL, OTLP/JSON: the 20,000 rows' call is partial (rows past the capture), "
          "not an error, no row count; the calls after it are whole",
          len(big) == 1 and big[0]["_attrs"].get("spanprobe.partial") == "response"
          and "db.response.returned_rows" not in big[0]["_attrs"]
          and big[0].get("status", {}).get("code", 0) == 0
          and [s["name"] for s in spans if "spanprobe.partial" in s["_attrs"]]
          == ["SELECT seq_1_to_20000"]
          and spans[1]["_attrs"].get("db.response.returned_rows") == 1, big)
    check("PyMySQL, OTLP/JSON: one trace per call (no HTTP request around them)",
          spans and len({s["traceId"] for s in spans}) == len(spans) and
          all(not s.get("parentSpanId") for s in spans))
    no_secret("PyMySQL, OTLP/JSON", blob)


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
    out = os.path.join(TMP, "tls.jsonl")
    rc, stdout, err = run(["trace", "-o", "otlp-json", "--output-file", out, "--",
                           "/usr/bin/python3", path, str(PORT), f"{TMP}/cert.pem"], timeout=60)
    with open(out) as f:
        blob = f.read()
    spans = [s for s in parse_otlp_json(blob) if s["kind"] == 3]
    got = [(s["name"], s["_attrs"].get("db.query.text"), s["_attrs"].get("db.system.name"),
            s["_attrs"].get("db.namespace")) for s in spans]
    check("PyMySQL over TLS: the connection is TLS", rc == 0 and "TLSv1" in stdout,
          stdout + err[-800:])
    check("PyMySQL over TLS: 3 CLIENT spans from the plaintext, texts sanitised, database shop",
          got == [("SET", "SET AUTOCOMMIT = ?", "mysql", "shop"),
                  ("SHOW", "SHOW STATUS LIKE ?", "mysql", "shop"),
                  ("SELECT cards", "SELECT id FROM cards WHERE n = ?", "mysql", "shop")],
          "\n".join(map(str, got)) + err[-1500:])
    no_secret("PyMySQL over TLS, OTLP/JSON", blob)
    # The mariadb client: libmariadb on OpenSSL.
    out = os.path.join(TMP, "tls.txt")
    p = subprocess.run([SPANPROBE, "trace", "-o", "text", "--output-file", out, "--",
                        "mariadb", "-h", "127.0.0.1", "-P", str(PORT), "-u", "root", "--ssl",
                        "--ssl-verify-server-cert=0", "-D", "shop", "-e",
                        "SHOW STATUS LIKE 'Ssl_version'; SELECT n FROM cards WHERE id = 3"],
                       capture_output=True, text=True, timeout=60)
    with open(out) as f:
        text = f.read()
    got = [(n, a.get("db.query.text")) for n, a in text_spans(text)]
    check("mariadb client over TLS: 2 CLIENT spans from the plaintext",
          "TLSv1" in p.stdout and got == [("SHOW", "SHOW STATUS LIKE ?"),
                                          ("SELECT cards", "SELECT n FROM cards WHERE id = ?")],
          (got, p.stdout, p.stderr[-1000:]))
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


def test_prepared_otlp(exe):
    rx = Receiver(TMP)
    try:
        if not check("OTLP receiver (node, tests/otlp-node) started", rx.ready):
            return
        rc, _, err = run(["trace", "--otlp-endpoint", rx.endpoint(), "--",
                          exe, str(PORT), "100"], timeout=60)
        reqs, dumps = rx.take()
    finally:
        rx.stop()
    spans = [s for _, _, s in spans_of(dumps) if s["kind"] == 3]
    text = "SELECT id FROM cards WHERE n = ? AND id <> ?"
    execs = [s for s in spans if attrs(s["attributes"]).get("db.operation.name") == "SELECT"]
    prep = [s for s in spans if attrs(s["attributes"]).get("db.operation.name") == "PREPARE"]
    check("libmariadb, OTLP: exit 0; one PREPARE span and 100 executions, nothing else",
          rc == 0 and len(prep) == 1 and len(execs) == 100 and len(spans) == 101,
          [s["name"] for s in spans][:8] + [len(spans)] + [err[-1500:]])
    check("libmariadb, OTLP: every execution named 'SELECT cards' with the statement's "
          "text, the namespace, 0 rows, status unset",
          execs and all(s["name"] == "SELECT cards" and attrs(s["attributes"]).get("db.query.text")
                        == text and attrs(s["attributes"]).get("db.namespace") == "shop"
                        and attrs(s["attributes"]).get("db.response.returned_rows") == 0
                        and s.get("status", {}).get("code", 0) == 0 for s in execs),
          execs[:1])
    check("libmariadb, OTLP: the PREPARE span carries the text too",
          prep and attrs(prep[0]["attributes"]).get("db.query.text") == text, prep[:1])
    no_secret("libmariadb, OTLP", repr(dumps) + repr(reqs))


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
            sql("CREATE TABLE shop.cards (id INT PRIMARY KEY, n VARCHAR(32) UNIQUE)")
            test_client_text()
            test_pymysql_json()
            test_tls()
            test_http_parent()
            exe = build_stmt_program()
            if exe:
                test_prepared_otlp(exe)
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

#!/bin/sh
# Runs every benchmark; each prints min/median/max of repeated runs.
# The soak (bench/soak.py, 30 minutes) runs only with SOAK=1, or alone
# with `make soak`.
set -e
cd "$(dirname "$0")/.."
BUILD=${SP_BUILD:-build}
# Each benchmark adds its headline figures here; the table ends the run.
SP_BENCH_SUMMARY=$(mktemp)
export SP_BENCH_SUMMARY
trap 'rm -f "$SP_BENCH_SUMMARY"' EXIT
echo "== function spans: cost per traced call"
python3 bench/funccost.py
echo "== userspace assembly"
"$BUILD"/bench/assembly
if [ -x "$BUILD"/bench/encode ]; then
	echo "== OTLP encoding and compression"
	"$BUILD"/bench/encode
fi
if [ -x "$BUILD"/bench/export ]; then
	echo "== OTLP export throughput to a local sink (h2c and HTTP/1.1)"
	"$BUILD"/bench/export
fi
if [ -x "$BUILD"/bench/throughput ]; then
	echo "== daemon throughput: HTTP/1 records to OTLP (gzip, h2c) on one core"
	"$BUILD"/bench/throughput
fi
echo "== HTTP server under load (nginx + wrk), untraced vs traced" && SP_BUILD="$BUILD" python3 bench/http_overhead.py
echo "== HTTPS server under load (nginx + TLS + wrk), untraced vs traced" && SP_BUILD="$BUILD" python3 bench/https_overhead.py
echo "== cost per OpenSSL call (SSL_write, SSL_read)" && SP_BUILD="$BUILD" python3 bench/ssl_calls.py
echo "== BPF cost per socket call (bpf_stats): HTTP, TCP not HTTP, AF_UNIX" && SP_BUILD="$BUILD" python3 bench/bpf_cost.py
echo "== the kernel's prices for a BPF program's helpers (bpf_stats)" && "$BUILD"/bench/kprice
echo "== node-wide tax on processes without HTTP (syscalls, pipe, sockets)" && SP_BUILD="$BUILD" python3 bench/syscall_tax.py
echo "== Redis client under load (redis-benchmark -t get,set), untraced vs traced" && SP_BUILD="$BUILD" python3 bench/redis_bench.py
echo "== cost growth: CPU per span and RSS as connections, processes and traced functions grow" && SP_BUILD="$BUILD" python3 bench/growth.py
echo "== daemon memory against load (RSS at 1k, 10k, 100k spans/s; ring buffer size against loss)" && SP_BUILD="$BUILD" python3 bench/memory.py
echo "== MariaDB point selects (mariadb-slap), untraced vs traced" && SP_BUILD="$BUILD" python3 bench/mysql.py
echo "== PostgreSQL clients (pgbench -S), untraced vs traced" && SP_BUILD="$BUILD" python3 bench/pgbench.py
if [ "${SOAK:-0}" = 1 ]; then
	echo "== soak: mixed load and a flapping collector, RSS and counters" && SP_BUILD="$BUILD" python3 bench/soak.py
fi
echo "== summary: headline figures against their targets"
python3 bench/summary.py "$SP_BENCH_SUMMARY"

#!/bin/sh
# Runs every test tier and closes with "N passed, N failed".
#  - unit tests: build/tests/test_* (cmocka; one line per test case)
#  - lint tests: tests/lint/test_* (the include-layer check)
#  - integration tests: tests/integration/test_* (as root; they print
#    "ok - NAME" / "not ok - NAME" per check)
# A test binary that crashes or exits non-zero without reporting a failure
# counts as one failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${SP_BUILD:-build}
export SP_BUILD="$BUILD"
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() {
	name=$1
	shift
	echo "=== $name"
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	# cmocka names each failed test twice: when it fails, and again in
	# the list after its summary line; count only the first.
	ok=$(grep -cE '^\[ +OK +\]|^ok - ' "$log")
	bad=$(sed '/^\[ *FAILED *\] [0-9]* test(s), listed below/,$d' "$log" |
		grep -cE '^\[ +FAILED +\] |^not ok - ')
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		echo "!!! $name exited with status $rc"
		bad=1
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done
for t in tests/lint/test_*; do
	[ -x "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done
for t in tests/integration/test_*; do
	[ -x "$t" ] || continue
	if [ -n "${SP_TEST_FILTER:-}" ]; then
		case "$t" in *"$SP_TEST_FILTER"*) ;; *) continue ;; esac
	fi
	run_one "$(basename "$t")" timeout 600 "$t"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

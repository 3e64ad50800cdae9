#!/bin/sh
# Runs every test tier and closes with "N passed, N failed".
#  - unit tests: build/tests/test_* (cmocka; one line per test case)
#  - lint tests: tests/lint/test_* (the include-layer check)
#  - integration tests: tests/integration/test_* (as root; they print
#    "ok - NAME" / "not ok - NAME" per check)
#  - the kernel matrix: integration tests inside other kernels under QEMU
#    (tests/kernels/), beside the integration tests (SP_KERNEL_MATRIX=0
#    skips it)
#  - fuzz targets: $BUILD/fuzz/fuzz_* (make fuzz), each for FUZZ_SECONDS
#    (default 10; 0 skips them) from its seed corpus and dictionary, one
#    per CPU at a time, one check each: a crash, leak or failed invariant
#    fails it
# A test binary that crashes or exits non-zero without reporting a failure
# counts as one failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${SP_BUILD:-build}
export SP_BUILD="$BUILD"
passed=0
failed=0
log=$(mktemp)
matrix_log=$(mktemp)
matrix_pid=""
trap 'rm -f "$log" "$matrix_log"; [ -z "$matrix_pid" ] || kill "$matrix_pid" 2>/dev/null' EXIT

run_one() {
	name=$1
	shift
	echo "=== $name"
	start=$(date +%s)
	"$@" >"$log" 2>&1
	count_one "$name" "$log" $? $(($(date +%s) - start))
}

# What test NAME printed (in FILE), its exit status and seconds: printed
# and counted.
count_one() {
	name=$1 file=$2 rc=$3
	cat "$file"
	echo "--- $name: $4 s"
	# cmocka names each failed test twice: when it fails, and again in
	# the list after its summary line; count only the first.
	ok=$(grep -cE '^\[ +OK +\]|^ok - ' "$file")
	bad=$(sed '/^\[ *FAILED *\] [0-9]* test(s), listed below/,$d' "$file" |
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
# The kernel matrix: the BPF integration tests again, inside Debian's 6.1
# and 6.12 kernels under QEMU, once per HTTP capture path each offers
# (tests/kernels/matrix.py; about 7 minutes alone).  Each guest has a
# kernel, BPF programs and loopback network of its own, so it runs
# beside the host's integration tests, which spend most of their time
# waiting on servers, clients and timers (SP_KERNEL_MATRIX_BESIDE=0: after
# them instead); it is reported after them.  SP_KERNEL_MATRIX=0 skips it;
# SP_TEST_FILTER picks its tests as it picks the integration tests, by
# their name in tests/kernels/ ("kernels" runs all of them).
matrix_start=$(date +%s)
if [ "${SP_KERNEL_MATRIX:-1}" != 0 ] && [ "${SP_KERNEL_MATRIX_BESIDE:-1}" != 0 ]; then
	tests/kernels/matrix.py >"$matrix_log" 2>&1 &
	matrix_pid=$!
fi

for t in tests/integration/test_*; do
	[ -x "$t" ] || continue
	if [ -n "${SP_TEST_FILTER:-}" ]; then
		case "$t" in *"$SP_TEST_FILTER"*) ;; *) continue ;; esac
	fi
	run_one "$(basename "$t")" timeout 600 "$t"
done

if [ "${SP_KERNEL_MATRIX:-1}" = 0 ]; then
	echo "=== kernel matrix: skipped (SP_KERNEL_MATRIX=0)"
elif [ -n "$matrix_pid" ]; then
	echo "=== kernel matrix (beside the integration tests)"
	wait "$matrix_pid"
	rc=$?
	matrix_pid=""
	count_one "kernel matrix" "$matrix_log" "$rc" $(($(date +%s) - matrix_start))
else
	run_one "kernel matrix" tests/kernels/matrix.py
fi

# libFuzzer target fuzz_NAME: seeds tests/fuzz/corpus_NAME, words
# tests/fuzz/NAME.dict; what it finds goes to a scratch corpus, an input
# that fails to $BUILD/fuzz/crash-NAME-*.
fuzz_one() {
	bin=$1
	name=${bin##*/fuzz_}
	scratch=$(mktemp -d)
	if "$bin" -max_total_time="$FUZZ_SECONDS" -dict="tests/fuzz/$name.dict" \
		-artifact_prefix="$BUILD/fuzz/crash-$name-" "$scratch" "tests/fuzz/corpus_$name" \
		>"$scratch/log" 2>&1; then
		echo "ok - fuzz_$name: $(grep -o 'Done [0-9]* runs' "$scratch/log"), no crash"
	else
		tail -n 30 "$scratch/log"
		echo "not ok - fuzz_$name: failed; reproduce with $bin $BUILD/fuzz/crash-$name-*"
	fi
	rm -rf "$scratch"
}

# The targets run side by side, one per CPU (each is one thread; nothing
# else runs meanwhile), and are reported in their order.
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
if [ "$FUZZ_SECONDS" -gt 0 ] && [ -z "${SP_TEST_FILTER:-}" ]; then
	width=$(nproc 2>/dev/null || echo 1)
	fuzz_logs=$(mktemp -d)
	set -- "$BUILD"/fuzz/fuzz_*
	while [ $# -gt 0 ]; do
		group=""
		size=0
		while [ $# -gt 0 ] && [ "$size" -lt "$width" ]; do
			t=$1
			shift
			[ -x "$t" ] || continue
			n=$(basename "$t")
			group="$group $n"
			size=$((size + 1))
			(
				start=$(date +%s)
				fuzz_one "$t" >"$fuzz_logs/$n.log" 2>&1
				echo "$? $(($(date +%s) - start))" >"$fuzz_logs/$n.rc"
			) &
		done
		wait
		for n in $group; do
			echo "=== $n"
			# shellcheck disable=SC2046 # status and seconds, two words
			count_one "$n" "$fuzz_logs/$n.log" $(cat "$fuzz_logs/$n.rc")
		done
	done
	rm -rf "$fuzz_logs"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

#!/bin/sh
# bench/fuzz/run.sh SECONDS [TARGET...] - build every libFuzzer target with
# clang (-Dfuzz=true, ASan + UBSan) in build-fuzz/ and run each for SECONDS
# on its corpus. New inputs go to bench/fuzz/work/<target>/ (not in git);
# the seeds in fuzz/corpus/<target>/ are only read. Crashes are written to
# bench/fuzz/crashes/<target>/. JOBS=N runs N targets at once (default 1).
# Prints one line per target: name, runs, seconds, exit status.
set -u
cd "$(dirname "$0")/../.."
SECS=${1:-60}
shift 2>/dev/null || true
BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-1}
OUT=bench/fuzz

command -v clang >/dev/null || { echo "clang not found" >&2; exit 1; }
# every library with coverage instrumentation (fuzzer-no-link), not only
# the fuzz-*.c files: without it libFuzzer is blind inside the parsers
[ -f "$BUILD/build.ninja" ] || CC=clang meson setup "$BUILD" -Dfuzz=true \
	-Db_lundef=false -Dwerror=false -Db_sanitize=address,undefined \
	-Dc_args=-fsanitize=fuzzer-no-link >/dev/null || exit 1
ninja -C "$BUILD" >/dev/null || { echo "build failed" >&2; exit 1; }

if [ $# -gt 0 ]; then
	targets="$*"
else
	targets=$(ls fuzz/corpus | while read -r t; do
		[ -x "$BUILD/fuzz/fuzz-$t" ] && echo "$t"; done)
fi

run_one() {
	t=$1
	mkdir -p "$OUT/work/$t" "$OUT/crashes/$t" "$OUT/logs"
	start=$(date +%s)
	"$BUILD/fuzz/fuzz-$t" -max_total_time="$SECS" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$OUT/crashes/$t/" \
		"$OUT/work/$t" "fuzz/corpus/$t" >"$OUT/logs/$t.log" 2>&1
	rc=$?
	end=$(date +%s)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/logs/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$OUT/logs/$t.log" | tail -1)
	printf '%-14s runs=%-10s secs=%-5s %-10s exit=%s\n' "$t" "${runs:-?}" \
		$((end - start)) "$cov" "$rc"
}

rc_all=0
n=0
for t in $targets; do
	run_one "$t" &
	n=$((n + 1))
	if [ "$n" -ge "$JOBS" ]; then
		wait
		n=0
	fi
done
wait
# a crash leaves an artifact
if [ -n "$(find "$OUT/crashes" -type f 2>/dev/null)" ]; then
	echo "crash artifacts:"; find "$OUT/crashes" -type f
	rc_all=1
fi
exit $rc_all

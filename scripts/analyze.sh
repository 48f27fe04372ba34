#!/bin/sh
# Static analysis of src/ (make check runs it before pytest; alone:
# scripts/analyze.sh): cppcheck, then clang's analyzer (clang --analyze,
# scan-build's checkers, over a clang compile database; results cached per
# file). Prints one summary line per tool, the findings above it; exits 1
# on any finding (clang's: any not listed in
# scripts/analyze/clang-known.txt).
# False positives are suppressed with their reason where the tool is
# configured: scripts/analyze/cppcheck.supp and
# scripts/analyze/clang-known.txt.
set -u
cd "$(dirname "$0")/.."
SCAN=${SCAN:-build-analyze}
JOBS=${JOBS:-2}
ANALYZERS=${ANALYZERS:-cppcheck clang}   # which to run
rc=0

# -- cppcheck
case " $ANALYZERS " in *" cppcheck "*) ;; *) CPPCHECK_OFF=1 ;; esac
if [ -n "${CPPCHECK_OFF:-}" ]; then
	:
elif command -v cppcheck >/dev/null; then
	inc=""
	for d in src/lib src/lib-*; do inc="$inc -I $d"; done
	log=$(mktemp)
	# shellcheck disable=SC2086
	cppcheck -q -j "$JOBS" --std=c11 -D_GNU_SOURCE \
	    --enable=warning,portability --inline-suppr \
	    --library=scripts/analyze/jansson.cfg \
	    --suppressions-list=scripts/analyze/cppcheck.supp \
	    --suppress=missingIncludeSystem \
	    --template='{file}:{line}: {severity} ({id}): {message}' \
	    $inc src >"$log" 2>&1
	n=$(grep -c '^src/.*: .* (.*): ' "$log")
	grep '^src/' "$log"
	echo "cppcheck: $n findings"
	[ "$n" -eq 0 ] || rc=1
	rm -f "$log"
else
	echo "cppcheck: not installed (scripts/install-deps.sh)"; rc=1
fi

# -- clang static analyzer: clang --analyze on each source under src/,
# with each file's findings cached under the hash of its preprocessed
# text (scripts/analyze/clang.py), so a rerun analyzes only what changed
case " $ANALYZERS " in *" clang "*) ;; *) CLANG_OFF=1 ;; esac
if [ -n "${CLANG_OFF:-}" ]; then
	:
elif command -v clang >/dev/null; then
	[ -f "$SCAN/compile_commands.json" ] || CC=clang meson setup "$SCAN" \
	    -Dwerror=false >/dev/null
	# the generated headers the sources include
	ninja -C "$SCAN" postern-config.h >/dev/null 2>&1 || true
	python3 scripts/analyze/clang.py "$SCAN/compile_commands.json" "$JOBS" ||
	    rc=1
else
	echo "clang analyzer: clang not installed (scripts/install-deps.sh:" \
	    "clang, clang-tools)"; rc=1
fi
exit $rc

#!/bin/sh
# Static analysis of src/ (make check runs it before pytest; alone:
# scripts/analyze.sh): cppcheck, then clang's analyzer (scan-build's
# checkers through analyze-build over a clang compile database). Prints
# one summary line per tool, the findings above it; exits 1 on any
# cppcheck finding, and on clang analyzer findings not listed in
# scripts/analyze/clang-known.txt when CLANG_STRICT=1 (see below).
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

# -- clang static analyzer
AB=$(command -v analyze-build || ls /usr/bin/analyze-build-* 2>/dev/null | tail -1)
case " $ANALYZERS " in *" clang "*) ;; *) CLANG_OFF=1 ;; esac
if [ -n "${CLANG_OFF:-}" ]; then
	:
elif [ -n "$AB" ] && command -v clang >/dev/null; then
	[ -f "$SCAN/compile_commands.json" ] || CC=clang meson setup "$SCAN" \
	    -Dwerror=false >/dev/null
	# the generated headers the sources include
	ninja -C "$SCAN" postern-config.h >/dev/null 2>&1 || true
	out=$(mktemp -d)
	# the sources under src/, once each (not tests, fuzz targets)
	python3 - "$SCAN/compile_commands.json" "$out/cdb.json" <<'PY'
import json, sys
seen, keep = set(), []
for e in json.load(open(sys.argv[1])):
    f = e["file"]
    if "/src/" in "/" + f.lstrip("./") and f not in seen:
        seen.add(f)
        keep.append(e)
json.dump(keep, open(sys.argv[2], "w"))
PY
	ok=1
	"$AB" --cdb "$out/cdb.json" -o "$out/report" \
	    --disable-checker deadcode.DeadStores >"$out/log" 2>&1 || ok=0
	# one line per report: file:line: description (the HTML has them)
	for r in "$out"/report/*/report-*.html; do
		[ -f "$r" ] || continue
		sed -n 's/^<!-- BUG\(FILE\|LINE\|DESC\) \(.*\) -->$/\1 \2/p' "$r" |
		    awk '/^FILE/{f=$2} /^LINE/{l=$2} /^DESC/{sub(/^DESC /,""); d=$0}
			END{sub(/.*\/src\//,"src/",f); print f ":" l ": " d}'
	done | sort >"$out/found"
	# known findings still to fix (scripts/analyze/clang-known.txt: "file:
	# description" lines, each with its reason) are shown, not counted
	known=scripts/analyze/clang-known.txt
	grep -v '^#' "$known" 2>/dev/null | grep . >"$out/known" || :
	sed 's/^\([^:]*\):[0-9]*: /\1: /' "$out/found" | sort >"$out/found-nl"
	k=$(grep -cxFf "$out/known" "$out/found-nl")
	n=$(grep -cvxFf "$out/known" "$out/found-nl")
	[ -s "$out/known" ] || n=$(wc -l <"$out/found")
	cat "$out/found"
	echo "clang analyzer: $n findings ($k known, listed in $known)"
	if [ "$ok" -eq 0 ]; then
		echo "analyze-build failed:"; tail -20 "$out/log"; rc=1
	fi
	# XXX not yet enforced by default: the analyzer's first full run over
	# src/ had not finished when this was written, so its findings are
	# not all listed or fixed; CLANG_STRICT=1 makes them fail now
	if [ "$n" -ne 0 ] && [ "${CLANG_STRICT:-0}" = 1 ]; then
		rc=1
	elif [ "$n" -ne 0 ]; then
		echo "clang analyzer: reported, not failing (CLANG_STRICT=1 to fail)"
	fi
	rm -rf "$out"
else
	echo "clang analyzer: analyze-build or clang not installed" \
	    "(scripts/install-deps.sh: clang-tools)"; rc=1
fi
exit $rc

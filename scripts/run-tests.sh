#!/bin/sh
# The whole test suite: C unit tests and fuzz replays (meson test), then the
# integration tests (pytest with Debian's python3 against real posternd
# processes), all on the ASan + UBSan build. The last line is pytest's
# summary.
set -u
cd "$(dirname "$0")/.."
SAN=${SAN:-build-san}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0}

[ -f "$SAN/build.ninja" ] || meson setup "$SAN" -Db_sanitize=address,undefined \
	-Db_lundef=false -Dbuildtype=debug >/dev/null
ninja -C "$SAN" || { echo "0 passed, 1 failed (build)"; exit 1; }

unit_rc=0
meson test -C "$SAN" --print-errorlogs --num-processes 2 || unit_rc=1

POSTERN_BUILD="$(pwd)/$SAN" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	tests/integration "$@"
py_rc=$?
# the unit test failures were printed above pytest's summary
[ $unit_rc -ne 0 ] && exit 1
exit $py_rc

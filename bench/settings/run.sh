#!/bin/sh
# bench/settings/run.sh - the cost of a settings read before and after the
# typed snapshot (settings.h); results in bench/RESULTS.md.
# Builds the two libraries it needs in a release build (build/) and runs
# bench-settings.c against a fresh data root in /tmp.
set -e
cd "$(dirname "$0")/../.."
[ -d build ] || meson setup build -Dbuildtype=release >/dev/null
ninja -C build src/lib-config/libpostern-config.a src/lib/libpostern.a >/dev/null
out=/tmp/bench-settings.$$
cc -O3 -std=c11 -D_GNU_SOURCE -Isrc/lib -Isrc/lib-config \
    bench/settings/bench-settings.c build/src/lib-config/libpostern-config.a \
    build/src/lib/libpostern.a $(pkg-config --libs sqlite3 libcrypto libidn2) \
    -lcrypt -lmaxminddb -lpam -lpthread -o "$out"
root=$(mktemp -d /tmp/bench-settings-root.XXXXXX)
mkdir -p "$root/config"
"$out" "$root" "${1:-200000}"
rm -rf "$root" "$out"

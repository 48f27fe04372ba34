#!/bin/sh
# Install the Debian packages Postern needs to build, run and test.
# Idempotent: only missing packages are installed. Run as root (or it uses
# sudo when available).
set -eu

BUILD="build-essential meson ninja-build pkg-config clang llvm
  libsqlite3-dev libssl-dev libevent-dev libc-ares-dev libjansson-dev
  libcrypt-dev libgmime-3.0-dev libidn2-dev"
RUNTIME="openssl ca-certificates"
TEST="python3 python3-pytest swaks curl procps dnsmasq fetchmail sqlite3 bc isync
  sieve-connect python3-dkim python3-cryptography"

# Extra groups other parts of the suite ask for: POSTERN_EXTRA_PACKAGES.
PKGS="$BUILD $RUNTIME $TEST ${POSTERN_EXTRA_PACKAGES:-}"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 && SUDO=sudo || {
		echo "install-deps: need root to install:$missing" >&2; exit 1; }
fi
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null

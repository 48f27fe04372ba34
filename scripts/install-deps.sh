#!/bin/sh
# Install the Debian packages Postern needs to build, run and test.
# Idempotent: only missing packages are installed. Run as root (or it uses
# sudo when available).
set -eu

BUILD="build-essential meson ninja-build pkg-config clang llvm
  libsqlite3-dev libssl-dev libevent-dev libc-ares-dev libjansson-dev
  libcrypt-dev libgmime-3.0-dev libidn2-dev"
RUNTIME="openssl ca-certificates"
# static analysis and coverage (make check, make analyze, make coverage)
ANALYSIS="cppcheck clang-tools gcovr"
TEST="python3 python3-pytest python3-pytest-xdist swaks curl procps dnsmasq fetchmail sqlite3 bc isync
  sieve-connect python3-dkim python3-cryptography man-db make"
# The web admin: npm fills web/node_modules from the committed lockfile at
# build time (npm ci --ignore-scripts, scripts/web-build.sh); the browser
# tests drive Debian's chromium with npm playwright-core (never a browser
# playwright would download).
# A machine may already have Node.js from elsewhere (NodeSource's nodejs
# bundles npm and conflicts with Debian's npm package): take what is on
# the PATH.
WEB="chromium"
command -v node >/dev/null 2>&1 || WEB="$WEB nodejs"
command -v npm >/dev/null 2>&1 || WEB="$WEB npm"
# The reference servers the comparison tests (test_imap_dovecot,
# test_popretr's Dovecot case) and bench/ start privately on their own
# ports, never as system services: they are installed with their init
# scripts kept from starting (policy-rc.d) and their units disabled. Best
# effort: when they cannot be installed, those tests skip and say why.
PEERS="dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix"
# xmppd is compared with Prosody (tests/integration/test_xmpp_prosody.py)
PEERS="$PEERS prosody"
# XEP-0215 TURN credentials are checked against coturn (test_xmpp_turn.py)
PEERS="$PEERS coturn"

# Login security (issue 17): country lookups, QR codes, PAM; the tests'
# oathtool, zbarimg, .mmdb writer and PAM wrapper
LOGIN="libmaxminddb-dev libqrencode-dev libpam0g-dev oathtool zbar-tools libmaxmind-db-writer-perl libpam-wrapper"
# Content security (issue 19): clamd and sigtool, rspamd and its redis,
# started privately by the tests like the peers; python3-milter for the
# tests' milter
PEERS="$PEERS clamav-daemon clamav rspamd redis-server"
# DANE (issue 19): a validating resolver (unbound, started privately by
# test_dane.py with its own trust anchor) and ldns-signzone for the
# DNSSEC-signed test zones
PEERS="$PEERS unbound"
# the PostgreSQL config store (issue 20): libpq to build; the server the
# tests start privately (tests/integration/pg_util.py)
PEERS="$PEERS postgresql"
PKGS_FILTER="python3-milter"
# Extra groups other parts of the suite ask for: POSTERN_EXTRA_PACKAGES.
PKGS="$BUILD $RUNTIME $ANALYSIS $TEST $WEB $LOGIN ${POSTERN_EXTRA_PACKAGES:-}"
# xmppd: libexpat parses the XML streams; slixmpp is the tests' client
PKGS="$PKGS libexpat1-dev python3-slixmpp"
PKGS="$PKGS libpq-dev"
# passkeys (WebAuthn's CBOR: lib-admin/passkey.c)
PKGS="$PKGS libcbor-dev"
PKGS="$PKGS $PKGS_FILTER"
# trust (issue 19): dkimpy's ARC oracle (arc_sign/arc_verify) needs authres
PKGS="$PKGS python3-authres"
# OpenID Connect login (lib-admin/oidc.c): the provider requests
PKGS="$PKGS libcurl4-openssl-dev"
# chat uploads (XEP-0363): slixmpp's upload client needs aiohttp
PKGS="$PKGS python3-aiohttp"
# DANE tests: ldns-signzone signs the test zones
PKGS="$PKGS ldnsutils"
# benchmark curves (bench/smtp/sweep.py): the PNG plots
PKGS="$PKGS python3-matplotlib"
# the suite on PostgreSQL (pg_util.py, POSTERN_TEST_PG=1): tests' reads of the store
PKGS="$PKGS python3-psycopg2"

missing_of() {
	out=""
	for p in $1; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			out="$out $p"
		fi
	done
	echo "$out"
}

missing=$(missing_of "$PKGS")
peers=$(missing_of "$PEERS")
[ -z "$missing" ] && [ -z "$peers" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 && SUDO=sudo || {
		echo "install-deps: need root to install:$missing$peers" >&2; exit 1; }
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -q >/dev/null || true
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing" >&2
	# shellcheck disable=SC2086
	$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing >/dev/null
fi

[ -z "$peers" ] && exit 0
echo "install-deps: installing the reference servers (not started):$peers" >&2
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
	# invoke-rc.d and deb-systemd-invoke ask this script; 101 = do not
	# start anything while the packages install
	if printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null &&
	    $SUDO chmod 755 "$policy"; then
		made_policy=1
	fi
fi
echo "postfix postfix/main_mailer_type select No configuration" |
	$SUDO debconf-set-selections 2>/dev/null || true
# shellcheck disable=SC2086
if ! $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $peers >/dev/null; then
	echo "install-deps: could not install$peers; the tests that compare" \
	    "with them will skip" >&2
fi
[ -n "$made_policy" ] && $SUDO rm -f "$policy"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	$SUDO systemctl disable --now dovecot postfix >/dev/null 2>&1 || true
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	$SUDO systemctl disable --now clamav-daemon clamav-freshclam rspamd redis-server unbound >/dev/null 2>&1 || true
fi
exit 0

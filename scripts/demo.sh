#!/bin/sh
# Run Postern: a demo data root with a post office, a domain and two
# mailboxes, every service on unprivileged loopback ports, in the
# foreground (Ctrl-C stops everything).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DIR=${POSTERN_DEMO_DIR:-$(pwd)/demo-data}
P="$BUILD/postern -d $DIR"

if [ ! -f "$DIR/config/postern.db" ]; then
	$P init --hostname mail.example.test >/dev/null
	$P config set smtp.listen 127.0.0.1:2525
	$P config set submission.listen 127.0.0.1:5870
	$P config set smtps.listen 127.0.0.1:4650
	$P config set pop3.listen 127.0.0.1:1100
	$P config set pop3s.listen 127.0.0.1:9950
	$P config set imap.listen 127.0.0.1:1430
	$P config set imaps.listen 127.0.0.1:9930
	$P config set http.listen 127.0.0.1:8080
	$P config set https.listen 127.0.0.1:8443
	$P config set http.public_url http://127.0.0.1:8080
	$P config set managesieve.listen 127.0.0.1:4190
	$P config set xmpp.listen 127.0.0.1:5222
	$P config set xmpps.listen 127.0.0.1:5223
	PM=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 12)
	ALICE=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 12)
	BOB=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 12)
	$P postoffice add example --password "$PM"
	$P domain add example.test --postoffice example
	$P mailbox add alice@example --password "$ALICE" --friendly-name "Alice Example"
	$P mailbox add bob@example --password "$BOB" --friendly-name "Bob Example"
	umask 077
	cat > "$DIR/demo-passwords.txt" <<EOT
postmaster@example  $PM
alice@example       $ALICE   (alice@example.test)
bob@example         $BOB   (bob@example.test)
EOT
	echo "Created the demo data root $DIR"
fi

# chat (xmppd) on loopback in a demo root made before init listed xmppd
if ! grep -q '^services = .*xmppd' "$DIR/host.conf"; then
	$P config set xmpp.listen 127.0.0.1:5222
	$P config set xmpps.listen 127.0.0.1:5223
	sed -i 's/^\(services = .*\)$/\1 xmppd/' "$DIR/host.conf"
fi

# the demo stays on loopback, DNS included: a resolver address where
# nothing answers (lookups fail at once; outbound mail waits in the queue).
# For real outbound mail: postern -d DIR config set dns.hosts "<resolver>"
if [ -z "$($P config get dns.hosts 2>/dev/null)" ]; then
	$P config set dns.hosts 127.0.0.1:1
fi

# the web admin's SYSADMIN (also added to a demo root made before it)
if ! grep -q '^admin@example ' "$DIR/demo-passwords.txt"; then
	ADMIN=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 14)
	$P mailbox add admin@example --password "$ADMIN" --type SYSADMIN \
	    --friendly-name "Demo administrator" --no-auto-address
	(umask 077; echo "admin@example       $ADMIN   (SYSADMIN: web admin)" \
	    >> "$DIR/demo-passwords.txt")
fi
ADMIN_PW=$(sed -n 's/^admin@example  *\([^ ]*\).*/\1/p' "$DIR/demo-passwords.txt")
ALICE_PW=$(sed -n 's/^alice@example  *\([^ ]*\).*/\1/p' "$DIR/demo-passwords.txt")

cat <<EOT

Postern demo, data root $DIR
Logins (also in $DIR/demo-passwords.txt):
$(sed 's/^/  /' "$DIR/demo-passwords.txt")

Connect (all on 127.0.0.1):
  SMTP 2525   submission 5870 (STARTTLS + AUTH)   SMTPS 4650
  POP3 1100   POP3S 9950   IMAP 1430   IMAPS 9930   ManageSieve 4190
  HTTP 8080   HTTPS 8443 (web admin, JMAP API, list one-click unsubscribe, autoconfig)
  XMPP 5222 (STARTTLS)   XMPPS 5223 (chat, self-signed certificate)

Chat login (any XMPP client, e.g. Gajim, Dino, Conversations):
  JID alice@example.test   password $ALICE_PW   server 127.0.0.1 port 5222
  (bob@example.test likewise; they see each other in the "example" group)

Webmail: http://127.0.0.1:8080/mail/ (desktop and phone)
  log in as alice@example, password $ALICE_PW (or bob@example)
Web admin: http://127.0.0.1:8080/admin/
  log in as admin@example (SYSADMIN), password $ADMIN_PW
  (a post office's ADMIN, e.g. postmaster@example, sees only its post office)
  API: docs/API.md, e.g. curl http://127.0.0.1:8080/.well-known/jmap
JMAP mail (RFC 8621) for any mailbox, e.g.
  curl --user alice@example:PASSWORD http://127.0.0.1:8080/.well-known/jmap
  e.g.  swaks --server 127.0.0.1:2525 --to alice@example.test
        curl -k --user alice@example:PASSWORD imaps://127.0.0.1:9930/INBOX
        curl 'http://127.0.0.1:8080/mail/config-v1.1.xml?emailaddress=alice@example.test'
  Status: $BUILD/postern -d $DIR status
  DNS: dns.hosts is $($P config get dns.hosts) (nothing answers there: mail to
  other domains waits in the queue; set a real resolver to send it)

Starting posternd (Ctrl-C stops every service)...
EOT
exec "$BUILD/posternd" -d "$DIR"

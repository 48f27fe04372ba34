"""Helpers of the test_login_*.py modules (engineer login): real protocol
clients that log in from a chosen loopback source address (127.0.0.x), so
that a country database can map them to countries."""
import base64
import imaplib
import poplib
import smtplib
import socket

from test_managesieve import Client as SieveClient

T = 20


class IMAP(imaplib.IMAP4):
    def __init__(self, port, src="127.0.0.1"):
        self._src = src
        super().__init__("127.0.0.1", port, timeout=T)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._src, 0))


class POP(poplib.POP3):
    def __init__(self, port, src="127.0.0.1"):
        self._src = src
        super().__init__("127.0.0.1", port, timeout=T)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._src, 0))


def imap_login(port, user, pw, src="127.0.0.1"):
    """True when IMAP LOGIN succeeds (the session is logged out)"""
    c = IMAP(port, src)
    try:
        c.login(user, pw)
    except imaplib.IMAP4.error:
        c.shutdown()
        return False
    c.logout()
    return True


def pop_login(port, user, pw, src="127.0.0.1"):
    c = POP(port, src)
    try:
        c.user(user)
        c.pass_(pw)
    except poplib.error_proto:
        c.quit()
        return False
    c.quit()
    return True


def smtp_login(port, user, pw, src="127.0.0.1"):
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test",
                     timeout=T, source_address=(src, 0))
    try:
        s.ehlo()
        s.login(user, pw)
    except smtplib.SMTPAuthenticationError:
        s.quit()
        return False
    s.quit()
    return True


def sieve_login(port, user, pw):
    c = SieveClient(port)
    c.response()
    c.starttls()
    r = c.login(user, pw)
    ok = r[-1].startswith("OK")
    c.send("LOGOUT\r\n")
    c.sock.close()
    return ok


def plain(user, pw):
    return base64.b64encode(f"\0{user}\0{pw}".encode()).decode()


class Web:
    """A browser-like client of a web login (POST /api/login, or the
    webmail's /jmap/mail/login with path=) from a chosen loopback source
    address, with the Host a browser would send (host=)."""

    def __init__(self, port, src="127.0.0.1", path="/api/login", host=None):
        self.port = port
        self.src = src
        self.path = path
        self.host = host or f"127.0.0.1:{port}"
        self.cookie = None
        self.device = None      # the remembered device cookie

    def post(self, path, body, cookie=True):
        import http.client
        import json
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=T,
                                       source_address=(self.src, 0))
        h = {"Host": self.host, "Content-Type": "application/json",
             "X-Postern-CSRF": "1"}
        jar = [self.cookie] if cookie and self.cookie else []
        if self.device:
            jar.append(self.device)
        if jar:
            h["Cookie"] = "; ".join(jar)
        c.request("POST" if body is not None else "GET", path,
                  body=json.dumps(body).encode() if body is not None
                  else None, headers=h)
        r = c.getresponse()
        text = r.read()
        c.close()
        try:
            r.json = json.loads(text) if text else None
        except ValueError:
            r.json = None
        return r

    def login(self, user, pw, code=None, passkey=None, remember=None):
        body = {}
        if remember is not None:
            body["remember"] = remember
        if user is not None:
            body["login"] = user
        if pw is not None:
            body["password"] = pw
        if code is not None:
            body["code"] = code
        if passkey is not None:
            body["passkey"] = passkey
        r = self.post(self.path, body, cookie=False)
        for c in r.msg.get_all("Set-Cookie") or []:
            kv = c.split(";")[0]
            if kv.startswith("postern_session=") and r.status == 200:
                self.cookie = kv
            elif kv.startswith("postern_device="):
                self.device = kv
        return r


def oathtool(secret, at=None):
    """the TOTP code of a base32 secret now, or at unix time at"""
    import subprocess
    cmd = ["oathtool", "--totp", "-b", secret]
    if at is not None:
        cmd += ["-N", f"@{int(at)}"]
    return subprocess.run(cmd, capture_output=True, text=True,
                          check=True).stdout.strip()


MMDB_WRITER = r'''
use strict;
use MaxMind::DB::Writer::Tree;
my ($out, @pairs) = @ARGV;
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 24,
    database_type => 'Postern-Test-Country', languages => ['en'],
    description => { en => 'loopback addresses mapped to countries' },
    map_key_type_callback => sub {
        my %t = (country => 'map', iso_code => 'utf8_string'); $t{$_[0]} },
    remove_reserved_networks => 0, alias_ipv6_to_ipv4 => 1,
);
while (@pairs) {
    my ($net, $cc) = splice(@pairs, 0, 2);
    $tree->insert_network($net, { country => { iso_code => $cc } });
}
open my $fh, '>:raw', $out or die "$out: $!";
$tree->write_tree($fh);
close $fh;
'''


def make_mmdb(path, mapping):
    """a MaxMind DB country database at path mapping networks ("127.0.0.2/32")
    to ISO codes, made with Debian's libmaxmind-db-writer-perl; skips the
    test when it is missing"""
    import subprocess
    import pytest
    r = subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("libmaxmind-db-writer-perl missing "
                    "(scripts/install-deps.sh installs it)")
    args = []
    for net, cc in mapping.items():
        args += [net, cc]
    subprocess.run(["perl", "-e", MMDB_WRITER, str(path)] + args, check=True)

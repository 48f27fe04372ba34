"""The inbound SMTP connector (postern-smtpd) through real sockets, with
smtplib, swaks and raw sockets: capabilities, local mail into the inbound
queue with its envelope, relay rules, AUTH after STARTTLS, limits, BDAT,
pipelining, SMTP smuggling and STARTTLS injection, implicit TLS, SMTPUTF8.

One posternd running only smtpd serves the whole module; tests that change
a setting put it back (smtpd reads settings on use)."""
import base64
import smtplib
import socket
import ssl
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import Postern

DOMAIN = "acme.test"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("smtpd") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret")
    p.cli("domain", "add", DOMAIN, "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", "alice-pw")
    p.cli("mailbox", "add", "bob@acme", "--password", "bob-pw")
    p.cli("mailbox", "add", "carol@acme", "--password", "carol-pw")
    p.start(services=["smtpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client(srv, port="smtp"):
    s = smtplib.SMTP("127.0.0.1", srv.port(port), local_hostname="client.test",
                     timeout=15)
    return s


def inbound(srv):
    return srv.root / "queue" / "smtp" / "inbound" / "new"


def parse_env(text):
    """The envelope text of lib-queue: records of words, ' =value'
    (%-escaped) or ' -' (none)."""
    env = {"rcpts": []}
    for line in text.splitlines()[1:]:
        words = line.split(" ")
        vals = [None if w == "-" else urllib.parse.unquote(w[1:])
                if w.startswith("=") else w for w in words[1:]]
        if words[0] == "rcpt":
            env["rcpts"].append({"address": vals[0], "orcpt": vals[1],
                                 "notify": int(vals[2])})
        elif words[0] != "end":
            env[words[0]] = vals[0] if len(vals) == 1 else vals
    return env


def item(srv, qid):
    d = inbound(srv)
    env = parse_env((d / f"{qid}.env").read_text())
    msg = (d / f"{qid}.msg").read_bytes()
    return env, msg


def queued_id(resp):
    text = resp.decode() if isinstance(resp, bytes) else resp
    assert "queued as " in text, text
    return text.split("queued as ")[1].split()[0]


def count_items(srv):
    return len(list(inbound(srv).glob("*.env")))


class Raw:
    """A line-level SMTP client on a plain socket, for what smtplib will
    not send."""

    def __init__(self, port, sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port), 10)
        self.sock.settimeout(10)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One reply (all its lines): (code, text)."""
        lines = []
        deadline = time.time() + 10
        while time.time() < deadline:
            while b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                lines.append(line.decode("utf-8", "replace"))
                if len(line) < 4 or line[3:4] != b"-":
                    return int(line[:3]), "\n".join(lines)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed; got " + repr(lines))
            self.buf += data
        raise TimeoutError(repr(lines))

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def close(self):
        self.sock.close()


def raw_session(srv, port="smtp"):
    r = Raw(srv.port(port))
    assert r.reply()[0] == 220
    assert r.cmd("EHLO client.test")[0] == 250
    return r


def set_cfg(srv, key, value):
    srv.cli("config", "set", key, value)


def unset_cfg(srv, key):
    srv.cli("config", "unset", key)


# --- capabilities and local mail ---------------------------------------------

def test_ehlo_capabilities(srv):
    with client(srv) as s:
        code, msg = s.ehlo()
        assert code == 250
        assert msg.decode().startswith("mx.postern.test")
        for ext in ("size", "pipelining", "8bitmime", "enhancedstatuscodes",
                    "smtputf8", "dsn", "chunking", "binarymime", "starttls"):
            assert s.has_extn(ext), ext
        assert int(s.esmtp_features["size"]) == 51200 * 1024
        assert not s.has_extn("auth"), "AUTH offered before TLS"
        s.starttls(context=tls_ctx())
        s.ehlo()
        assert s.has_extn("auth")
        assert set(s.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}
        assert not s.has_extn("starttls")


def test_local_mail_queued_with_envelope(srv):
    body = (b"From: x@example.org\r\nSubject: hello\r\n\r\n"
            b"first line\r\n.leading dot\r\nlast\r\n")
    with client(srv) as s:
        s.ehlo()
        code, _ = s.mail("sender@example.org",
                         ["BODY=8BITMIME", "RET=HDRS", "ENVID=env+2Bid"])
        assert code == 250
        code, _ = s.rcpt("alice@acme.test",
                         ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;alice+40acme.test"])
        assert code == 250
        assert s.rcpt("Bob@ACME.test")[0] == 250
        assert s.rcpt("bob@acme.test")[0] == 250     # one copy only
        code, resp = s.data(body)
        assert code == 250, resp
        qid = queued_id(resp)
    assert resp.decode().startswith("2.0.0 ")
    env, msg = item(srv, qid)
    assert env["id"] == qid
    assert env["sender"] == "sender@example.org"
    assert env["client"] == ["127.0.0.1", "client.test"]
    assert env["body"] == "8BITMIME"
    assert env["ret"] == "HDRS"
    assert env["envid"] == "env+2Bid"
    assert env["auth"] is None
    assert env["hops"] == "1"
    assert [r["address"] for r in env["rcpts"]] == ["alice@acme.test",
                                                     "Bob@ACME.test"]
    assert env["rcpts"][0]["orcpt"] == "rfc822;alice+40acme.test"
    assert env["rcpts"][0]["notify"] == 0x02 | 0x04
    # our Received header first, then the message dot-unstuffed
    assert msg.startswith(b"Received: from client.test (localhost [127.0.0.1])\r\n"
                          b"\tby mx.postern.test (Postern) with ESMTP id " +
                          qid.encode())
    assert msg.endswith(body)     # smtplib stuffed the dot, smtpd removed it
    log = srv.log("smtpd")
    assert f"{qid}: accepted from=<sender@example.org>" in log


def test_null_sender_postmaster_and_abuse(srv):
    with client(srv) as s:
        s.ehlo()
        assert s.mail("<>")[0] == 250
        assert s.rcpt("postmaster@acme.test")[0] == 250
        assert s.rcpt("abuse@acme.test")[0] == 250
        assert s.rcpt("<Postmaster>")[0] == 250     # RFC 5321 4.1.1.3
        code, resp = s.data(b"Subject: bounce\r\n\r\nx\r\n")
        assert code == 250
    env, _ = item(srv, queued_id(resp))
    assert env["sender"] == ""
    # <Postmaster> went to a hosted domain's postmaster (given once)
    assert [r["address"] for r in env["rcpts"]] == [
        "postmaster@acme.test", "abuse@acme.test"]


def test_unknown_disabled_and_blacklisted(srv):
    with client(srv) as s:
        s.ehlo()
        assert s.mail("someone@example.org")[0] == 250
        code, msg = s.rcpt("nobody@acme.test")
        assert (code, msg[:5]) == (550, b"5.1.1")
        srv.cli("mailbox", "set", "carol@acme", "disabled=yes")
        try:
            code, msg = s.rcpt("carol@acme.test")
            assert (code, msg[:5]) == (550, b"5.2.1")
        finally:
            srv.cli("mailbox", "set", "carol@acme", "disabled=no")
        assert s.rcpt("carol@acme.test")[0] == 250
        s.rset()
        srv.cli("domain", "blacklist", "add", DOMAIN, "spam.example")
        try:
            assert s.mail("x@spam.example")[0] == 250
            code, msg = s.rcpt("alice@acme.test")
            assert (code, msg[:5]) == (550, b"5.7.1")
        finally:
            srv.cli("domain", "blacklist", "del", DOMAIN, "spam.example")
        s.rset()
        srv.cli("domain", "set", DOMAIN, "disabled=yes")
        try:
            assert s.mail("x@example.org")[0] == 250
            code, msg = s.rcpt("alice@acme.test")
            assert code == 550 and msg.startswith(b"5.2.1")
        finally:
            srv.cli("domain", "set", DOMAIN, "disabled=no")


# --- relay rules and AUTH -----------------------------------------------------

def test_relay_denied_without_auth(srv):
    with client(srv) as s:
        s.ehlo()
        assert s.mail("alice@acme.test")[0] == 250
        code, msg = s.rcpt("friend@example.org")
        assert code == 554 and msg.startswith(b"5.7.1"), msg
        code, msg = s.rcpt("x@[192.0.2.1]")
        assert code == 554
        # even over TLS, without AUTH
        s.rset()
        s.starttls(context=tls_ctx())
        s.ehlo()
        s.mail("alice@acme.test")
        assert s.rcpt("friend@example.org")[0] == 554


def test_relay_networks(srv):
    set_cfg(srv, "smtp.relay_networks", "10.0.0.0/8 127.0.0.0/30")
    try:
        with client(srv) as s:
            s.ehlo()
            s.mail("app@acme.test")
            assert s.rcpt("friend@example.org")[0] == 250
    finally:
        set_cfg(srv, "smtp.relay_networks", "10.0.0.0/8 ::1/128")
    with client(srv) as s:
        s.ehlo()
        s.mail("app@acme.test")
        assert s.rcpt("friend@example.org")[0] == 554
    unset_cfg(srv, "smtp.relay_networks")


def test_submission_requires_auth_after_tls(srv):
    with client(srv, "submission") as s:
        s.ehlo()
        code, msg = s.mail("alice@acme.test")
        assert (code, msg[:5]) == (530, b"5.7.0")
        code, msg = s.docmd("AUTH", "PLAIN AGFsaWNlQGFjbWUAYWxpY2UtcHc=")
        assert (code, msg[:6]) == (538, b"5.7.11")
        s.starttls(context=tls_ctx())
        s.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice@acme", "wrong")
        assert e.value.smtp_code == 535
        s.login("alice@acme", "alice-pw")
        assert s.mail("alice@acme.test")[0] == 250
        assert s.rcpt("friend@example.org")[0] == 250
        code, resp = s.data(b"Subject: out\r\n\r\nhi\r\n")
        assert code == 250
    env, msg = item(srv, queued_id(resp))
    assert env["auth"] == "alice@acme"
    assert b" with ESMTPSA id " in msg and b"(TLSv1.3 " in msg
    log = srv.log("smtpd")
    assert "auth ok: user=alice@acme" in log
    assert "alice-pw" not in log and "AGFsaWNl" not in log


def test_auth_login_and_failures(srv):
    r = raw_session(srv, "submission")
    r.send("STARTTLS\r\n")
    assert r.reply()[0] == 220
    r.sock = tls_ctx().wrap_socket(r.sock)
    assert r.cmd("EHLO c.test")[0] == 250
    b = lambda t: base64.b64encode(t.encode()).decode()
    assert r.cmd("AUTH LOGIN") == (334, "334 VXNlcm5hbWU6")
    assert r.cmd(b("bob@acme"))[0] == 334
    assert r.cmd(b("nope"))[0] == 535
    assert r.cmd("AUTH PLAIN " + b("\0bob@acme\0nope"))[0] == 535
    assert r.cmd("AUTH PLAIN")[0] == 334
    assert r.cmd("*")[0] == 501
    assert r.cmd("AUTH PLAIN !!!!")[0] == 501
    assert r.cmd("AUTH CRAM-MD5")[0] == 504
    assert r.cmd("AUTH LOGIN " + b("bob@acme"))[0] == 334
    assert r.cmd(b("bob-pw"))[0] == 235
    assert r.cmd("AUTH PLAIN " + b("\0bob@acme\0bob-pw"))[0] == 503
    r.close()
    # three wrong passwords end the session
    s = smtplib.SMTP_SSL("127.0.0.1", srv.port("smtps"), context=tls_ctx(),
                         timeout=10)
    s.ehlo()
    codes = [s.docmd("AUTH", "PLAIN " + b("\0bob@acme\0x%d" % i))[0]
             for i in range(3)]
    assert codes == [535, 535, 535]
    assert s.noop()[0] == 421
    with pytest.raises(smtplib.SMTPServerDisconnected):
        s.noop()


def test_implicit_tls_port(srv):
    s = smtplib.SMTP_SSL("127.0.0.1", srv.port("smtps"), context=tls_ctx(),
                         local_hostname="client.test", timeout=10)
    s.ehlo()
    assert s.has_extn("auth") and not s.has_extn("starttls")
    s.login("bob@acme", "bob-pw")
    s.mail("bob@acme.test")
    assert s.rcpt("alice@acme.test")[0] == 250
    code, resp = s.data(b"Subject: tls\r\n\r\nx\r\n")
    assert code == 250
    s.quit()
    _, msg = item(srv, queued_id(resp))
    assert b"with ESMTPSA id" in msg


def test_smtputf8(srv):
    r = raw_session(srv)
    r.send("MAIL FROM:<j\u00fcrgen@example.org>\r\n".encode())
    code, text = r.reply()
    assert code == 553 and "5.6.7" in text
    assert r.cmd("MAIL FROM:<j\u00fcrgen@example.org> SMTPUTF8")[0] == 250
    r.send("RCPT TO:<j\xfcrgen@example.org>\r\n".encode("latin-1"))
    code, text = r.reply()
    assert code == 501, text      # not UTF-8
    r.close()
    with client(srv) as s:
        s.ehlo()
        code, resp = s.sendmail("j\u00fcrgen@m\u00fcnchen.example",
                                ["alice@acme.test"],
                                "Subject: utf8 \u00fc\r\n\r\nGr\u00fc\u00dfe\r\n".encode(),
                                mail_options=["SMTPUTF8", "BODY=8BITMIME"]), None
        assert code == {}
    ids = sorted(inbound(srv).glob("*.env"), key=lambda p: p.stat().st_mtime)
    env = parse_env(ids[-1].read_text())
    assert env["sender"] == "j\u00fcrgen@m\u00fcnchen.example"
    assert env["smtputf8"] == "1"
    assert b"with UTF8SMTP id" in (ids[-1].with_suffix(".msg")).read_bytes()


def test_swaks_submission_tls_auth(srv):
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(srv.port("submission")),
         "--tls", "--auth", "PLAIN", "--auth-user", "alice@acme",
         "--auth-password", "alice-pw", "--from", "alice@acme.test",
         "--to", "someone@example.org,bob@acme.test", "--pipeline",
         "--helo", "swaks.test", "--body", "via swaks"],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    line = [l for l in r.stdout.splitlines() if "queued as" in l][-1]
    env, msg = item(srv, line.split("queued as ")[1].strip())
    assert [x["address"] for x in env["rcpts"]] == ["someone@example.org",
                                                    "bob@acme.test"]
    assert b"via swaks" in msg


# --- limits -------------------------------------------------------------------

def test_size_limit(srv):
    set_cfg(srv, "smtp.max_message_size", "10K")
    try:
        before = count_items(srv)
        with client(srv) as s:
            s.ehlo()
            assert int(s.esmtp_features["size"]) == 10240
            code, msg = s.mail("a@example.org", ["SIZE=20000"])
            assert (code, msg[:5]) == (552, b"5.3.4")
            assert s.mail("a@example.org")[0] == 250
            assert s.rcpt("alice@acme.test")[0] == 250
            code, msg = s.data(b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n" * 0 +
                               (b"y" * 78 + b"\r\n") * 200)
            assert (code, msg[:5]) == (552, b"5.3.4")
            assert s.noop()[0] == 250     # the session goes on
        assert count_items(srv) == before
    finally:
        unset_cfg(srv, "smtp.max_message_size")


def test_too_many_recipients(srv):
    set_cfg(srv, "smtp.max_recipients", "2")
    try:
        with client(srv) as s:
            s.ehlo()
            s.mail("a@example.org")
            assert s.rcpt("alice@acme.test")[0] == 250
            assert s.rcpt("bob@acme.test")[0] == 250
            code, msg = s.rcpt("carol@acme.test")
            assert (code, msg[:5]) == (452, b"4.5.3")
            assert s.data(b"Subject: two\r\n\r\nx\r\n")[0] == 250
    finally:
        unset_cfg(srv, "smtp.max_recipients")


def test_line_limits_and_errors(srv):
    r = raw_session(srv)
    code, text = r.cmd("NOOP " + "x" * 600)
    assert code == 500 and "5.5.2" in text
    assert r.cmd("NOOP")[0] == 250
    # a MAIL line may carry parameters past 512, within 2048
    assert r.cmd("MAIL FROM:<a@example.org> ENVID=" + "e" * 100)[0] == 250
    assert r.cmd("RCPT TO:<alice@acme.test> ORCPT=rfc822;" + "a" * 450)[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: long\r\n\r\n" + "z" * 1001 + "\r\nmore\r\n.\r\n")
    code, text = r.reply()
    assert code == 550 and "5.5.2" in text
    assert r.cmd("NOOP")[0] == 250
    # a bare LF command is not executed
    r.send("RSET\n")
    assert r.reply()[0] == 500
    # 10 bad commands and we are out
    codes = []
    for _ in range(10):
        codes.append(r.cmd("BOGUS")[0])
        if codes[-1] == 421:
            break
    # two errors above, eight here: the tenth is answered, then 421
    assert codes == [500] * 8 + [421]
    with pytest.raises((EOFError, ConnectionResetError, BrokenPipeError)):
        r.cmd("NOOP")
    r.close()


def test_pipelining(srv):
    r = raw_session(srv)
    r.send("MAIL FROM:<p@example.org>\r\nRCPT TO:<alice@acme.test>\r\n"
           "RCPT TO:<nobody@acme.test>\r\nRCPT TO:<x@example.net>\r\n"
           "RCPT TO:<bob@acme.test>\r\nDATA\r\n")
    assert [r.reply()[0] for _ in range(6)] == [250, 250, 550, 554, 250, 354]
    r.send("Subject: pipe\r\n\r\nbody\r\n.\r\nMAIL FROM:<q@example.org>\r\n"
           "RCPT TO:<bob@acme.test>\r\nDATA\r\n")
    code, text = r.reply()
    assert code == 250
    qid = queued_id(text)
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
    r.send("Subject: pipe2\r\n\r\nbody2\r\n.\r\nQUIT\r\n")
    code, text2 = r.reply()
    assert code == 250 and r.reply()[0] == 221
    env, _ = item(srv, qid)
    assert [x["address"] for x in env["rcpts"]] == ["alice@acme.test",
                                                    "bob@acme.test"]
    assert queued_id(text2) != qid


def test_bdat(srv):
    r = raw_session(srv)
    # BDAT without a transaction: the chunk is read, then refused
    r.send("BDAT 5\r\nHELLO")
    assert r.reply()[0] == 503
    assert r.cmd("NOOP")[0] == 250
    r.send("MAIL FROM:<b@example.org> BODY=BINARYMIME\r\nRCPT TO:<alice@acme.test>\r\n")
    assert [r.reply()[0] for _ in range(2)] == [250, 250]
    assert r.cmd("DATA")[0] == 503          # BINARYMIME needs BDAT
    part1 = b"Subject: chunks\r\n\r\nbinary\x00\n.\r\n"
    part2 = b"\r\n.\r\nend\r\n"
    r.send(b"BDAT %d\r\n" % len(part1) + part1)
    code, text = r.reply()
    assert code == 250 and "octets" in text
    r.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    code, text = r.reply()
    assert code == 250
    env, msg = item(srv, queued_id(text))
    assert env["body"] == "BINARYMIME"
    assert msg.endswith(part1 + part2)
    # BDAT 0 LAST after chunks; then pipelined commands go on
    r.send("MAIL FROM:<b@example.org>\r\nRCPT TO:<bob@acme.test>\r\n"
           "BDAT 3\r\nabcBDAT 0 LAST\r\nNOOP\r\n")
    assert [r.reply()[0] for _ in range(5)] == [250, 250, 250, 250, 250]
    r.close()


SMUGGLE = ["\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\n", "\r\n.\r", "\r\n\x00.\r\n"]


@pytest.mark.parametrize("end", SMUGGLE, ids=[repr(e) for e in SMUGGLE])
def test_smuggling_impossible(srv, end):
    before = count_items(srv)
    r = raw_session(srv)
    assert r.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert r.cmd("RCPT TO:<alice@acme.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: first\r\n\r\nhello" + end +
           "MAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@acme.test>\r\n"
           "DATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n")
    code, text = r.reply()
    if "\x00" in end:
        # a NUL is no newline: one message, stored as sent, nothing smuggled
        assert code == 250
        _, msg = item(srv, queued_id(text))
        assert b"Subject: smuggled" in msg and msg.count(b"Received:") == 1
        before += 1
    else:
        assert code == 550 and "5.6.11" in text, text
    assert r.cmd("QUIT")[0] == 221
    r.close()
    assert count_items(srv) == before
    for env in inbound(srv).glob("*.env"):
        assert "evil@example.org" not in env.read_text()


def test_starttls_injection(srv):
    r = raw_session(srv)
    # commands pipelined after STARTTLS must be thrown away
    r.send("STARTTLS\r\nMAIL FROM:<inject@example.org>\r\n")
    assert r.reply()[0] == 220
    r.sock = tls_ctx().wrap_socket(r.sock)
    r.buf = b""
    code, text = r.cmd("RCPT TO:<alice@acme.test>")
    assert code == 503, text      # no MAIL survived the handshake
    # and EHLO state is forgotten after STARTTLS
    code, _ = r.cmd("MAIL FROM:<a@example.org>")
    assert code == 503
    assert r.cmd("EHLO again.test")[0] == 250
    assert r.cmd("STARTTLS")[0] == 503
    r.close()
    assert "discarding" in srv.log("smtpd")


def test_per_ip_connection_limit(srv):
    set_cfg(srv, "smtp.max_connections_per_ip", "2")
    try:
        a = Raw(srv.port("smtp"))
        b = Raw(srv.port("smtp"))
        assert a.reply()[0] == 220 and b.reply()[0] == 220
        c = Raw(srv.port("smtp"))
        code, text = c.reply()
        assert code == 421 and "4.7.0" in text
        c.close()
        a.cmd("QUIT")
        a.close()
        deadline = time.time() + 5
        while time.time() < deadline:
            d = Raw(srv.port("smtp"))
            code, _ = d.reply()
            d.close()
            if code == 220:
                break
            time.sleep(0.1)
        assert code == 220
        b.close()
    finally:
        unset_cfg(srv, "smtp.max_connections_per_ip")


def test_timeout(srv):
    set_cfg(srv, "smtp.timeout", "10s")
    try:
        r = Raw(srv.port("smtp"))
        r.sock.settimeout(20)
        t0 = time.time()
        assert r.reply()[0] == 220
        r.send("EHLO slow.test\r\n")
        assert r.reply()[0] == 250
        code, text = None, ""
        r.buf = b""
        data = b""
        while time.time() - t0 < 20:
            chunk = r.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"421 4.4.2"), data
        assert 9 <= time.time() - t0 < 16
        r.close()
    finally:
        unset_cfg(srv, "smtp.timeout")


def test_smarthost_domains(srv):
    """manual 5.4.2 "act as smart host": all mail for the domain is
    relayed on; with "only relay from authenticated users" only from them."""
    srv.cli("domain", "add", "backup.test", "--postoffice", "acme")
    srv.cli("domain", "set", "backup.test", "smarthost=192.0.2.1:25")
    srv.cli("domain", "add", "users-only.test", "--postoffice", "acme")
    srv.cli("domain", "set", "users-only.test", "smarthost=192.0.2.1:25",
            "smarthost_auth_only=yes")
    with client(srv) as s:
        s.ehlo()
        s.mail("a@example.org")
        assert s.rcpt("anyone@backup.test")[0] == 250
        code, msg = s.rcpt("anyone@users-only.test")
        assert code == 554 and msg.startswith(b"5.7.1")
    with client(srv, "submission") as s:
        s.starttls(context=tls_ctx())
        s.login("alice@acme", "alice-pw")
        s.mail("alice@acme.test")
        assert s.rcpt("anyone@users-only.test")[0] == 250


def test_mail_loop_refused(srv):
    hdrs = b"".join(b"Received: from x%d.test by y.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n" % i
                    for i in range(60))
    with client(srv) as s:
        s.ehlo()
        s.mail("a@example.org")
        s.rcpt("alice@acme.test")
        code, msg = s.data(hdrs + b"Subject: loop\r\n\r\nx\r\n")
        assert (code, msg[:5]) == (554, b"5.4.6")


def test_disk_full_is_452_and_nothing_claimed(postern, tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs",
                        str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs: " + r.stderr.decode())
    try:
        postern.cli("postoffice", "add", "acme", "--password", "pm-secret")
        postern.cli("domain", "add", DOMAIN, "--postoffice", "acme")
        postern.cli("mailbox", "add", "alice@acme", "--password", "alice-pw")
        postern.cli("config", "set", "path.queue", str(mnt))
        postern.start(services=["smtpd"])
        with smtplib.SMTP("127.0.0.1", postern.port("smtp"), timeout=15) as s:
            s.ehlo("client.test")
            s.mail("a@example.org")
            s.rcpt("alice@acme.test")
            code, msg = s.data(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 400)
            assert (code, msg[:5]) == (452, b"4.3.1"), msg
            assert s.noop()[0] == 250
            # nothing half-written is left behind, and space comes back
            new = mnt / "smtp" / "inbound" / "new"
            assert list(new.iterdir()) == []
            assert list((mnt / "smtp" / "inbound" / "tmp").iterdir()) == []
            s.mail("a@example.org")
            s.rcpt("alice@acme.test")
            code, msg = s.data(b"Subject: small\r\n\r\nfits\r\n")
            assert code == 250
            assert len(list(new.glob("*.env"))) == 1
        assert "cannot commit queue item" in postern.log("smtpd")
    finally:
        postern.stop()
        subprocess.run(["umount", str(mnt)])


def test_shutdown_mid_message(populated):
    """SIGTERM while a message is half sent: 421, nothing queued, no
    partial file left, no leak reported by the sanitizers."""
    populated.start(services=["smtpd"])
    r = raw_session(populated)
    assert r.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert r.cmd("RCPT TO:<alice@acme.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: half\r\n\r\nsome text\r\n")
    time.sleep(0.2)
    populated.stop()
    code, text = r.reply()
    assert code == 421 and "4.3.2" in text
    r.close()
    q = populated.root / "queue" / "smtp" / "inbound"
    assert list((q / "new").iterdir()) == []
    assert list((q / "tmp").iterdir()) == []


def test_auth_throttled_per_address(populated):
    """auth.max_failures failed logins from one address: AUTH is refused
    for a while even with the right password."""
    populated.cli("config", "set", "auth.max_failures", "2")
    populated.start(services=["smtpd"])
    for pw in ("bad1", "bad2"):
        with smtplib.SMTP_SSL("127.0.0.1", populated.port("smtps"),
                              context=tls_ctx(), timeout=10) as s:
            s.ehlo()
            plain = base64.b64encode(b"\0alice@acme\0" + pw.encode()).decode()
            assert s.docmd("AUTH", "PLAIN " + plain)[0] == 535
    with smtplib.SMTP_SSL("127.0.0.1", populated.port("smtps"),
                          context=tls_ctx(), timeout=10) as s:
        s.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice@acme", "alice-pw")
        assert e.value.smtp_code == 454
    assert "too many failures from [127.0.0.1]" in populated.log("smtpd")


def test_sigkill_loses_no_accepted_message(populated):
    """SIGKILL smtpd while many sessions are mid-transaction: every message
    that got its 250 is complete in the inbound queue."""
    import json
    import os
    import signal
    import threading
    populated.cli("config", "set", "smtp.max_connections_per_ip", "100")
    populated.start(services=["smtpd"])
    pid = json.loads((populated.root / "run" / "smtpd.json").read_text())["pid"]
    accepted, lock, stop = {}, threading.Lock(), time.time() + 20

    def sender(n):
        body = b"Subject: crash %d\r\n\r\n" % n + (b"y" * 70 + b"\r\n") * 50
        try:
            with smtplib.SMTP("127.0.0.1", populated.port("smtp"), timeout=10) as s:
                s.ehlo("crash.test")
                for i in range(1000):
                    if time.time() > stop:
                        break
                    s.mail("a@example.org")
                    s.rcpt("alice@acme.test")
                    code, resp = s.data(body + b"%d-%d\r\n" % (n, i))
                    if code == 250:
                        with lock:
                            accepted[queued_id(resp)] = b"%d-%d\r\n" % (n, i)
        except (smtplib.SMTPException, OSError):
            pass

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    deadline = time.time() + 10
    while len(accepted) < 200 and time.time() < deadline:
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    for t in threads:
        t.join(30)
    assert len(accepted) >= 200
    new = inbound(populated)
    for qid, tail in accepted.items():
        env = parse_env((new / f"{qid}.env").read_text())
        assert env["rcpts"][0]["address"] == "alice@acme.test"
        assert (new / f"{qid}.msg").read_bytes().endswith(tail)


def test_command_sequence_and_misc(srv):
    r = Raw(srv.port("smtp"))
    assert r.reply()[0] == 220
    assert r.cmd("MAIL FROM:<a@example.org>")[0] == 503      # no HELO yet
    assert r.cmd("HELO")[0] == 501
    code, text = r.cmd("HELO old.test")
    assert code == 250 and text == "250 mx.postern.test"
    assert r.cmd("MAIL FROM:<a@example.org> SIZE=10")[0] == 555  # no ESMTP
    assert r.cmd("RCPT TO:<alice@acme.test>")[0] == 503      # no MAIL
    assert r.cmd("DATA")[0] == 503
    assert r.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert r.cmd("MAIL FROM:<a@example.org>")[0] == 503      # nested
    assert r.cmd("DATA")[0] == 554                           # no recipients
    r.cmd("QUIT")
    r.close()
    r = raw_session(srv)        # a fresh error count
    assert r.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert r.cmd("RCPT TO:<alice@acme.test> FOO=bar")[0] == 555
    assert r.cmd("RCPT TO:<alice@acme.test> NOTIFY=SOMETIMES")[0] == 501
    assert r.cmd("RCPT TO:alice@acme.test")[0] == 501
    assert r.cmd("RCPT TO:<alice@acme.test>")[0] == 250
    assert r.cmd("DATA now")[0] == 501
    assert r.cmd("RSET")[0] == 250
    assert r.cmd("RCPT TO:<alice@acme.test>")[0] == 503      # RSET forgot MAIL
    assert r.cmd("VRFY alice")[0] == 252
    assert r.cmd("EXPN staff")[0] == 502
    assert r.cmd("HELP")[0] == 214
    assert r.cmd("HELO old.test")[0] == 250
    assert r.cmd("AUTH PLAIN")[0] == 503                     # HELO, not EHLO
    assert r.cmd("QUIT")[0] == 221
    r.close()


def test_global_connection_limit(srv):
    set_cfg(srv, "smtp.max_connections", "1")
    try:
        a = Raw(srv.port("submission"))
        assert a.reply()[0] == 220
        b = Raw(srv.port("smtp"))
        code, text = b.reply()
        assert code == 421 and "4.7.0" in text
        b.close()
        a.close()
    finally:
        unset_cfg(srv, "smtp.max_connections")


def test_sni_certificate_per_domain(srv):
    """STARTTLS and smtps pick certs/<name>.crt by SNI, else the default."""
    certs = srv.root / "certs"
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
         "2", "-subj", "/CN=acme.test", "-keyout", str(certs / "acme.test.key"),
         "-out", str(certs / "acme.test.crt")], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr

    def subject(server_name, port):
        if port == "smtps":
            raw = socket.create_connection(("127.0.0.1", srv.port("smtps")), 10)
            tls = tls_ctx().wrap_socket(raw, server_hostname=server_name)
            der = tls.getpeercert(binary_form=True)
            tls.close()
            return der
        r = raw_session(srv)
        r.send("STARTTLS\r\n")
        assert r.reply()[0] == 220
        r.sock = tls_ctx().wrap_socket(r.sock, server_hostname=server_name)
        der = r.sock.getpeercert(binary_form=True)
        r.close()
        return der

    def cn(der):
        out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                              "-subject"], input=der, capture_output=True)
        return out.stdout.decode()

    assert "acme.test" in cn(subject("acme.test", "smtp"))
    assert "acme.test" in cn(subject("ACME.test", "smtps"))
    assert "acme.test" not in cn(subject("other.test", "smtp"))
    assert "sni=acme.test" in srv.log("smtpd")


def test_auth_without_tls_when_allowed_and_forgotten_by_starttls(srv):
    set_cfg(srv, "smtp.require_tls_for_auth", "no")
    try:
        with client(srv, "submission") as s:
            s.ehlo()
            assert s.has_extn("auth")
            s.login("bob@acme", "bob-pw")
            assert s.mail("bob@acme.test")[0] == 250
            s.rset()
            s.starttls(context=tls_ctx())
            s.ehlo()
            # RFC 3207 4.2: what was said in the clear, AUTH included, is gone
            code, msg = s.mail("bob@acme.test")
            assert (code, msg[:5]) == (530, b"5.7.0")
    finally:
        unset_cfg(srv, "smtp.require_tls_for_auth")

"""The sender policy of submitted mail (issue 11 item 3), the quota at RCPT
(issue 11 item 8c), Date:/Message-ID: added on submission (issue 12 item
13) and SRS on forwarded mail, through real sockets with smtplib.

Sender policy: an authenticated user may use as MAIL FROM, From: and
Sender: only what the send_as setting of its mailbox (or post office)
allows: by default its own addresses and those of groups and lists with
members_send_as (src/lib-config/directory.c dir_send_as). SRS: a redirect
of mail from an outside sender to an outside address leaves from
SRS0=HASH=TT=domain=local@<our domain>; a bounce to that address goes back
to the original sender, a forged or expired one is refused at RCPT. The
remote side is a small SMTP sink on loopback, found through MX records of
a dnsmasq (as test_smtp_out.py)."""
import base64
import hashlib
import hmac
import smtplib
import socket
import socketserver
import ssl
import threading
import time
from pathlib import Path

import pytest

from conftest import Postern, dnsmasq_start, dnsmasq_stop, free_port

ALICE_PW = "Wonderland-7731"
BOB_PW = "Builder-55120x"
BRIAN_PW = "Betamax-90210z"
CAROL_PW = "Christmas-3141"
SRS_SECRET = "srs-test-secret-0123456789"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def inbound(p):
    return p.root / "queue" / "smtp" / "inbound" / "new"


def queued_msg(p, resp):
    qid = resp.decode().split("queued as ")[1].strip()
    return (inbound(p) / f"{qid}.msg").read_bytes()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("sendpol") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-4242")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", ALICE_PW)
    p.cli("mailbox", "add", "bob@acme", "--password", BOB_PW)
    p.cli("address", "add", "sales@acme.test", "--mailbox", "alice@acme")
    p.cli("postoffice", "add", "beta", "--password", "pm-secret-4343")
    p.cli("domain", "add", "beta.test", "--postoffice", "beta")
    p.cli("mailbox", "add", "brian@beta", "--password", BRIAN_PW)
    p.cli("group", "add", "staff@acme.test", "--postoffice", "acme")
    p.cli("group", "member", "add", "staff@acme.test", "alice@acme.test")
    p.cli("group", "set", "staff@acme.test", "members_send_as=yes")
    p.cli("group", "add", "team@acme.test", "--postoffice", "acme")
    p.cli("group", "member", "add", "team@acme.test", "alice@acme.test")
    p.cli("list", "add", "news@acme.test", "--postoffice", "acme",
          "--owner", "bob@acme.test")
    p.cli("list", "member", "add", "news@acme.test", "alice@acme.test")
    p.cli("list", "set", "news@acme.test", "members_send_as=yes")
    p.start(services=["smtpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def submit_login(p, user, pw):
    s = smtplib.SMTP("127.0.0.1", p.port("submission"),
                     local_hostname="client.test", timeout=15)
    s.starttls(context=tls_ctx())
    s.login(user, pw)
    return s


def mail_from(s, sender):
    code, text = s.docmd("MAIL", f"FROM:<{sender}>")
    if code == 250:
        s.rset()
    return code, text.decode()


# -- sender policy -------------------------------------------------------

def test_mail_from_other_tenant_and_outside_refused(srv):
    with submit_login(srv, "brian@beta", BRIAN_PW) as s:
        code, text = mail_from(s, "alice@acme.test")
        assert code == 553 and "5.7.1" in text, text
        assert "alice@acme.test" in text and "brian@beta" in text, text
        code, text = mail_from(s, "someone@outside.test")
        assert code == 553 and "5.7.1" in text, text
        # the session goes on, and the own address is fine
        assert mail_from(s, "brian@beta.test")[0] == 250
    assert "sender <alice@acme.test> refused" in srv.log("smtpd")


def test_own_addresses_accepted(srv):
    with submit_login(srv, "alice@acme", ALICE_PW) as s:
        for a in ("alice@acme.test", "Sales@ACME.test", "alice+tag@acme.test"):
            assert mail_from(s, a)[0] == 250, a
        # bob's address is not alice's
        assert mail_from(s, "bob@acme.test")[0] == 553
        resp = s.sendmail("sales@acme.test", ["bob@acme.test"],
                          b"From: Alice <alice@acme.test>\r\n"
                          b"Sender: sales@acme.test\r\n"
                          b"Subject: ok\r\n\r\nhello\r\n")
        assert resp == {}


def test_forged_from_header_refused(srv):
    with submit_login(srv, "alice@acme", ALICE_PW) as s:
        for hdr, bad in ((b"From: Brian <brian@beta.test>\r\n", "brian@beta.test"),
                         (b"From: alice@acme.test, ceo@outside.test\r\n",
                          "ceo@outside.test"),
                         (b"From: alice@acme.test\r\nSender: bob@acme.test\r\n",
                          "bob@acme.test")):
            with pytest.raises(smtplib.SMTPDataError) as e:
                s.sendmail("alice@acme.test", ["bob@acme.test"],
                           hdr + b"Subject: forged\r\n\r\nbody\r\n")
            assert e.value.smtp_code == 550, e.value
            text = e.value.smtp_error.decode()
            assert "5.7.1" in text and bad in text, text
        # nothing of it was queued, and the session still works
        assert s.noop()[0] == 250


def test_forged_from_refused_with_bdat(srv):
    with submit_login(srv, "alice@acme", ALICE_PW) as s:
        assert s.docmd("MAIL", "FROM:<alice@acme.test>")[0] == 250
        assert s.docmd("RCPT", "TO:<bob@acme.test>")[0] == 250
        body = b"From: brian@beta.test\r\n\r\nx\r\n"
        s.send(f"BDAT {len(body)} LAST\r\n".encode() + body)
        code, text = s.getreply()
        assert code == 550 and b"brian@beta.test" in text, text


def test_groups_and_lists_with_members_send_as(srv):
    with submit_login(srv, "alice@acme", ALICE_PW) as s:
        assert mail_from(s, "staff@acme.test")[0] == 250
        assert mail_from(s, "news@acme.test")[0] == 250
        # a group without members_send_as
        assert mail_from(s, "team@acme.test")[0] == 553
        resp = s.sendmail("staff@acme.test", ["bob@acme.test"],
                          b"From: Staff <staff@acme.test>\r\n\r\nhi\r\n")
        assert resp == {}
    # not a member
    with submit_login(srv, "bob@acme", BOB_PW) as s:
        assert mail_from(s, "staff@acme.test")[0] == 553
        assert mail_from(s, "news@acme.test")[0] == 553


def test_send_as_setting_widens(srv):
    try:
        with submit_login(srv, "brian@beta", BRIAN_PW) as s:
            assert mail_from(s, "info@beta.test")[0] == 553
        srv.cli("postoffice", "set", "beta", "send_as=postoffice")
        with submit_login(srv, "brian@beta", BRIAN_PW) as s:
            assert mail_from(s, "info@beta.test")[0] == 250
            assert mail_from(s, "alice@acme.test")[0] == 553
        srv.cli("mailbox", "set", "brian@beta", "send_as=any")
        with submit_login(srv, "brian@beta", BRIAN_PW) as s:
            assert mail_from(s, "alice@acme.test")[0] == 250
            assert s.sendmail("x@outside.test", ["bob@acme.test"],
                              b"From: x@outside.test\r\n\r\nhi\r\n") == {}
        # the mailbox may also be narrower than its post office
        srv.cli("mailbox", "set", "brian@beta", "send_as=own")
        with submit_login(srv, "brian@beta", BRIAN_PW) as s:
            assert mail_from(s, "info@beta.test")[0] == 553
        bad = srv.cli("postoffice", "set", "beta", "send_as=everyone",
                      check=False)
        assert bad.returncode != 0 and "send_as" in bad.stderr
    finally:
        srv.cli("mailbox", "set", "brian@beta", "send_as=inherit")
        srv.cli("postoffice", "set", "beta", "send_as=own")


def test_null_sender_allowed_but_from_checked(srv):
    with submit_login(srv, "alice@acme", ALICE_PW) as s:
        assert s.sendmail("", ["bob@acme.test"],
                          b"From: alice@acme.test\r\n\r\nreceipt\r\n") == {}
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("", ["bob@acme.test"],
                       b"From: brian@beta.test\r\n\r\nforged\r\n")
        assert e.value.smtp_code == 550


def test_relay_networks_and_port25_unaffected(srv):
    # mail from outside to a local user keeps its sender, of course
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=15) as s:
        assert s.sendmail("brian@beta.test", ["alice@acme.test"],
                          b"From: brian@beta.test\r\n\r\nhi\r\n") == {}
    srv.cli("config", "set", "smtp.relay_networks", "127.0.0.0/8")
    try:
        with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=15) as s:
            assert s.sendmail("app@outside.test", ["far@remote.test"],
                              b"From: app@outside.test\r\n\r\nhi\r\n") == {}
    finally:
        srv.cli("config", "unset", "smtp.relay_networks")


# -- Date: and Message-ID: (RFC 6409 8.2, 8.3) ----------------------------

def header_of(msg):
    return msg.split(b"\r\n\r\n", 1)[0].decode()


def test_date_and_message_id_added_on_submission(srv):
    with submit_login(srv, "alice@acme", ALICE_PW) as s:
        s.mail("alice@acme.test")
        s.rcpt("bob@acme.test")
        code, resp = s.data(b"From: alice@acme.test\r\nSubject: bare\r\n\r\n"
                            b"body\r\n")
        assert code == 250
        hdr = header_of(queued_msg(srv, resp))
        assert "\r\nDate: " in hdr and "\r\nMessage-ID: <" in hdr, hdr
        assert "@mx.postern.test>" in hdr, hdr
        # they go into the header, before the blank line, once
        assert hdr.count("Date:") == 1 and hdr.count("Message-ID:") == 1
        # present ones are kept as they are
        s.mail("alice@acme.test")
        s.rcpt("bob@acme.test")
        code, resp = s.data(b"From: alice@acme.test\r\n"
                            b"Date: Tue, 1 Dec 2026 10:00:00 +0100\r\n"
                            b"Message-Id: <mine@client.test>\r\n\r\nbody\r\n")
        hdr = header_of(queued_msg(srv, resp))
        assert hdr.count("Date:") == 1 and "+0100" in hdr
        assert "Message-ID" not in hdr and "<mine@client.test>" in hdr
        # a message that is all header gets them at its end
        s.mail("alice@acme.test")
        s.rcpt("bob@acme.test")
        code, resp = s.data(b"From: alice@acme.test\r\nSubject: x")
        msg = queued_msg(srv, resp).decode()
        assert "\r\nSubject: x\r\nDate: " in msg and "Message-ID: <" in msg


def test_date_and_message_id_not_added_on_port25(srv):
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=15) as s:
        s.ehlo("client.test")
        s.mail("brian@outside.test")
        s.rcpt("alice@acme.test")
        code, resp = s.data(b"From: brian@outside.test\r\nSubject: bare\r\n"
                            b"\r\nbody\r\n")
        assert code == 250
        hdr = header_of(queued_msg(srv, resp))
        assert "\r\nDate:" not in hdr and "Message-ID" not in hdr, hdr


# -- quota at RCPT --------------------------------------------------------

def test_over_quota_refused_at_rcpt(srv):
    srv.cli("mailbox", "add", "fullbox@acme", "--password", "Quota-test-pw-771")
    srv.cli("mailbox", "add", "roomy@acme", "--password", "Quota-test-pw-7781")
    srv.cli("mailbox", "set", "fullbox@acme", "quota=10K")
    srv.cli("mailbox", "set", "roomy@acme", "quota=100K")
    # the usage as deliver records it (Maildir++ maildirsize, lib-store)
    for name, used in (("fullbox", 10240), ("roomy", 40000)):
        d = srv.root / "store" / "acme" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "maildirsize").write_text(f"0S\n{used} 3\n")
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=15) as s:
        s.ehlo("client.test")
        assert s.docmd("MAIL", "FROM:<x@outside.test>")[0] == 250
        code, text = s.docmd("RCPT", "TO:<fullbox@acme.test>")
        assert code == 452 and b"4.2.2" in text, text
        assert s.docmd("RCPT", "TO:<roomy@acme.test>")[0] == 250
        s.rset()
        # with SIZE=: a message that would not fit is refused at once
        assert s.docmd("MAIL", "FROM:<x@outside.test> SIZE=80000")[0] == 250
        code, text = s.docmd("RCPT", "TO:<roomy@acme.test>")
        assert code == 552 and b"5.2.2" in text, text
        assert s.docmd("RCPT", "TO:<alice@acme.test>")[0] == 250
        s.rset()
        assert s.docmd("MAIL", "FROM:<x@outside.test> SIZE=2000")[0] == 250
        assert s.docmd("RCPT", "TO:<roomy@acme.test>")[0] == 250
        s.rset()
    # usage going down (a message expunged) opens the mailbox again
    (srv.root / "store/acme/fullbox/maildirsize").write_text(
        "0S\n10240 3\n-5000 -1\n")
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=15) as s:
        assert s.sendmail("x@outside.test", ["fullbox@acme.test"],
                          b"Subject: room\r\n\r\nx\r\n") == {}


# -- SRS -------------------------------------------------------------------

class Sink(socketserver.ThreadingTCPServer):
    """A remote MX on loopback: records (mail from, rcpts, data)."""
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port):
        self.got = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), SinkHandler)


class SinkHandler(socketserver.StreamRequestHandler):
    timeout = 30

    def handle(self):
        w = self.wfile.write
        w(b"220 sink.test ESMTP\r\n")
        sender, rcpts = None, []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO") or up.startswith("HELO"):
                w(b"250-sink.test\r\n250 8BITMIME\r\n")
            elif up.startswith("MAIL FROM:"):
                sender = cmd[10:].split()[0].strip("<>")
                rcpts = []
                w(b"250 ok\r\n")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].split()[0].strip("<>"))
                w(b"250 ok\r\n")
            elif up == "DATA":
                w(b"354 go\r\n")
                data = b""
                while True:
                    l2 = self.rfile.readline(65536)
                    if not l2 or l2 == b".\r\n":
                        break
                    data += l2
                with self.server.lock:
                    self.server.got.append((sender, rcpts, data))
                w(b"250 queued\r\n")
            elif up == "QUIT":
                w(b"221 bye\r\n")
                return
            else:
                w(b"250 ok\r\n")


def srs_hash(tt, domain, local):
    mac = hmac.new(SRS_SECRET.encode(),
                   (tt.upper() + domain.lower() + local.lower()).encode(),
                   hashlib.sha256).digest()
    v = int.from_bytes(mac[:5], "big")
    return "".join(B32[(v >> (5 * (7 - i))) & 31] for i in range(8))


def srs_tt(days_ago=0):
    d = (int(time.time()) // 86400 - days_ago) % 1024
    return B32[d >> 5] + B32[d & 31]


@pytest.fixture(scope="module")
def fwd(tmp_path_factory):
    sink_port = free_port()
    sink = Sink(sink_port)
    t = threading.Thread(target=sink.serve_forever, daemon=True)
    t.start()
    dns, dns_port = dnsmasq_start([
        "--mx-host=remote.test,mx.sink.test,10",
        "--mx-host=outside.test,mx.sink.test,10",
        "--host-record=mx.sink.test,127.0.0.1"])
    p = Postern(tmp_path_factory.mktemp("srs") / "root")
    try:
        p.init()
        p.cli("config", "set", "dns.hosts", f"127.0.0.1:{dns_port}")
        p.cli("config", "set", "smtp.out_port", str(sink_port))
        p.cli("config", "set", "srs.secret", SRS_SECRET)
        p.cli("postoffice", "add", "acme", "--password", "pm-secret-4242")
        p.cli("domain", "add", "acme.test", "--postoffice", "acme")
        p.cli("mailbox", "add", "carol@acme", "--password", CAROL_PW)
        p.cli("mailbox", "add", "alice@acme", "--password", ALICE_PW)
        p.cli("mailbox", "redirect", "add", "carol@acme", "dave@remote.test")
        p.cli("mailbox", "set", "carol@acme", "redirect_enabled=yes")
        p.cli("mailbox", "add", "sue@acme", "--password", "Sieve-user-5512")
        script = p.root.parent / "sue.sieve"
        script.write_text('redirect "sam@remote.test";\n')
        p.cli("filter", "set", "sue@acme", str(script))
        p.cli("group", "add", "crew@acme.test", "--postoffice", "acme")
        p.cli("group", "member", "add", "crew@acme.test", "eve@remote.test")
        p.cli("group", "member", "add", "crew@acme.test", "alice@acme.test")
        p.start()
        yield p, sink
    finally:
        p.stop()
        sink.shutdown()
        sink.server_close()
        dnsmasq_stop(dns)
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def wait_sink(sink, pred, what, timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with sink.lock:
            for g in sink.got:
                if pred(g):
                    return g
        time.sleep(0.2)
    raise AssertionError(f"the sink did not get {what}: {sink.got}")


def test_srs_forward_and_bounce(fwd):
    p, sink = fwd
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=15) as s:
        assert s.sendmail("ext@outside.test", ["carol@acme.test"],
                          b"From: ext@outside.test\r\nSubject: fw\r\n\r\n"
                          b"forward me\r\n") == {}
    sender, rcpts, data = wait_sink(
        sink, lambda g: "dave@remote.test" in g[1], "the redirected copy")
    tt = srs_tt()
    assert sender == (f"SRS0={srs_hash(tt, 'outside.test', 'ext')}={tt}="
                      "outside.test=ext@acme.test"), sender
    assert b"forward me" in data
    # a bounce to the SRS address goes back to the original sender
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=15) as s:
        s.ehlo("mx.remote.test")
        assert s.docmd("MAIL", "FROM:<>")[0] == 250
        code, text = s.docmd("RCPT", f"TO:<{sender}>")
        assert code == 250, text
        code, _ = s.data(b"From: MAILER-DAEMON@remote.test\r\n"
                         b"Subject: Undelivered\r\n\r\nbounce\r\n")
        assert code == 250
    b_sender, b_rcpts, b_data = wait_sink(
        sink, lambda g: "ext@outside.test" in g[1], "the bounce")
    assert b_sender == "" and b"bounce" in b_data


def test_srs_forged_and_expired_refused(fwd):
    p, _ = fwd
    tt = srs_tt()
    good = srs_hash(tt, "outside.test", "ext")
    forged = ("A" if good[0] != "A" else "B") + good[1:]
    old_tt = srs_tt(40)
    expired = f"SRS0={srs_hash(old_tt, 'outside.test', 'ext')}={old_tt}=" \
        "outside.test=ext@acme.test"
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=15) as s:
        s.ehlo("mx.remote.test")
        assert s.docmd("MAIL", "FROM:<>")[0] == 250
        for addr, why in ((f"SRS0={forged}={tt}=outside.test=ext@acme.test",
                           b"hash"),
                          (expired, b"expired"),
                          ("SRS0=zz@acme.test", b"SRS")):
            code, text = s.docmd("RCPT", f"TO:<{addr}>")
            assert code == 550 and b"5.1.1" in text and why in text, text
        # lower case (a relay may change it) is the same address
        code, text = s.docmd(
            "RCPT", f"TO:<srs0={good.lower()}={tt.lower()}="
            "outside.test=ext@acme.test>")
        assert code == 250, text


def test_srs_not_for_local_senders(fwd):
    p, sink = fwd
    s = smtplib.SMTP("127.0.0.1", p.port("submission"), timeout=15)
    s.starttls(context=tls_ctx())
    s.login("alice@acme", ALICE_PW)
    assert s.sendmail("alice@acme.test", ["carol@acme.test"],
                      b"From: alice@acme.test\r\nSubject: local\r\n\r\n"
                      b"from inside\r\n") == {}
    s.quit()
    sender, _, data = wait_sink(
        sink, lambda g: b"from inside" in g[2], "the local sender's copy")
    assert sender == "alice@acme.test"


def test_srs_on_group_forward(fwd):
    p, sink = fwd
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=15) as s:
        assert s.sendmail("zed@outside.test", ["crew@acme.test"],
                          b"From: zed@outside.test\r\nSubject: crew\r\n\r\n"
                          b"to the crew\r\n") == {}
    sender, rcpts, _ = wait_sink(
        sink, lambda g: "eve@remote.test" in g[1], "the group member's copy")
    tt = srs_tt()
    assert sender == (f"SRS0={srs_hash(tt, 'outside.test', 'zed')}={tt}="
                      "outside.test=zed@acme.test"), sender
    assert rcpts == ["eve@remote.test"]


def test_srs_on_sieve_redirect(fwd):
    p, sink = fwd
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=15) as s:
        assert s.sendmail("yan@outside.test", ["sue@acme.test"],
                          b"From: yan@outside.test\r\nSubject: sv\r\n\r\n"
                          b"sieve me\r\n") == {}
    sender, rcpts, _ = wait_sink(
        sink, lambda g: "sam@remote.test" in g[1], "the Sieve redirect")
    tt = srs_tt()
    assert sender == (f"SRS0={srs_hash(tt, 'outside.test', 'yan')}={tt}="
                      "outside.test=yan@acme.test"), sender

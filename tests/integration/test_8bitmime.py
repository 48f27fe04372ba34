"""8BITMIME downgrade in smtp-out (issue 19 item 4, RFC 6152): a remote
server that does not announce 8BITMIME gets the 8-bit parts as
quoted-printable, 7-bit data only, the same text once decoded, and a
DKIM signature (dkimpy verifies it) made over what it received; a
server that announces 8BITMIME gets the message unchanged."""
import email
import email.policy
import smtplib
import ssl

import pytest

from conftest import Postern, dnsmasq_start, dnsmasq_stop
from test_dkim import published, verify
from test_mta import wait_for
from test_smtp_out import Sink

dkim = pytest.importorskip("dkim", reason="python3-dkim (dkimpy) missing: "
                           "scripts/install-deps.sh installs it")

T = 60
TEXT = "Grüße aus Köln: 100 € = viel. " * 5
MSG = ("From: <alice@acme.test>\r\nTo: <x@{dom}>\r\nSubject: {subj}\r\n"
       "Date: Mon, 07 Dec 2026 07:00:00 +0000\r\nMessage-ID: <{subj}@acme.test>\r\n"
       "MIME-Version: 1.0\r\n"
       "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
       "preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n" + TEXT + "\r\n.dot line\r\n"
       "--b1\r\nContent-Type: text/plain\r\n\r\nascii only\r\n--b1--\r\n")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    seven = Sink(ext=("PIPELINING", "SIZE 10000000")).start()
    eight = Sink().start()
    p = Postern(tmp_path_factory.mktemp("eightbit") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-1")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", "alice-Secret-9")
    p.cli("dkim", "selector", "add", "acme.test", "s1")
    p.cli("domain", "set", "acme.test", "dkim_enabled=yes")
    # seven.test's MX is the 7-bit sink, eight.test's the 8-bit one: both
    # on loopback, told apart by smart host routes with their ports
    proc, port = dnsmasq_start([])
    for k, v in {"dns.hosts": f"127.0.0.1:{port}",
                 "smtp.out_timeout": "10",
                 "queue.retry_schedule": "1h"}.items():
        p.cli("config", "set", k, v)
    p.start(services=["smtpd", "mta", "smtp-out"])
    p.seven, p.eight, p.records = seven, eight, published(p, "acme.test")
    yield p
    p.stop()
    seven.stop()
    eight.stop()
    dnsmasq_stop(proc)
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def send(p, sink, subj):
    # the post office's smart host is the sink of the test
    p.cli("postoffice", "set", "acme", f"smarthost=127.0.0.1:{sink.port}")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = MSG.format(dom="remote.test", subj=subj).encode()
    with smtplib.SMTP_SSL("127.0.0.1", p.port("smtps"), context=ctx,
                          local_hostname="client.test", timeout=T) as s:
        s.login("alice@acme", "alice-Secret-9")
        s.sendmail("alice@acme.test", ["x@remote.test"], raw,
                   mail_options=["BODY=8BITMIME"])
    return raw


def received(sink, subj):
    got = wait_for(lambda: [m for m in sink.messages
                            if f"Subject: {subj}\r\n".encode() in m["data"]],
                   T, subj)
    return got[0]


def text_of(data):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    return [part.get_content() for part in msg.walk()
            if not part.is_multipart()]


def test_downgraded_for_a_server_without_8bitmime(srv):
    raw = send(srv, srv.seven, "seven")
    m = received(srv.seven, "seven")
    data = m["data"]
    assert "BODY=8BITMIME" not in m["mail"]
    assert all(b < 0x80 for b in data), "8-bit data sent"
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in data
    assert b"Content-Transfer-Encoding: 8bit" not in data
    assert max(len(l) for l in data.split(b"\r\n")) <= 76 or \
        b"DKIM-Signature" in data   # the signature field folds on its own
    assert text_of(data) == text_of(raw)
    assert "Köln" in text_of(data)[0]
    # signed over what went out
    assert data.startswith(b"DKIM-Signature:")
    assert verify(data, srv.records)
    assert "does not announce 8BITMIME: sending the message converted to " \
        "quoted-printable" in srv.log("smtp-out")


def test_unchanged_for_a_server_with_8bitmime(srv):
    raw = send(srv, srv.eight, "eight")
    m = received(srv.eight, "eight")
    assert "BODY=8BITMIME" in m["mail"]
    assert "Köln".encode() in m["data"]
    assert m["data"].endswith(raw)
    assert verify(m["data"], srv.records)

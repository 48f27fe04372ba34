"""ARC (RFC 8617) on Postern's DKIM code (issue 19 item 3), with dkimpy
(Debian python3-dkim) as the oracle both ways: chains sealed by
dkimpy's arc_sign are verified by the MTA into Authentication-Results
(arc=pass/fail/none with the chain); mail from outside that a redirect
sends on is sealed by smtp-out and dkimpy's arc_verify accepts the chain
the sink received (one set, and a second set on top of dkimpy's); a
trusted sealer's arc=pass overrides a DMARC failure."""
import re
import smtplib
import time

import pytest

from conftest import Postern, dnsmasq_start, dnsmasq_stop
from test_dkim import RFC_RSA_PEM, RFC_RSA_REC, auth_results, published
from test_mta import mailbox_msgs, wait_for
from test_smtp_out import Sink

dkim = pytest.importorskip("dkim", reason="python3-dkim (dkimpy) missing: "
                           "scripts/install-deps.sh installs it")

T = 60


def txt(name, value):
    return f"--txt-record={name},{value}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    sink = Sink().start()
    p = Postern(tmp_path_factory.mktemp("arc") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "bob@acme", "--password", "bob-secret-1")
    p.cli("mailbox", "add", "fwd@acme", "--password", "fwd-secret-1")
    p.cli("mailbox", "redirect", "add", "fwd@acme", "ext@remote.test")
    p.cli("mailbox", "set", "fwd@acme", "redirect_enabled=yes")
    p.cli("dkim", "selector", "add", "acme.test", "seal1")
    p.cli("domain", "set", "acme.test", "dkim_enabled=yes")
    recs = published(p, "acme.test")
    (acme_name, acme_rec), = recs.items()
    proc, port = dnsmasq_start([
        txt("test._domainkey.signer.test", RFC_RSA_REC),
        txt("test._domainkey.fwd.test", RFC_RSA_REC),
        txt("test._domainkey.fwd2.test", RFC_RSA_REC),
        txt(acme_name.rstrip("."), acme_rec),
        txt("_dmarc.signer.test", "v=DMARC1; p=reject"),
        "--mx-host=remote.test,mx.remote.test,10",
        "--host-record=mx.remote.test,127.0.0.1",
    ])
    for k, v in {"dns.hosts": f"127.0.0.1:{port}",
                 "smtp.out_port": str(sink.port),
                 "smtp.out_timeout": "5",
                 "queue.retry_schedule": "1s",
                 "arc.verify": "yes", "arc.seal": "yes",
                 "dmarc.verify": "yes", "dmarc.enforce": "yes",
                 "arc.trusted_sealers": "fwd2.test"}.items():
        p.cli("config", "set", k, v)
    p.start(services=["smtpd", "mta", "deliver", "smtp-out"])
    p.records = {"test._domainkey.signer.test.": RFC_RSA_REC,
                 "test._domainkey.fwd.test.": RFC_RSA_REC,
                 "test._domainkey.fwd2.test.": RFC_RSA_REC, **recs}
    p.sink = sink
    yield p
    p.stop()
    sink.stop()
    dnsmasq_stop(proc)
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def dnsfunc(records):
    def lookup(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        rec = records.get(n if n.endswith(".") else n + ".")
        return rec.encode() if rec else None
    return lookup


def message(subject, frm="Joe <joe@signer.test>", to="bob@acme.test"):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 07:00:00 +0000\r\n"
            f"Message-ID: <{time.time_ns()}@signer.test>\r\n\r\n"
            "Hello,\r\nthe numbers.\r\n").encode()


def dkim_signed(raw):
    return dkim.sign(raw, b"test", b"signer.test", RFC_RSA_PEM,
                     include_headers=[b"from", b"to", b"subject", b"date",
                                      b"message-id"]) + raw


def arc_sealed(raw, domain, results):
    """dkimpy seals raw as domain (its Authentication-Results first)"""
    raw = f"Authentication-Results: {domain}; {results}\r\n".encode() + raw
    sets = dkim.arc_sign(raw, b"test", domain.encode(), RFC_RSA_PEM,
                         domain.encode(),
                         include_headers=[b"from", b"to", b"subject",
                                          b"date", b"message-id"])
    return b"".join(sets) + raw


def send(p, raw, mail_from="x@bounce.other.test", to="bob@acme.test"):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60,
                      local_hostname="client.test") as s:
        s.sendmail(mail_from, [to], raw)


def stored(p, subject):
    got = wait_for(lambda: [m for m in mailbox_msgs(p.root, "bob")
                            if f"Subject: {subject}\r\n" in m], T, subject)
    return got[0]


def at_sink(p, subject):
    got = wait_for(lambda: [m["data"] for m in p.sink.messages
                            if f"Subject: {subject}\r\n".encode() in m["data"]],
                   T, f"'{subject}' at the sink")
    return got[0]


def arc_of(msg):
    ar = auth_results(msg)[0]     # ours, on top (the sealers' below)
    assert ar.startswith("Authentication-Results: mx.postern.test;"), ar
    m = re.search(r"arc=[^;]*", ar)
    assert m, ar
    return m.group(0).strip()


def test_verification_into_authentication_results(srv):
    p = srv
    one = arc_sealed(dkim_signed(message("arc one")), "fwd.test",
                     "dkim=pass header.d=signer.test")
    # the oracle agrees before we look
    assert dkim.arc_verify(one, dnsfunc=dnsfunc(p.records))[0] == b"pass"
    send(p, one)
    assert arc_of(stored(p, "arc one")) == \
        "arc=pass (i=1 sealed by fwd.test) smtp.remote-ip=127.0.0.1"
    # two hops: newest first
    two = arc_sealed(one.replace(b"Subject: arc one", b"Subject: arc two"),
                     "fwd2.test", "arc=pass")
    send(p, two)
    assert arc_of(stored(p, "arc two")).startswith(
        "arc=pass (i=2 sealed by fwd2.test,fwd.test)")
    # the body changed after the last seal (From a domain without DMARC
    # policy: signer.test's p=reject would send it to bad mail)
    plain = arc_sealed(dkim_signed(message("arc plain",
                                           frm="joe@plain.test")),
                       "fwd.test", "dkim=pass header.d=signer.test")
    bad = plain.replace(b"Subject: arc plain", b"Subject: arc tampered").replace(
        b"the numbers", b"THE numbers")
    send(p, bad)
    assert arc_of(stored(p, "arc tampered")).startswith(
        "arc=fail (i=1 the newest ARC-Message-Signature did not verify)")
    # no chain
    send(p, message("arc none", frm="joe@plain.test"))
    assert arc_of(stored(p, "arc none")) == "arc=none smtp.remote-ip=127.0.0.1"
    # a broken chain: i=2 without i=1
    broken = plain.replace(b"i=1;", b"i=3;")
    send(p, broken.replace(b"Subject: arc plain", b"Subject: arc broken"))
    assert arc_of(stored(p, "arc broken")).startswith("arc=fail")


def test_trusted_seal_overrides_dmarc(srv):
    p = srv
    # a list changed the body (DKIM breaks) and sealed it first
    changed = dkim_signed(message("arc list")).replace(
        b"the numbers.", b"the numbers.\r\n-- list footer")
    sealed = arc_sealed(changed, "fwd2.test",
                        "dkim=pass header.d=signer.test; dmarc=pass")
    send(p, sealed)
    m = stored(p, "arc list")
    ar = auth_results(m)[0]
    assert "dkim=fail" in ar
    assert "dmarc=fail (p=reject dis=none arc override) " \
        "header.from=signer.test" in ar, ar
    assert "overridden by the ARC seal of fwd2.test" in p.log("mta")


def test_redirect_is_sealed_and_dkimpy_verifies(srv):
    p = srv
    host = p.cli("config", "get", "server.hostname").stdout.strip()
    send(p, dkim_signed(message("sealed fwd", to="fwd@acme.test")),
         mail_from="joe@signer.test", to="fwd@acme.test")
    data = at_sink(p, "sealed fwd")
    assert data.startswith(b"ARC-Seal: i=1; a=rsa-sha256; t="), data[:200]
    assert b"cv=none; d=acme.test; s=seal1;" in data
    cv, results, why = dkim.arc_verify(data, dnsfunc=dnsfunc(p.records))
    assert cv == b"pass", (why, results)
    # our Authentication-Results went into the AAR
    aar = re.search(rb"ARC-Authentication-Results: i=1; (.*?)\r\n(?!\s)", data,
                    re.S)
    assert re.sub(rb"\s+", b" ", aar.group(1)).startswith(
        f"{host}; dkim=pass header.d=signer.test".encode()), aar.group(1)
    # the original signature still verifies (nothing changed on the way)
    assert dkim.verify(data, dnsfunc=dnsfunc(p.records))
    # a chain that came in (i=1 by fwd.test) gets i=2 with cv=pass
    one = arc_sealed(dkim_signed(message("sealed chain", to="fwd@acme.test")),
                     "fwd.test", "dkim=pass header.d=signer.test")
    send(p, one, mail_from="joe@signer.test", to="fwd@acme.test")
    data = at_sink(p, "sealed chain")
    assert data.startswith(b"ARC-Seal: i=2;")
    assert b"cv=pass; d=acme.test" in data
    cv, results, why = dkim.arc_verify(data, dnsfunc=dnsfunc(p.records))
    assert cv == b"pass", (why, results)
    # tampering after our seal is caught by the oracle
    cv, _, _ = dkim.arc_verify(data.replace(b"the numbers", b"THE numbers"),
                               dnsfunc=dnsfunc(p.records))
    assert cv == b"fail"

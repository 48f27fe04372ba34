"""DANE (RFC 7672) and TLS-RPT (RFC 8460) in smtp-out (issue 19 item 4),
with real parts: zones signed here with ldns-signzone, served and
validated by Debian's unbound on loopback (dane_util.py; trust anchors
for dane.test and bogus.test, none for insecure.test), the remote MX is
test_smtp_out's sink with STARTTLS and a certificate made here (a test CA
and a leaf naming the MX hosts)."""
import base64
import email
import gzip
import hashlib
import http.server
import json
import secrets
import ssl
import subprocess
import threading
import time

import pytest

from conftest import Postern, free_port
from dane_util import Unbound, rewrite, sign, tools_or_skip, zone_text
from test_mta import wait_for
import test_mta_sts
from test_mta_sts import deferred, openssl, send
from test_smtp_out import Sink, inject, report_fields

T = 60
MX_NAMES = ["mx.good.dane.test", "mx.ta.dane.test", "mx.nomatch.dane.test",
            "mx.unusable.dane.test", "mx.insecure.test", "mx.bogus.test",
            "mx.sts.dane.test", "mx.ststoo.dane.test"]


def make_pki(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Postern DANE test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", *ec, "-keyout", "mx.key", "-out", "mx.csr",
            "-subj", "/CN=mx.good.dane.test", cwd=d)
    (d / "mx.ext").write_text(
        "subjectAltName=" + ",".join(f"DNS:{s}" for s in MX_NAMES) + "\n")
    openssl("x509", "-req", "-in", "mx.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-out", "mx.pem", "-days", "2",
            "-extfile", "mx.ext", cwd=d)
    # the chain the MX sends: leaf then CA (DANE-TA needs the TA in it)
    (d / "chain.pem").write_text((d / "mx.pem").read_text() +
                                 (d / "ca.pem").read_text())
    # the TLS-RPT report host (an https: rua) on 127.0.0.1, by the first CA
    openssl("req", *ec, "-keyout", "rpt.key", "-out", "rpt.csr",
            "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "rpt.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "rpt.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-out", "rpt.pem", "-days", "2",
            "-extfile", "rpt.ext", cwd=d)
    # another CA, the only one MTA-STS trusts (mta_sts.ca_file): it signs
    # the policy host's certificate, not the MX's
    openssl("req", "-x509", *ec, "-keyout", "stsca.key", "-out",
            "stsca.pem", "-days", "2", "-subj", "/CN=Postern STS test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", *ec, "-keyout", "policy.key", "-out", "policy.csr",
            "-subj", "/CN=mta-sts.sts.dane.test", cwd=d)
    (d / "policy.ext").write_text("subjectAltName=DNS:mta-sts.sts.dane.test,"
                                  "DNS:mta-sts.ststoo.dane.test\n")
    openssl("x509", "-req", "-in", "policy.csr", "-CA", "stsca.pem",
            "-CAkey", "stsca.key", "-CAcreateserial", "-out", "policy.pem",
            "-days", "2", "-extfile", "policy.ext", cwd=d)


class ReportHost:
    """HTTPS on 127.0.0.1 taking TLS-RPT reports by POST (RFC 8460 5.4)"""

    def __init__(self, d):
        self.posts = []
        host = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                host.posts.append((self.path, self.headers.get(
                    "Content-Type"), self.rfile.read(n)))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(d / "rpt.pem", d / "rpt.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def spki_sha256(pem):
    der = subprocess.run(
        f"openssl x509 -in {pem} -pubkey -noout | "
        "openssl pkey -pubin -outform DER", shell=True, check=True,
        capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def cert_sha256(pem):
    der = subprocess.run(["openssl", "x509", "-in", str(pem), "-outform",
                          "DER"], check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tools_or_skip()
    pki = tmp_path_factory.mktemp("pki")
    make_pki(pki)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki / "chain.pem", pki / "mx.key")
    sink = Sink(tls=ctx).start()
    P = sink.port
    rpt = ReportHost(pki)
    # an MX on another loopback address and the same port, without TLS
    plain = Sink(host="127.0.0.2", port=P).start()
    leaf, ca = spki_sha256(pki / "mx.pem"), spki_sha256(pki / "ca.pem")
    wrong = secrets.token_hex(32)
    p = Postern(tmp_path_factory.mktemp("dane") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-1")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("domain", "add", "beta.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", "alice-Secret-9")
    dns = tmp_path_factory.mktemp("dns")
    recs = []
    for sub in ("good", "ta", "nomatch", "unusable", "sts"):
        recs += [f"{sub} IN MX 10 mx.{sub}", f"mx.{sub} IN A 127.0.0.1"]
    # a secure MX RRset naming a host in the insecure zone
    recs += ["addrinsec IN MX 10 mx.insecure.test."]
    recs += ["ststoo IN MX 10 mx.ststoo", "mx.ststoo IN A 127.0.0.1",
             '_mta-sts.ststoo IN TXT "v=STSv1; id=1"',
             "mta-sts.ststoo IN A 127.0.0.1"]
    # RFC 7672 2.2.3: MX hosts that are CNAMEs; the expanded name's TLSA
    # records first (the original name's match nothing), and the original
    # name's when the expanded name has none
    recs += ["cname IN MX 10 mx.cname", "mx.cname IN CNAME mx.target",
             "mx.target IN A 127.0.0.1",
             f"_{P}._tcp.mx.target IN TLSA 3 1 1 {leaf}",
             f"_{P}._tcp.mx.cname IN TLSA 3 1 1 {wrong}",
             "cnorig IN MX 10 mx.cnorig", "mx.cnorig IN CNAME mx.bare",
             "mx.bare IN A 127.0.0.1",
             f"_{P}._tcp.mx.cnorig IN TLSA 3 1 1 {leaf}",
             "cnbad IN MX 10 mx.cnbad", "mx.cnbad IN CNAME mx.badtarget",
             "mx.badtarget IN A 127.0.0.1",
             f"_{P}._tcp.mx.badtarget IN TLSA 3 1 1 {wrong}",
             f"_{P}._tcp.mx.cnbad IN TLSA 3 1 1 {leaf}"]
    recs += ["notls IN MX 10 mx.notls", "mx.notls IN A 127.0.0.2",
             f"_{P}._tcp.mx.notls IN TLSA 3 1 1 {leaf}"]
    # a TXT record of 3000 bytes in 255-byte strings (TCP answer)
    huge = " ".join(f'"{s}"' for s in
                    ["v=TLSRPTv1; rua=mailto:tlsrpt@insecure.test; x="] +
                    ["y" * 250] * 12)
    recs += [
        f"_{P}._tcp.mx.good IN TLSA 3 1 1 {leaf}",
        f"_{P}._tcp.mx.ta IN TLSA 2 1 1 {ca}",
        f"_{P}._tcp.mx.nomatch IN TLSA 3 1 1 {wrong}",
        f"_{P}._tcp.mx.nomatch IN TLSA 2 0 1 {wrong}",
        # PKIX-EE (1) is unusable for SMTP, a SHA-256 of 10 bytes too, and a
    # record of 2 bytes is malformed
        f"_{P}._tcp.mx.unusable IN TLSA 1 0 1 {cert_sha256(pki / 'mx.pem')}",
        f"_{P}._tcp.mx.unusable IN TLSA 3 1 1 {leaf[:20]}",
        f"_{P}._tcp.mx.unusable IN TYPE52 \\# 2 0301",
        f"_{P}._tcp.mx.sts IN TLSA 3 1 1 {leaf}",
        # RFC 8460 3 / RFC 6068: a %-encoded mailto: address
        '_smtp._tls.good IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@insecure.test,'
        'mailto:tls%2Brpt@insecure.test,'
        f'https://127.0.0.1:{rpt.port}/tlsrpt"',
        f"_smtp._tls.nomatch IN TXT {huge}",
        '_smtp._tls.ta IN TXT "v=TLSRPTv1; rua=ftp://reports.example/"',
        '_mta-sts.sts IN TXT "v=STSv1; id=1"',
        "mta-sts.sts IN A 127.0.0.1",
    ]
    dane_signed, dane_anchor = sign(dns, "dane.test", zone_text("dane.test",
                                                                recs))
    # ldns prints the 2-byte TLSA as "3 1", which unbound cannot read:
    # the same bytes in RFC 3597 form (its signature stays valid)
    rewrite(dane_signed, f"_{P}._tcp.mx.unusable.dane.test.", "TLSA",
            "\\# 2 0301", old_rdata="3 1")
    bogus_signed, bogus_anchor = sign(dns, "bogus.test", zone_text(
        "bogus.test", ["@ IN MX 10 mx", "mx IN A 127.0.0.1",
                       f"_{P}._tcp.mx IN TLSA 3 1 1 {leaf}"]))
    # the TLSA data changed after signing: its RRSIG fails, unbound
    # answers SERVFAIL
    rewrite(bogus_signed, f"_{P}._tcp.mx.bogus.test.", "TLSA",
            f"3 1 1 {wrong}")
    # the hosted domain's own records, as `postern tls dns` would print
    # them but with a stale MTA-STS id (diag)
    own = spki_sha256(p.root / "certs" / "default.crt")
    acme_signed, acme_anchor = sign(dns, "acme.test", zone_text("acme.test", [
        "@ IN MX 10 mail", "mail IN A 127.0.0.1",
        '_mta-sts IN TXT "v=STSv1; id=stale1"',
        '_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@acme.test"',
        f"_25._tcp.mail IN TLSA 3 1 1 {own}"]))
    beta = dns / "beta.test.zone"
    beta.write_text(zone_text("beta.test", [
        "@ IN MX 10 mail.acme.test.",
        '_smtp._tls IN TXT "v=TLSRPTv1; rua=gopher://x"']))
    insecure = dns / "insecure.test.zone"
    insecure.write_text(zone_text("insecure.test", [
        "@ IN MX 10 mx", "mx IN A 127.0.0.1",
        f"_{P}._tcp.mx IN TLSA 3 1 1 {wrong}"]))
    ub = Unbound(dns, [("dane.test", dane_signed), ("bogus.test", bogus_signed),
                       ("insecure.test", insecure), ("acme.test", acme_signed),
                       ("beta.test", beta)],
                 [dane_anchor, bogus_anchor, acme_anchor])
    for k, v in {"dns.hosts": f"127.0.0.1:{ub.port}",
                 "smtp.out_port": str(P),
                 "smtp.out_timeout": "10",
                 "queue.retry_schedule": "1h",
                 "dane.enabled": "yes",
                 "tlsrpt.ca_file": str(pki / "ca.pem")}.items():
        p.cli("config", "set", k, v)
    # MTA-STS on, with an enforce policy for sts.dane.test whose CA the
    # MX certificate does not chain to
    test_mta_sts.POLICIES["sts.dane.test"] = (
        "version: STSv1\nmode: enforce\nmx: mx.sts.dane.test\n"
        "max_age: 86400\n")
    policy = test_mta_sts.PolicyHost(pki)
    for k, v in {"mta_sts.enabled": "yes",
                 "mta_sts.ca_file": str(pki / "stsca.pem"),
                 "mta_sts.port": str(policy.port)}.items():
        p.cli("config", "set", k, v)
    p.start(services=["smtpd", "mta", "smtp-out"])
    p.sink, p.plain, p.ub, p.pki = sink, plain, ub, pki
    p.policy, p.rpt = policy, rpt
    yield p
    p.stop()
    rpt.stop()
    sink.stop()
    plain.stop()
    policy.stop()
    del test_mta_sts.POLICIES["sts.dane.test"]
    ub.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def at_sink(p, subject):
    return [m for m in p.sink.messages
            if f"Subject: {subject}\r\n".encode() in m["data"]]


def test_tlsa_matches_delivered_and_verified(srv):
    send(srv, "a@good.dane.test", "dane good")
    m, = wait_for(lambda: at_sink(srv, "dane good"), T, "delivery")
    assert m["tls"]
    log = srv.log("smtp-out")
    assert "DANE: good.dane.test: mx.good.dane.test: 1 usable TLSA" in log \
        or "DANE: mx.good.dane.test: 1 usable TLSA record(s)" in log
    assert "DANE: verified mx.good.dane.test[127.0.0.1]" in log
    assert "TLSA 3 1 1 matched the certificate at depth 0" in log


def test_dane_ta_matches_the_issuer(srv):
    send(srv, "a@ta.dane.test", "dane ta")
    m, = wait_for(lambda: at_sink(srv, "dane ta"), T, "delivery")
    assert m["tls"]
    log = srv.log("smtp-out")
    assert "DANE: verified mx.ta.dane.test[127.0.0.1]" in log
    assert "TLSA 2 1 1 matched the certificate at depth 1" in log


def test_tlsa_matching_nothing_defers_and_never_sends_in_clear(srv):
    before = len(srv.sink.messages)
    send(srv, "a@nomatch.dane.test", "dane nomatch")
    err = wait_for(lambda: deferred(srv, "a@nomatch.dane.test"), T,
                   "the deferral")
    # RFC 7672 / RFC 3463: 4.7.5 (cryptographic failure), not the 4.4.2 of
    # a lost connection, in the queue and the log
    assert err.startswith("451 4.7.5 DANE: the certificate matches no TLSA "
                          f"record of _{srv.sink.port}._tcp.mx.nomatch."
                          "dane.test")
    assert [l for l in srv.log("smtp-out").splitlines()
            if "to=<a@nomatch.dane.test>" in l and
            "status=deferred (451 4.7.5 DANE: the certificate matches no "
            "TLSA record" in l]
    # no retry without TLS, nothing reached the sink
    time.sleep(1)
    assert not at_sink(srv, "dane nomatch")
    assert len(srv.sink.messages) == before
    assert "DANE: verification of mx.nomatch.dane.test[127.0.0.1]" in \
        srv.log("smtp-out")


def test_tlsa_mismatch_expired_bounce_says_why(srv):
    """an item that expires on a TLSA mismatch: the bounce carries the
    4.7.5 and the DANE reason (RFC 3464 Status, Diagnostic-Code)"""
    qid = inject(srv.root, "alice@acme.test", ["c@nomatch.dane.test"],
                 "From: <alice@acme.test>\r\nTo: <c@nomatch.dane.test>\r\n"
                 "Subject: dane expired\r\n\r\nhello\r\n",
                 arrival=time.time() - 31 * 3600)

    def bounce():
        for f in (srv.root / "queue").rglob("*.msg"):
            b = f.read_bytes()
            if f"X-Postern-Queue-ID: {qid}".encode() in b:
                return email.message_from_bytes(b)
        return None
    msg = wait_for(bounce, T, "the bounce")
    rc = report_fields(msg)[1]
    assert rc["Action"] == "failed"
    assert rc["Status"] == "4.7.5"
    assert "DANE: the certificate matches no TLSA record of " \
        f"_{srv.sink.port}._tcp.mx.nomatch.dane.test" in \
        rc["Diagnostic-Code"]
    assert "gave up after 31 hours" in rc["Diagnostic-Code"]
    assert not at_sink(srv, "dane expired")


def test_cname_mx_host_uses_the_expanded_name_first(srv):
    # RFC 7672 2.2.3: mx.cname is a CNAME for mx.target; mx.target's TLSA
    # record matches, mx.cname's does not
    send(srv, "a@cname.dane.test", "dane cname")
    m, = wait_for(lambda: at_sink(srv, "dane cname"), T, "delivery")
    assert m["tls"]
    log = srv.log("smtp-out")
    assert "DANE: mx.cname.dane.test: 1 usable TLSA record(s) at its CNAME " \
        "target mx.target.dane.test" in log
    assert "DANE: verified mx.cname.dane.test[127.0.0.1]" in log


def test_cname_mx_host_falls_back_to_the_original_name(srv):
    # no TLSA records at the expanded name mx.bare: mx.cnorig's decide
    send(srv, "a@cnorig.dane.test", "dane cnorig")
    wait_for(lambda: at_sink(srv, "dane cnorig"), T, "delivery")
    log = srv.log("smtp-out")
    assert "DANE: mx.cnorig.dane.test: no secure TLSA records at its CNAME " \
        f"target mx.bare.dane.test: trying _{srv.sink.port}._tcp." \
        "mx.cnorig.dane.test" in log
    assert "DANE: verified mx.cnorig.dane.test[127.0.0.1]" in log


def test_cname_target_tlsa_mismatch_is_not_rescued_by_the_original(srv):
    # the expanded name has TLSA records that match nothing: they decide,
    # the original name's matching record is not consulted
    send(srv, "a@cnbad.dane.test", "dane cnbad")
    err = wait_for(lambda: deferred(srv, "a@cnbad.dane.test"), T,
                   "the deferral")
    assert err.startswith("451 4.7.5 DANE: the certificate matches no TLSA "
                          f"record of _{srv.sink.port}._tcp.mx.badtarget."
                          "dane.test")
    assert not at_sink(srv, "dane cnbad")


def test_no_starttls_where_tlsa_requires_it_defers(srv):
    send(srv, "a@notls.dane.test", "dane notls")
    err = wait_for(lambda: deferred(srv, "a@notls.dane.test"), T,
                   "the deferral")
    assert err.startswith("451 4.7.5 DANE: no STARTTLS, which the TLSA "
                          "records require")
    assert srv.plain.connections >= 1
    assert not srv.plain.messages
    assert not [c for c in srv.plain.commands if c.startswith("MAIL")]


def test_unusable_and_malformed_tlsa_encrypt_without_authentication(srv):
    send(srv, "a@unusable.dane.test", "dane unusable")
    m, = wait_for(lambda: at_sink(srv, "dane unusable"), T, "delivery")
    assert m["tls"]
    log = srv.log("smtp-out")
    assert "DANE: mx.unusable.dane.test: no usable TLSA record (3 unusable " \
        "or malformed): TLS required, not authenticated" in log


def test_insecure_zone_means_no_dane(srv):
    # its TLSA record matches nothing, but it is not DNSSEC-validated
    send(srv, "a@insecure.test", "dane insecure")
    m, = wait_for(lambda: at_sink(srv, "dane insecure"), T, "delivery")
    assert "the MX RRset of insecure.test is insecure: no DANE for " \
        "mx.insecure.test" in srv.log("smtp-out")


def test_insecure_address_records_mean_no_dane(srv):
    # RFC 7672 2.2.2: the MX RRset is secure, the host's A records are not
    send(srv, "a@addrinsec.dane.test", "dane addr insecure")
    wait_for(lambda: at_sink(srv, "dane addr insecure"), T, "delivery")
    assert "DANE: the address records of mx.insecure.test are insecure: " \
        "no DANE" in srv.log("smtp-out")


def test_bogus_tlsa_defers(srv):
    send(srv, "a@bogus.test", "dane bogus")
    err = wait_for(lambda: deferred(srv, "a@bogus.test"), T, "the deferral")
    assert err.startswith("451 4.7.5 DANE: TLSA lookup of "
                          f"_{srv.sink.port}._tcp.mx.bogus.test failed")
    assert not at_sink(srv, "dane bogus")


def test_dane_takes_precedence_over_mta_sts(srv):
    # sts.dane.test has an enforce policy; the MX certificate does not
    # chain to the CA MTA-STS trusts, its TLSA record matches: RFC 8461 2,
    # DANE decides
    send(srv, "a@sts.dane.test", "dane sts")
    wait_for(lambda: at_sink(srv, "dane sts"), T, "delivery")
    log = srv.log("smtp-out")
    assert "MTA-STS: sts.dane.test: policy id 1, mode enforce" in log
    assert "DANE: verified mx.sts.dane.test[127.0.0.1]" in log
    assert "DANE takes precedence over MTA-STS (RFC 8461 2)" in log


def test_mta_sts_still_applies_without_tlsa(srv):
    # the same policy CA problem where DANE does not apply (no TLSA
    # records for the MX): MTA-STS refuses the certificate
    test_mta_sts.POLICIES["ststoo.dane.test"] = (
        "version: STSv1\nmode: enforce\nmx: mx.ststoo.dane.test\n"
        "max_age: 86400\n")
    try:
        send(srv, "a@ststoo.dane.test", "sts no tlsa")
        err = wait_for(lambda: deferred(srv, "a@ststoo.dane.test"), T,
                       "the deferral")
    finally:
        del test_mta_sts.POLICIES["ststoo.dane.test"]
    assert err.startswith("451 4.7.5 MTA-STS: certificate refused")
    assert not at_sink(srv, "sts no tlsa")


def day_rows(srv):
    day = time.strftime("%Y-%m-%d", time.gmtime())
    f = srv.root / "tlsrpt" / f"{day}.tsv"
    return [l.split("\t") for l in f.read_text().splitlines()] if \
        f.exists() else []


def test_tlsrpt_report_content_and_mail(srv, tmp_path):
    for i in range(2):
        send(srv, f"b{i}@good.dane.test", f"dane rpt {i}")
        wait_for(lambda: at_sink(srv, f"dane rpt {i}"), T, "delivery")
    wait_for(lambda: [r for r in day_rows(srv) if r[3] == "nomatch.dane.test"],
             T, "the nomatch row")
    day = time.strftime("%Y-%m-%d", time.gmtime())
    r = srv.cli("tls", "report", "--date", day, "--out", tmp_path / "out")
    out = r.stdout
    # a huge record is refused, a record with an ftp: rua too
    assert "nomatch.dane.test: " in out and "record ignored: record over " \
        "2048 bytes" in out
    assert "ta.dane.test: 1 session(s), no report: _smtp._tls.ta.dane.test: " \
        "record ignored: rua:" in out
    assert "bogus.test: 1 session(s), no report: _smtp._tls.bogus.test: " in out
    files = list((tmp_path / "out").glob("*.json.gz"))
    assert len(files) == 1
    name = files[0].name
    assert name.split("!")[1] == "good.dane.test"
    rep = json.loads(gzip.decompress(files[0].read_bytes()))
    assert rep["date-range"]["start-datetime"] == f"{day}T00:00:00Z"
    assert rep["date-range"]["end-datetime"] == f"{day}T23:59:59Z"
    pol, = rep["policies"]
    assert pol["policy"]["policy-type"] == "tlsa"
    assert pol["policy"]["policy-domain"] == "good.dane.test"
    assert pol["policy"]["mx-host"] == ["mx.good.dane.test"]
    assert pol["policy"]["policy-string"][0].startswith("3 1 1 ")
    # sessions, not messages: a connection may carry several
    assert pol["summary"]["total-successful-session-count"] >= 2
    assert pol["summary"]["total-failure-session-count"] == 0
    # the nomatch failure is in the day's rows with the RFC's result type
    rows = day_rows(srv)
    fails = [r for r in rows if r[3] == "nomatch.dane.test"]
    assert fails and all(r[8] == "validation-failure" for r in fails)
    assert fails[0][7] == "127.0.0.1"
    assert [r for r in rows if r[3] == "bogus.test" and
            r[8] == "dnssec-invalid"]
    assert [r for r in rows if r[3] == "unusable.dane.test" and
            r[8] == "tlsa-invalid"]
    # MTA-STS sessions too: the refused certificate of ststoo.dane.test
    sts = [r for r in rows if r[3] == "ststoo.dane.test"]
    assert sts and sts[0][2] == "sts"
    assert sts[0][8] == "certificate-not-trusted"
    assert sts[0][4].startswith("version: STSv1|mode: enforce|"
                                "mx: mx.ststoo.dane.test|max_age: 86400")
    # and sts.dane.test, whose TLSA records decided, is a DANE success
    assert [r for r in rows if r[3] == "sts.dane.test" and r[2] == "tlsa"
            and r[8] == "success"]
    assert not [r for r in rows if r[3] == "sts.dane.test" and r[2] == "sts"]

    # --send: RFC 8460 5.3 mail to the rua, through our own queue
    r = srv.cli("tls", "report", "--date", day, "--send")
    assert "good.dane.test: report " in r.stdout
    msgs = wait_for(lambda: [m for m in srv.sink.messages
                             if b"TLS-Report-Domain: good.dane.test" in
                             m["data"]], T, "the report mail")
    msg = email.message_from_bytes(msgs[0]["data"])
    assert msgs[0]["rcpts"][0].startswith("TO:<tlsrpt@insecure.test>")
    # the %-encoded rua, decoded: one more recipient of the same mail
    assert [r for m in msgs for r in m["rcpts"]
            if r.startswith("TO:<tls+rpt@insecure.test>")], msgs[0]["rcpts"]
    assert msg["TLS-Report-Submitter"]
    assert msg["Subject"].startswith("Report Domain: good.dane.test "
                                     "Submitter: ")
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "tlsrpt"
    att = [p for p in msg.walk()
           if p.get_content_type() == "application/tlsrpt+gzip"]
    assert att and att[0].get_filename().endswith(".json.gz")
    sent = json.loads(gzip.decompress(att[0].get_payload(decode=True)))
    assert sent["policies"][0]["policy"]["policy-domain"] == "good.dane.test"
    # and RFC 8460 5.4: POSTed to the https: rua, the certificate verified
    # with tlsrpt.ca_file
    assert f"posted to https://127.0.0.1:{srv.rpt.port}/tlsrpt" in r.stdout
    path, ctype, body = srv.rpt.posts[-1]
    assert path == "/tlsrpt" and ctype == "application/tlsrpt+gzip"
    assert json.loads(gzip.decompress(body)) == sent


def test_tlsrpt_https_host_not_trusted_is_not_posted(srv):
    day = time.strftime("%Y-%m-%d", time.gmtime())
    n = len(srv.rpt.posts)
    srv.cli("config", "unset", "tlsrpt.ca_file")
    try:
        r = srv.cli("tls", "report", "--date", day, "--send", check=False)
    finally:
        srv.cli("config", "set", "tlsrpt.ca_file", str(srv.pki / "ca.pem"))
    # the system's CAs do not know the test CA: nothing posted, said so,
    # and the command fails (the mail still went)
    assert r.returncode != 0
    assert "report not posted" in r.stderr
    assert "good.dane.test: report " in r.stdout
    assert len(srv.rpt.posts) == n


def test_tls_dns_prints_the_records_to_publish(srv):
    srv.cli("config", "set", "mta_sts.publish", "enforce")
    srv.cli("config", "set", "server.hostname", "mail.acme.test")
    out = srv.cli("tls", "dns", "acme.test").stdout
    assert '_smtp._tls.acme.test. IN TXT "v=TLSRPTv1; ' \
        'rua=mailto:postmaster@acme.test"' in out
    sts = [l for l in out.splitlines() if l.startswith("_mta-sts.acme.test.")]
    assert len(sts) == 1 and '"v=STSv1; id=' in sts[0]
    # the TLSA record is the key of the certificate init made
    want = spki_sha256(srv.root / "certs" / "default.crt")
    assert f"_25._tcp.mail.acme.test. IN TLSA 3 1 1 {want}" in out
    # the id follows the policy
    srv.cli("config", "set", "mta_sts.publish_max_age", "86400")
    out2 = srv.cli("tls", "dns", "acme.test").stdout
    assert [l for l in out2.splitlines()
            if l.startswith("_mta-sts.")] != sts
    js = srv.cli("tls", "dns", json_out=True)
    assert {"TXT", "TLSA"} == {r["type"] for r in js}
    r = srv.cli("tls", "dns", "nowhere.test", check=False)
    assert r.returncode == 2 and "not a hosted domain" in r.stderr


def diag(srv):
    r = srv.cli("--json", "diag", "--timeout", "20", check=False)
    assert r.returncode in (0, 1), r.stderr
    rep = json.loads(r.stdout)
    return {i["check"]: i for sec in rep["sections"] for i in sec["items"]}


def test_diag_checks_the_published_records(srv):
    srv.cli("config", "set", "mta_sts.publish", "enforce")
    srv.cli("config", "set", "server.hostname", "mail.acme.test")
    got = diag(srv)
    sts = got["MTA-STS _mta-sts.acme.test"]
    assert sts["status"] == "error"
    assert "wrong id stale1" in sts["value"]
    pub = srv.cli("tls", "dns", "acme.test").stdout
    assert sts["value"].endswith(pub.split("id=")[1].split('"')[0])
    assert got["MTA-STS _mta-sts.beta.test"]["status"] == "warning"
    assert "not published" in got["MTA-STS _mta-sts.beta.test"]["value"]
    assert got["TLS-RPT _smtp._tls.acme.test"]["status"] == "ok"
    rpt = got["TLS-RPT _smtp._tls.beta.test"]
    assert rpt["status"] == "error" and "malformed" in rpt["value"]
    tlsa = got["DANE _25._tcp.mail.acme.test"]
    assert tlsa["status"] == "ok", tlsa
    assert "matches this server's key" in tlsa["value"]
    # another certificate (another key): the published record is wrong
    srv.cli("config", "set", "tls.cert", str(srv.pki / "mx.pem"))
    try:
        tlsa = diag(srv)["DANE _25._tcp.mail.acme.test"]
    finally:
        srv.cli("config", "unset", "tls.cert")
    assert tlsa["status"] == "error"
    assert "none matches this server's key" in tlsa["value"]


def test_posternd_sends_the_reports_of_the_days_that_ended(srv):
    """reports.daily: posternd runs 'tls report --send' (and DMARC's) for
    each day since run/daily.day, once, and records the day done. Here
    yesterday's rows are today's, copied."""
    now = time.time()
    if now % 86400 < 150 or now % 86400 > 86400 - 120:
        pytest.skip("too near midnight UTC")
    today = time.strftime("%Y-%m-%d", time.gmtime(now))
    yday = time.strftime("%Y-%m-%d", time.gmtime(now - 86400))
    before = time.strftime("%Y-%m-%d", time.gmtime(now - 2 * 86400))
    rows = srv.root / "tlsrpt" / f"{today}.tsv"
    wait_for(lambda: rows.exists(), T, "today's rows")
    (srv.root / "tlsrpt" / f"{yday}.tsv").write_bytes(rows.read_bytes())
    n = len(srv.rpt.posts)
    srv.stop()
    (srv.root / "run" / "daily.day").write_text(before + "\n")
    srv.start(services=["smtpd", "mta", "smtp-out"])
    wait_for(lambda: (srv.root / "run" / "daily.day").read_text().strip()
             == yday, T, "the day recorded done")
    posts = srv.rpt.posts[n:]
    assert len(posts) == 1
    rep = json.loads(gzip.decompress(posts[0][2]))
    assert rep["date-range"]["start-datetime"] == f"{yday}T00:00:00Z"
    wait_for(lambda: [m for m in srv.sink.messages
                      if f"Report-ID: <{yday}.good.dane.test@".encode()
                      in m["data"]], T, "the report mail of yesterday")
    log = (srv.root / "log" / "daily.log").read_text()
    assert "good.dane.test: report " in log
    # once: a posternd started again sends nothing more
    srv.stop()
    srv.start(services=["smtpd", "mta", "smtp-out"])
    time.sleep(3)
    assert len(srv.rpt.posts) == n + 1


def test_daily_job_prunes_old_row_files(srv):
    """reports.keep_days: after the days are done, the daily job removes
    the row files of days older than the setting (both kinds), and keeps
    the newer ones and names that are not day files"""
    now = time.time()
    if now % 86400 < 150 or now % 86400 > 86400 - 120:
        pytest.skip("too near midnight UTC")

    def day(n):
        return time.strftime("%Y-%m-%d", time.gmtime(now - n * 86400))
    files = {}
    for kind in ("dmarc", "tlsrpt"):
        d = srv.root / kind
        d.mkdir(exist_ok=True)
        for age in (40, 30, 20):
            f = d / f"{day(age)}.tsv"
            f.write_text("old rows\n")
            files[(kind, age)] = f
        (d / f"{day(40)}.tsv.keep").write_text("not a day file\n")
        (d / "notes").write_text("not a day file\n")
    srv.cli("config", "set", "reports.keep_days", "25")
    try:
        srv.stop()
        # nothing to report from yesterday: the day is done, then pruned
        for kind in ("dmarc", "tlsrpt"):
            (srv.root / kind / f"{day(1)}.tsv").unlink(missing_ok=True)
        (srv.root / "run" / "daily.day").write_text(day(2) + "\n")
        srv.start(services=["smtpd", "mta", "smtp-out"])
        wait_for(lambda: (srv.root / "run" / "daily.day").read_text()
                 .strip() == day(1), T, "the day recorded done")
        wait_for(lambda: not files[("tlsrpt", 30)].exists() and
                 not files[("dmarc", 30)].exists(), T, "the pruning")
    finally:
        srv.cli("config", "unset", "reports.keep_days")
    for kind in ("dmarc", "tlsrpt"):
        assert not files[(kind, 40)].exists()
        assert not files[(kind, 30)].exists()      # 30 > keep_days 25
        assert files[(kind, 20)].exists()
        assert (srv.root / kind / f"{day(40)}.tsv.keep").exists()
        assert (srv.root / kind / "notes").exists()
    # today's rows are never touched
    assert (srv.root / "tlsrpt" / f"{day(0)}.tsv").exists()
    log = (srv.root / "log" / "daily.log").read_text()
    assert f"removed tlsrpt/{day(40)}.tsv (reports.keep_days 25)" in log
    assert f"removed dmarc/{day(30)}.tsv (reports.keep_days 25)" in log


def test_daily_job_prunes_with_reports_off(srv):
    """reports.daily 0: posternd reports nothing (run/daily.day stays),
    but the row files older than reports.keep_days still go"""
    now = time.time()
    if now % 86400 < 150 or now % 86400 > 86400 - 120:
        pytest.skip("too near midnight UTC")

    def day(n):
        return time.strftime("%Y-%m-%d", time.gmtime(now - n * 86400))
    d = srv.root / "dmarc"
    d.mkdir(exist_ok=True)
    old, kept = d / f"{day(40)}.tsv", d / f"{day(10)}.tsv"
    old.write_text("old rows\n")
    kept.write_text("newer rows\n")
    n = len(srv.rpt.posts)
    srv.cli("config", "set", "reports.daily", "0")
    srv.cli("config", "set", "reports.keep_days", "25")
    try:
        srv.stop()
        (srv.root / "run" / "daily.day").write_text(day(5) + "\n")
        srv.start(services=["smtpd", "mta", "smtp-out"])
        wait_for(lambda: not old.exists(), T, "the pruning")
        time.sleep(1)
    finally:
        srv.cli("config", "unset", "reports.keep_days")
        srv.cli("config", "unset", "reports.daily")
    assert kept.exists()
    assert (srv.root / "run" / "daily.day").read_text().strip() == day(5)
    assert len(srv.rpt.posts) == n
    log = (srv.root / "log" / "daily.log").read_text()
    assert f"removed dmarc/{day(40)}.tsv (reports.keep_days 25)" in log

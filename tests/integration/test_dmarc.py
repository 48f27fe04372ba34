"""DMARC (RFC 9989) evaluation of inbound mail by the MTA (issue 19 item 3):
real SMTP into smtpd (SPF checked against dnsmasq, loopback clients
checked), DKIM signatures made by dkimpy (Debian python3-dkim), the _dmarc
records, keys and SPF records served by dnsmasq; the result in
Authentication-Results, enforcement (reject to bad mail, quarantine to
Junk), the DNS tree walk (psd=y, sp, np, a 9-label name), bad records
(malformed, two records, over 4096 bytes) and the aggregate report rows
and XML (`postern dmarc report`)."""
import re
import smtplib
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import Postern, dnsmasq_start, dnsmasq_stop
from test_dkim import RFC_RSA_PEM, RFC_RSA_REC, auth_results
from test_mta import badmail, mailbox_msgs, wait_for

dkim = pytest.importorskip("dkim", reason="python3-dkim (dkimpy) missing: "
                           "scripts/install-deps.sh installs it")

T = 60
BIG = "v=DMARC1; p=reject; x=" + "a" * 4100


def txt(name, value):
    return f"--txt-record={name},{value}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    key = RFC_RSA_REC
    conf = tmp_path_factory.mktemp("dmarc-dns") / "dnsmasq.conf"
    conf.write_text('txt-record=_dmarc.signer.test,"v=DMARC1; p=reject; '
                    'sp=quarantine; rua=mailto:agg@signer.test,'
                    'mailto:x@report.test"\n')
    proc, port = dnsmasq_start([
        # SPF: 127.0.0.1 may send for these
        txt("signer.test", "v=spf1 ip4:127.0.0.1 -all"),
        txt("bounce.other.test", "v=spf1 ip4:127.0.0.1 -all"),
        txt("mail.strict.test", "v=spf1 ip4:127.0.0.1 -all"),
        # DKIM keys (RFC 8463's RSA key)
        txt("test._domainkey.signer.test", key),
        txt("test._domainkey.strict.test", key),
        txt("test._domainkey.b.psd.test", key),
        txt("test._domainkey.other.test", key),
        # policies
        # a comma inside a string needs dnsmasq's quotes: a conf file
        f"--conf-file={conf}",
        txt("_dmarc.strict.test", "v=DMARC1; p=reject; adkim=s; aspf=s"),
        txt("_dmarc.quar.test", "v=DMARC1; p=quarantine"),
        txt("_dmarc.testing.test", "v=DMARC1; p=reject; t=y"),
        txt("_dmarc.psd.test", "v=DMARC1; p=none; psd=y"),
        txt("_dmarc.np.test", "v=DMARC1; p=none; np=reject"),
        "--mx-host=real.np.test,mx.np.test,10",
        txt("_dmarc.bad.test", "v=DMARC1; p=reject; p=none"),
        txt("_dmarc.two.test", "v=DMARC1; p=reject"),
        txt("_dmarc.two.test", "v=DMARC1; p=none"),
        txt("_dmarc.big.test", BIG),
        txt("_dmarc.deep.test", "v=DMARC1; p=reject"),
    ])
    p = Postern(tmp_path_factory.mktemp("dmarc") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "bob@acme", "--password", "bob-secret-1")
    for k, v in {"dns.hosts": f"127.0.0.1:{port}",
                 "smtp.check_loopback": "yes",
                 "dmarc.verify": "yes",
                 "dmarc.enforce": "yes"}.items():
        p.cli("config", "set", k, v)
    p.start(services=["smtpd", "mta", "deliver"])
    yield p
    p.stop()
    dnsmasq_stop(proc)
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def message(subject, frm):
    return (f"From: {frm}\r\nTo: bob@acme.test\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 07:00:00 +0000\r\n"
            f"Message-ID: <{time.time_ns()}@x.test>\r\n\r\n"
            "Hello,\r\nthe numbers.\r\n").encode()


def signed(subject, frm, d):
    raw = message(subject, frm)
    return dkim.sign(raw, b"test", d.encode(), RFC_RSA_PEM,
                     include_headers=[b"from", b"to", b"subject", b"date",
                                      b"message-id"]) + raw


def send(p, mail_from, raw):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60,
                      local_hostname="client.test") as s:
        s.sendmail(mail_from, ["bob@acme.test"], raw)


def folder_msgs(p, folder):
    base = Path(p.root) / "store" / "acme" / "bob" / f".{folder}"
    return [f.read_bytes().decode(errors="replace") for sub in ("new", "cur")
            if (base / sub).is_dir() for f in sorted((base / sub).iterdir())]


def stored(p, subject, folder=None):
    def find():
        msgs = folder_msgs(p, folder) if folder else mailbox_msgs(p.root, "bob")
        return [m for m in msgs if f"Subject: {subject}\r\n" in m]
    return wait_for(find, T, subject)[0]


def dmarc_ar(msg):
    ar = auth_results(msg)
    assert len(ar) == 1, ar
    m = re.search(r"dmarc=\S+.*", ar[0])
    assert m, ar[0]
    return ar[0], m.group(0)


def test_aligned_dkim_and_spf_pass(srv):
    p = srv
    host = p.cli("config", "get", "server.hostname").stdout.strip()
    # DKIM d=signer.test, From signer.test, MAIL FROM elsewhere (SPF
    # pass for other.test does not align)
    send(p, "x@bounce.other.test", signed("dkim aligned", "a@signer.test",
                                          "signer.test"))
    # SPF pass for signer.test itself, no signature
    send(p, "a@signer.test", message("spf aligned", "a@signer.test"))
    # relaxed: From a subdomain, d= the organizational domain
    send(p, "x@bounce.other.test",
         signed("relaxed sub", "a@mail.sub.signer.test", "signer.test"))
    ar, dm = dmarc_ar(stored(p, "dkim aligned"))
    assert ar.startswith(f"Authentication-Results: {host}; dkim=pass "
                         "header.d=signer.test"), ar
    assert "spf=pass smtp.mailfrom=bounce.other.test" in ar
    assert dm == "dmarc=pass (p=reject dis=none) header.from=signer.test"
    ar, dm = dmarc_ar(stored(p, "spf aligned"))
    assert "dkim=none" in ar and "spf=pass smtp.mailfrom=signer.test" in ar
    assert dm == "dmarc=pass (p=reject dis=none) header.from=signer.test"
    _, dm = dmarc_ar(stored(p, "relaxed sub"))
    # the subdomain's policy is sp= of the parent's record
    assert dm == ("dmarc=pass (p=quarantine dis=none) "
                  "header.from=mail.sub.signer.test")


def test_reject_goes_to_bad_mail_and_quarantine_to_junk(srv):
    p = srv
    before = set(badmail(p.root))
    # From signer.test, signed by another domain, SPF for another domain
    send(p, "x@bounce.other.test", signed("forged", "ceo@signer.test",
                                          "other.test"))
    new = wait_for(lambda: set(badmail(p.root)) - before, T, "bad mail")
    (qid,) = new
    assert "DMARC policy reject" in badmail(p.root)[qid]
    assert "signer.test publishes p=reject" in p.log("mta")
    # nothing lost: the message is kept in bad mail
    assert (Path(p.root) / "queue" / "badmail" / f"{qid}.msg").exists()
    # p=quarantine: delivered to Junk with the result
    send(p, "x@bounce.other.test", message("quarantined", "a@quar.test"))
    junk = stored(p, "quarantined", folder="Junk")
    _, dm = dmarc_ar(junk)
    assert dm == "dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test"
    assert "X-Postern-Quarantine: dmarc (policy of quar.test)" in junk
    # a forged quarantine mark from outside is removed
    raw = message("no forged mark", "a@signer.test").replace(
        b"Subject:", b"X-Postern-Quarantine: yes\r\nSubject:")
    send(p, "a@signer.test", raw)
    m = stored(p, "no forged mark")
    assert "X-Postern-Quarantine" not in m
    # t=y: the policy is not applied
    send(p, "x@bounce.other.test", message("testing", "a@testing.test"))
    _, dm = dmarc_ar(stored(p, "testing"))
    assert dm == "dmarc=fail (p=reject dis=none) header.from=testing.test"


def test_strict_alignment_and_tree_walk(srv):
    p = srv
    before = set(badmail(p.root))
    # adkim=s/aspf=s: d=strict.test and MAIL FROM mail.strict.test do not
    # align with From mail.strict.test... but SPF for mail.strict.test
    # is strict-aligned with From mail.strict.test
    send(p, "a@mail.strict.test", signed("strict spf", "a@mail.strict.test",
                                         "strict.test"))
    _, dm = dmarc_ar(stored(p, "strict spf"))
    assert dm.startswith("dmarc=pass"), dm
    # From www.strict.test: only relaxed alignment would pass: rejected
    send(p, "a@mail.strict.test", signed("strict fail", "a@www.strict.test",
                                         "strict.test"))
    wait_for(lambda: any("DMARC policy reject" in r for q, r in
                         badmail(p.root).items() if q not in before), T,
             "strict failure in bad mail")
    # psd=y at psd.test: a.psd.test and b.psd.test are two organizations
    # (a public suffix list would not know psd.test)
    send(p, "x@bounce.other.test", signed("psd", "a@a.psd.test", "b.psd.test"))
    ar, dm = dmarc_ar(stored(p, "psd"))
    assert "dkim=pass header.d=b.psd.test" in ar
    assert dm == "dmarc=fail (p=none dis=none) header.from=a.psd.test"
    # np=: a From domain that does not exist gets np (reject)
    before = set(badmail(p.root))
    send(p, "x@bounce.other.test", message("ghost", "a@ghost.np.test"))
    wait_for(lambda: set(badmail(p.root)) - before, T, "np=reject")
    # an existing subdomain gets p=none
    send(p, "x@bounce.other.test", message("real np", "a@real.np.test"))
    _, dm = dmarc_ar(stored(p, "real np"))
    assert dm == "dmarc=fail (p=none dis=none) header.from=real.np.test"
    # a 9-label name: the walk jumps to 7 labels and finds deep.test
    before = set(badmail(p.root))
    send(p, "x@bounce.other.test",
         message("deep", "a@a.b.c.d.e.f.g.deep.test"))
    wait_for(lambda: set(badmail(p.root)) - before, T, "deep reject")


def test_bad_records_and_from_fields(srv):
    p = srv
    for dom in ("bad.test", "two.test", "big.test", "nodmarc.test"):
        send(p, "x@bounce.other.test", message(f"bad {dom}", f"a@{dom}"))
    for dom in ("bad.test", "two.test", "big.test", "nodmarc.test"):
        _, dm = dmarc_ar(stored(p, f"bad {dom}"))
        assert dm == f"dmarc=none (no policy) header.from={dom}", dm
    log = p.log("mta")
    assert "_dmarc.bad.test: record ignored: a tag given twice" in log
    assert "_dmarc.two.test: 2 records, none used" in log
    assert "_dmarc.big.test: record ignored: DMARC record over 4096 bytes" \
        in log
    # two From fields, or addresses of two domains: permerror, delivered
    raw = message("two froms", "a@signer.test").replace(
        b"To:", b"From: b@signer.test\r\nTo:")
    send(p, "a@signer.test", raw)
    _, dm = dmarc_ar(stored(p, "two froms"))
    assert dm == "dmarc=permerror (more than one From field)"
    send(p, "a@signer.test", message("two domains",
                                     "a@signer.test, b@other.test"))
    _, dm = dmarc_ar(stored(p, "two domains"))
    assert dm == "dmarc=permerror (From addresses in several domains)"


def test_aggregate_report(srv, tmp_path):
    p = srv
    send(p, "a@signer.test", message("for the report", "a@signer.test"))
    stored(p, "for the report")
    day = time.strftime("%Y-%m-%d", time.gmtime())
    rows = (Path(p.root) / "dmarc" / f"{day}.tsv").read_text().splitlines()
    # only domains with rua= are recorded
    assert rows and all("\tsigner.test\t" in r for r in rows), rows
    out = tmp_path / "reports"
    r = p.cli("dmarc", "report", "--date", day, "--out", out)
    (f,) = list(out.iterdir())
    assert f.name.startswith(f"{p.cli('config', 'get', 'server.hostname').stdout.strip()}!signer.test!")
    assert "signer.test:" in r.stdout
    ns = {"d": "urn:ietf:params:xml:ns:dmarc-2.0"}
    root = ET.parse(f).getroot()
    assert root.find("d:policy_published/d:domain", ns).text == "signer.test"
    assert root.find("d:policy_published/d:p", ns).text == "reject"
    assert root.find("d:policy_published/d:sp", ns).text == "quarantine"
    recs = root.findall("d:record", ns)
    total = sum(int(x.find("d:row/d:count", ns).text) for x in recs)
    assert total == len(rows)
    disp = {(x.find("d:identifiers/d:header_from", ns).text,
             x.find("d:row/d:policy_evaluated/d:disposition", ns).text,
             x.find("d:row/d:policy_evaluated/d:dkim", ns).text,
             x.find("d:row/d:policy_evaluated/d:spf", ns).text)
            for x in recs}
    assert ("signer.test", "reject", "fail", "fail") in disp   # "forged"
    assert ("signer.test", "none", "pass", "fail") in disp     # dkim aligned
    assert ("signer.test", "none", "fail", "pass") in disp     # spf aligned
    for x in recs:
        assert x.find("d:row/d:source_ip", ns).text == "127.0.0.1"
    # a row that is not one is skipped with a message
    with open(Path(p.root) / "dmarc" / f"{day}.tsv", "a") as fh:
        fh.write("garbage\tline\n")
    r = p.cli("dmarc", "report", "--date", day)
    assert "1 malformed row(s)" in r.stderr
    assert p.cli("dmarc", "report", "--date", "2001-01-01").stdout.startswith(
        "no DMARC results recorded")
    assert p.cli("dmarc", "report", "--date", "junk", check=False).returncode == 2
    # --send queues one message to the rua addresses
    r = p.cli("dmarc", "report", "--date", day, "--send")
    assert "queued as" in r.stdout and "agg@signer.test x@report.test" in r.stdout

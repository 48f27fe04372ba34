"""postern diag: the diagnostic report (manual 4.4.1) against a real data
root, a real posternd and a local dnsmasq (never the internet)."""
import datetime
import json
import socket
import sqlite3
import time
from html.parser import HTMLParser

import pytest

from conftest import dnsmasq_start, dnsmasq_stop, free_port
from test_mta import drop_pickup

SECTIONS = [
    "Version information", "Configuration and data", "System services",
    "Queue status", "Host TCP/IP settings", "Message filtering/antivirus", "SMTP configuration",
    "SMTP relay settings", "SMTP inbound bindings",
    "SMTP outgoing configuration", "SMTP outgoing queue status",
    "DNS resolution", "Host IP reverse lookup", "Hosted domain resolution",
    "Authentication", "Post office status",
]

# this host: mx.postern.test at a documentation address (public, not ours
# to route), with its PTR (dnsmasq answers both for --host-record)
HOST_RECORDS = ["--host-record=mx.postern.test,192.0.2.10",
                "--txt-record=acme.test,v=spf1 mx -all"]


def start_dns(postern, records):
    proc, port = dnsmasq_start(HOST_RECORDS + records)
    postern.cli("config", "set", "dns.hosts", f"127.0.0.1:{port}")
    return proc


@pytest.fixture
def dns_here(populated):
    """dnsmasq with acme.test's MX pointing to this host."""
    proc = start_dns(populated, ["--mx-host=acme.test,mx.postern.test,10"])
    yield populated
    dnsmasq_stop(proc)


def diag(postern, *args):
    """(exit code, report as parsed JSON)."""
    r = postern.cli("--json", "diag", "--timeout", "20", *args, check=False)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)


def items(report, section, check=None):
    sec = [s for s in report["sections"] if s["name"] == section]
    assert sec, f"no section {section}"
    its = sec[0]["items"]
    if check is not None:
        its = [i for i in its if i["check"] == check]
        assert its, f"no item {check!r} in {section}: {sec[0]['items']}"
    return its


def item(report, section, check):
    return items(report, section, check)[0]


def errors(report):
    return [(s["name"], i["check"], i["value"]) for s in report["sections"]
            for i in s["items"] if i["status"] == "error"]


def test_text_report_and_json_of_a_healthy_host(dns_here):
    p = dns_here
    p.start()
    r = p.cli("diag", "--timeout", "20", check=False)
    for s in SECTIONS:
        assert f"== {s} ==" in r.stdout, s
    assert "Summary: 0 error(s)" in r.stdout, r.stdout
    assert r.returncode == 0, r.stdout

    code, rep = diag(p)
    assert code == 0 and rep["errors"] == 0, errors(rep)
    assert [s["name"] for s in rep["sections"]] == SECTIONS
    for s in rep["sections"]:
        for i in s["items"]:
            assert i["status"] in ("ok", "info", "warning", "error")
    # versions are the libraries' own
    assert item(rep, "Version information", "SQLite")["value"][0].isdigit()
    assert "OpenSSL" in item(rep, "Version information", "OpenSSL")["value"]
    assert item(rep, "Configuration and data", "Config store integrity")["status"] == "ok"
    assert item(rep, "Configuration and data", "Certificate default.crt")["status"] == "ok"
    assert item(rep, "System services", "Service smtpd")["status"] == "ok"
    assert item(rep, "System services", "posternd")["status"] == "ok"
    # the listener really greets, the relay probe is refused
    smtp = item(rep, "SMTP inbound bindings", f"smtp listener 127.0.0.1:{p.port('smtp')}")
    assert smtp["status"] == "ok" and "220" in smtp["value"]
    relay = item(rep, "SMTP relay settings", "Open relay test")
    assert relay["status"] == "ok" and "554" in relay["value"], relay
    # DNS through the local dnsmasq
    assert item(rep, "DNS resolution", "Host name A/AAAA")["value"].endswith("192.0.2.10")
    ptr = item(rep, "Host IP reverse lookup", "PTR of 192.0.2.10")
    assert ptr["status"] == "ok" and "mx.postern.test" in ptr["value"]
    mx = item(rep, "Hosted domain resolution", "MX of acme.test")
    assert mx["status"] == "ok", mx
    assert item(rep, "Hosted domain resolution", "SPF of acme.test")["status"] == "ok"
    po = item(rep, "Post office status", "Post office acme")
    assert po["status"] == "ok" and "3 mailbox(es)" in po["value"]


def test_stopped_services_are_errors(dns_here):
    p = dns_here
    p.start(services=["smtpd", "mta", "deliver"])   # host.conf names them all
    code, rep = diag(p, "--no-dns")
    assert code == 1
    assert item(rep, "System services", "Service smtpd")["status"] == "ok"
    imapd = item(rep, "System services", "Service imapd")
    assert imapd["status"] == "error" and "not run" in imapd["value"]
    p.stop()
    code, rep = diag(p, "--no-dns")
    assert code == 1
    assert item(rep, "System services", "posternd")["status"] == "error"
    assert item(rep, "System services", "Service smtpd")["status"] == "error"
    b = item(rep, "SMTP inbound bindings", f"smtp listener 127.0.0.1:{p.port('smtp')}")
    assert b["status"] == "error"


def test_open_relay_is_an_error(dns_here):
    p = dns_here
    p.cli("config", "set", "smtp.relay_networks", "0.0.0.0/0")
    p.start()
    code, rep = diag(p, "--no-dns")
    assert code == 1
    relay = item(rep, "SMTP relay settings", "Open relay test")
    assert relay["status"] == "error" and "OPEN RELAY" in relay["advice"], relay
    nets = item(rep, "SMTP relay settings", "Relay networks (smtp.relay_networks)")
    assert nets["status"] == "warning" and "0.0.0.0/0" in nets["value"]
    # the probe never sent a message: nothing queued, nothing in the log
    assert " DATA" not in p.log("smtpd")
    # loopback trusted on purpose is explained, not an error
    p.cli("config", "set", "smtp.relay_networks", "127.0.0.0/8")
    code, rep = diag(p, "--no-dns")
    assert item(rep, "SMTP relay settings", "Open relay test")["status"] == "info"
    assert code == 0, errors(rep)


def make_cert(crt, key, cn, not_before, not_after, other_key=False):
    cryptography = pytest.importorskip("cryptography")  # python3-cryptography
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    assert cryptography
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(k.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .sign(k, hashes.SHA256()))
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if other_key:
        k = ec.generate_private_key(ec.SECP256R1())
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    key.chmod(0o600)


def test_certificates_expired_expiring_and_wrong_key(populated):
    p = populated
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    day = datetime.timedelta(days=1)
    certs = p.root / "certs"
    make_cert(certs / "old.test.crt", certs / "old.test.key", "old.test",
              now - 400 * day, now - day)
    make_cert(certs / "soon.test.crt", certs / "soon.test.key", "soon.test",
              now - day, now + 10 * day)
    make_cert(certs / "mixed.test.crt", certs / "mixed.test.key", "mixed.test",
              now - day, now + 300 * day, other_key=True)
    code, rep = diag(p, "--no-dns", "--no-network")
    assert code == 1
    sec = "Configuration and data"
    old = item(rep, sec, "Certificate old.test.crt")
    assert old["status"] == "error" and "expired" in old["value"]
    soon = item(rep, sec, "Certificate soon.test.crt")
    assert soon["status"] == "warning" and "expires in" in soon["value"]
    assert item(rep, sec, "Certificate mixed.test.crt")["status"] == "ok"
    assert item(rep, sec, "Private key mixed.test.key")["status"] == "error"
    assert item(rep, sec, "Private key soon.test.key")["status"] == "ok"
    assert item(rep, sec, "Certificate default.crt")["status"] == "ok"


def test_mx_pointing_elsewhere_is_a_warning(populated):
    p = populated
    proc = start_dns(p, ["--mx-host=acme.test,mx.elsewhere.test,10",
                         "--host-record=mx.elsewhere.test,192.0.2.99"])
    try:
        p.start()
        code, rep = diag(p)
    finally:
        dnsmasq_stop(proc)
    mx = item(rep, "Hosted domain resolution", "MX of acme.test")
    assert mx["status"] == "warning", mx
    assert "mx.elsewhere.test" in mx["value"] and "192.0.2.99" in mx["value"]
    assert code == 0, errors(rep)     # warnings alone: exit 0


def test_data_and_post_office_problems(populated):
    p = populated
    (p.root / "config").chmod(0o755)
    p.cli("group", "add", "team@acme.test", "--postoffice", "acme")
    db = sqlite3.connect(str(p.root / "config/postern.db"))
    with db:
        db.execute("UPDATE mailbox SET password_hash = '$1$abcdefgh$0123456789abcdefghijkl'"
                   " WHERE name = 'bob'")
        db.execute("INSERT INTO address (address, postoffice_id, domain_id, kind, target_id)"
                   " SELECT 'ghost@acme.test', postoffice_id, id, 'mailbox', 99999"
                   " FROM domain WHERE name = 'acme.test'")
    db.close()
    code, rep = diag(p, "--no-dns", "--no-network")
    assert code == 1
    cfg = item(rep, "Configuration and data", "config/")
    assert cfg["status"] == "warning" and "0755" in cfg["value"]
    weak = item(rep, "Authentication", "Weak password hashes")
    assert weak["status"] == "warning" and "bob@acme (md5-crypt)" in weak["value"]
    grp = item(rep, "Post office status", "Group without members")
    assert grp["status"] == "warning" and "team@acme.test" in grp["value"]
    ghost = item(rep, "Post office status", "Address with a missing target")
    assert ghost["status"] == "error" and "ghost@acme.test" in ghost["value"]


class Checker(HTMLParser):
    """Well-formed enough: every element closed in order, no script."""
    VOID = {"meta", "br", "hr", "img", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.text, self.bad = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "img", "link"):
            self.bad.append(tag)
        for _, v in attrs:
            if v and ("http:" in v or "https:" in v):
                self.bad.append(v)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.bad.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_well_formed_and_escaped(populated, tmp_path):
    p = populated
    evil = "<script>alert('x')</script>&co"
    db = sqlite3.connect(str(p.root / "config/postern.db"))
    with db:
        db.execute("UPDATE postoffice SET name = ? WHERE name = 'acme'", (evil,))
    db.close()
    out = tmp_path / "report.html"
    r = p.cli("diag", "--no-dns", "--no-network", "--html", str(out), check=False)
    assert r.returncode == 1           # the renamed post office has no store
    assert "== Post office status ==" in r.stdout   # the text report too
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page
    c = Checker()
    c.feed(page)
    c.close()
    assert not c.bad and not c.stack, (c.bad, c.stack)
    text = "".join(c.text)
    assert f"Post office {evil}" in text        # shown, as text
    for s in SECTIONS:
        assert s in text
    # --html - : the page alone on stdout
    r = p.cli("diag", "--no-dns", "--no-network", "--html", "-", check=False)
    assert r.stdout.startswith("<!DOCTYPE html>") and "== " not in r.stdout


def test_dkim_quota_and_outbound_queue(populated):
    p = populated
    p.cli("dkim", "selector", "add", "acme.test", "ed1", "--algorithm", "ed25519-sha256")
    p.cli("dkim", "selector", "add", "acme.test", "ed2", "--algorithm", "ed25519-sha256")
    rec = p.cli("--json", "dkim", "dns", "acme.test", "ed1", json_out=False)
    record = json.loads(rec.stdout)["record"]
    # alice at 95% of her quota, from her maildirsize (the usage record)
    p.cli("mailbox", "set", "alice@acme", "quota=100")
    db = sqlite3.connect(str(p.root / "config/postern.db"))
    quota_kb = db.execute("SELECT quota_kb FROM mailbox WHERE name = 'alice'").fetchone()[0]
    db.close()
    assert quota_kb > 0
    (p.root / "store/acme/alice/maildirsize").write_text(
        f"0S\n{quota_kb * 1024 * 95 // 100} 3\n")
    # a remote domain whose exchanger refuses connections
    dead = free_port()
    p.cli("config", "set", "smtp.out_port", str(dead))
    p.cli("config", "set", "queue.delay_notice_after", "1")
    proc = start_dns(p, ["--mx-host=acme.test,mx.postern.test,10",
                         f"--txt-record=ed1._domainkey.acme.test,{record}",
                         "--mx-host=remote.test,mx.remote.test,10",
                         "--host-record=mx.remote.test,127.0.0.1"])
    try:
        p.start(services=["smtpd", "mta", "deliver", "smtp-out"])
        drop_pickup(p.root, "m1", "Return-Path: <>\r\nFrom: alice@acme.test\r\n"
                    "X-Postern-Recipients: far@remote.test\r\n"
                    "Subject: x\r\n\r\nbody\r\n")
        deadline = time.time() + 30
        while True:
            code, rep = diag(p, "--no-network")
            dest = [i for i in items(rep, "SMTP outgoing queue status")
                    if i["check"] == "Destination remote.test"]
            out = item(rep, "Queue status", "smtp/outgoing")
            # deferred, and older than queue.delay_notice_after (1 s)
            if dest and "last error" in dest[0]["value"] and out["status"] == "warning":
                break
            assert time.time() < deadline, items(rep, "SMTP outgoing queue status")
            time.sleep(0.5)
    finally:
        dnsmasq_stop(proc)
    assert dest[0]["status"] == "warning"
    assert "1 deferred" in dest[0]["value"], dest
    out = item(rep, "Queue status", "smtp/outgoing")
    assert out["status"] == "warning" and "1 item(s)" in out["value"], out
    ed1 = item(rep, "Hosted domain resolution", "DKIM ed1._domainkey.acme.test")
    assert ed1["status"] == "ok", ed1
    ed2 = item(rep, "Hosted domain resolution", "DKIM ed2._domainkey.acme.test")
    assert ed2["status"] == "warning" and "not published" in ed2["value"]
    alice = item(rep, "Post office status", "Mailbox alice@acme")
    assert alice["status"] == "warning" and "95%" in alice["value"], alice
    assert item(rep, "SMTP outgoing configuration",
                "Remote port (smtp.out_port)")["status"] == "warning"


def test_silent_listener_is_an_error_not_a_hang(populated):
    """A listener that accepts and never greets: the probe gives up after
    its timeout and says so (posternd is not running: the port is ours)."""
    p = populated
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", p.port("smtp")))
        srv.listen(8)
        code, rep = diag(p, "--no-dns")
    b = item(rep, "SMTP inbound bindings", f"smtp listener 127.0.0.1:{p.port('smtp')}")
    assert b["status"] == "error" and "no reply in time" in b["value"], b
    relay = item(rep, "SMTP relay settings", "Open relay test")
    assert relay["status"] == "warning" and "inconclusive" in relay["value"], relay
    sub = item(rep, "SMTP inbound bindings",
               f"submission listener 127.0.0.1:{p.port('submission')}")
    assert sub["status"] == "error" and "refused" in sub["value"], sub

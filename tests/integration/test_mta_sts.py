"""MTA-STS (RFC 8461) in smtp-out (issue 19 item 4): the TXT record from
dnsmasq, the policy fetched over HTTPS from a loopback policy host whose
certificate a test CA (made here with openssl) signed, the cache, and
the enforcement: enforce sends only to the policy's MX hosts over TLS
with a certificate valid for the MX name, testing only logs. The remote
MX is the sink of test_smtp_out with STARTTLS."""
import http.server
import ssl
import subprocess
import threading

import pytest

from conftest import Postern, dnsmasq_start, dnsmasq_stop, free_port
from test_mta import wait_for
from test_smtp_out import Sink

T = 60
POLICIES = {
    "remote.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.remote.test\r\n"
                   "max_age: 86400\r\n",
    "bad.test": "version: STSv1\nmode: enforce\nmx: *.bad.test\nmax_age: 86400\n",
    "nomatch.test": "version: STSv1\nmode: enforce\nmx: mx.remote.test\n"
                    "max_age: 86400\n",
    "testing.test": "version: STSv1\nmode: testing\nmx: mx.testing.test\n"
                    "max_age: 86400\n",
    "big.test": "version: STSv1\nmode: enforce\nmx: mx.big.test\nmax_age: 86400\n"
                + "x: " + "y" * 70000 + "\n",
    "redirect.test": None,
    # its policy host's certificate does not name it (see make_pki)
    "badhost.test": "version: STSv1\nmode: enforce\nmx: mx.badhost.test\n"
                    "max_age: 86400\n",
}


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   capture_output=True)


def make_pki(d):
    """a test CA; a certificate for the policy hosts and one for
    mx.remote.test, both signed by it"""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Postern test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, sans in (("policy", [f"mta-sts.{x}" for x in POLICIES
                                   if x != "badhost.test"]),
                       ("mx", ["mx.remote.test"])):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={sans[0]}", cwd=d)
        (d / f"{name}.ext").write_text(
            "subjectAltName=" + ",".join(f"DNS:{s}" for s in sans) + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-out", f"{name}.pem",
                "-days", "2", "-extfile", f"{name}.ext", cwd=d)


class PolicyHost:
    """HTTPS on loopback serving /.well-known/mta-sts.txt per Host"""

    def __init__(self, d):
        self.requests = []
        host = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = (self.headers.get("Host") or "").removeprefix("mta-sts.")
                host.requests.append((name, self.path))
                if name == "redirect.test":
                    self.send_response(301)
                    self.send_header("Location", "https://elsewhere.test/")
                    self.end_headers()
                    return
                body = POLICIES.get(name)
                if body is None or self.path != "/.well-known/mta-sts.txt":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(d / "policy.pem", d / "policy.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    pki = tmp_path_factory.mktemp("pki")
    make_pki(pki)
    policy = PolicyHost(pki)
    mx_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    mx_ctx.load_cert_chain(pki / "mx.pem", pki / "mx.key")
    sink = Sink(tls=mx_ctx).start()
    recs = []
    for dom in POLICIES:
        mx = "mx.other.test" if dom == "nomatch.test" else f"mx.{dom}"
        recs += [f"--txt-record=_mta-sts.{dom},v=STSv1; id=20261207",
                 f"--mx-host={dom},{mx},10",
                 f"--host-record=mta-sts.{dom},127.0.0.1",
                 f"--host-record={mx},127.0.0.1"]
    # no record at all: plain opportunistic delivery
    recs += ["--mx-host=plain.test,mx.plain.test,10",
             "--host-record=mx.plain.test,127.0.0.1"]
    proc, port = dnsmasq_start(recs)
    p = Postern(tmp_path_factory.mktemp("sts") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-1")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", "alice-Secret-9")
    for k, v in {"dns.hosts": f"127.0.0.1:{port}",
                 "smtp.out_port": str(sink.port),
                 "smtp.out_timeout": "10",
                 "queue.retry_schedule": "1h",
                 "mta_sts.enabled": "yes",
                 "mta_sts.ca_file": str(pki / "ca.pem"),
                 "mta_sts.port": str(policy.port)}.items():
        p.cli("config", "set", k, v)
    p.start(services=["smtpd", "mta", "smtp-out", "httpd"])
    p.sink, p.policy = sink, policy
    yield p
    p.stop()
    sink.stop()
    policy.stop()
    dnsmasq_stop(proc)
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def send(p, to, subject):
    import smtplib
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP_SSL("127.0.0.1", p.port("smtps"), context=ctx,
                          local_hostname="client.test", timeout=T) as s:
        s.login("alice@acme", "alice-Secret-9")
        s.sendmail("alice@acme.test", [to],
                   f"From: <alice@acme.test>\r\nTo: <{to}>\r\n"
                   f"Subject: {subject}\r\n\r\nhello\r\n".encode())


def at_sink(p, subject):
    return [m for m in p.sink.messages
            if f"Subject: {subject}\r\n".encode() in m["data"]]


def deferred(p, rcpt):
    """the last error of a deferred recipient in smtp/outgoing"""
    for q in p.cli("queue", "list", json_out=True):
        for r in q["recipients"]:
            if r["address"] == rcpt and r["last_error"]:
                return r["last_error"]
    return None


def test_enforce_valid_certificate_and_cache(srv):
    send(srv, "a@remote.test", "sts one")
    m, = wait_for(lambda: at_sink(srv, "sts one"), T, "delivery")
    assert m["tls"]
    assert "MTA-STS: remote.test: policy id 20261207, mode enforce" in \
        srv.log("smtp-out")
    cached = (srv.root / "mta-sts" / "remote.test").read_text()
    assert cached.startswith("20261207 ") and "mx: mx.remote.test" in cached
    send(srv, "b@remote.test", "sts two")
    wait_for(lambda: at_sink(srv, "sts two"), T, "second delivery")
    # the record's id did not change: the policy is fetched once
    assert srv.policy.requests.count(
        ("remote.test", "/.well-known/mta-sts.txt")) == 1


def test_enforce_refuses_a_certificate_for_another_name(srv):
    send(srv, "a@bad.test", "sts bad cert")
    err = wait_for(lambda: deferred(srv, "a@bad.test"), T, "the deferral")
    assert "MTA-STS: certificate refused" in err
    assert "hostname mismatch" in err
    assert not at_sink(srv, "sts bad cert")


def test_enforce_refuses_an_mx_the_policy_does_not_name(srv):
    send(srv, "a@nomatch.test", "sts no match")
    err = wait_for(lambda: deferred(srv, "a@nomatch.test"), T, "the deferral")
    assert err.startswith("451 4.7.5 MTA-STS: no MX host of nomatch.test")
    assert "MX mx.other.test does not match the policy of nomatch.test" in \
        srv.log("smtp-out")
    assert not at_sink(srv, "sts no match")


def test_testing_mode_reports_only(srv):
    send(srv, "a@testing.test", "sts testing")
    m, = wait_for(lambda: at_sink(srv, "sts testing"), T, "delivery")
    assert m["tls"]
    log = srv.log("smtp-out")
    assert "MTA-STS testing: the certificate of mx.testing.test" in log
    assert "would be refused: hostname mismatch" in log


@pytest.mark.parametrize("dom,why", [
    ("big.test", "policy over 64 KB"),
    ("redirect.test", "HTTP status 301 (redirects are not followed"),
    ("badhost.test", "certificate of mta-sts.badhost.test: hostname mismatch"),
])
def test_bad_policy_is_no_policy(srv, dom, why):
    # a policy that cannot be had is no policy: delivery as without
    # MTA-STS (opportunistic TLS, the certificate not checked), logged
    send(srv, f"a@{dom}", f"sts {dom}")
    wait_for(lambda: at_sink(srv, f"sts {dom}"), T, "delivery")
    line, = [l for l in srv.log("smtp-out").splitlines()
             if f"MTA-STS: {dom}: policy " in l]
    assert f"from https://mta-sts.{dom}" in line and why in line
    assert line.endswith("(no policy)")
    assert not (srv.root / "mta-sts" / dom).exists()


def test_no_record_no_policy(srv):
    send(srv, "a@plain.test", "sts plain")
    wait_for(lambda: at_sink(srv, "sts plain"), T, "delivery")
    assert not [r for r in srv.policy.requests if r[0] == "plain.test"]


def get_policy(p, host):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", p.port("http"), timeout=T)
    c.request("GET", "/.well-known/mta-sts.txt", headers={"Host": host})
    r = c.getresponse()
    out = (r.status, r.getheader("Content-Type"), r.read().decode())
    c.close()
    return out


def test_policy_published_for_hosted_domains(srv):
    assert get_policy(srv, "mta-sts.acme.test")[0] == 404   # off by default
    srv.cli("config", "set", "mta_sts.publish", "enforce")
    srv.cli("config", "set", "mta_sts.publish_mx", "mx.acme.test *.mx.acme.test")
    try:
        st, ctype, body = get_policy(srv, "mta-sts.acme.test:443")
        assert st == 200 and ctype.startswith("text/plain")
        assert body == ("version: STSv1\r\nmode: enforce\r\n"
                        "mx: mx.acme.test\r\nmx: *.mx.acme.test\r\n"
                        "max_age: 604800\r\n")
        assert get_policy(srv, "mta-sts.other.test")[0] == 404
        assert get_policy(srv, "acme.test")[0] == 404
        # settings that make no valid policy are not served
        srv.cli("config", "set", "mta_sts.publish_mx", "bad host!")
        assert get_policy(srv, "mta-sts.acme.test")[0] == 500
    finally:
        srv.cli("config", "set", "mta_sts.publish", "off")

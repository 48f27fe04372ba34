"""The HTTP service (src/httpd, src/lib-http): HTTP/1.1 over real sockets,
plain and TLS, with curl and http.client: keep-alive, pipelining, HEAD,
the error statuses, request smuggling refused, slow clients cut off, the
per-address limit; RFC 8058 one-click list unsubscribe end to end (SMTP
post, the member's copy read from its Maildir, GET shows a page, POST
unsubscribes, a forged key does not); Outlook autodiscover and
Thunderbird autoconfig read back with xml.etree; the CLI."""
import http.client
import re
import socket
import ssl
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from test_mta import header_block, mailbox_msgs, wait_for

T = 60
LIST_SERVICES = ["smtpd", "mta", "deliver", "listserv", "httpd"]
NS_OUT = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def web(populated):
    populated.cli("config", "set", "http.request_timeout", "3s")
    populated.cli("config", "set", "http.idle_timeout", "2s")
    populated.cli("config", "set", "http.max_body", "64K")
    populated.start(services=["httpd"])
    return populated


def conn(p):
    return http.client.HTTPConnection("127.0.0.1", p.port("http"), timeout=20)


def raw(p, data, tls=False, limit=1 << 20):
    """send data on a fresh connection, read until the server closes"""
    s = socket.create_connection(("127.0.0.1", p.port("https" if tls else "http")),
                                 timeout=20)
    if tls:
        s = tls_ctx().wrap_socket(s, server_hostname="mx.postern.test")
    s.sendall(data)
    out = b""
    while len(out) < limit:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            break
        if not b:
            break
        out += b
    s.close()
    return out


def statuses(data):
    return [int(m) for m in re.findall(rb"^HTTP/1\.1 (\d{3}) ", data, re.M)]


def curl(*args, check=True):
    r = subprocess.run(["curl", "-sS", "--max-time", "30", *args],
                       capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


# -- HTTP/1.1 ----------------------------------------------------------------

def test_keepalive_head_and_errors(web):
    c = conn(web)
    c.request("GET", "/no/such/page")
    r = c.getresponse()
    body = r.read()
    assert r.status == 404
    assert b"<!DOCTYPE html>" in body
    assert r.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "default-src 'none'" in r.getheader("Content-Security-Policy")
    assert r.getheader("X-Content-Type-Options") == "nosniff"
    assert r.getheader("Referrer-Policy") == "no-referrer"
    assert r.getheader("Cache-Control") == "no-store"
    assert r.getheader("Date", "").endswith(" GMT")
    sock = c.sock
    # the same connection serves the next requests (keep-alive)
    url = "/mail/config-v1.1.xml?emailaddress=alice@acme.test"
    c.request("GET", url)
    r = c.getresponse()
    get_body = r.read()
    assert r.status == 200 and get_body.startswith(b"<?xml")
    c.request("HEAD", url)
    r = c.getresponse()
    assert r.status == 200
    assert int(r.getheader("Content-Length")) == len(get_body)
    assert r.read() == b""
    c.request("DELETE", url)
    r = c.getresponse()
    r.read()
    assert r.status == 405 and r.getheader("Allow") == "GET, HEAD"
    c.request("OPTIONS", url)
    r = c.getresponse()
    r.read()
    assert r.status == 204 and "GET" in r.getheader("Allow")
    c.request("BREW", "/")
    r = c.getresponse()
    r.read()
    assert r.status == 501
    assert c.sock is sock, "one connection for all of them"
    c.close()
    # HTTP/1.0 closes after the answer unless asked to keep alive
    out = raw(web, b"GET /x HTTP/1.0\r\n\r\n")
    assert statuses(out) == [404]
    assert b"Connection: close" in out


def test_pipelined_requests_answered_in_order(web):
    reqs = (b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /mail/config-v1.1.xml?emailaddress=bob@acme.test HTTP/1.1\r\nHost: a\r\n\r\n"
            b"PUT /mail/config-v1.1.xml HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
            b"HEAD /mail/config-v1.1.xml?emailaddress=bob@acme.test HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    out = raw(web, reqs)
    assert statuses(out) == [404, 200, 405, 200, 404]
    assert out.count(b"<clientConfig") == 1, "HEAD has no body"
    # 100 requests in one write, answered one by one
    out = raw(web, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n" * 99 +
              b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert statuses(out) == [404] * 100


@pytest.mark.parametrize("req,status", [
    # request smuggling: both framings, two lengths, odd codings
    (b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc", 400),
    (b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"zz\r\nabc\r\n0\r\n\r\n", 400),
    (b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabcdef\r\n0\r\n\r\n", 400),
    (b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400),
    (b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
    (b"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"GET /a HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", 400),
    (b"GET /a HTTP/1.1\nHost: a\n\n", 400),
    (b"GET /a HTTP/1.1\r\n\r\n", 400),
    (b"GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET /a HTTP/3.0\r\nHost: a\r\n\r\n", 505),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    (b"GET /a HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 400)
                                                  for i in range(90)) + b"\r\n", 431),
    (b"GET /a HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: v\r\n" % i
                                                  for i in range(120)) + b"\r\n", 431),
    (b"POST /list/unsubscribe HTTP/1.1\r\nHost: a\r\nContent-Length: 70000\r\n\r\n", 413),
], ids=["cl+te", "two-cl", "chunk-size-zz", "chunk-too-long", "te-quoted", "te-gzip",
        "te-space-colon", "te-in-1.0", "obs-fold", "bare-lf", "no-host", "two-hosts",
        "bad-percent", "http-3", "uri-414", "header-block-431", "fields-431", "body-413"])
def test_bad_requests_answered_then_closed(web, req, status):
    out = raw(web, req + b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
    assert statuses(out) == [status], out[:300]
    assert b"Connection: close" in out
    assert b"/smuggled" not in out


def test_big_chunked_body_refused_413(web):
    s = socket.create_connection(("127.0.0.1", web.port("http")), timeout=20)
    s.sendall(b"POST /list/unsubscribe HTTP/1.1\r\nHost: a\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    out = b""
    try:
        for _ in range(20):    # 80 KB in chunks, over http.max_body (64K)
            s.sendall(b"1000\r\n" + b"x" * 4096 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(20)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except ConnectionResetError:
        pass
    s.close()
    assert statuses(out) == [413]


def test_expect_continue_with_curl(web):
    # curl sends Expect: 100-continue for a body this large and waits
    r = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect: 100-continue",
             "--data-binary", "List-Unsubscribe=One-Click&" + "x" * 2000,
             f"http://127.0.0.1:{web.port('http')}/list/unsubscribe?list=a@b&member=c@d&key=0")
    assert r.stdout == "400"


def test_slow_clients_are_cut_off(web):
    # a request trickled a byte at a time: 408 once http.request_timeout
    # (3 s) has passed since its first byte, however often bytes come
    s = socket.create_connection(("127.0.0.1", web.port("http")), timeout=20)
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
    got = b""
    for _ in range(100):   # at most 20 s of trickling
        try:
            s.sendall(b"X")
        except (BrokenPipeError, ConnectionResetError):
            break
        s.settimeout(0.2)
        try:
            b = s.recv(4096)
            if not b:
                break
            got += b
        except socket.timeout:
            pass
    s.settimeout(10)
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert statuses(got) == [408]
    # a connection that never sends anything is closed (idle timeout)
    s = socket.create_connection(("127.0.0.1", web.port("http")), timeout=20)
    assert s.recv(100) == b""
    s.close()
    assert "request not received within 3 s" in web.log("httpd")


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_pipelining_client_that_never_reads(web):
    """a client pipelining requests without reading the answers: httpd
    does not queue answers without end (1 MB of queued answers stops the
    reading, 1000 requests end a connection), its memory stays flat, other
    clients are served"""
    import json
    pid = json.loads((web.root / "run/httpd.json").read_text())["pid"]
    before = rss_kb(pid)
    s = socket.create_connection(("127.0.0.1", web.port("http")), timeout=20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    chunk = b"GET /not-read HTTP/1.1\r\nHost: a\r\n\r\n" * 2000   # 76 KB
    s.settimeout(3)
    sent = 0
    try:
        while sent < 200 * 1024 * 1024:       # stops when httpd stops reading
            s.sendall(chunk)
            sent += len(chunk)
    except (socket.timeout, BrokenPipeError, ConnectionResetError):
        pass
    assert sent < 200 * 1024 * 1024, "httpd never stopped reading"
    # queued whole, the answers to what was sent would take this much
    one = len(raw(web, b"GET /not-read HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
    assert sent // 38 * one > 32 * 1024 * 1024
    grown = rss_kb(pid) - before
    assert grown < 16 * 1024, f"httpd grew by {grown} KB"
    r = curl("-o", "/dev/null", "-w", "%{http_code}",
             f"http://127.0.0.1:{web.port('http')}/x")
    assert r.stdout == "404"
    s.close()


def test_connections_per_address(web):
    web.cli("config", "set", "http.max_connections_per_ip", "2")
    a = socket.create_connection(("127.0.0.1", web.port("http")), timeout=20)
    b = socket.create_connection(("127.0.0.1", web.port("http")), timeout=20)
    time.sleep(0.3)
    out = raw(web, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert statuses(out) == [503]
    a.close()
    b.close()
    web.cli("config", "set", "http.max_connections_per_ip", "20")
    ok = wait_for(lambda: statuses(raw(web, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")) == [404],
                  T, "a slot again")
    assert ok


def test_tls_keepalive_and_curl(web):
    c = http.client.HTTPSConnection("127.0.0.1", web.port("https"), timeout=20,
                                    context=tls_ctx())
    c.request("GET", "/mail/config-v1.1.xml?emailaddress=alice@acme.test")
    r = c.getresponse()
    assert r.status == 200 and b"<clientConfig" in r.read()
    sock = c.sock
    c.request("GET", "/nothing")
    r = c.getresponse()
    r.read()
    assert r.status == 404 and c.sock is sock
    c.close()
    # curl verifies the default certificate by the server's name (SNI)
    r = curl("--cacert", str(web.root / "certs/default.crt"), "--resolve",
             f"mx.postern.test:{web.port('https')}:127.0.0.1", "-o", "/dev/null",
             "-w", "%{http_code} %{http_version}",
             f"https://mx.postern.test:{web.port('https')}/autodiscover/autodiscover.xml"
             "?email=bob@acme.test")
    assert r.stdout == "200 1.1"
    # a smuggling attempt over TLS is refused the same way
    out = raw(web, b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", tls=True)
    assert statuses(out) == [400]
    assert " tls \"GET /nothing\" 404" in web.log("httpd")
    # SNI: a certificate of its own for a hosted name (certs/<name>.crt)
    certs = web.root / "certs"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-days", "2", "-subj", "/CN=autoconfig.acme.test",
                    "-addext", "subjectAltName=DNS:autoconfig.acme.test",
                    "-keyout", str(certs / "autoconfig.acme.test.key"),
                    "-out", str(certs / "autoconfig.acme.test.crt")],
                   check=True, capture_output=True, timeout=60)
    r = curl("--cacert", str(certs / "autoconfig.acme.test.crt"), "--resolve",
             f"autoconfig.acme.test:{web.port('https')}:127.0.0.1",
             f"https://autoconfig.acme.test:{web.port('https')}"
             "/.well-known/autoconfig/mail/config-v1.1.xml")
    assert tb_servers(r.stdout)[0] == "acme.test"


def test_tls_garbage_and_half_handshake(web):
    """garbage instead of a TLS handshake is dropped at once (logged); a
    ClientHello followed by silence is dropped at http.request_timeout;
    real clients are served meanwhile"""
    ctx = tls_ctx()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="mx.postern.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    half = socket.create_connection(("127.0.0.1", web.port("https")), timeout=20)
    half.sendall(hello)
    g = socket.create_connection(("127.0.0.1", web.port("https")), timeout=20)
    g.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" + b"\x00" * 300)
    got = b""
    try:
        while True:
            b = g.recv(4096)
            if not b:
                break
            got += b
    except ConnectionResetError:
        pass
    g.close()
    assert b"HTTP/1.1" not in got
    r = curl("-k", "-o", "/dev/null", "-w", "%{http_code}",
             f"https://127.0.0.1:{web.port('https')}/x")
    assert r.stdout == "404"
    half.settimeout(30)
    data = b""
    try:
        while True:
            b = half.recv(65536)
            if not b:
                break
            data += b
    except ConnectionResetError:
        pass
    half.close()
    assert wait_for(lambda: ": TLS: " in web.log("httpd"), T, "the TLS error logged")


# -- autodiscover ------------------------------------------------------------

def tb_servers(xml_text):
    root = ET.fromstring(xml_text)
    prov = root.find("emailProvider")
    out = []
    for s in list(prov):
        if s.tag in ("incomingServer", "outgoingServer"):
            out.append((s.get("type"), s.findtext("hostname"), int(s.findtext("port")),
                        s.findtext("socketType"), s.findtext("username")))
    return prov.get("id"), out


def outlook_protocols(xml_text):
    root = ET.fromstring(xml_text)
    acc = root.find(f"{NS_OUT}Response/{NS_OUT}Account")
    return {p.findtext(f"{NS_OUT}Type"): (p.findtext(f"{NS_OUT}Server"),
                                          int(p.findtext(f"{NS_OUT}Port")),
                                          p.findtext(f"{NS_OUT}Encryption"),
                                          p.findtext(f"{NS_OUT}LoginName"))
            for p in acc.findall(f"{NS_OUT}Protocol")}


OUTLOOK_REQ = ('<?xml version="1.0" encoding="utf-8"?>\r\n<Autodiscover xmlns="http://'
               'schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
               '<Request><EMailAddress>{}</EMailAddress><AcceptableResponseSchema>'
               'http://schemas.microsoft.com/exchange/autodiscover/outlook/'
               'responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>')


def test_autoconfig_derived_and_from_rows(populated):
    p = populated
    p.cli("domain", "add", "other.test", "--postoffice", "acme")
    p.cli("postoffice", "add", "beta", "--password", "pw2")
    p.cli("domain", "add", "beta.test", "--postoffice", "beta")
    p.cli("postoffice", "set", "beta", "allow_address_login=yes")
    # rows for beta.test only
    p.cli("domain", "autodiscover", "add", "beta.test", "imap", "imap.beta.test",
          "--security", "tls")
    p.cli("domain", "autodiscover", "add", "beta.test", "smtp", "smtp.beta.test",
          "2525", "--security", "starttls")
    p.start(services=["httpd"])
    base = f"http://127.0.0.1:{p.port('http')}"

    # acme.test: no rows, derived from the listeners and server.hostname
    r = curl(f"{base}/mail/config-v1.1.xml?emailaddress=alice%40acme.test")
    pid, servers = tb_servers(r.stdout)
    assert pid == "acme.test"
    want = [("imap", p.port("imaps"), "SSL"), ("imap", p.port("imap"), "STARTTLS"),
            ("pop3", p.port("pop3s"), "SSL"), ("pop3", p.port("pop3"), "STARTTLS"),
            ("smtp", p.port("smtps"), "SSL"), ("smtp", p.port("submission"), "STARTTLS")]
    assert [(t, port, st) for t, _, port, st, _ in servers] == want
    assert all(h == "mx.postern.test" for _, h, _, _, _ in servers)
    # the login of the address asked for (issue 12: the mailbox's login)
    assert all(u == "alice@acme" for *_, u in servers)

    # beta.test: its rows; address logins allowed
    r = curl(f"{base}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=x@beta.test")
    pid, servers = tb_servers(r.stdout)
    assert servers == [("imap", "imap.beta.test", 993, "SSL", "x@beta.test"),
                       ("smtp", "smtp.beta.test", 2525, "STARTTLS", "x@beta.test")]
    # the domain from the Host name autoconfig.<domain>; no address asked
    # for: Thunderbird's placeholders
    r = curl("-H", "Host: autoconfig.beta.test",
             f"{base}/.well-known/autoconfig/mail/config-v1.1.xml")
    pid, servers = tb_servers(r.stdout)
    assert pid == "beta.test"
    assert all(u == "%EMAILADDRESS%" for *_, u in servers)

    # Outlook: POST the request XML
    c = conn(p)
    c.request("POST", "/autodiscover/autodiscover.xml",
              body=OUTLOOK_REQ.format("carol@beta.test"),
              headers={"Content-Type": "text/xml"})
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/xml")
    prot = outlook_protocols(r.read())
    assert prot == {"IMAP": ("imap.beta.test", 993, "SSL", "carol@beta.test"),
                    "SMTP": ("smtp.beta.test", 2525, "TLS", "carol@beta.test")}
    c.request("POST", "/Autodiscover/Autodiscover.xml",
              body=OUTLOOK_REQ.format("dave@acme.test"))
    r = c.getresponse()
    prot = outlook_protocols(r.read())
    assert prot["IMAP"] == ("mx.postern.test", p.port("imaps"), "SSL", "dave@acme")
    assert prot["POP3"][1] == p.port("pop3s") and prot["SMTP"][1] == p.port("smtps")

    # unknown domains: 404, never another domain's settings
    for path in ("/mail/config-v1.1.xml?emailaddress=a@unknown.test",
                 "/autodiscover/autodiscover.xml?email=a@unknown.test"):
        c.request("GET", path)
        r = c.getresponse()
        assert r.status == 404 and b"beta.test" not in r.read()
    c.request("POST", "/autodiscover/autodiscover.xml",
              body=OUTLOOK_REQ.format("a@unknown.test"))
    r = c.getresponse()
    assert r.status == 404 and b"mx.postern.test" not in r.read()
    # malformed: 400
    c.request("POST", "/autodiscover/autodiscover.xml", body="<Autodiscover/>")
    r = c.getresponse()
    r.read()
    assert r.status == 400
    c.request("GET", "/mail/config-v1.1.xml?emailaddress=%3Cscript%3E")
    r = c.getresponse()
    assert r.status == 400 and b"<script>" not in r.read()
    c.close()

    # a disabled domain is not served either
    p.cli("domain", "set", "beta.test", "disabled=yes")
    r = curl("-o", "/dev/null", "-w", "%{http_code}",
             f"{base}/mail/config-v1.1.xml?emailaddress=x@beta.test")
    assert r.stdout == "404"


def test_autodiscover_cli(populated):
    p = populated
    out = p.cli("domain", "autodiscover", "list", "acme.test").stdout
    assert "derived" in out and "_imaps._tcp.acme.test." in out
    assert p.cli("domain", "autodiscover", "list", "acme.test", json_out=True)[0]["derived"]
    p.cli("domain", "autodiscover", "detect", "acme.test")
    rows = p.cli("domain", "autodiscover", "list", "acme.test", json_out=True)
    assert len(rows) == 6 and not rows[0]["derived"]
    assert rows[0] == {"protocol": "imap", "host": "mx.postern.test",
                       "port": p.port("imaps"), "security": "tls", "derived": False}
    p.cli("domain", "autodiscover", "del", "acme.test", "pop3")
    rows = p.cli("domain", "autodiscover", "list", "acme.test", json_out=True)
    assert [r["protocol"] for r in rows] == ["imap", "imap", "smtp", "smtp"]
    p.cli("domain", "autodiscover", "add", "acme.test", "pop3", "pop.acme.test")
    rows = p.cli("domain", "autodiscover", "list", "acme.test", json_out=True)
    assert {"protocol": "pop3", "host": "pop.acme.test", "port": 995,
            "security": "tls", "derived": False} in rows
    # errors: exit codes of the CLI
    r = p.cli("domain", "autodiscover", "add", "acme.test", "pop3", "pop.acme.test",
              check=False)
    assert r.returncode == 4
    r = p.cli("domain", "autodiscover", "add", "acme.test", "ftp", "x.test", check=False)
    assert r.returncode == 2
    r = p.cli("domain", "autodiscover", "add", "acme.test", "imap", "bad host", check=False)
    assert r.returncode == 2
    r = p.cli("domain", "autodiscover", "add", "nope.test", "imap", "x.test", check=False)
    assert r.returncode == 3
    r = p.cli("domain", "autodiscover", "del", "acme.test", "imap", "none.test", check=False)
    assert r.returncode == 3


# -- RFC 8058 one-click unsubscribe -----------------------------------------

def send_post(p, subject):
    import smtplib
    msg = (f"From: alice@acme.test\r\nTo: news@acme.test\r\nSubject: {subject}\r\n"
           f"Message-ID: <{time.time_ns()}@test.example>\r\n\r\nhello list\r\n")
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail("alice@acme.test", ["news@acme.test"], msg.encode())


def copies(p, mbox, subject):
    return [m for m in mailbox_msgs(p.root, mbox)
            if f"Subject: {subject}" in header_block(m) and "List-Id:" in header_block(m)]


def unsubscribe_url(msg):
    h = re.sub(r"\r?\n[ \t]+", " ", header_block(msg))
    m = re.search(r"^List-Unsubscribe: <(https?://[^>]+)>, <mailto:", h, re.M)
    assert m, h
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in h
    return m.group(1)


def members(p):
    return {m["address"] for m in p.cli("list", "member", "list", "news@acme.test",
                                        json_out=True)}


def test_one_click_unsubscribe(populated):
    p = populated
    p.cli("config", "set", "http.public_url", f"http://127.0.0.1:{p.port('http')}/")
    p.cli("address", "add", "bob+news&more@acme.test", "--mailbox", "bob@acme")
    p.cli("list", "add", "news@acme.test", "--postoffice", "acme", "--owner",
          "alice@acme.test")
    for m in ("alice@acme.test", "bob+news&more@acme.test"):
        p.cli("list", "member", "add", "news@acme.test", m)
    p.start(services=LIST_SERVICES)
    send_post(p, "first post")
    bob = wait_for(lambda: copies(p, "bob", "first post"), T, "bob's copy")
    alice = wait_for(lambda: copies(p, "alice", "first post"), T, "alice's copy")
    url = unsubscribe_url(bob[0])
    u = urllib.parse.urlsplit(url)
    assert u.path == "/list/unsubscribe"
    q = urllib.parse.parse_qs(u.query, strict_parsing=True)
    assert q["list"] == ["news@acme.test"]
    assert q["member"] == ["bob+news&more@acme.test"], "the address is percent-encoded"
    assert "member=bob%2Bnews%26more%40acme.test" in u.query

    # GET (a link scanner) changes nothing: a page with a button that POSTs
    r = curl("-i", url)
    assert r.stdout.startswith("HTTP/1.1 200")
    assert '<form method="post"' in r.stdout and "One-Click" in r.stdout
    assert "form-action 'self'" in r.stdout
    curl("-I", url)
    assert "bob+news&more@acme.test" in members(p)

    # a forged or altered key, another member's key: refused, same page
    forged = url.replace("key=" + q["key"][0], "key=" + "0" * 20)
    alice_url = unsubscribe_url(alice[0])
    alice_key = urllib.parse.parse_qs(urllib.parse.urlsplit(alice_url).query)["key"][0]
    swapped = url.replace("key=" + q["key"][0], "key=" + alice_key)
    unknown = url.replace("news%40acme.test", "nosuch%40acme.test")
    pages = set()
    for bad in (forged, swapped, unknown, url.split("&key=")[0]):
        r = curl("-s", "-o", "-", "-w", "\n%{http_code}", "-d",
                 "List-Unsubscribe=One-Click", bad)
        body, code = r.stdout.rsplit("\n", 1)
        assert code == "400"
        pages.add(body)
    assert len(pages) == 1, "no difference between unknown list and bad key"
    assert members(p) == {"alice@acme.test", "bob+news&more@acme.test"}
    # a POST without List-Unsubscribe=One-Click does nothing
    r = curl("-o", "/dev/null", "-w", "%{http_code}", "-d", "List-Unsubscribe=Yes", url)
    assert r.stdout == "400"
    r = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: text/plain",
             "--data-binary", "List-Unsubscribe=One-Click", url)
    assert r.stdout == "415"
    assert "bob+news&more@acme.test" in members(p)

    # the one-click POST as a mail client sends it: unsubscribed at once
    r = curl("-i", "-d", "List-Unsubscribe=One-Click", url)
    assert r.stdout.startswith("HTTP/1.1 200")
    assert members(p) == {"alice@acme.test"}
    assert "<bob+news&more@acme.test> unsubscribed (one-click" in p.log("httpd")
    # again: still fine (idempotent), nothing else changes
    r = curl("-o", "/dev/null", "-w", "%{http_code}", "-d",
             "List-Unsubscribe=One-Click", url)
    assert r.stdout == "200"
    # multipart/form-data is allowed by RFC 8058 too
    r = curl("-o", "/dev/null", "-w", "%{http_code}", "-F",
             "List-Unsubscribe=One-Click", alice_url)
    assert r.stdout == "200"
    assert members(p) == set()
    # no key in the access log
    assert q["key"][0] not in p.log("httpd")

    # the next post reaches nobody
    p.cli("list", "member", "add", "news@acme.test", "alice@acme.test")
    send_post(p, "second post")
    wait_for(lambda: copies(p, "alice", "second post"), T, "alice's second copy")
    time.sleep(1)
    assert copies(p, "bob", "second post") == []

"""The connection layer every service runs on (lib-service/conn.c), over
real sockets against one posternd: the same per-address limit, session id
format and timeouts in smtpd, imapd, pop3d, managesieve and httpd.

Each test sets the settings it relies on (they apply to new connections
at once), so the tests do not depend on their order.
"""
import re
import socket
import time

import pytest

from conftest import Postern

LIMIT = 2
T = 30          # generous bound of every wait (the machine is loaded)

# listener, setting of its per-address limit (None: fixed at 20), what a
# client over the limit reads
SERVICES = [
    ("smtp", "smtp.max_connections_per_ip", b"421 4.7.0"),
    ("imap", "imap.max_connections_per_ip", b"* BYE [UNAVAILABLE]"),
    ("pop3", "pop3.max_connections_per_ip", b"-ERR [SYS/TEMP]"),
    ("managesieve", None, b'BYE "too many connections'),
    ("http", "http.max_connections_per_ip", b"HTTP/1.1 503"),
]
GREETING = {"smtp": b"220 ", "imap": b"* OK", "pop3": b"+OK",
            "managesieve": b'OK "', "http": None}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("conn") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-1")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.start(["smtpd", "imapd", "pop3d", "managesieve", "httpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def settings(p, **kv):
    for k, v in kv.items():
        p.cli("config", "set", k.replace("__", "."), str(v))


def read_until(sock, want, deadline):
    """Bytes until want is among them, the peer closes or the deadline."""
    data = b""
    while want not in data and time.time() < deadline:
        sock.settimeout(max(0.1, deadline - time.time()))
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def connect(p, name):
    s = socket.create_connection(("127.0.0.1", p.port(name)), timeout=T)
    if GREETING[name] is not None:
        g = read_until(s, b"\r\n" if name != "managesieve" else b'OK "',
                       time.time() + T)
        assert g.startswith(GREETING[name]) or GREETING[name] in g, (name, g)
    return s


def closed(sock, deadline):
    """Read until the server closes; what it sent on the way."""
    data = b""
    while time.time() < deadline:
        sock.settimeout(max(0.1, deadline - time.time()))
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    return None


def test_per_address_limit_in_every_service(srv):
    """limit connections from one address are served, one more gets the
    protocol's refusal and is closed, and a slot comes back when one of
    them goes."""
    settings(srv, smtp__max_connections_per_ip=LIMIT,
             imap__max_connections_per_ip=LIMIT,
             pop3__max_connections_per_ip=LIMIT,
             http__max_connections_per_ip=LIMIT,
             imap__login_timeout=600, pop3__login_timeout=600,
             smtp__timeout=600)
    for name, setting, refusal in SERVICES:
        limit = LIMIT if setting else 20
        held = [connect(srv, name) for _ in range(limit)]
        try:
            extra = socket.create_connection(("127.0.0.1", srv.port(name)),
                                             timeout=T)
            if name == "http":
                extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            got = closed(extra, time.time() + T)
            extra.close()
            assert got is not None and got.startswith(refusal), (name, got)
            held.pop().close()
            # the count is released with the connection: one more fits
            ok = None
            for _ in range(100):
                s = socket.create_connection(("127.0.0.1", srv.port(name)),
                                             timeout=T)
                if name == "http":
                    s.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
                    first = read_until(s, b"\r\n", time.time() + T)
                else:
                    first = read_until(s, b"\r\n", time.time() + T)
                if not first.startswith(refusal):
                    ok = first
                    held.append(s)
                    break
                s.close()       # the server has not seen the close yet
                time.sleep(0.1)
            assert ok is not None, name
        finally:
            for s in held:
                s.close()


def test_one_session_id_format(srv):
    """Every service names a session the same way in its log: a letter,
    the session number in 6 hex digits and the pid in 4."""
    settings(srv, imap__login_timeout=600, pop3__login_timeout=600,
             smtp__timeout=600, http__max_connections_per_ip=20)
    for name in ("smtp", "imap", "pop3", "managesieve"):
        connect(srv, name).close()
    s = socket.create_connection(("127.0.0.1", srv.port("http")), timeout=T)
    s.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_until(s, b"\r\n", time.time() + T).startswith(b"HTTP/1.1 404")
    s.close()
    logs = {"smtpd": "s", "imapd": "i", "pop3d": "p", "managesieve": "m"}
    for svc, letter in logs.items():
        pat = re.compile(letter + r"[0-9a-f]{10}: connect from \[127\.0\.0\.1\]")
        deadline = time.time() + T
        while not pat.search(srv.log(svc)) and time.time() < deadline:
            time.sleep(0.2)
        assert pat.search(srv.log(svc)), (svc, srv.log(svc)[-500:])
    pat = re.compile(r"h[0-9a-f]{10} 127\.0\.0\.1 \"GET /nothing\" 404")
    deadline = time.time() + T
    while not pat.search(srv.log("httpd")) and time.time() < deadline:
        time.sleep(0.2)
    assert pat.search(srv.log("httpd")), srv.log("httpd")[-500:]


@pytest.mark.parametrize("name,goodbye", [
    ("smtp", b"421 4.4.2"),
    ("imap", b"* BYE"),
    ("pop3", b"-ERR"),
])
def test_trickling_client_is_cut_off(srv, name, goodbye):
    """A client sending a byte now and then, never a whole login, is
    closed with the protocol's goodbye once the login (SMTP: line)
    timeout has passed, however often its bytes come."""
    # the shortest each setting takes
    settings(srv, imap__login_timeout=5, pop3__login_timeout=2,
             smtp__timeout=10, smtp__max_connections_per_ip=20,
             imap__max_connections_per_ip=20, pop3__max_connections_per_ip=20)
    s = connect(srv, name)
    deadline = time.time() + T
    got = b""
    try:
        while time.time() < deadline:
            try:
                s.sendall(b"N")
            except (BrokenPipeError, ConnectionResetError):
                break
            s.settimeout(0.5)
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    assert time.time() < deadline, f"{name}: still open after {T} s"
    assert goodbye in got, (name, got)

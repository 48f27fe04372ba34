"""Hostile clients against smtpd, pop3d and imapd on real sockets: slowloris
(one byte a second), many connections from one address, pipelined floods
from clients that never read, oversize lines and literals, NUL bytes and
invalid UTF-8, TLS handshakes that stop half-way or are garbage, AUTH brute
force. Each time: the service stays within its limits (RSS read from
/proc), keeps serving a normal client (from another loopback address, so
that per-address limits do not apply to it), and logs what it refused.

One posternd running smtpd, pop3d and imapd serves the whole module, with
short timeouts. Every loop is bounded by a count and a deadline."""
import imaplib
import json
import os
import poplib
import select
import smtplib
import socket
import ssl
import time

import pytest

from conftest import Postern

SMTP_TIMEOUT = 10      # smtp.timeout (its minimum)
IMAP_LOGIN = 5         # imap.login_timeout (its minimum)
POP3_LOGIN = 3         # pop3.login_timeout
OTHER = "127.0.0.2"    # the normal client's address
SLACK = 20             # generous: the machine is loaded


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("hostile") / "root")
    # RSS is measured: a small ASan quarantine, or freed memory is kept
    # (256 MB by default) and looks like growth
    p.env["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                             ":quarantine_size_mb=4").lstrip(":")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", "alice-pw")
    p.cli("config", "set", "smtp.timeout", f"{SMTP_TIMEOUT}s")
    p.cli("config", "set", "imap.login_timeout", f"{IMAP_LOGIN}s")
    p.cli("config", "set", "pop3.login_timeout", f"{POP3_LOGIN}s")
    p.cli("config", "set", "smtp.max_connections_per_ip", "10")
    p.cli("config", "set", "imap.max_connections_per_ip", "10")
    p.cli("config", "set", "pop3.max_connections_per_ip", "10")
    p.start(services=["smtpd", "pop3d", "imapd"], timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


# -- helpers ---------------------------------------------------------------

def pid_of(p, name):
    st = json.loads((p.root / "run" / "status.json").read_text())
    return [s["pid"] for s in st["services"] if s["name"] == name][0]


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def connect(p, listener, source=None, timeout=30):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", p.port(listener)))
    return s


def read_until(s, pred, deadline):
    """Read until pred(data) or EOF or the deadline; (data, eof)."""
    data = b""
    while time.time() < deadline:
        if pred(data):
            return data, False
        r, _, _ = select.select([s], [], [], 0.5)
        if not r:
            continue
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def greeting(s, deadline=None):
    data, _ = read_until(s, lambda d: b"\r\n" in d,
                         deadline or time.time() + 30)
    return data


def wait_log(p, name, text, count=1, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if p.log(name).count(text) >= count:
            return True
        time.sleep(0.2)
    return False


def normal_smtp(p, source=OTHER):
    s = smtplib.SMTP(timeout=30, source_address=(source, 0))
    s.connect("127.0.0.1", p.port("smtp"))
    s.ehlo("normal.test")
    s.sendmail("a@example.org", ["alice@acme.test"],
               b"Subject: normal\r\n\r\nstill served\r\n")
    s.quit()


def normal_imap(p, source=OTHER):
    s = connect(p, "imap", source)
    assert greeting(s).startswith(b"* OK")
    s.sendall(b"a LOGIN alice@acme alice-pw\r\nb SELECT INBOX\r\nc LOGOUT\r\n")
    data, _ = read_until(s, lambda d: b"c OK" in d, time.time() + 30)
    s.close()
    assert b"a OK" in data and b"b OK" in data, data


def normal_pop3(p, source=OTHER):
    s = connect(p, "pop3", source)
    assert greeting(s).startswith(b"+OK")
    s.sendall(b"USER alice@acme\r\nPASS alice-pw\r\nSTAT\r\nQUIT\r\n")
    data, _ = read_until(s, lambda d: d.count(b"+OK") >= 4, time.time() + 30)
    s.close()
    assert data.count(b"+OK") >= 4, data


NORMAL = {"smtpd": normal_smtp, "imapd": normal_imap, "pop3d": normal_pop3}
LISTENER = {"smtpd": "smtp", "imapd": "imap", "pop3d": "pop3"}
# what a slow client trickles, one byte a second: a command that never ends
TRICKLE = {"smtpd": b"EHLO " + b"x" * 400, "imapd": b"a LOGIN " + b"x" * 400,
           "pop3d": b"USER " + b"x" * 400}
# how long a slow client may hold its connection, at most
HOLD = {"smtpd": SMTP_TIMEOUT, "imapd": IMAP_LOGIN, "pop3d": POP3_LOGIN}


# -- slowloris -------------------------------------------------------------

@pytest.mark.parametrize("svc", ["smtpd", "imapd", "pop3d"])
def test_slowloris(srv, svc):
    """8 clients send one byte a second of a command that never ends. A
    normal client is served meanwhile; the slow ones are dropped once the
    service's timeout has passed, however often they send a byte."""
    n = 8
    slow = []
    for _ in range(n):
        s = connect(srv, LISTENER[svc])
        assert greeting(s)
        s.setblocking(False)
        slow.append(s)
    before = srv.log(svc).count("timeout")
    t0 = time.time()
    open_ = set(range(n))
    closed_at = {}
    served = False
    limit = HOLD[svc] + 2 * SLACK
    i = 0
    while open_ and time.time() - t0 < limit and i < 400:
        for k in list(open_):
            s = slow[k]
            try:
                s.send(TRICKLE[svc][i % len(TRICKLE[svc]):][:1])
            except (BrokenPipeError, ConnectionResetError):
                open_.discard(k)
                closed_at[k] = time.time() - t0
                continue
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        open_.discard(k)
                        closed_at[k] = time.time() - t0
                        break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                open_.discard(k)
                closed_at[k] = time.time() - t0
        if not served and i == 2:
            t1 = time.time()
            NORMAL[svc](srv)
            assert time.time() - t1 < SLACK, "normal client too slow"
            served = True
        i += 1
        time.sleep(1)
    for s in slow:
        s.close()
    assert served
    assert not open_, (f"{len(open_)} slow clients still connected after "
                       f"{time.time() - t0:.0f}s (timeout {HOLD[svc]}s)")
    assert max(closed_at.values()) < HOLD[svc] + SLACK, closed_at
    assert wait_log(srv, svc, "timeout", before + n), srv.log(svc)[-3000:]


# -- many connections from one address ---------------------------------------

@pytest.mark.parametrize("svc", ["smtpd", "imapd", "pop3d"])
def test_many_connections_one_address(srv, svc):
    """30 connections from 127.0.0.1 with a per-address limit of 10: the
    extra ones are refused at once (and logged); the 10 stay usable, and a
    client from another address is served."""
    kept, refused = [], 0
    log_before = srv.log(svc).count("refused")
    try:
        for _ in range(30):
            s = connect(srv, LISTENER[svc])
            g = greeting(s)
            if (g.startswith(b"220") or g.startswith(b"* OK")
                    or g.startswith(b"+OK")):
                kept.append(s)
            else:
                assert (g.startswith(b"421 4.7.0") or g.startswith(b"* BYE")
                        or g.startswith(b"-ERR")), g
                refused += 1
                s.close()
        assert len(kept) == 10 and refused == 20
        NORMAL[svc](srv)
        # the kept ones still answer
        probe = {"smtpd": b"NOOP\r\n", "imapd": b"a NOOP\r\n",
                 "pop3d": b"CAPA\r\n"}[svc]
        for s in kept:
            s.sendall(probe)
            data, eof = read_until(s, lambda d: b"\r\n" in d, time.time() + 30)
            assert not eof and (data.startswith(b"250") or b"a OK" in data
                                or data.startswith(b"+OK")), data
    finally:
        for s in kept:
            s.close()
    assert wait_log(srv, svc, "refused", log_before + 20), srv.log(svc)[-2000:]


# -- floods from clients that never read -----------------------------------

FLOOD = {"smtpd": b"NOOP\r\n", "imapd": b"a NOOP\r\n", "pop3d": b"CAPA\r\n"}


@pytest.mark.parametrize("svc", ["smtpd", "imapd", "pop3d"])
def test_pipelined_flood_never_reading(srv, svc):
    """4 clients pipeline commands as fast as they can for a few seconds and
    never read a reply: the service stops reading them (TCP pushes back),
    its RSS stays bounded, and a normal client is served meanwhile."""
    pid = pid_of(srv, svc)
    normal = NORMAL[svc]
    normal(srv)
    rss0 = rss_kb(pid)
    fds0 = fd_count(pid)
    socks = []
    for _ in range(4):
        s = connect(srv, LISTENER[svc])
        assert greeting(s)
        if svc == "imapd":
            s.sendall(b"l LOGIN alice@acme alice-pw\r\n")
        s.setblocking(False)
        socks.append(s)
    chunk = FLOOD[svc] * 4096
    sent = 0
    t0 = time.time()
    while time.time() - t0 < 8 and sent < 512 * 1024 * 1024:
        progress = False
        for s in socks:
            try:
                sent += s.send(chunk)
                progress = True
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                pass
        if not progress:
            time.sleep(0.05)
    t1 = time.time()
    normal(srv)
    assert time.time() - t1 < SLACK
    rss1 = rss_kb(pid)
    for s in socks:
        s.close()
    assert pid_of(srv, svc) == pid, "the service restarted"
    # replies the clients never read are not all buffered: at most a few
    # MB per client (the output high-water marks), not what was sent
    assert rss1 - rss0 < 64 * 1024, (rss0, rss1, sent)
    assert sent > 0
    # the connections are released
    deadline = time.time() + 30
    while time.time() < deadline and fd_count(pid) > fds0 + 2:
        time.sleep(0.2)
    assert fd_count(pid) <= fds0 + 2


# -- oversize input, NUL bytes, invalid UTF-8 ----------------------------------

def test_smtp_bad_bytes(srv):
    s = connect(srv, "smtp")
    assert greeting(s).startswith(b"220")

    def cmd(line):
        s.sendall(line + b"\r\n")
        data, eof = read_until(s, lambda d: d.endswith(b"\r\n") and
                               d.split(b"\r\n")[-2][3:4] == b" ",
                               time.time() + 30)
        assert not eof, data
        return data

    assert cmd(b"EHLO ok.test").startswith(b"250")
    assert cmd(b"EHLO \x00\xff").startswith(b"500 5.5.2")
    assert cmd(b"MAIL FROM:<\xc3\x28@example.org>")[:1] in (b"5",), "bad UTF-8"
    assert cmd(b"MAIL FROM:<\xff\xfe@example.org> SMTPUTF8")[:1] == b"5"
    assert cmd(b"X" * 100000).startswith(b"500")
    assert cmd(b"NOOP").startswith(b"250")
    s.close()
    normal_smtp(srv)


def test_imap_bad_bytes_and_huge_literals(srv):
    pid = pid_of(srv, "imapd")
    rss0 = rss_kb(pid)
    s = connect(srv, "imap")
    assert greeting(s).startswith(b"* OK")

    def cmd(line, tag):
        s.sendall(line + b"\r\n")
        data, eof = read_until(s, lambda d: (b"\r\n" + tag + b" ") in
                               (b"\r\n" + d) and d.endswith(b"\r\n"),
                               time.time() + 30)
        return data, eof

    d, eof = cmd(b"a LOGIN \x00alice alice-pw", b"a")
    assert not eof and b"a BAD" in d or b"a NO" in d, d
    d, _ = cmd(b"b LOGIN alice@acme alice-pw", b"b")
    assert b"b OK" in d, d
    for i, bad in enumerate([b"SELECT \xff\xfe", b"SELECT \"\xc3\x28\"",
                             b"CREATE \"a\x00b\"", b"FETCH 1:* (BODY[\xff])",
                             b"SEARCH SUBJECT \"\xed\xa0\x80\""]):
        tag = b"c%d" % i
        d, eof = cmd(tag + b" " + bad, tag)
        assert not eof, d
        assert (tag + b" BAD") in d or (tag + b" NO") in d or \
            (tag + b" OK") in d, d
    # literals announced at 4 GB and 2^64-1: refused, nothing allocated
    for i, n in enumerate([b"4294967296", b"18446744073709551615",
                           b"99999999999999999999999"]):
        tag = b"d%d" % i
        d, eof = cmd(tag + b" APPEND INBOX {" + n + b"}", tag)
        assert not eof and (tag + b" BAD") in d, d
    d, _ = cmd(b"e NOOP", b"e")
    assert b"e OK" in d
    s.close()
    assert rss_kb(pid) - rss0 < 32 * 1024
    # before login the literal limit is small
    s = connect(srv, "imap")
    greeting(s)
    d, _ = cmd(b"a LOGIN {4294967296}", b"a")
    assert b"a BAD" in d and b"TOOBIG" in d, d
    s.close()
    normal_imap(srv)


def test_pop3_bad_bytes(srv):
    s = connect(srv, "pop3")
    assert greeting(s).startswith(b"+OK")

    def cmd(line):
        s.sendall(line + b"\r\n")
        data, eof = read_until(s, lambda d: d.endswith(b"\r\n"),
                               time.time() + 30)
        return data, eof

    # USER takes any bytes (PASS then fails); the others are refused
    for bad in [b"USER \x00alice", b"USER \xff\xfe", b"PASS \x00", b"\xc3\x28",
                b"X" * 5000, b"PASS \xff"]:
        d, eof = cmd(bad)
        if eof:
            break
        assert d.startswith(b"-ERR") or (bad.startswith(b"USER ") and
                                          d.startswith(b"+OK")), (bad, d)
    s.close()
    normal_pop3(srv)


def test_too_many_bad_commands_closes_and_is_logged(srv):
    for svc, line in (("smtpd", b"\x00\xff junk"), ("imapd", b"\x00 junk"),
                      ("pop3d", b"\x00 junk")):
        log = {"smtpd": "too many errors", "imapd": "too many bad commands",
               "pop3d": None}[svc]
        before = srv.log(svc).count(log) if log else 0
        s = connect(srv, LISTENER[svc])
        greeting(s)
        eof = False
        for _ in range(60):
            try:
                s.sendall(line + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                eof = True
                break
            _, eof = read_until(s, lambda d: d.endswith(b"\r\n"),
                                time.time() + 10)
            if eof:
                break
        s.close()
        assert eof, f"{svc} kept a client sending only junk"
        if log:
            assert wait_log(srv, svc, log, before + 1), srv.log(svc)[-2000:]


# -- TLS handshakes that stop half-way or are garbage -------------------------

def client_hello():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="mx.postern.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


@pytest.mark.parametrize("svc,listener", [("smtpd", "smtps"),
                                          ("imapd", "imaps"),
                                          ("pop3d", "pop3s")])
def test_tls_half_handshake_and_garbage(srv, svc, listener):
    """On the implicit-TLS ports: a ClientHello and then silence is dropped
    at the timeout; garbage instead of a handshake is dropped at once with
    a TLS error logged; the port keeps serving real TLS clients."""
    hello = client_hello()
    assert hello[:1] == b"\x16"
    half = [connect(srv, listener) for _ in range(5)]
    for s in half:
        s.sendall(hello[:len(hello) // 2] if half.index(s) % 2 else hello)
    mark = {"smtpd": "TLS error", "imapd": "TLS error", "pop3d": ": TLS: "}[svc]
    before = srv.log(svc).count(mark)
    garbage = connect(srv, listener)
    garbage.sendall(b"GET / HTTP/1.0\r\n\r\n" + os.urandom(300))
    _, eof = read_until(garbage, lambda d: False, time.time() + SLACK)
    garbage.close()
    assert eof, "garbage handshake not dropped"
    # a real client is served meanwhile
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = connect(srv, listener, OTHER)
    tls = ctx.wrap_socket(raw, server_hostname="mx.postern.test")
    assert tls.recv(1024)[:1] in (b"2", b"*", b"+")
    tls.close()
    # the half-way ones are dropped at the timeout
    t0 = time.time()
    for s in half:
        _, eof = read_until(s, lambda d: False,
                            t0 + HOLD[svc] + 2 * SLACK)
        assert eof, f"half handshake still open after {time.time() - t0:.0f}s"
        s.close()
    # the garbage handshake is logged as a TLS error
    assert wait_log(srv, svc, mark, before + 1), srv.log(svc)[-2000:]


def test_starttls_then_silence(srv):
    """STARTTLS accepted, then no handshake: dropped at the timeout."""
    s = connect(srv, "smtp")
    greeting(s)
    s.sendall(b"EHLO x.test\r\nSTARTTLS\r\n")
    data, _ = read_until(s, lambda d: b"220 " in d.split(b"\r\n", 1)[-1],
                         time.time() + 30)
    assert b"220" in data
    t0 = time.time()
    _, eof = read_until(s, lambda d: False, t0 + SMTP_TIMEOUT + 2 * SLACK)
    assert eof
    s.close()


# -- AUTH brute force --------------------------------------------------------

def test_auth_brute_force_throttled_and_logged(srv):
    """auth.max_failures (3 here) wrong passwords from one address: the next
    login is refused even with the right password, on every service, and
    the refusal is logged; another address still logs in."""
    srv.cli("config", "set", "auth.max_failures", "3")
    try:
        src = "127.0.0.3"
        # SMTP AUTH PLAIN on smtps (no TLS needed for the throttle check)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        def smtp_login(pw):
            s = smtplib.SMTP_SSL("127.0.0.1", srv.port("smtps"), timeout=30,
                                 context=ctx, source_address=(src, 0))
            s.ehlo("brute.test")
            try:
                # one mechanism: login() would try PLAIN then LOGIN
                s.auth("PLAIN", lambda challenge=None:
                       "\0alice@acme\0" + pw)
                return 235
            except smtplib.SMTPAuthenticationError as e:
                return e.smtp_code
            finally:
                s.close()

        def imap_login(pw, source=src):
            s = connect(srv, "imap", source)
            greeting(s)
            s.sendall(b"a LOGIN alice@acme " + pw.encode() + b"\r\n")
            d, _ = read_until(s, lambda x: b"a " in x and x.endswith(b"\r\n"),
                              time.time() + 30)
            s.close()
            return d

        def pop3_login(pw):
            s = connect(srv, "pop3", src)
            greeting(s)
            s.sendall(b"USER alice@acme\r\n")
            read_until(s, lambda x: x.endswith(b"\r\n"), time.time() + 30)
            s.sendall(b"PASS " + pw.encode() + b"\r\n")
            d, _ = read_until(s, lambda x: x.endswith(b"\r\n"),
                              time.time() + 30)
            s.close()
            return d

        for i in range(3):
            assert smtp_login(f"bad{i}") == 535
        assert smtp_login("alice-pw") != 235
        assert wait_log(srv, "smtpd", "auth refused: too many failures")
        for i in range(3):
            assert b"a NO" in imap_login(f"bad{i}")
        d = imap_login("alice-pw")
        assert b"a NO" in d, d
        assert wait_log(srv, "imapd", "too many failures")
        for i in range(3):
            assert pop3_login(f"bad{i}").startswith(b"-ERR")
        assert pop3_login("alice-pw").startswith(b"-ERR")
        assert wait_log(srv, "pop3d", "login refused: too many")
        # another address is not throttled
        assert b"a OK" in imap_login("alice-pw", OTHER)
        normal_pop3(srv)
    finally:
        srv.cli("config", "unset", "auth.max_failures")

"""IMAP limits and abuse: literal and line limits, nesting, login
throttling, connection limits, timeouts, flow control of big FETCHes."""
import imaplib
import re
import time

import pytest

from test_imap import MSG1, client, cmd, imap, put, raw  # noqa: F401


def test_limits_and_bad_input(imap):
    # before login: small limits
    s, f = raw(imap)
    r = cmd(f, b"a LOGIN {100000}")
    assert r[-1].startswith(b"a BAD") and b"TOOBIG" in r[-1]
    # the line limit before login (IMAP_PREAUTH_LINE, 40 KB: room for an
    # ID with RFC 2971's 30 pairs of 1024-octet values)
    r = cmd(f, b"b LOGIN " + b"x" * 50000 + b" y")
    assert r[-1].startswith(b"b BAD")
    assert cmd(f, b"c LOGIN alice@acme alice-pw")[-1].startswith(b"c OK")
    s.close()
    s, f = raw(imap)
    cmd(f, b"a LOGIN alice@acme alice-pw")
    # a literal announced as 4 GB is refused before anything is allocated
    r = cmd(f, b"b APPEND INBOX {4294967296}")
    assert r[-1].startswith(b"b BAD") and b"TOOBIG" in r[-1]
    assert cmd(f, b"c NOOP")[-1].startswith(b"c OK")
    # a too long line, then the session goes on
    r = cmd(f, b"d NOOP " + b"x" * 70000)
    assert r[-1].startswith(b"d BAD")
    assert cmd(f, b"e NOOP")[-1].startswith(b"e OK")
    # nesting depth
    r = cmd(f, b"f FETCH 1 " + b"(" * 40 + b")" * 40)
    assert r[-1].startswith(b"f BAD")
    r = cmd(f, b'g LOGIN "unterminated')
    assert r[-1].startswith(b"g BAD")
    r = cmd(f, b"h SELECT INBOX")
    assert r[-1].startswith(b"h OK")
    # a non-synchronizing literal too big: tagged BAD [TOOBIG] (RFC 7888
    # 4), then BYE since the framing is lost
    f.write(b"i APPEND INBOX {4294967296+}\r\n")
    f.flush()
    assert f.readline().startswith(b"i BAD [TOOBIG]")
    assert f.readline().startswith(b"* BYE")
    assert f.readline() == b""
    s.close()
    # LITERAL+ within limits
    s, f = raw(imap)
    cmd(f, b"a LOGIN {10+}\r\nalice@acme {8+}\r\nalice-pw")
    f.write(b"b APPEND INBOX {%d+}\r\n" % len(MSG1) + MSG1 + b"\r\n")
    f.flush()
    ln = f.readline()
    assert ln.startswith(b"b OK [APPENDUID"), ln
    s.close()

def test_throttle_and_connection_limit(imap):
    imap.cli("config", "set", "auth.max_failures", "2")
    for i in range(3):
        c = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=10)
        # after two failures even the right password is refused
        with pytest.raises(imaplib.IMAP4.error,
                           match="UNAVAILABLE" if i == 2 else "AUTHENTICATIONFAILED"):
            c.login("alice@acme", "alice-pw" if i == 2 else "bad")
        c.logout()
    imap.cli("config", "set", "imap.max_connections_per_ip", "2")
    a = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=10)
    b = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="Too many connections"):
        imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=10)
    a.logout()
    b.logout()

def test_timeouts(imap):
    imap.cli("config", "set", "imap.login_timeout", "5")
    imap.cli("config", "set", "imap.idle_timeout", "6")
    s, f = raw(imap)
    t0 = time.time()
    assert f.readline().startswith(b"* BYE")
    assert 4 <= time.time() - t0 < 8
    s.close()
    s, f = raw(imap)
    cmd(f, b"a LOGIN alice@acme alice-pw")
    cmd(f, b"b SELECT INBOX")
    f.write(b"c IDLE\r\n")
    f.flush()
    assert f.readline().startswith(b"+")
    t0 = time.time()
    assert f.readline().startswith(b"* BYE")
    assert 5 <= time.time() - t0 < 9
    s.close()

def test_large_fetch_is_streamed(imap):
    """FETCH 1:* BODY[] of many big messages: the answer arrives whole and
    in order, and commands pipelined behind it wait their turn."""
    big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 1000
    for _ in range(20):
        put(imap, big)
    s, f = raw(imap)
    cmd(f, b"a LOGIN alice@acme alice-pw")
    cmd(f, b"b SELECT INBOX")
    f.write(b"c FETCH 1:* (BODY.PEEK[])\r\nd NOOP\r\n")
    f.flush()
    seen = 0
    for _ in range(100):
        ln = f.readline()
        if ln.startswith(b"c "):
            break
        m = re.match(rb"\* (\d+) FETCH \(BODY\[\] \{(\d+)\}\r\n", ln)
        assert m, ln
        assert int(m.group(1)) == seen + 1
        assert f.read(int(m.group(2))) == big
        assert f.readline() == b")\r\n"
        seen += 1
    assert ln.startswith(b"c OK") and seen == 20
    assert f.readline().startswith(b"d OK")
    s.close()


def test_client_that_does_not_read(imap):
    """Commands keep coming, answers are not read: the server stops
    reading rather than queue without bound, and goes on once the client
    reads."""
    import json
    import socket as so
    import threading
    pid = json.loads((imap.root / "run/imapd.json").read_text())["pid"]

    def rss():
        with open(f"/proc/{pid}/status") as st:
            for ln in st:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1])
        return 0
    s, f = raw(imap)
    cmd(f, b"a LOGIN alice@acme alice-pw")
    before = rss()
    s.setblocking(False)
    sent = 0
    batch = b"x CAPABILITY\r\n" * 1000
    rest = b""
    t0 = time.time()
    while time.time() - t0 < 5 and not rest and sent < 1000000:
        try:
            n = s.send(batch)
        except BlockingIOError:
            time.sleep(0.1)
            continue
        sent += n
        if n < len(batch):
            rest = batch[n:]    # the socket is full: stop here
    # each CAPABILITY (14 bytes) answers with ~400: queued, the answers
    # to 1 MB of them would take ~28 MB; the server stopped reading
    time.sleep(1.0)
    grown = rss() - before
    with open(f"/proc/{pid}/maps") as mp:
        sanitized = "libasan" in mp.read()  # ASan's quarantine grows RSS
    assert sent >= 1000000 or rest
    if not sanitized:
        assert grown < 8000, (sent, grown)
    # now read everything; the server goes on and answers the last one
    s.setblocking(True)
    s.settimeout(30)
    last = []

    def reader():
        for _ in range(100000000):
            ln = f.readline()
            if not ln or ln.startswith(b"z "):
                last.append(ln)
                return
    t = threading.Thread(target=reader)
    t.start()
    s.sendall(rest + b"z NOOP\r\n")
    t.join(60)
    assert last and last[0].startswith(b"z OK")
    s.close()

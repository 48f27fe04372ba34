"""XMPP over WebSocket (RFC 7395) through httpd, with our own RFC 6455
client over real sockets (xmppws_util.WS): discovery (XEP-0156), the
handshake's checks (Origin, subprotocol, version, key), PLAIN and the
webmail session's SASL EXTERNAL, chat with a TCP client both ways,
fragmentation and control frames, and every bad frame with its close
code while another user's session goes on."""
import base64
import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import time

import pytest

from conftest import ROOT
from xmpp_util import PW, Raw, xmpp_server
from xmppws_util import NS_FRAMING, WS, HandshakeRefused, frame, webmail_cookie


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = xmpp_server(tmp_path_factory, start=False)
    p.start(services=["xmppd", "httpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def http_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
    r = c.getresponse()
    return r, r.read()


def origin(srv):
    return f"http://127.0.0.1:{srv.port('http')}"


def bob_tcp(srv, resource="tcp"):
    b = Raw(srv.port("xmpp"))
    b.login("bob", "acme.test", resource=resource)
    b.send("<presence/>")
    return b


def test_discovery(srv):
    port = srv.port("http")
    r, body = http_get(port, "/.well-known/host-meta")
    assert r.status == 200 and "xrd+xml" in r.getheader("Content-Type")
    assert (f"rel='urn:xmpp:alt-connections:websocket' "
            f"href='ws://127.0.0.1:{port}/xmpp-websocket'") in body.decode()
    r, body = http_get(port, "/.well-known/host-meta.json")
    assert r.status == 200
    assert json.loads(body) == {"links": [{
        "rel": "urn:xmpp:alt-connections:websocket",
        "href": f"ws://127.0.0.1:{port}/xmpp-websocket"}]}
    # a plain GET of the endpoint says what it is
    r, body = http_get(port, "/xmpp-websocket")
    assert r.status == 426 and r.getheader("Upgrade") == "websocket"


def test_handshake_refusals(srv):
    port = srv.port("http")
    cases = [
        (dict(version="8"), 426, "Sec-WebSocket-Version: 13"),
        (dict(key="c2hvcnQ="), 400, "Sec-WebSocket-Key"),
        (dict(protocol=None), 400, "subprotocol"),
        (dict(protocol="chat, mqtt"), 400, "subprotocol"),
        (dict(upgrade=False), 426, "Upgrade: websocket"),
        # another site's page: refused before any session lookup
        (dict(origin="http://evil.example"), 403, "Origin"),
        (dict(origin=f"http://127.0.0.1:{port + 1}"), 403, "Origin"),
    ]
    for kw, status, text in cases:
        with pytest.raises(HandshakeRefused) as e:
            WS(port, **kw)
        assert e.value.status == status, (kw, e.value.head)
        assert text in e.value.head or status in (400, 403), e.value.head
    # the endpoint's own origin (and one in any case) is taken
    WS(port, origin=origin(srv).upper().replace("HTTP", "http")).close()


def test_plain_login_and_chat_with_tcp(srv):
    bob = bob_tcp(srv)
    ws = WS(srv.port("http"))
    feats = ws.open()
    f = feats.string[feats.start():]
    # loopback: PLAIN; no STARTTLS over WebSocket (RFC 7395 3.6), no
    # EXTERNAL without a webmail session
    assert "<mechanism>PLAIN</mechanism>" in f and "starttls" not in f
    assert "EXTERNAL" not in f
    cred = base64.b64encode(b"\0alice\0" + PW["alice"].encode()).decode()
    ws.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
            f"mechanism='PLAIN'>{cred}</auth>")
    ws.expect(r"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
    assert ws.bind() == "alice@acme.test/ws"
    # our output: one element per frame, stanzas qualified on their own
    ws.send("<presence xmlns='jabber:client'/>")
    ws.send("<message xmlns='jabber:client' to='bob@acme.test' "
            "type='chat' id='m1'><body>over websocket &amp; &lt;ok&gt;"
            "</body></message>")
    bob.expect(r"<message[^>]*from='alice@acme.test/ws'[^>]*>.*?"
               r"<body>over websocket &amp; &lt;ok&gt;</body>")
    bob.send("<message to='alice@acme.test/ws' type='chat' id='r1'>"
             "<body>back by TCP</body></message>")
    m = ws.expect(r"^<message xmlns='jabber:client'.*<body>back by TCP"
                  r"</body>.*</message>$")
    assert "from='bob@acme.test/tcp'" in m.group(0)
    # a ping frame gets its pong with the same payload
    ws.raw(frame(9, b"are you there"))
    while True:
        op, p = ws.recv()
        if op == 10:
            assert p == b"are you there"
            break
    # a stanza in three fragments with a ping between
    st = ("<message xmlns='jabber:client' to='bob@acme.test' type='chat'>"
          "<body>in three pieces é</body></message>").encode()
    ws.raw(frame(1, st[:20], fin=False) + frame(9, b"x") +
           frame(0, st[20:50], fin=False) + frame(0, st[50:]))
    bob.expect(r"<body>in three pieces \u00e9</body>")
    # a large stanza after login: a 64-bit length on the way in,
    # 16-bit and 64-bit lengths on the way out
    big = "y" * 100000
    ws.send("<message xmlns='jabber:client' to='bob@acme.test' "
            f"type='chat'><body>{big}</body></message>")
    bob.expect(r"<body>y{100000}</body>")
    bob.send(f"<message to='alice@acme.test' type='chat'><body>{big}z"
             "</body></message>")
    ws.expect(r"<body>y{100000}z</body>")
    # the end: <close/>, answered <close/> and a close frame 1000
    ws.send(f"<close xmlns='{NS_FRAMING}'/>")
    ws.expect(r"^<close xmlns='" + NS_FRAMING + "'/>$")
    assert ws.close_code() == 1000
    assert ws.closed()
    bob.expect(r"<presence(?=[^>]*from='alice@acme.test/ws')"
               r"(?=[^>]*type='unavailable')")
    bob.close()


def test_webmail_session_external(srv):
    port = srv.port("http")
    cookie = webmail_cookie(port, "alice@acme", PW["alice"])
    ws = WS(port, origin=origin(srv), cookie=cookie)
    f = ws.open().string
    assert "<mechanism>EXTERNAL</mechanism>" in f
    # an authzid other than the session's own JID
    other = base64.b64encode(b"bob@acme.test").decode()
    ws.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
            f"mechanism='EXTERNAL'>{other}</auth>")
    ws.expect(r"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
              r"<invalid-authzid/>")
    ws.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
            "mechanism='EXTERNAL'>=</auth>")
    ws.expect(r"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
    assert ws.bind(resource="webmail") == "alice@acme.test/webmail"
    ws.send("<iq xmlns='jabber:client' type='get' id='r1'><query "
            "xmlns='jabber:iq:roster'/></iq>")
    m = ws.expect(r"<iq xmlns='jabber:client'[^>]*id='r1'.*?</iq>")
    assert "bob@acme.test" in m.group(0) and "carol@acme.test" in m.group(0)
    ws.close()
    # the session's mailbox is bound to its post office's domains
    ws = WS(port, origin=origin(srv), cookie=cookie)
    ws.open("other.test")
    ws.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
            "mechanism='EXTERNAL'>=</auth>")
    ws.expect(r"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
              r"<not-authorized/>")
    ws.close()


def test_no_session(srv):
    port = srv.port("http")
    # no cookie: EXTERNAL is not offered and fails
    ws = WS(port, origin=origin(srv))
    assert "EXTERNAL" not in ws.open().string
    ws.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
            "mechanism='EXTERNAL'>=</auth>")
    ws.expect(r"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
              r"<not-authorized/>")
    ws.close()
    # a cookie without an Origin (not a page) counts for nothing
    cookie = webmail_cookie(port, "bob@acme", PW["bob"])
    ws = WS(port, cookie=cookie)
    assert "EXTERNAL" not in ws.open().string
    ws.close()
    # a made-up or ended session: none either
    ws = WS(port, origin=origin(srv), cookie="made-up-session-id")
    assert "EXTERNAL" not in ws.open().string
    ws.close()
    # the cookie from another site's page: refused outright
    with pytest.raises(HandshakeRefused) as e:
        WS(port, origin="https://evil.example", cookie=cookie)
    assert e.value.status == 403


def test_bad_frames(srv):
    """each bad frame: the RFC 6455 close code, the connection closed,
    another user's session untouched"""
    bob = bob_tcp(srv, "watch")
    port = srv.port("http")
    open_ = f"<open xmlns='{NS_FRAMING}' to='acme.test' version='1.0'/>"
    cases = [
        ("unmasked", frame(1, open_, mask=False), 1002),
        ("rsv bits", frame(1, open_, rsv=4), 1002),
        ("binary", frame(2, open_), 1003),
        ("bad opcode", frame(3, b"x"), 1002),
        ("not UTF-8", frame(1, b"<open \xff\xfe/>"), 1007),
        ("oversize before login", frame(1, "x" * 20000), 1009),
        # the length alone says too much: nothing that large is read
        ("oversize header", frame(1, b"x" * 10, length=1 << 40)[:14], 1009),
        ("long control frame", frame(9, b"p" * 126), 1002),
        ("fragmented control", frame(9, b"p", fin=False), 1002),
        ("continuation first", frame(0, b"x"), 1002),
        ("text inside a message", frame(1, b"<a", fin=False) +
         frame(1, b"b/>"), 1002),
    ]
    for name, data, code in cases:
        ws = WS(port)
        ws.raw(data)
        assert ws.close_code() == code, name
        assert ws.closed(), name
        ws.close()
    # after login the limit is the stanza limit: 300 KB is over it
    ws = WS(port)
    ws.login_plain("alice", PW["alice"], resource="big")
    ws.raw(frame(1, b"<message xmlns='jabber:client'><body>" +
                 b"z" * 300000 + b"</body></message>"))
    assert ws.close_code() == 1009
    ws.close()
    # malformed XML: the stream error, then <close/> and close 1000
    ws = WS(port)
    ws.open()
    ws.send("<iq type='get' id='x'><query></iq>")
    ws.expect(r"^<stream:error xmlns:stream='http://etherx.jabber.org/"
              r"streams'><not-well-formed ")
    ws.expect(r"^<close xmlns='" + NS_FRAMING + "'/>$")
    assert ws.close_code() == 1000
    ws.close()
    # a wrong framing namespace in <open/>
    ws = WS(port)
    ws.send("<open xmlns='jabber:client' to='acme.test' version='1.0'/>")
    ws.expect(r"<invalid-namespace ")
    ws.close()
    # STARTTLS over WebSocket: refused (RFC 7395 3.6)
    ws = WS(port)
    ws.open()
    ws.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    ws.expect(r"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    ws.close()
    # a client that goes without a close frame, and one that drops the
    # TCP connection mid-frame
    ws = WS(port)
    ws.login_plain("alice", PW["alice"], resource="gone")
    ws.send("<presence xmlns='jabber:client'/>")
    bob.expect(r"<presence[^>]*from='alice@acme.test/gone'")
    ws.raw(frame(1, "<message xmlns='jabber:client'/>")[:5])
    ws.sock.shutdown(socket.SHUT_RDWR)
    ws.close()
    bob.expect(r"<presence(?=[^>]*from='alice@acme.test/gone')"
               r"(?=[^>]*type='unavailable')")
    # bob's TCP session went on throughout
    bob.send("<iq type='get' id='still'><ping xmlns='urn:xmpp:ping'/></iq>")
    bob.expect(r"<iq(?=[^>]*id='still')(?=[^>]*type='result')")
    bob.close()
    assert "ERROR" not in srv.log("xmppd").upper().replace("STREAM ERROR", "")


def test_xmppd_down(srv, tmp_path_factory):
    """httpd without xmppd: 503, not a hang"""
    p = xmpp_server(tmp_path_factory, start=False)
    p.start(services=["httpd"])
    try:
        with pytest.raises(HandshakeRefused) as e:
            WS(p.port("http"))
        assert e.value.status == 503
        # and discovery lists no endpoint (the webmail shows no chat)
        r, body = http_get(p.port("http"), "/.well-known/host-meta.json")
        assert r.status == 200 and json.loads(body) == {"links": []}
        r, body = http_get(p.port("http"), "/.well-known/host-meta")
        assert "websocket" not in body.decode()
    finally:
        p.stop()


def test_wss_over_https(srv):
    """through TLS (https.listen): the same stream, marked TLS"""
    ws = WS(srv.port("https"), tls=True)
    ws.login_plain("carol", PW["carol"], resource="tls")
    ws.send("<iq xmlns='jabber:client' type='get' id='p'><ping "
            "xmlns='urn:xmpp:ping'/></iq>")
    ws.expect(r"id='p'")
    ws.close()
    deadline = time.time() + 10
    while "carol@acme.test (TLS)" not in srv.log("xmppd"):
        assert time.time() < deadline, "login not logged as TLS"
        time.sleep(0.2)


def test_burst_over_a_slice(srv):
    """stanzas written in one burst of more than the parser's slice (4 KB)
    and then nothing: all are handled, none waits for the client's next
    bytes (over TCP and over WebSocket)"""
    bob = bob_tcp(srv, "burst")
    a = Raw(srv.port("xmpp"))
    a.login("alice", "acme.test", resource="tcpburst")
    a.send("".join(f"<message to='bob@acme.test/burst' type='chat' "
                   f"id='t{i}'><body>{'b' * 150}</body></message>"
                   for i in range(60)))
    bob.expect(r"id='t59'", timeout=15)
    a.close()
    ws = WS(srv.port("http"))
    ws.login_plain("alice", PW["alice"], resource="wsburst")
    ws.raw(b"".join(frame(1, f"<message xmlns='jabber:client' "
                             f"to='bob@acme.test/burst' type='chat' "
                             f"id='w{i}'><body>{'c' * 150}</body></message>")
                    for i in range(60)))
    bob.expect(r"id='w59'", timeout=15)
    ws.close()
    bob.close()


def test_webmail_logout_ends_the_chat(srv):
    """a stream signed in by a webmail session lasts as long as the
    session: the logout (from any tab) ends it with <not-authorized/>,
    while a PLAIN stream of the same user goes on"""
    port = srv.port("http")
    cookie = webmail_cookie(port, "carol@acme", PW["carol"])
    ws = WS(port, origin=origin(srv), cookie=cookie)
    ws.open()
    ws.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
            "mechanism='EXTERNAL'>=</auth>")
    ws.expect(r"<success ")
    ws.bind(resource="tab")
    other = WS(port)
    other.login_plain("carol", PW["carol"], resource="plain")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/jmap/mail/logout", headers={
        "Cookie": f"postern_session={cookie}", "X-Postern-CSRF": "1"})
    assert c.getresponse().status == 200
    ws.expect(r"<stream:error[^>]*><not-authorized ", timeout=15)
    ws.expect(r"^<close ")
    assert ws.close_code() == 1000
    ws.close()
    other.send("<iq xmlns='jabber:client' type='get' id='alive'><ping "
               "xmlns='urn:xmpp:ping'/></iq>")
    other.expect(r"id='alive'")
    other.close()
    # the cookie is dead: a new stream gets no EXTERNAL
    ws = WS(port, origin=origin(srv), cookie=cookie)
    assert "EXTERNAL" not in ws.open().string
    ws.close()


def test_xmppjs_client(srv):
    """npm @xmpp/client (xmpp.js) over its WebSocket transport: PLAIN,
    binding, the roster, a message each way with a TCP user"""
    modules = ROOT / "web" / "node_modules"
    assert shutil.which("node"), "node is missing (scripts/install-deps.sh)"
    assert (modules / "@xmpp" / "client").is_dir(), \
        "web/node_modules lacks @xmpp/client: the build runs npm ci"
    bob = bob_tcp(srv, "js")
    env = dict(os.environ, WS_URL=f"ws://127.0.0.1:{srv.port('http')}"
               "/xmpp-websocket", XMPP_USER="alice", XMPP_PW=PW["alice"],
               PEER="bob@acme.test/js", WEB_MODULES=str(modules))
    proc = subprocess.Popen(
        ["node", "--experimental-websocket", "--no-warnings",
         str(ROOT / "tests/node/xmpp-websocket.mjs")], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        m = bob.expect(r"<message[^>]*from='alice@acme.test/xmppjs'[^>]*>"
                       r".*?<body>hello from xmpp.js &lt;&amp;&gt;</body>")
        assert m
        bob.send("<message to='alice@acme.test/xmppjs' type='chat'>"
                 "<body>hi xmpp.js</body></message>")
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out + err
    assert "ONLINE alice@acme.test/xmppjs" in out
    assert "ROSTER bob@acme.test carol@acme.test" in out, out
    assert "ANSWER bob@acme.test/js hi xmpp.js" in out, out
    assert "XMPPJS OK" in out
    bob.close()


def test_stream_management_resumes_over_websocket(srv):
    """XEP-0198 over WebSocket with xmpp.js: enabled with resumption, the
    WebSocket dropped without <close/>, a message from a TCP user while
    away, xmpp.js resumes (<resume/>, no new binding) and gets it"""
    modules = ROOT / "web" / "node_modules"
    assert shutil.which("node"), "node is missing (scripts/install-deps.sh)"
    bob = bob_tcp(srv, "sm")
    env = dict(os.environ, WS_URL=f"ws://127.0.0.1:{srv.port('http')}"
               "/xmpp-websocket", XMPP_USER="alice", XMPP_PW=PW["alice"],
               WEB_MODULES=str(modules))
    proc = subprocess.Popen(
        ["node", "--experimental-websocket", "--no-warnings",
         str(ROOT / "tests/node/xmpp-websocket-sm.mjs")], env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, bufsize=1)
    lines = []

    def until(prefix, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.startswith(prefix):
                return line.strip()
        raise AssertionError(f"no {prefix}: {lines} "
                             f"{proc.stderr.read() if proc.poll() else ''}")
    try:
        until("ONLINE alice@acme.test/smjs")
        sm_id = until("SM ").split()[1]
        assert sm_id
        proc.stdin.write("DROP\n")
        proc.stdin.flush()
        until("DROPPED")
        # the session waits, bound, for its resumption
        deadline = time.time() + 10
        while "alice@acme.test/smjs: connection lost; resumable" not in \
                srv.log("xmppd"):
            assert time.time() < deadline, srv.log("xmppd")[-3000:]
            time.sleep(0.1)
        bob.send("<message to='alice@acme.test/smjs' type='chat'>"
                 "<body>while you were away</body></message>")
        until("SM OK")
        assert "RESUMED" in lines, lines
        assert "GOT bob@acme.test/sm while you were away" in lines, lines
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, lines
    bob.close()


# ---- the webmail session's expiry and password changes (issue 18) ------

def config_db(srv):
    return sqlite3.connect(str(srv.root / "config/postern.db"))


def external_stream(srv, cookie, resource, before_auth=None):
    """a stream signed in by the webmail session of cookie (EXTERNAL);
    before_auth() runs after the handshake (httpd's check of the cookie)"""
    ws = WS(srv.port("http"), origin=origin(srv), cookie=cookie)
    ws.open()
    if before_auth:
        before_auth()
    ws.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
            "mechanism='EXTERNAL'>=</auth>")
    ws.expect(r"<success ")
    ws.bind(resource=resource)
    return ws


def ping(ws, ident):
    ws.send(f"<iq xmlns='jabber:client' type='get' id='{ident}'><ping "
            "xmlns='urn:xmpp:ping'/></iq>")
    ws.expect(f"id='{ident}'")


@pytest.mark.parametrize("column,limit", [("last_seen", 1800),
                                          ("created", 43200)])
def test_expired_webmail_session_ends_the_chat(srv, column, limit):
    """a webmail session keeps its row until its cookie comes back, but
    a stream it signed in ends when the session is past
    http.session_idle (unused) or http.session_max (since its login):
    here the row is moved back to expire 4 s after the login, and
    nothing writes the config store after that"""
    user = "ivan" if column == "last_seen" else "gina"
    pw = f"{user.capitalize()}-chat-pw1"
    srv.cli("mailbox", "add", f"{user}@acme", "--password", pw)
    for k in ("http.session_idle", "http.session_max"):
        out = srv.cli("config", "get", k).stdout
        assert str({"http.session_idle": 1800,
                    "http.session_max": 43200}[k]) in out, out
    port = srv.port("http")
    cookie = webmail_cookie(port, f"{user}@acme", pw)

    def age():
        # after httpd's lookup at the handshake, which refreshes
        # last_seen when a minute old
        con = config_db(srv)
        sid, = con.execute("SELECT max(s.id) FROM web_session s JOIN "
                           "mailbox m ON m.id = s.mailbox_id WHERE "
                           "m.name = ?", (user,)).fetchone()
        con.execute(f"UPDATE web_session SET {column} = ? WHERE id = ?",
                    (int(time.time()) - limit + 4, sid))
        con.commit()
        con.close()
    ws = external_stream(srv, cookie, "expiring", before_auth=age)
    t0 = time.time()
    plain = WS(port)
    plain.login_plain(user, pw, resource="plain")
    if column == "created":
        # use does not lengthen http.session_max (for the idle case, a
        # stanza of the chat would count as use: see the next test)
        ping(ws, "alive")
    ws.expect(r"<stream:error[^>]*><not-authorized .*?your credentials "
              r"were changed or revoked", timeout=20)
    assert time.time() - t0 > 1.5, "ended before its session expired"
    assert ws.close_code() == 1000
    ws.close()
    # a password stream of the same user goes on
    ping(plain, "still")
    plain.close()
    # and the session is expired for httpd too (one definition)
    ws = WS(port, origin=origin(srv), cookie=cookie)
    assert "EXTERNAL" not in ws.open().string
    ws.close()


def test_chat_keeps_webmail_session_alive(srv):
    """the chat stream a webmail session signed in counts as use of that
    session (as the webmail's own requests): a session 4 s from
    http.session_idle stays when the user chats, for the stream and for
    httpd"""
    srv.cli("mailbox", "add", "kate@acme", "--password", "Kate-chat-pw1")
    port = srv.port("http")
    cookie = webmail_cookie(port, "kate@acme", "Kate-chat-pw1")
    con = config_db(srv)
    sid, = con.execute("SELECT max(s.id) FROM web_session s JOIN mailbox m "
                       "ON m.id = s.mailbox_id WHERE m.name = 'kate'"
                       ).fetchone()
    con.close()

    def seen():
        c = config_db(srv)
        v, = c.execute("SELECT last_seen FROM web_session WHERE id = ?",
                       (sid,)).fetchone()
        c.close()
        return v

    def age():
        c = config_db(srv)
        c.execute("UPDATE web_session SET last_seen = ? WHERE id = ?",
                  (int(time.time()) - 1800 + 4, sid))
        c.commit()
        c.close()
    ws = external_stream(srv, cookie, "busy", before_auth=age)
    aged = seen()
    ping(ws, "p0")
    assert seen() > aged + 1000, "the chat's own stanza did not count"
    time.sleep(6)          # past the old expiry
    ws.send("<message xmlns='jabber:client' to='alice@acme.test' "
            "type='chat'><body>still here</body></message>")
    ping(ws, "p1")
    ws.close()
    # httpd still takes the cookie: EXTERNAL is offered
    w2 = WS(port, origin=origin(srv), cookie=cookie)
    assert "EXTERNAL" in w2.open().string
    w2.close()


def test_password_change_ends_webmail_chat(srv):
    """a new password ends the streams signed in by the mailbox's
    webmail sessions, as it ends password streams (test_xmpp_stream's
    test_password_change_ends_stream), also the stream of the session
    that changed it in the webmail's settings (kept signed in to the
    webmail: its chat signs in again)"""
    srv.cli("mailbox", "add", "hank@acme", "--password", "Hank-old-pw1")
    port = srv.port("http")
    c1 = webmail_cookie(port, "hank@acme", "Hank-old-pw1")
    c2 = webmail_cookie(port, "hank@acme", "Hank-old-pw1")
    ws1 = external_stream(srv, c1, "one")
    ws2 = external_stream(srv, c2, "two")
    # the webmail's settings (session c1, which stays logged in)
    h = {"Cookie": f"postern_session={c1}", "X-Postern-CSRF": "1",
         "Content-Type": "application/json"}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/jmap/mail/session", headers=h)
    r = c.getresponse()
    account = json.loads(r.read())["primaryAccounts"][
        "urn:ietf:params:jmap:mail"]
    c.request("POST", "/jmap/mail/api", json.dumps({
        "using": ["urn:ietf:params:jmap:core", "urn:postern:settings"],
        "methodCalls": [["Password/change", {
            "accountId": account, "oldPassword": "Hank-old-pw1",
            "newPassword": "Hank-new-pw2"}, "0"]]}), h)
    r = c.getresponse()
    body = r.read().decode()
    assert r.status == 200 and "error" not in body, body
    for ws in (ws1, ws2):
        ws.expect(r"<stream:error[^>]*><not-authorized ", timeout=15)
        assert ws.close_code() == 1000
        ws.close()
    # c1 is still a webmail session: its chat signs in again
    ws = external_stream(srv, c1, "again")
    ping(ws, "again")
    # and the command line's passwd ends it like the others
    srv.cli("mailbox", "passwd", "hank@acme", "--password", "Hank-new-pw3")
    ws.expect(r"<stream:error[^>]*><not-authorized ", timeout=15)
    ws.close()

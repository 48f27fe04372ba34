"""xmppd over raw sockets (RFC 6120): stream negotiation, STARTTLS and
direct TLS, SASL PLAIN with the mailbox password, resource binding,
routing between users, and bad input: malformed XML, billion laughs,
oversized stanzas, forged 'from', a client that never reads. Each bad
client gets the RFC's stream error; the server stays up and the other
users' sessions go on."""
import base64
import json
import socket

import pytest

from xmpp_util import PW, Raw, header, srv  # noqa: F401 (srv: the fixture)

HOSTILE = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>" + \
    "".join(f"<!ENTITY lol{i} '{('&lol' + str(i - 1) + ';') * 10 if i > 1 else '&lol;' * 10}'>"
            for i in range(1, 10)) + "]>"


@pytest.fixture(scope="module")
def bob(srv):
    """bob, logged in and available for the whole module: every bad
    client below must leave him untouched"""
    c = Raw(srv.port("xmpp"))
    c.login("bob", "acme.test", resource="watch")
    c.send("<presence/>")
    c.expect(r"<presence[^>]*from='bob@acme.test/watch'")
    yield c
    c.close()


def bob_still_served(srv, bob, tag):
    """a fresh login of alice reaches bob: the server and his session
    survived"""
    a = Raw(srv.port("xmpp"))
    a.login("alice", "acme.test", resource=tag)
    a.send(f"<message to='bob@acme.test/watch' type='chat' id='{tag}'>"
           f"<body>still there {tag}</body></message>")
    m = bob.expect(r"<message[^>]*>.*?still there " + tag + ".*?</message>")
    assert f"from='alice@acme.test/{tag}'" in m.group(0)
    a.close()


def test_in_the_default_service_list_and_in_diag(srv):
    """postern init lists xmppd for posternd; a data root of the suite
    binds it on loopback free ports (never 0.0.0.0:5222); postern diag
    reports its listeners like the other services'"""
    conf = (srv.root / "host.conf").read_text()
    services = next(l for l in conf.splitlines() if l.startswith("services"))
    assert "xmppd" in services.split("=", 1)[1].split()
    x = next(s for s in srv.status()["services"] if s["name"] == "xmppd")
    want = {f"xmpp=127.0.0.1:{srv.port('xmpp')}",
            f"xmpps=127.0.0.1:{srv.port('xmpps')}"}
    assert set(x["listen"]) == want, x
    r = srv.cli("--json", "diag", "--no-dns", "--no-network", check=False)
    rep = json.loads(r.stdout)
    sec = next(s for s in rep["sections"] if s["name"] == "System services")
    it = next(i for i in sec["items"] if i["check"] == "Service xmppd")
    assert it["status"] == "ok", it
    assert all(a in it["value"] for a in want), it
    # the default, where nothing is set: both families on 5222
    srv.cli("config", "unset", "xmpp.listen")
    try:
        d = srv.cli("config", "get", "xmpp.listen").stdout.strip()
        assert d.startswith("0.0.0.0:5222"), d
    finally:
        srv.cli("config", "set", "xmpp.listen",
                f"127.0.0.1:{srv.port('xmpp')}")


def test_features_before_and_after_login(srv):
    c = Raw(srv.port("xmpp"))
    c.send(header("acme.test"))
    m = c.expect(r"<stream:stream [^>]*>")
    assert "from='acme.test'" in m.group(0) and "version='1.0'" in m.group(0)
    f = c.expect(r"<stream:features>.*?</stream:features>").group(0)
    # loopback counts as secure (auth.loopback_secure): TLS offered, not
    # required, PLAIN offered; no SCRAM (passwords are stored hashed)
    assert "urn:ietf:params:xml:ns:xmpp-tls" in f and "<required/>" not in f
    assert "<mechanism>PLAIN</mechanism>" in f and "SCRAM" not in f
    cred = base64.b64encode(b"\0alice\0" + PW["alice"].encode()).decode()
    c.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
           f"mechanism='PLAIN'>{cred}</auth>")
    c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
    c.send(header("acme.test"))
    f = c.expect(r"<stream:features>.*?</stream:features>").group(0)
    assert "xmpp-bind" in f and "mechanisms" not in f
    # a stanza before binding: not-authorized (RFC 6120 7.1)
    c.send("<message to='bob@acme.test'><body>x</body></message>")
    c.stream_error("not-authorized")


def test_unknown_domain_and_bad_namespace(srv):
    c = Raw(srv.port("xmpp"))
    c.send(header("elsewhere.test"))
    c.stream_error("host-unknown")
    c = Raw(srv.port("xmpp"))
    c.send("<stream:stream xmlns='jabber:server' xmlns:stream="
           "'http://etherx.jabber.org/streams' to='acme.test' version='1.0'>")
    c.stream_error("invalid-namespace")


def test_sasl_failures(srv, bob):
    c = Raw(srv.port("xmpp"))
    c.send(header("acme.test"))
    c.expect("</stream:features>")
    bad = base64.b64encode(b"\0alice\0wrong-password").decode()
    c.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
           f"mechanism='PLAIN'>{bad}</auth>")
    c.expect(r"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
             r"<not-authorized/>")
    c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
           "mechanism='SCRAM-SHA-1'>biws</auth>")
    c.expect("<invalid-mechanism/>")
    c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
           "mechanism='PLAIN'>!!!not base64</auth>")
    c.expect("<incorrect-encoding/>")
    # a right password of another post office's user: not on this domain
    other = base64.b64encode(b"\0dave@other\0" + PW["dave"].encode()).decode()
    c.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
           f"mechanism='PLAIN'>{other}</auth>")
    c.expect("<not-authorized/>")
    # an authzid of someone else
    az = base64.b64encode(b"bob@acme.test\0alice\0" +
                          PW["alice"].encode()).decode()
    c.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
           f"mechanism='PLAIN'>{az}</auth>")
    c.expect("<invalid-authzid/>")
    # PLAIN with an empty initial response, then the response
    c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>")
    c.expect("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
    ok = base64.b64encode(b"\0alice\0" + PW["alice"].encode()).decode()
    c.send(f"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{ok}"
           "</response>")
    c.expect("<success ")
    c.close()


def test_starttls_and_direct_tls(srv, bob):
    c = Raw(srv.port("xmpp"))
    c.send(header("acme.test"))
    c.expect("</stream:features>")
    c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    c.expect("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    c.wrap()
    c.data = b""
    jid = c.login("alice", "acme.test", resource="tls")
    assert jid == "alice@acme.test/tls"
    d = Raw(srv.port("xmpps"), tls=True)
    f = None
    d.send(header("acme.test"))
    f = d.expect(r"<stream:features>.*?</stream:features>").group(0)
    assert "xmpp-tls" not in f and "PLAIN" in f
    d.close()
    c.send("<message to='bob@acme.test' type='chat'><body>over tls</body>"
           "</message>")
    m = bob.expect(r"<message[^>]*>.*?over tls.*?</message>")
    assert "from='alice@acme.test/tls'" in m.group(0)
    c.close()


def test_message_routing_and_errors(srv, bob):
    a = Raw(srv.port("xmpp"))
    a.login("alice", "acme.test", resource="route")
    a.send("<presence/>")
    # to bob's full JID, to his bare JID
    a.send("<message to='bob@acme.test/watch' type='chat' id='m1'>"
           "<body>full</body></message>")
    bob.expect(r"<body>full</body>")
    a.send("<message to='bob@acme.test' type='chat' id='m2'><body>bare</body>"
           "</message>")
    bob.expect(r"<body>bare</body>")
    # bob answers to the full JID he saw
    bob.send("<message to='alice@acme.test/route' type='chat'><body>back"
             "</body></message>")
    m = a.expect(r"<message[^>]*>.*?<body>back</body>")
    assert "from='bob@acme.test/watch'" in m.group(0)
    # nobody of that name; a domain we do not serve
    a.send("<message to='nobody@acme.test' type='chat' id='m3'><body>x"
           "</body></message>")
    a.expect(r"<message[^>]*id='m3'[^>]*>.*?<service-unavailable "
             r"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>")
    a.send("<message to='x@remote.example' type='chat' id='m4'><body>x"
           "</body></message>")
    a.expect(r"id='m4'.*?<remote-server-not-found ")
    a.send("<message to='a@@b' id='m5'><body>x</body></message>")
    a.expect(r"id='m5'.*?<jid-malformed ")
    # an IQ without an id; a ping; an unknown namespace
    a.send("<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>")
    a.expect(r"<bad-request ")
    a.send("<iq type='get' id='p1' to='acme.test'><ping xmlns='urn:xmpp:ping'/>"
           "</iq>")
    a.expect(r"<iq [^>]*id='p1'[^>]*type='result'|<iq type='result' id='p1'")
    a.send("<iq type='get' id='u1'><query xmlns='urn:example:nothing'/></iq>")
    a.expect(r"id='u1'.*?<service-unavailable ")
    # an IQ to bob's resource is routed, his answer comes back
    a.send("<iq type='get' id='v1' to='bob@acme.test/watch'>"
           "<query xmlns='jabber:iq:version'/></iq>")
    m = bob.expect(r"<iq [^>]*>.*?jabber:iq:version.*?</iq>")
    assert "from='alice@acme.test/route'" in m.group(0)
    bob.send("<iq type='result' id='v1' to='alice@acme.test/route'>"
             "<query xmlns='jabber:iq:version'><name>raw</name></query></iq>")
    m = a.expect(r"<iq [^>]*id='v1'[^>]*>.*?<name>raw</name>")
    assert "from='bob@acme.test/watch'" in m.group(0)
    a.close()
    # alice's unavailable presence reaches bob when her stream ends
    bob.expect(r"<presence type='unavailable'[^>]*from='alice@acme.test/route'"
               r"|<presence [^>]*from='alice@acme.test/route'[^>]*"
               r"type='unavailable'")


def test_malformed_xml(srv, bob):
    c = Raw(srv.port("xmpp"))
    c.login("carol", "acme.test", resource="bad")
    c.send("<message to='bob@acme.test'><body>x</bod></message>")
    c.stream_error("not-well-formed")
    bob_still_served(srv, bob, "after-malformed")


def test_billion_laughs_refused(srv, bob):
    c = Raw(srv.port("xmpp"))
    c.send(HOSTILE + header("acme.test")[len("<?xml version='1.0'?>"):] +
           "<message><body>&lol9;</body></message>")
    c.stream_error("restricted-xml")
    # and inside an established stream (a DOCTYPE can only come first:
    # there it is not-well-formed)
    c = Raw(srv.port("xmpp"))
    c.login("carol", "acme.test", resource="laughs")
    c.send("<!DOCTYPE x [<!ENTITY a 'b'>]><message/>")
    c.stream_error("not-well-formed")
    c = Raw(srv.port("xmpp"))
    c.login("carol", "acme.test", resource="comment")
    c.send("<message><!-- comment --><body>x</body></message>")
    c.stream_error("restricted-xml")
    bob_still_served(srv, bob, "after-laughs")


def test_oversized_and_deep_stanzas(srv, bob):
    c = Raw(srv.port("xmpp"))
    c.login("carol", "acme.test", resource="big")
    body = "x" * (300 * 1024)
    try:
        c.send(f"<message to='bob@acme.test'><body>{body}</body></message>")
    except OSError:
        pass   # the server may close before taking it all
    c.stream_error("policy-violation")
    # a never-ending attribute value before login (expat would buffer it)
    c = Raw(srv.port("xmpp"))
    c.send(header("acme.test"))
    c.expect("</stream:features>")
    try:
        c.send("<auth a='" + "y" * 40000)
    except OSError:
        pass
    c.stream_error("policy-violation")
    c = Raw(srv.port("xmpp"))
    c.login("carol", "acme.test", resource="deep")
    c.send("<message>" + "<a>" * 100)
    c.stream_error("policy-violation")
    bob_still_served(srv, bob, "after-big")


def test_forged_from(srv, bob):
    c = Raw(srv.port("xmpp"))
    c.login("carol", "acme.test", resource="forge")
    c.send("<message from='alice@acme.test/x' to='bob@acme.test' "
           "type='chat'><body>forged</body></message>")
    c.stream_error("invalid-from")
    # her own bare JID as 'from' is fine, and stamped with the full one
    c = Raw(srv.port("xmpp"))
    c.login("carol", "acme.test", resource="honest")
    c.send("<message from='carol@acme.test' to='bob@acme.test/watch' "
           "type='chat'><body>honest</body></message>")
    m = bob.expect(r"<message[^>]*>.*?<body>honest</body>")
    assert "from='carol@acme.test/honest'" in m.group(0)
    assert "forged" not in m.group(0)
    c.close()
    bob_still_served(srv, bob, "after-forged")


def test_client_that_never_reads(srv, bob):
    lazy = Raw(srv.port("xmpp"), rcvbuf=4096)
    lazy.login("carol", "acme.test", resource="lazy")
    lazy.send("<presence/>")
    a = Raw(srv.port("xmpp"))
    a.login("alice", "acme.test", resource="flood")
    chunk = "z" * 60000
    # to a client that reads nothing: past 2 MiB unread (beyond what the
    # kernel's socket buffers take) the server drops it rather than
    # buffer without end; the sender is not held up
    sent = 0
    while "over 2097152 bytes unread" not in srv.log("xmppd"):
        assert sent < 400, "24 MB sent and the reader is still kept"
        for i in range(20):
            a.send(f"<message to='carol@acme.test/lazy' type='chat' "
                   f"id='f{sent}'><body>{chunk}</body></message>")
            sent += 1
        a.send(f"<iq type='get' id='alive{sent}'><ping xmlns='urn:xmpp:ping'/>"
               "</iq>")
        a.expect(f"id='alive{sent}'", timeout=60)
    assert lazy.closed(timeout=60), "the server kept a client that never reads"
    a.close()
    bob_still_served(srv, bob, "after-lazy")


def test_resource_conflict(srv, bob):
    one = Raw(srv.port("xmpp"))
    one.login("carol", "acme.test", resource="same")
    two = Raw(srv.port("xmpp"))
    assert two.login("carol", "acme.test", resource="same") == \
        "carol@acme.test/same"
    one.stream_error("conflict")
    two.send("<iq type='get' id='c1'><ping xmlns='urn:xmpp:ping'/></iq>")
    two.expect("id='c1'")
    two.close()


def test_password_change_ends_stream(srv, bob):
    srv.cli("mailbox", "add", "frank@acme", "--password", "Frank-old-pw1")
    f = Raw(srv.port("xmpp"))
    f.login("frank", "acme.test", password="Frank-old-pw1", resource="r")
    srv.cli("mailbox", "passwd", "frank@acme", "--password", "Frank-new-pw2")
    # revoked with the mailbox's credentials (logins.c sweeps each second)
    f.expect(r"<stream:error><not-authorized xmlns='urn:ietf:params:xml:"
             r"ns:xmpp-streams'/><text[^>]*>your credentials were changed")
    assert f.closed()
    g = Raw(srv.port("xmpp"))
    g.send(header("acme.test"))
    g.expect("</stream:features>")
    old = base64.b64encode(b"\0frank\0Frank-old-pw1").decode()
    g.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
           f"mechanism='PLAIN'>{old}</auth>")
    g.expect("<not-authorized/>")
    g.close()
    h = Raw(srv.port("xmpp"))
    assert h.login("frank", "acme.test", password="Frank-new-pw2") == \
        "frank@acme.test/raw"
    h.close()


def test_login_deadline(srv):
    """a client trickling bytes before login still meets
    xmpp.login_timeout (set short here; read at each connection)"""
    srv.cli("config", "set", "xmpp.login_timeout", "5")
    try:
        c = Raw(srv.port("xmpp"))
        c.send(header("acme.test"))
        c.expect("</stream:features>")
        import time
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                c.send(" ")
            except OSError:
                break
            if b"connection-timeout" in c.data:
                break
            c.sock.settimeout(1)
            try:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                c.data += chunk
            except OSError:
                pass
        assert b"<connection-timeout " in c.data
    finally:
        srv.cli("config", "set", "xmpp.login_timeout", "60")


def test_per_address_limits(srv, bob):
    """xmpp.max_userip_connections (logins of one user from one address)
    and xmpp.max_connections_per_ip, read at each login and connection"""
    srv.cli("config", "set", "xmpp.max_userip_connections", "2")
    held = []
    try:
        for r in ("l1", "l2"):
            c = Raw(srv.port("xmpp"))
            c.login("erin", "other.test", resource=r)
            held.append(c)
        c = Raw(srv.port("xmpp"))
        c.send(header("other.test"))
        c.expect("</stream:features>")
        cred = base64.b64encode(b"\0erin\0" + PW["erin"].encode()).decode()
        c.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
               f"mechanism='PLAIN'>{cred}</auth>")
        c.expect(r"<temporary-auth-failure/><text[^>]*>too many sessions")
        c.close()
    finally:
        srv.cli("config", "set", "xmpp.max_userip_connections", "10")
        for c in held:
            c.close()
    # bob's module-long stream holds one connection from 127.0.0.1
    srv.cli("config", "set", "xmpp.max_connections_per_ip", "1")
    try:
        c = Raw(srv.port("xmpp"))
        c.stream_error("policy-violation")
    finally:
        srv.cli("config", "set", "xmpp.max_connections_per_ip", "100")
    bob_still_served(srv, bob, "after-limits")

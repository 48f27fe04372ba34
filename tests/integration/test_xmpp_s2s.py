"""Federation (RFC 6120 server-to-server, XEP-0220 dialback): two Postern
instances and a Prosody (Debian) on loopback, each finding the others
through _xmpp-server._tcp SRV records answered by a private dnsmasq;
slixmpp clients on each side exchange subscriptions, presence and
messages. A peer that claims a domain it is not (dialback fails) is
refused; a domain without federation gives its users a clear error."""
import asyncio
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import Postern, dnsmasq_start, dnsmasq_stop, free_port
from prosody_util import prosody_run
from xmpp_util import PW, Raw

slixmpp = pytest.importorskip(
    "slixmpp", reason="python3-slixmpp missing (scripts/install-deps.sh)")
from test_xmpp_im import Client, loop, run  # noqa: E402,F401

NS_STREAM = "http://etherx.jabber.org/streams"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """the s2s ports of the three servers and dnsmasq answering their SRV
    records (nx.test: no server at all)"""
    ports = {"a": free_port(), "b": free_port(), "p": free_port()}
    recs = []
    for dom, key in (("acme.test", "a"), ("other.test", "a"),
                     ("conference.acme.test", "a"),
                     ("conference.prosody.test", "p"),
                     ("beta.test", "b"), ("prosody.test", "p")):
        host = f"s2s-{key}.test"
        recs += [f"--srv-host=_xmpp-server._tcp.{dom},{host},{ports[key]},0,5",
                 f"--host-record={host},127.0.0.1"]
    proc, dport = dnsmasq_start(recs)
    yield ports, dport
    dnsmasq_stop(proc)


def postern(tmp_path_factory, name, dport, s2s_port, domains, users,
            federate):
    p = Postern(tmp_path_factory.mktemp(name) / "root")
    p.init()
    for dom, po in domains:
        p.cli("postoffice", "add", po, "--password", "Postmaster-pw-1")
        p.cli("domain", "add", dom, "--postoffice", po)
    for user, po in users:
        p.cli("mailbox", "add", f"{user}@{po}", "--password", PW[user])
    p.cli("config", "set", "dns.hosts", f"127.0.0.1:{dport}")
    p.cli("config", "set", "xmpp-server.listen", f"127.0.0.1:{s2s_port}")
    p.cli("config", "set", "xmpp.federation_domains", federate)
    p.start(services=["xmppd"])
    return p


@pytest.fixture(scope="module")
def servers(tmp_path_factory, net):
    ports, dport = net
    a = postern(tmp_path_factory, "s2s-a", dport, ports["a"],
                [("acme.test", "acme"), ("other.test", "other")],
                [("alice", "acme"), ("bob", "acme"), ("dave", "other")],
                "acme.test")
    b = postern(tmp_path_factory, "s2s-b", dport, ports["b"],
                [("beta.test", "beta")], [("carol", "beta")], "*")
    yield a, b
    for p in (a, b):
        p.stop()
    for p in (a, b):
        reports = p.sanitizer_reports()
        assert not reports, "sanitizer reports:\n" + "\n".join(reports)


@pytest.fixture(scope="module")
def prosody(tmp_path_factory, net):
    """Prosody serving prosody.test with s2s on; its legacy resolver asks
    port 53 of /etc/resolv.conf's server, so the configuration (Lua)
    points luasocket's UDP peer for port 53 at our dnsmasq"""
    ports, dport = net
    d = tmp_path_factory.mktemp("prosody")
    c2s = free_port()
    (d / "certs").mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "2", "-subj", "/CN=prosody.test",
                    "-keyout", str(d / "certs/prosody.test.key"),
                    "-out", str(d / "certs/prosody.test.crt")],
                   check=True, capture_output=True, timeout=60)
    yield from ((c2s, d) for _ in prosody_run(
        d, c2s, [("erin", "prosody.test")], ["tls", "dialback"],
        """http_ports = { }
s2s_secure_auth = false
VirtualHost "prosody.test"
Component "conference.prosody.test" "muc"
""", s2s=ports["p"], log_level="debug", head=f"""
local socket = require "socket"
local udp = getmetatable(socket.udp()).__index
local setpeername = udp.setpeername
udp.setpeername = function(s, host, port)
  if port == 53 then host, port = "127.0.0.1", {dport} end
  return setpeername(s, host, port)
end
"""))


def run_with_prosody_log(loop, coro, d, timeout):
    """run coro; on failure, show the end of Prosody's log first"""
    try:
        run(loop, coro, timeout=timeout)
    except BaseException:
        log = d / "prosody.log"
        print(log.read_text(errors="replace")[-6000:]
              if log.exists() else "no prosody log")
        raise


async def befriend(x, xjid, y, yjid):
    """x subscribes to y, y approves and subscribes back, x approves: both
    see each other's presence across the servers"""
    x.send_presence_subscription(pto=yjid, ptype="subscribe")
    await y.wait_presence("subscribe", xjid)
    y.send_presence_subscription(pto=xjid, ptype="subscribed")
    await x.wait_presence("subscribed", yjid)
    y.send_presence_subscription(pto=xjid, ptype="subscribe")
    await x.wait_presence("subscribe", yjid)
    x.send_presence_subscription(pto=yjid, ptype="subscribed")
    await y.wait_presence("subscribed", xjid)
    # presence after approval (RFC 6121 3.1.5), and on a new one
    x.send_presence()
    y.send_presence()
    await x.wait_presence("available", yjid)
    await y.wait_presence("available", xjid)


async def converse(x, xjid, y, yjid, tag):
    x.send_message(mto=yjid, mbody=f"{tag}: hello from {xjid}",
                   mtype="chat")
    m = await y.wait_message(f"{tag}: hello from {xjid}")
    assert str(m["from"]).startswith(xjid + "/")
    y.send_message(mto=str(m["from"]), mbody=f"{tag}: hello back",
                   mtype="chat")
    r = await x.wait_message(f"{tag}: hello back")
    assert str(r["from"]).startswith(yjid + "/")


def test_postern_to_postern(servers, loop):
    a, b = servers

    async def go():
        alice = await Client("alice@acme.test/s").start(a.port("xmpp"))
        carol = await Client("carol@beta.test/s").start(b.port("xmpp"))
        await befriend(alice, "alice@acme.test", carol, "carol@beta.test")
        await converse(alice, "alice@acme.test", carol, "carol@beta.test",
                       "a2b")
        # the rosters: both ways, stored on each side
        ra = await alice.fetch_roster()
        rc = await carol.fetch_roster()
        assert ra["carol@beta.test"]["subscription"] == "both"
        assert rc["alice@acme.test"]["subscription"] == "both"
        # going offline reaches the other server
        await carol.stop()
        await alice.wait_presence("unavailable", "carol@beta.test")
        # a message to carol while offline waits for her (B's storage)
        alice.send_message(mto="carol@beta.test", mbody="while away",
                           mtype="chat")
        await alice["xep_0199"].ping(jid="acme.test", timeout=30)
        await asyncio.sleep(0.5)
        carol = await Client("carol@beta.test/t").start(b.port("xmpp"))
        await carol.wait_message("while away")
        # her new presence is probed and seen
        await alice.wait_presence("available", "carol@beta.test/t")
        # a ping across servers, to the remote server itself
        await alice["xep_0199"].ping(jid="beta.test", timeout=30)
        for x in (alice, carol):
            await x.stop()

    run(loop, go(), timeout=150)


def test_carbons_of_remote_messages(servers, loop):
    """XEP-0280 across servers: a message to a remote JID is copied
    (<sent/>) to the sender's other resource, one from a remote JID to a
    full JID (<received/>) to the recipient's other resource"""
    a, b = servers

    async def go():
        one = await Client("alice@acme.test/one").start(a.port("xmpp"))
        two = await Client("alice@acme.test/two").start(a.port("xmpp"))
        carol = await Client("carol@beta.test/c").start(b.port("xmpp"))
        cc = asyncio.Queue()
        for c in (one, two):
            c.register_plugin("xep_0280")
            await c["xep_0280"].enable()
        two.add_event_handler("carbon_sent", lambda m: cc.put_nowait(
            ("sent", m["carbon_sent"])))
        two.add_event_handler("carbon_received", lambda m: cc.put_nowait(
            ("received", m["carbon_received"])))
        one.send_message(mto="carol@beta.test", mbody="cc out", mtype="chat")
        m = await carol.wait_message("cc out")
        kind, inner = await asyncio.wait_for(cc.get(), 30)
        assert kind == "sent" and inner["body"] == "cc out"
        assert str(inner["to"]) == "carol@beta.test"
        carol.send_message(mto=str(m["from"]), mbody="cc in", mtype="chat")
        await one.wait_message("cc in")
        kind, inner = await asyncio.wait_for(cc.get(), 30)
        assert kind == "received" and inner["body"] == "cc in"
        assert str(inner["from"]) == "carol@beta.test/c"
        # <private/> ones are not copied (XEP-0280 7)
        p = one.make_message(mto="carol@beta.test", mbody="not cc",
                             mtype="chat")
        ET.SubElement(p.xml, "{urn:xmpp:carbons:2}private")
        p.send()
        one.send_message(mto="carol@beta.test", mbody="cc again",
                         mtype="chat")
        await carol.wait_message("cc again")
        kind, inner = await asyncio.wait_for(cc.get(), 30)
        assert inner["body"] == "cc again", inner
        for x in (one, two, carol):
            await x.stop()

    run(loop, go(), timeout=120)


def test_postern_to_prosody(servers, prosody, loop):
    a, _ = servers
    c2s, d = prosody

    async def go():
        bob = await Client("bob@acme.test/s").start(a.port("xmpp"))
        erin = await Client("erin@prosody.test/s").start(c2s)
        await befriend(bob, "bob@acme.test", erin, "erin@prosody.test")
        await converse(bob, "bob@acme.test", erin, "erin@prosody.test",
                       "a2p")
        await converse(erin, "erin@prosody.test", bob, "bob@acme.test",
                       "p2a")
        for x in (bob, erin):
            await x.stop()

    run_with_prosody_log(loop, go(), d, 150)


NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"


def muc_join(c, room, nick):
    p = c.make_presence(pto=f"{room}/{nick}")
    ET.SubElement(p.xml, f"{{{NS_MUC}}}x")
    p.send()


async def wait_stanza(q, pred):
    while True:
        st = await asyncio.wait_for(q.get(), 30)
        if pred(st):
            return st


def test_federated_muc_with_prosody(servers, prosody, loop):
    """a Prosody user joins a room of ours over federation (XEP-0045 as a
    remote occupant): the room's history, the occupants' presences both
    ways (with real JIDs: non-anonymous), group and private messages,
    leaving; remote users do not make rooms"""
    a, _ = servers
    c2s, d = prosody
    room = "lounge@conference.acme.test"

    async def go():
        alice = await Client("alice@acme.test/m").start(a.port("xmpp"))
        erin = await Client("erin@prosody.test/m").start(c2s)
        pres = {"alice": asyncio.Queue(), "erin": asyncio.Queue()}
        for name, c in (("alice", alice), ("erin", erin)):
            c.add_event_handler("presence", pres[name].put_nowait)
        muc_join(alice, room, "alice")
        await wait_stanza(pres["alice"], lambda p: str(p["from"]) ==
                          room + "/alice" and p["type"] != "error")
        alice.send_message(mto=room, mbody="before erin", mtype="groupchat")
        await alice.wait_message("before erin")
        # a remote user joins: the occupant's presence, then its own
        # (110), the history (with its delay), the subject
        muc_join(erin, room, "erin")
        p = await wait_stanza(pres["erin"], lambda p: str(p["from"]) ==
                              room + "/alice")
        item = p.xml.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}item")
        assert item.get("jid") == "alice@acme.test/m"
        assert item.get("affiliation") == "owner"
        p = await wait_stanza(pres["erin"], lambda p: str(p["from"]) ==
                              room + "/erin")
        codes = {s.get("code") for s in p.xml.iter(f"{{{NS_MUC_USER}}}status")}
        assert "110" in codes, p
        h = await erin.wait_message("before erin")
        assert str(h["from"]) == room + "/alice"
        assert h["type"] == "groupchat"
        assert h.xml.find("{urn:xmpp:delay}delay") is not None
        p = await wait_stanza(pres["alice"], lambda p: str(p["from"]) ==
                              room + "/erin")
        item = p.xml.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}item")
        assert item.get("jid") == "erin@prosody.test/m"
        assert item.get("affiliation") == "none"
        # group messages both ways (each also back to its sender)
        erin.send_message(mto=room, mbody="from prosody", mtype="groupchat")
        m = await alice.wait_message("from prosody")
        assert str(m["from"]) == room + "/erin"
        await erin.wait_message("from prosody")
        alice.send_message(mto=room, mbody="from postern", mtype="groupchat")
        m = await erin.wait_message("from postern")
        assert str(m["from"]) == room + "/alice"
        # private messages through the room
        erin.send_message(mto=room + "/alice", mbody="psst", mtype="chat")
        m = await alice.wait_message("psst")
        assert str(m["from"]) == room + "/erin"
        alice.send_message(mto=room + "/erin", mbody="psst back",
                           mtype="chat")
        await erin.wait_message("psst back")
        # the room answers a remote disco#info
        info = await erin["xep_0030"].get_info(jid=room, timeout=30)
        assert NS_MUC in info["disco_info"]["features"]
        # remote users join existing rooms only
        muc_join(erin, "newroom@conference.acme.test", "erin")
        p = await wait_stanza(pres["erin"], lambda p: str(p["from"]) ==
                              "newroom@conference.acme.test/erin")
        assert p["type"] == "error"
        assert p["error"]["condition"] == "not-allowed"
        # leaving
        erin.send_presence(pto=room + "/erin", ptype="unavailable")
        p = await wait_stanza(pres["alice"], lambda p: str(p["from"]) ==
                              room + "/erin" and p["type"] == "unavailable")
        for x in (alice, erin):
            await x.stop()

    run_with_prosody_log(loop, go(), d, 150)


def test_local_user_in_a_prosody_room(servers, prosody, loop):
    """the other way: one of our users in a room of Prosody's MUC
    (groupchat from a remote room reaches the occupant's session)"""
    a, _ = servers
    c2s, d = prosody
    room = "lobby@conference.prosody.test"

    async def go():
        bob = await Client("bob@acme.test/r").start(a.port("xmpp"))
        erin = await Client("erin@prosody.test/r").start(c2s)
        pres = {"bob": asyncio.Queue(), "erin": asyncio.Queue()}
        for name, c in (("bob", bob), ("erin", erin)):
            c.add_event_handler("presence", pres[name].put_nowait)
        muc_join(erin, room, "erin")
        await wait_stanza(pres["erin"], lambda p: str(p["from"]) ==
                          room + "/erin" and p["type"] != "error")
        # Prosody locks a new room until its owner accepts it (an instant
        # room, XEP-0045 10.1.2)
        iq = erin.make_iq_set(ito=room)
        q = ET.SubElement(iq.xml, f"{{{NS_MUC}#owner}}query")
        ET.SubElement(q, "{jabber:x:data}x", {"type": "submit"})
        await iq.send(timeout=30)
        muc_join(bob, room, "bob")
        await wait_stanza(pres["bob"], lambda p: str(p["from"]) ==
                          room + "/bob" and p["type"] != "error")
        await wait_stanza(pres["erin"], lambda p: str(p["from"]) ==
                          room + "/bob")
        bob.send_message(mto=room, mbody="bob in lobby", mtype="groupchat")
        m = await erin.wait_message("bob in lobby")
        assert str(m["from"]) == room + "/bob"
        await bob.wait_message("bob in lobby")
        erin.send_message(mto=room, mbody="erin in lobby", mtype="groupchat")
        m = await bob.wait_message("erin in lobby")
        assert str(m["from"]) == room + "/erin"
        for x in (bob, erin):
            await x.stop()

    run_with_prosody_log(loop, go(), d, 120)


def server_header(to, frm=None):
    f = f" from='{frm}'" if frm else ""
    return (f"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
            f"xmlns:stream='{NS_STREAM}' xmlns:db='jabber:server:dialback'"
            f" to='{to}'{f} version='1.0'>")


def test_liar_is_refused(servers, net):
    """a peer claiming beta.test (whose real server, found by SRV, does
    not know its key) is told invalid and cut off; nothing it sends is
    delivered"""
    a, _ = servers
    ports, _ = net
    r = Raw(ports["a"])
    r.send(server_header("acme.test", "beta.test"))
    r.expect(r"<stream:features>.*?</stream:features>")
    # a stanza before dialback: refused
    r2 = Raw(ports["a"])
    r2.send(server_header("acme.test", "beta.test"))
    r2.expect(r"</stream:features>")
    r2.send("<message from='carol@beta.test/x' to='alice@acme.test' "
            "type='chat'><body>sneaky</body></message>")
    r2.stream_error("not-authorized")
    r2.close()
    r.send("<db:result from='beta.test' to='acme.test'>"
           "0123456789abcdef0123456789abcdef</db:result>")
    r.expect(r"<db:result[^>]*type='invalid'")
    r.stream_error("not-authorized")
    r.close()
    # before dialback a peer's stanzas are small (16 KB)
    r = Raw(ports["a"])
    r.send(server_header("acme.test", "beta.test"))
    r.expect(r"</stream:features>")
    r.send("<db:result from='beta.test' to='acme.test'>" + "k" * 40000 +
           "</db:result>")
    r.stream_error("policy-violation")
    r.close()
    # a domain of ours may not be claimed at all
    r = Raw(ports["a"])
    r.send(server_header("acme.test", "other.test"))
    r.expect(r"</stream:features>")
    r.send("<db:result from='other.test' to='acme.test'>x</db:result>")
    r.stream_error("invalid-from")
    r.close()


def test_federation_off(servers, net, loop):
    """other.test is not in xmpp.federation_domains: its users get a clear
    error, and remote servers are told the host is unknown"""
    a, _ = servers
    ports, _ = net
    r = Raw(ports["a"])
    r.send(server_header("other.test", "beta.test"))
    r.stream_error("host-unknown")
    r.close()
    r = Raw(ports["a"])
    r.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
           f"xmlns:stream='{NS_STREAM}' to='acme.test' version='1.0'>")
    r.stream_error("invalid-namespace")
    r.close()

    async def go():
        dave = await Client("dave@other.test/s").start(a.port("xmpp"))
        fut = asyncio.get_event_loop().create_future()
        dave.add_event_handler("message_error", lambda m: fut.done() or
                               fut.set_result(m))
        dave.send_message(mto="carol@beta.test", mbody="hi", mtype="chat")
        m = await asyncio.wait_for(fut, 30)
        assert m["error"]["condition"] == "remote-server-not-found"
        assert "federation" in m["error"]["text"]
        # a domain with no server at all: the same condition, later
        alice = await Client("alice@acme.test/n").start(a.port("xmpp"))
        fut2 = asyncio.get_event_loop().create_future()
        alice.add_event_handler("message_error", lambda m: fut2.done() or
                                fut2.set_result(m))
        alice.send_message(mto="nobody@nx.test", mbody="hi", mtype="chat")
        m = await asyncio.wait_for(fut2, 60)
        assert m["error"]["condition"] == "remote-server-not-found"
        for x in (dave, alice):
            await x.stop()

    run(loop, go(), timeout=120)

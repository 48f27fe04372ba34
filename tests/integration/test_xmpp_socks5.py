"""SOCKS5 bytestreams proxy (XEP-0065): two slixmpp clients find
proxy.acme.test, negotiate a bytestream through it and move 10 MB one
way and a reply the other; the proxy relays only after the initiator's
<activate/>. Bad input over raw sockets: wrong SOCKS version, no
acceptable method, other commands and address types, a hash that is not
one, a third connection for a stream, activations that name no stream
or come from someone else, another post office's proxy; xmppd and the
other sessions go on."""
import asyncio
import hashlib
import socket
import ssl

import pytest

from conftest import free_port
from xmpp_util import (PW, Raw, loop, slix_start,  # noqa: F401 (loop)
                       slix_stop, xmpp_server)

slixmpp = pytest.importorskip(
    "slixmpp", reason="python3-slixmpp missing (scripts/install-deps.sh)")

T = 30
NS = "http://jabber.org/protocol/bytestreams"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = xmpp_server(tmp_path_factory, start=False)
    p.proxy_port = free_port()
    p.cli("config", "set", "xmpp-proxy.listen", f"127.0.0.1:{p.proxy_port}")
    p.start(services=["xmppd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid):
        super().__init__(jid, PW[jid.split("@")[0]])
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0065", {"auto_accept": True})
        self.received = bytearray()
        self.got = asyncio.Event()
        self.want = 0
        self.closed = asyncio.Event()
        self.add_event_handler("socks5_data", self._data)
        self.add_event_handler("socks5_closed",
                               lambda _: self.closed.set())

    def _data(self, data):
        self.received += data
        if len(self.received) >= self.want:
            self.got.set()

    async def start(self, port):
        await slix_start(self, port)
        self.send_presence()
        return self

    async def stop(self):
        await slix_stop(self)


def test_10mb_through_the_proxy(srv, loop):
    data = hashlib.sha256(b"seed").digest() * (10 * 1024 * 1024 // 32)

    async def go():
        a = await Client("alice@acme.test").start(srv.port("xmpp"))
        b = await Client("bob@acme.test").start(srv.port("xmpp"))
        proxies = await a["xep_0065"].discover_proxies()
        assert {str(j): (h, int(p)) for j, (h, p) in proxies.items()} == {
            "proxy.acme.test": ("127.0.0.1", srv.proxy_port)}
        b.want = len(data)
        sock = await asyncio.wait_for(
            a["xep_0065"].handshake(b.boundjid), T)
        assert sock is not None
        for i in range(0, len(data), 256 * 1024):
            await sock.write(data[i:i + 256 * 1024])
        await asyncio.wait_for(b.got.wait(), 120)
        assert len(b.received) == len(data)
        assert hashlib.sha256(b.received).digest() == \
            hashlib.sha256(data).digest()
        # and back: the target answers on its side of the stream
        a.want = 5
        bsock = next(iter(b["xep_0065"]._sessions.values()))
        await bsock.write(b"thank")
        await asyncio.wait_for(a.got.wait(), T)
        assert bytes(a.received) == b"thank"
        # one side closes: the other's connection ends too
        sock.transport.close()
        await asyncio.wait_for(b.closed.wait(), T)
        await a.stop()
        await b.stop()
    loop.run_until_complete(asyncio.wait_for(go(), 180))


def s5(srv):
    return socket.create_connection(("127.0.0.1", srv.proxy_port),
                                    timeout=T)


def recv_all(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def closed(s):
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def connect_req(h, cmd=1, atyp=3, port=b"\0\0"):
    return bytes([5, cmd, 0, atyp, len(h)]) + h + port


def test_socks5_bad_input(srv):
    h = hashlib.sha1(b"x").hexdigest().encode()
    s = s5(srv)
    s.sendall(b"\x04\x01\x00")                  # SOCKS4
    assert recv_all(s, 2) == b"\x05\xff" and closed(s)
    s = s5(srv)
    s.sendall(b"\x05\x01\x02")                  # user/password only
    assert recv_all(s, 2) == b"\x05\xff" and closed(s)
    for req, code in ((connect_req(h, cmd=2), 7),          # BIND
                      (bytes([5, 1, 0, 1, 1, 2, 3, 4, 0, 0]), 8),  # IPv4
                      (connect_req(b"Z" * 40), 2),         # not hex
                      (connect_req(h[:20]), 2),            # too short
                      (connect_req(h, port=b"\0\x50"), 2)):  # port 80
        s = s5(srv)
        s.sendall(b"\x05\x01\x00")
        assert recv_all(s, 2) == b"\x05\x00"
        s.sendall(req)
        rep = recv_all(s, 10)
        assert rep[:2] == bytes([5, code]), (req, rep)
        assert closed(s)
    # two may wait on one hash, a third is refused
    waiting = []
    for _ in range(2):
        s = s5(srv)
        s.sendall(b"\x05\x01\x00" + connect_req(h))
        assert recv_all(s, 2 + 47) == b"\x05\x00" + bytes(
            [5, 0, 0, 3, 40]) + h + b"\0\0"
        waiting.append(s)
    s = s5(srv)
    s.sendall(b"\x05\x01\x00" + connect_req(h))
    assert recv_all(s, 12)[2:4] == b"\x05\x02" and closed(s)
    for w in waiting:
        w.close()


def test_activation_only_by_the_initiator(srv):
    a = Raw(srv.port("xmpp"))
    ajid = a.login("alice", "acme.test", resource="init")
    b = Raw(srv.port("xmpp"))
    bjid = b.login("bob", "acme.test", resource="targ")
    # the streamhost
    a.send(f"<iq type='get' id='h1' to='proxy.acme.test'><query xmlns='{NS}'"
           "/></iq>")
    got = a.expect(r"id='h1'.*?</iq>").group(0)
    assert f"port='{srv.proxy_port}'" in got and "host='127.0.0.1'" in got
    sid = "s1"
    h = hashlib.sha1(f"{sid}{ajid}{bjid}".encode()).hexdigest().encode()
    # nothing connected yet
    a.send(f"<iq type='set' id='a1' to='proxy.acme.test'><query xmlns='{NS}'"
           f" sid='{sid}'><activate>{bjid}</activate></query></iq>")
    assert "<item-not-found" in a.expect(r"id='a1'.*?</iq>").group(0)
    t = s5(srv)
    t.sendall(b"\x05\x01\x00" + connect_req(h))
    assert len(recv_all(t, 49)) == 49
    i = s5(srv)
    i.sendall(b"\x05\x01\x00" + connect_req(h))
    assert len(recv_all(i, 49)) == 49
    # bytes before the activation are not relayed yet
    i.sendall(b"early")
    # bob cannot start alice's stream: the hash of his JID names none
    b.send(f"<iq type='set' id='a2' to='proxy.acme.test'><query xmlns='{NS}'"
           f" sid='{sid}'><activate>{bjid}</activate></query></iq>")
    assert "<item-not-found" in b.expect(r"id='a2'.*?</iq>").group(0)
    # malformed activations
    a.send(f"<iq type='set' id='a3' to='proxy.acme.test'><query xmlns='{NS}'"
           f"><activate>{bjid}</activate></query></iq>")
    assert "<bad-request" in a.expect(r"id='a3'.*?</iq>").group(0)
    a.send(f"<iq type='set' id='a4' to='proxy.acme.test'><query xmlns='{NS}'"
           f" sid='{'x' * 200}'><activate>{bjid}</activate></query></iq>")
    assert "<bad-request" in a.expect(r"id='a4'.*?</iq>").group(0)
    a.send(f"<iq type='set' id='a5' to='proxy.acme.test'><query xmlns='{NS}'"
           f" sid='{sid}'><activate>a@@b</activate></query></iq>")
    assert "<jid-malformed" in a.expect(r"id='a5'.*?</iq>").group(0)
    # another post office's proxy
    a.send(f"<iq type='get' id='o1' to='proxy.other.test'><query "
           f"xmlns='{NS}'/></iq>")
    assert "<forbidden" in a.expect(r"id='o1'.*?</iq>").group(0)
    # the initiator activates: the early bytes and more flow both ways
    a.send(f"<iq type='set' id='a6' to='proxy.acme.test'><query xmlns='{NS}'"
           f" sid='{sid}'><activate>{bjid}</activate></query></iq>")
    assert "type='result'" in a.expect(r"<iq [^>]*id='a6'[^>]*>").group(0)
    assert recv_all(t, 5) == b"early"
    t.sendall(b"back")
    assert recv_all(i, 4) == b"back"
    i.close()
    assert closed(t)
    a.close()
    b.close()

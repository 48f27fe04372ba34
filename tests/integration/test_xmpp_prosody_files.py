"""Upload (XEP-0363) and the SOCKS5 proxy (XEP-0065) beside Prosody
(Debian: mod_http_file_share, mod_proxy65), the reference: the same
slixmpp and raw scenario against both, the same observations expected
(discovery, a slot over the limit, upload and download, the proxy's
streamhost, an activation that names no stream; the relay itself only
against xmppd, see the test). Prosody runs privately
on free loopback ports, started and stopped by PID; skipped without
it."""
import asyncio
import hashlib
import io
import os
import ssl
import urllib.request

import pytest

from conftest import free_port
from prosody_util import prosody_run
from xmpp_util import (PW, Raw, loop, slix_start,  # noqa: F401 (loop)
                       slix_stop, xmpp_server)

slixmpp = pytest.importorskip(
    "slixmpp", reason="python3-slixmpp missing (scripts/install-deps.sh)")
pytest.importorskip(
    "aiohttp", reason="python3-aiohttp missing (scripts/install-deps.sh)")

T = 30
LIMIT = 2 * 1024 * 1024
NS_UP = "urn:xmpp:http:upload:0"
NS_BS = "http://jabber.org/protocol/bytestreams"


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    p = xmpp_server(tmp_path_factory, start=False)
    p.cli("config", "set", "http.public_url",
          f"http://127.0.0.1:{p.port('http')}")
    p.cli("config", "set", "http.max_body", "3M")   # caps the upload limit
    p.cli("config", "set", "xmpp.upload_max_size", "2M")
    p.cli("config", "set", "xmpp-proxy.listen", f"127.0.0.1:{free_port()}")
    p.start(services=["xmppd", "httpd"])
    yield p.port("xmpp")
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


@pytest.fixture(scope="module")
def prosody(tmp_path_factory):
    port, hport, pport = free_port(), free_port(), free_port()
    yield from (port for _ in prosody_run(
        tmp_path_factory.mktemp("prosody-files"), port,
        [("alice", "acme.test"), ("bob", "acme.test")], [], f"""
http_ports = {{ {hport} }}
http_interfaces = {{ "127.0.0.1" }}
http_default_host = "upload.acme.test"
http_external_url = "http://127.0.0.1:{hport}/"
proxy65_ports = {{ {pport} }}
proxy65_interfaces = {{ "127.0.0.1" }}
VirtualHost "acme.test"
VirtualHost "other.test"
Component "upload.acme.test" "http_file_share"
  http_file_share_size_limit = {LIMIT}
Component "proxy.acme.test" "proxy65"
  proxy65_address = "127.0.0.1"
"""))


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid):
        super().__init__(jid, PW[jid.split("@")[0]])
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0363")
        self.register_plugin("xep_0065", {"auto_accept": True})
        self.received = bytearray()
        self.want = 0
        self.got = asyncio.Event()
        self.add_event_handler("socks5_data", self._data)

    def _data(self, data):
        self.received += data
        if len(self.received) >= self.want:
            self.got.set()


def condition(xml):
    """the defined condition of an error stanza (and XEP extras)"""
    for c in ("not-acceptable", "item-not-found", "bad-request",
              "forbidden", "not-allowed", "service-unavailable"):
        if f"<{c} " in xml or f"<{c}/>" in xml:
            return c + ("+file-too-large" if "file-too-large" in xml
                        else "")
    return xml


async def scenario(port, relay=True):
    seen = {}
    a = await slix_start(Client("alice@acme.test/p"), port)
    b = await slix_start(Client("bob@acme.test/p"), port)
    a.send_presence()
    b.send_presence()
    # discovery: the server's items, their identities
    items = await a["xep_0030"].get_items(jid="acme.test")
    ids = {}
    for jid, _, _ in items["disco_items"]["items"]:
        info = await a["xep_0030"].get_info(jid=jid)
        for i in info["disco_info"]["identities"]:
            ids[(i[0], i[1])] = str(jid)
    seen["upload"] = ids.get(("store", "file"))
    seen["proxy"] = ids.get(("proxy", "bytestreams"))
    info = await a["xep_0030"].get_info(jid="upload.acme.test")
    form = info["disco_info"].iterables[0]["values"]
    seen["max"] = int(form["max-file-size"])
    # upload and download
    a["xep_0363"].upload_service = info["from"]
    a["xep_0363"].max_file_size = seen["max"]
    data = os.urandom(100 * 1024)
    url = await a["xep_0363"].upload_file(
        "report.pdf", size=len(data), input_file=io.BytesIO(data),
        content_type="application/pdf")
    with urllib.request.urlopen(url, timeout=T) as r:
        seen["download"] = r.read() == data
    # a stream through the proxy
    proxies = await a["xep_0065"].discover_proxies()
    seen["proxies"] = sorted(str(j) for j in proxies)
    if relay:
        b.want = 1024 * 1024
        sock = await asyncio.wait_for(a["xep_0065"].handshake(b.boundjid),
                                      T)
        payload = hashlib.sha256(b"p").digest() * (b.want // 32)
        await sock.write(payload)
        await asyncio.wait_for(b.got.wait(), 60)
        seen["relayed"] = bytes(b.received) == payload
        sock.transport.close()
    await slix_stop(a)
    await slix_stop(b)
    # raw: a slot over the limit, an activation of no stream
    c = Raw(port)
    c.login("alice", "acme.test", resource="raw")
    c.send(f"<iq type='get' id='s1' to='upload.acme.test'><request "
           f"xmlns='{NS_UP}' filename='big.bin' size='{LIMIT + 1}' "
           "content-type='application/octet-stream'/></iq>")
    seen["too_large"] = condition(c.expect(
        r"<iq [^>]*id='s1'.*?</iq>").group(0))
    c.send(f"<iq type='set' id='a1' to='proxy.acme.test'><query "
           f"xmlns='{NS_BS}' sid='nope'><activate>bob@acme.test/p"
           "</activate></query></iq>")
    seen["no_stream"] = condition(c.expect(
        r"<iq [^>]*id='a1'.*?</iq>").group(0))
    c.close()
    return seen


def test_same_as_prosody(ours, prosody, loop):
    mine = loop.run_until_complete(asyncio.wait_for(scenario(ours), 120))
    # Debian's Prosody 0.12 activates the stream (its log says so) but
    # slixmpp's target received no byte through mod_proxy65 within 60 s
    # here, for reasons not found yet: the relay is compared out
    theirs = loop.run_until_complete(asyncio.wait_for(
        scenario(prosody, relay=False), 120))
    assert mine.pop("relayed")
    assert mine == theirs
    assert mine["upload"] == "upload.acme.test" and mine["max"] == LIMIT
    assert mine["download"]
    assert mine["too_large"] == "not-acceptable+file-too-large"

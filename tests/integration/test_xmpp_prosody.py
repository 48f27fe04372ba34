"""xmppd beside Prosody (Debian), the reference for behaviour: the same
slixmpp scenario against both servers, the same observations expected.
Prosody runs privately on a free loopback port with its own data
directory, started and stopped by PID; the test skips without it
(scripts/install-deps.sh installs it, not started)."""
import asyncio

import pytest

from conftest import free_port
from prosody_util import prosody_run
from xmpp_util import srv  # noqa: F401 (srv: the fixture)

slixmpp = pytest.importorskip(
    "slixmpp", reason="python3-slixmpp missing (scripts/install-deps.sh)")
from test_xmpp_im import Client, loop, run  # noqa: E402,F401

@pytest.fixture(scope="module")
def prosody(tmp_path_factory):
    port = free_port()
    yield from (port for _ in prosody_run(
        tmp_path_factory.mktemp("prosody"), port,
        [("alice", "acme.test"), ("bob", "acme.test"),
         ("carol", "acme.test"), ("dave", "other.test"),
         ("erin", "other.test")],
        ["carbons", "offline", "blocklist", "vcard_legacy", "mam"],
        """http_ports = { }
VirtualHost "acme.test"
VirtualHost "other.test"
"""))


async def scenario(port):
    """what a client sees of: a roster set (push to another resource),
    a subscription across domains, message carbons and an offline
    message"""
    seen = {}
    a1 = await Client("alice@acme.test/p1").start(port)
    a2 = await Client("alice@acme.test/p2").start(port)
    await a1.update_roster("erin@other.test", name="Erin",
                           groups=["Outside"])
    push = await a2.push_for("erin@other.test")
    seen["push"] = (push["name"], sorted(push["groups"]),
                    push["subscription"])
    dave = await Client("dave@other.test/p").start(port)
    a1.send_presence_subscription(pto="dave@other.test", ptype="subscribe")
    seen["subscribe_from"] = await dave.wait_presence("subscribe",
                                                       "alice@acme.test")
    dave.send_presence_subscription(pto="alice@acme.test",
                                    ptype="subscribed")
    await a1.wait_presence("subscribed", "dave@other.test")
    seen["dave_presence"] = await a1.wait_presence("available",
                                                   "dave@other.test/p")
    # the client's roster as pushes left it (Prosody versions its roster:
    # a second roster get may answer "unchanged")
    await a1["xep_0199"].ping(jid="acme.test", timeout=30)
    await dave["xep_0199"].ping(jid="other.test", timeout=30)
    seen["alice_sub"] = a1.client_roster["dave@other.test"]["subscription"]
    seen["dave_sub"] = dave.client_roster["alice@acme.test"]["subscription"]
    # carbons: a2 enables them and sees what a1 sends
    a2.register_plugin("xep_0280")
    await a2["xep_0280"].enable()
    sent = asyncio.get_event_loop().create_future()
    a2.add_event_handler("carbon_sent", lambda m: sent.done() or
                         sent.set_result(m))
    a1.send_message(mto="dave@other.test", mbody="carbon copy",
                    mtype="chat")
    m = await asyncio.wait_for(sent, 30)
    seen["carbon"] = str(m["carbon_sent"]["body"])
    await dave.wait_message("carbon copy")
    # offline: bob is away; carol writes; bob logs in
    c = await Client("carol@acme.test/p").start(port)
    c.send_message(mto="bob@acme.test", mbody="while away", mtype="chat")
    await c["xep_0199"].ping(jid="acme.test", timeout=30)
    b = await Client("bob@acme.test/p").start(port)
    got = await b.wait_message("while away")
    seen["offline_delay"] = got.xml.find("{urn:xmpp:delay}delay") is not None
    for x in (a1, a2, dave, c, b):
        await x.stop()
    return seen


def test_same_as_prosody(srv, prosody, loop):
    ours = run(loop, scenario(srv.port("xmpp")), timeout=120)
    theirs = run(loop, scenario(prosody), timeout=120)
    assert ours == theirs
    assert ours["push"] == ("Erin", ["Outside"], "none")
    assert ours["alice_sub"] == "to" and ours["dave_sub"] == "from"
    assert ours["carbon"] == "carbon copy" and ours["offline_delay"]

"""xmppd with a real client, slixmpp (RFC 6121): the post office's shared
roster group, roster set and push, subscriptions across post offices,
presence (initial, probes, unavailable on disconnect), messages to bare
and full JIDs, offline storage, service discovery and ping."""
import asyncio
import ssl

import pytest

from xmpp_util import PW, srv  # noqa: F401 (srv: the fixture)

slixmpp = pytest.importorskip(
    "slixmpp", reason="python3-slixmpp missing (scripts/install-deps.sh)")

T = 30


@pytest.fixture(scope="module")
def loop():
    lp = asyncio.new_event_loop()
    asyncio.set_event_loop(lp)
    yield lp
    pending = asyncio.all_tasks(lp)
    for t in pending:
        t.cancel()
    lp.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    lp.close()


def run(loop, coro, timeout=60):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


class Client(slixmpp.ClientXMPP):
    """a slixmpp client recording what reaches it"""

    def __init__(self, jid):
        user = jid.split("@")[0]
        super().__init__(jid, PW[user])
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.roster.auto_authorize = None     # False would refuse
        self.roster.auto_subscribe = False
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199")
        self.inbox = asyncio.Queue()
        self.seen = asyncio.Queue()        # (type, from) of presences
        self.pushes = asyncio.Queue()
        self.add_event_handler("message", self.inbox.put_nowait)
        for ev in ("presence_available", "presence_unavailable",
                   "presence_subscribe", "presence_subscribed",
                   "presence_unsubscribed"):
            self.add_event_handler(
                ev, lambda p, ev=ev: self.seen.put_nowait(
                    (ev.split("_", 1)[1], str(p["from"]))))
        self.add_event_handler(
            "roster_update",
            lambda iq: iq["type"] == "set" and self.pushes.put_nowait(
                {str(j): dict(v) for j, v in iq["roster"]["items"].items()}))
        self.ritems = {}

    async def fetch_roster(self):
        """the roster as the server sent it (slixmpp's client_roster also
        holds the user's own JID and items it made up)"""
        iq = await self.get_roster()
        self.ritems = {str(j): dict(v)
                      for j, v in iq["roster"]["items"].items()}
        return self.ritems

    async def push_for(self, jid):
        while True:
            p = await asyncio.wait_for(self.pushes.get(), T)
            if jid in p:
                return p[jid]

    async def start(self, port, presence=True):
        fut = asyncio.get_event_loop().create_future()

        def ok(_):
            if not fut.done():
                fut.set_result(True)

        def bad(_):
            if not fut.done():
                fut.set_exception(AssertionError("login failed"))
        self.add_event_handler("session_start", ok)
        self.add_event_handler("failed_auth", bad)
        self.connect(address=("127.0.0.1", port))
        await asyncio.wait_for(fut, T)
        await self.fetch_roster()
        if presence:
            self.send_presence()
        return self

    async def stop(self):
        fut = asyncio.get_event_loop().create_future()
        self.add_event_handler(
            "disconnected", lambda _: fut.done() or fut.set_result(True))
        self.disconnect()
        await asyncio.wait_for(fut, T)

    async def wait_presence(self, kind, jid_prefix):
        while True:
            k, frm = await asyncio.wait_for(self.seen.get(), T)
            if k == kind and frm.startswith(jid_prefix):
                return frm

    async def wait_message(self, text):
        while True:
            m = await asyncio.wait_for(self.inbox.get(), T)
            if m["body"] == text:
                return m


def test_shared_roster_presence_and_messages(srv, loop):
    async def go():
        alice = await Client("alice@acme.test/desk").start(srv.port("xmpp"))
        bob = await Client("bob@acme.test/phone").start(srv.port("xmpp"))
        # RFC 6121 2.1.3: the post office's users, group "acme", both ways
        roster = alice.ritems
        assert {"bob@acme.test", "carol@acme.test"} <= set(roster)
        assert "alice@acme.test" not in roster
        assert "dave@other.test" not in roster
        assert roster["bob@acme.test"]["subscription"] == "both"
        assert "acme" in roster["bob@acme.test"]["groups"]
        # presence: bob's initial presence reached alice, and alice's
        # (sent earlier) reached bob by the server's probe
        await alice.wait_presence("available", "bob@acme.test/phone")
        await bob.wait_presence("available", "alice@acme.test/desk")
        # to the bare JID and to a full JID
        alice.send_message(mto="bob@acme.test", mbody="hello bare",
                           mtype="chat")
        m = await bob.wait_message("hello bare")
        assert str(m["from"]) == "alice@acme.test/desk"
        bob.send_message(mto="alice@acme.test/desk", mbody="hello full",
                         mtype="chat")
        await alice.wait_message("hello full")
        # disconnect: unavailable presence to the contacts
        await bob.stop()
        await alice.wait_presence("unavailable", "bob@acme.test/phone")
        await alice.stop()
    run(loop, go())


def test_roster_set_and_push(srv, loop):
    async def go():
        alice = await Client("alice@acme.test/a1").start(srv.port("xmpp"),
                                                           presence=False)
        alice2 = await Client("alice@acme.test/a2").start(srv.port("xmpp"),
                                                            presence=False)
        await alice.update_roster("carol@acme.test", name="Carol C",
                                  groups=["Friends"])
        # the push reaches both interested resources
        r = await alice2.push_for("carol@acme.test")
        assert r["name"] == "Carol C"
        assert set(r["groups"]) == {"Friends", "acme"}
        assert r["subscription"] == "both"
        # an outsider added by hand has no subscription until approved
        await alice.update_roster("erin@other.test", name="Erin")
        r = await alice2.push_for("erin@other.test")
        assert r["subscription"] == "none" and r["name"] == "Erin"
        assert (await alice.fetch_roster())["carol@acme.test"]["name"] == "Carol C"
        # removed again
        await alice.del_roster_item("erin@other.test")
        r = await alice2.push_for("erin@other.test")
        assert r["subscription"] == "remove"
        assert "erin@other.test" not in await alice.fetch_roster()
        await alice.stop()
        await alice2.stop()
    run(loop, go())


def test_subscription_across_post_offices(srv, loop):
    async def go():
        alice = await Client("alice@acme.test/s").start(srv.port("xmpp"))
        dave = await Client("dave@other.test/s").start(srv.port("xmpp"))
        # no presence crosses post offices without a subscription
        assert "alice@acme.test" not in dave.ritems
        alice.send_presence_subscription(pto="dave@other.test",
                                         ptype="subscribe")
        frm = await dave.wait_presence("subscribe", "alice@acme.test")
        assert frm == "alice@acme.test"
        dave.send_presence_subscription(pto="alice@acme.test",
                                        ptype="subscribed")
        await alice.wait_presence("subscribed", "dave@other.test")
        # dave's presence now reaches alice (RFC 6121 3.1.5)
        await alice.wait_presence("available", "dave@other.test/s")
        assert (await alice.fetch_roster())["dave@other.test"]["subscription"] == \
            "to"
        assert (await dave.fetch_roster())["alice@acme.test"]["subscription"] == \
            "from"
        # alice goes away and back: dave is not told (he has only 'from')
        # but alice sees dave again by the probe at her initial presence
        await alice.stop()
        alice = await Client("alice@acme.test/s2").start(srv.port("xmpp"))
        await alice.wait_presence("available", "dave@other.test/s")
        # dave cancels: alice's subscription is gone
        dave.send_presence_subscription(pto="alice@acme.test",
                                        ptype="unsubscribed")
        await alice.wait_presence("unsubscribed", "dave@other.test")
        assert (await alice.fetch_roster())["dave@other.test"]["subscription"] == \
            "none"
        await alice.stop()
        await dave.stop()
    run(loop, go())


def test_offline_messages(srv, loop):
    async def go():
        dave = await Client("dave@other.test/o").start(srv.port("xmpp"))
        for i in range(3):
            dave.send_message(mto="erin@other.test", mbody=f"offline {i}",
                              mtype="chat")
        # a ping round trip: the messages were handled before it
        await dave["xep_0199"].ping(jid="other.test", timeout=T)
        erin = Client("erin@other.test/o")
        await erin.start(srv.port("xmpp"))
        got = []
        for i in range(3):
            m = await erin.wait_message(f"offline {i}")
            got.append(m)
            assert str(m["from"]) == "dave@other.test/o"
            # XEP-0203: when the server took it
            assert m.xml.find("{urn:xmpp:delay}delay").get("stamp")
        await erin.stop()
        # delivered once: a second login finds none
        erin = await Client("erin@other.test/o2").start(srv.port("xmpp"))
        await erin["xep_0199"].ping(jid="other.test", timeout=T)
        assert erin.inbox.empty()
        await erin.stop()
        await dave.stop()
    run(loop, go())


def test_disco_and_ping(srv, loop):
    async def go():
        c = await Client("carol@acme.test/d").start(srv.port("xmpp"))
        info = await c["xep_0030"].get_info(jid="acme.test", timeout=T)
        feats = info["disco_info"]["features"]
        assert "urn:xmpp:ping" in feats and "jabber:iq:roster" in feats
        ids = info["disco_info"]["identities"]
        assert any(i[0] == "server" and i[1] == "im" for i in ids)
        rtt = await c["xep_0199"].ping(jid="acme.test", timeout=T)
        assert rtt >= 0
        await c.stop()
    run(loop, go())

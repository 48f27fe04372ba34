"""Entity capabilities (XEP-0115) and PEP (XEP-0163) in xmppd: slixmpp
clients publish avatars (XEP-0084) and get the notifications their caps
ask for (+notify), verified by the server's own disco#info query; the
last item on login; access models (presence, whitelist for bookmarks
XEP-0402); the pubsub errors of bad requests; the vCard avatar hash in
presence (XEP-0153). Raw sockets where the bytes matter."""
import asyncio
import base64
import hashlib
import re

import pytest

from xmpp_util import Raw, srv  # noqa: F401 (srv: the fixture)

slixmpp = pytest.importorskip(
    "slixmpp", reason="python3-slixmpp missing (scripts/install-deps.sh)")

from test_xmpp_im import Client, loop, run  # noqa: E402,F401

T = 30
PUBSUB = "http://jabber.org/protocol/pubsub"
META = "urn:xmpp:avatar:metadata"


class PepClient(Client):
    """a slixmpp client with caps and avatars: its caps say +notify for
    the avatar metadata node"""

    def __init__(self, jid, avatars=True):
        super().__init__(jid)
        self.register_plugin("xep_0115")
        self.register_plugin("xep_0163")
        self.register_plugin("xep_0060")
        self.events = asyncio.Queue()
        if avatars:
            self.register_plugin("xep_0084")
            self.add_event_handler(
                "avatar_metadata_publish",
                lambda m: self.events.put_nowait(
                    (str(m["from"]), m["pubsub_event"]["items"]["item"]["id"])))

    async def event_from(self, jid, item_id):
        while True:
            frm, iid = await asyncio.wait_for(self.events.get(), T)
            if frm == jid and iid == item_id:
                return


def online(srv, user, domain, resource, presence="<presence/>"):
    c = Raw(srv.port("xmpp"))
    c.login(user, domain, resource=resource)
    if presence:
        c.send(presence)
        c.expect(rf"<presence[^>]*from='{user}@{domain}/{resource}'")
    return c


def ping(c, tag):
    c.send(f"<iq type='get' id='{tag}'><ping xmlns='urn:xmpp:ping'/></iq>")
    c.expect(f"id='{tag}'")


def test_avatar_notifications_follow_caps(srv, loop):
    """a publish reaches the sessions whose verified caps ask for the
    node, including the publisher's other resources; one without +notify
    gets nothing; a session that logs in later gets the last item"""
    carol = online(srv, "carol", "acme.test", "nonotify")

    async def go():
        port = srv.port("xmpp")
        alice = await PepClient("alice@acme.test/pep").start(port)
        alice2 = await PepClient("alice@acme.test/pep2").start(port)
        bob = await PepClient("bob@acme.test/pep").start(port)
        # the server learns each client's caps by asking it (disco#info
        # to the full JID) before it sends anything
        for c in (alice, alice2, bob):
            await c["xep_0199"].ping(jid="acme.test", timeout=T)
        await asyncio.sleep(0)
        data = b"\x89PNG fake avatar bytes"
        sha = hashlib.sha1(data).hexdigest()
        await alice["xep_0084"].publish_avatar(data, timeout=T)
        info = {"id": sha, "type": "image/png", "bytes": len(data)}
        # bob may still be verifying caps: publish until he sees it
        await alice["xep_0084"].publish_avatar_metadata([info], timeout=T)
        await bob.event_from("alice@acme.test", sha)
        await alice2.event_from("alice@acme.test", sha)
        # the data node is readable by those who see alice's presence
        items = await bob["xep_0060"].get_items(
            "alice@acme.test", "urn:xmpp:avatar:data", timeout=T)
        got = items["pubsub"]["items"]["substanzas"][0]
        assert got["avatar_data"]["value"] == data     # decoded
        # a later login of bob gets the last metadata item
        bob2 = PepClient("bob@acme.test/late")
        await bob2.start(port)
        await bob2.event_from("alice@acme.test", sha)
        for c in (alice, alice2, bob, bob2):
            await c.stop()

    run(loop, go(), timeout=120)
    # carol's presence had no caps: no notification ever reached her
    ping(carol, "c-pep")
    assert b"pubsub#event" not in carol.all
    carol.close()


def caps_hash(identity, features):
    s = identity + "<" + "".join(f + "<" for f in sorted(features))
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


def caps_client(srv, user, resource, features, ver):
    """a raw client whose presence carries caps ver; it answers the
    server's disco#info query with features; returns it once answered"""
    c = online(srv, user, "acme.test", resource, presence=(
        "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
        f"node='urn:test' ver='{ver}'/></presence>"))
    m = c.expect(r"<iq [^>]*type='get'[^>]*>\s*<query xmlns='http://jabber"
                 r"\.org/protocol/disco#info' node='urn:test#([^']+)'/>")
    assert m.group(1) == ver
    qid = re.search(r"id='([^']+)'", m.group(0)).group(1)
    feats = "".join(f"<feature var='{f}'/>" for f in features)
    c.send(f"<iq type='result' id='{qid}' to='acme.test'><query xmlns="
           f"'http://jabber.org/protocol/disco#info' node='urn:test#{ver}'>"
           f"<identity category='client' type='pc'/>{feats}</query></iq>")
    return c


def test_caps_hash_is_verified_and_pep_errors(srv):
    feats = ["http://jabber.org/protocol/disco#info", "urn:test:node+notify"]
    good = caps_hash("client/pc//", feats)
    # a hash the features do not give: the server uses none of them
    liar = caps_client(srv, "carol", "liar", feats, "bm90IHRoZSBoYXNo")
    honest = caps_client(srv, "carol", "honest", feats, good)
    ping(honest, "h0")
    a = online(srv, "alice", "acme.test", "raw")
    a.send(f"<iq type='set' id='p1'><pubsub xmlns='{PUBSUB}'><publish "
           "node='urn:test:node'><item id='i1'><x xmlns='urn:test:p'>one</x>"
           "</item></publish></pubsub></iq>")
    a.expect(r"id='p1'.*?<item id='i1'/>")
    honest.expect(r"<message from='alice@acme.test'[^>]*type='headline'.*?"
                  r"<items node='urn:test:node'><item id='i1'>"
                  r"<x xmlns='urn:test:p'>one</x>")
    ping(liar, "l0")
    assert b"urn:test:node'" not in liar.all.split(b"urn:test#")[-1]

    # errors (XEP-0060 with pubsub#errors conditions)
    cases = [
        (f"<pubsub xmlns='{PUBSUB}'><publish><item><x xmlns='urn:t'/>"
         "</item></publish></pubsub>", "bad-request", "nodeid-required"),
        (f"<pubsub xmlns='{PUBSUB}'><publish node='n'><item/></publish>"
         "</pubsub>", "bad-request", "invalid-payload"),
        (f"<pubsub xmlns='{PUBSUB}'><subscribe node='n' jid='alice@acme."
         "test'/></pubsub>", "feature-not-implemented", "unsupported"),
    ]
    for i, (body, cond, app) in enumerate(cases):
        a.send(f"<iq type='set' id='e{i}'>{body}</iq>")
        m = a.expect(rf"<iq [^>]*id='e{i}'.*?</iq>").group(0)
        assert "type='error'" in m and f"<{cond} " in m, m
        assert f"<{app} xmlns='{PUBSUB}#errors'/>" in m, m
    b = online(srv, "bob", "acme.test", "raw")
    # nobody publishes to another's account; a missing node is not found
    b.send(f"<iq type='set' id='f1' to='alice@acme.test'><pubsub xmlns="
           f"'{PUBSUB}'><publish node='x'><item><y xmlns='urn:t'/></item>"
           "</publish></pubsub></iq>")
    b.expect(r"id='f1'.*?<forbidden ")
    b.send(f"<iq type='get' id='f2' to='alice@acme.test'><pubsub xmlns="
           f"'{PUBSUB}'><items node='nothing-here'/></pubsub></iq>")
    b.expect(r"id='f2'.*?<item-not-found ")
    # another post office does not see alice's presence: not authorized
    d = online(srv, "dave", "other.test", "raw", presence=None)
    d.send(f"<iq type='get' id='f3' to='alice@acme.test'><pubsub xmlns="
           f"'{PUBSUB}'><items node='urn:test:node'/></pubsub></iq>")
    m = d.expect(r"id='f3'.*?</iq>").group(0)
    assert "<not-authorized " in m and "presence-subscription-required" in m
    # retract with notify
    a.send(f"<iq type='set' id='r1'><pubsub xmlns='{PUBSUB}'><retract "
           "node='urn:test:node' notify='true'><item id='i1'/></retract>"
           "</pubsub></iq>")
    a.expect(r"<iq [^>]*id='r1'")
    honest.expect(r"<items node='urn:test:node'><retract id='i1'/>")
    a.send(f"<iq type='set' id='r2'><pubsub xmlns='{PUBSUB}'><retract "
           "node='urn:test:node'><item id='i1'/></retract></pubsub></iq>")
    a.expect(r"id='r2'.*?<item-not-found ")
    for c in (liar, honest, a, b, d):
        c.close()


BOOKMARK_OPTS = (
    "<publish-options><x xmlns='jabber:x:data' type='submit'>"
    "<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/"
    "pubsub#publish-options</value></field>"
    "<field var='pubsub#persist_items'><value>true</value></field>"
    "<field var='pubsub#max_items'><value>max</value></field>"
    "<field var='pubsub#access_model'><value>{}</value></field>"
    "</x></publish-options>")


def test_bookmarks_are_private(srv):
    """XEP-0402: bookmarks are items of a whitelist node with max_items
    'max': every room kept, only the owner reads them"""
    e = online(srv, "erin", "other.test", "bm")
    for room in ("one", "two"):
        e.send(f"<iq type='set' id='b-{room}'><pubsub xmlns='{PUBSUB}'>"
               f"<publish node='urn:xmpp:bookmarks:1'><item id='{room}@"
               "conference.other.test'><conference xmlns='urn:xmpp:"
               f"bookmarks:1' name='{room}' autojoin='true'><nick>erin"
               "</nick></conference></item></publish>"
               + BOOKMARK_OPTS.format("whitelist") + "</pubsub></iq>")
        e.expect(rf"<iq [^>]*id='b-{room}'[^>]*type='result'|"
                 rf"<iq type='result' id='b-{room}'")
    e.send(f"<iq type='get' id='b-get'><pubsub xmlns='{PUBSUB}'><items "
           "node='urn:xmpp:bookmarks:1'/></pubsub></iq>")
    m = e.expect(r"id='b-get'.*?</iq>").group(0)
    assert "one@conference.other.test" in m and "two@conference" in m, m
    # other options than the node's: precondition-not-met
    e.send(f"<iq type='set' id='b-bad'><pubsub xmlns='{PUBSUB}'>"
           "<publish node='urn:xmpp:bookmarks:1'><item id='x'><conference "
           "xmlns='urn:xmpp:bookmarks:1'/></item></publish>"
           + BOOKMARK_OPTS.format("open") + "</pubsub></iq>")
    m = e.expect(r"id='b-bad'.*?</iq>").group(0)
    assert "<conflict " in m and "precondition-not-met" in m, m
    # dave (a colleague: he sees erin's presence) still may not read them
    d = online(srv, "dave", "other.test", "bm", presence=None)
    d.send(f"<iq type='get' id='b-d' to='erin@other.test'><pubsub xmlns="
           f"'{PUBSUB}'><items node='urn:xmpp:bookmarks:1'/></pubsub></iq>")
    m = d.expect(r"id='b-d'.*?</iq>").group(0)
    assert "<not-allowed " in m and "closed-node" in m, m
    # the account advertises PEP
    d.send("<iq type='get' id='di' to='erin@other.test'><query xmlns="
           "'http://jabber.org/protocol/disco#info'/></iq>")
    m = d.expect(r"id='di'.*?</iq>").group(0)
    assert "category='pubsub' type='pep'" in m
    assert f"{PUBSUB}#publish-options" in m
    e.close()
    d.close()


def test_vcard_photo_hash_in_presence(srv):
    """XEP-0153: once a vCard has a photo, the user's presences carry
    its SHA-1 for the others"""
    photo = b"GIF89a tiny picture"
    b64 = base64.b64encode(photo).decode()
    watcher = online(srv, "bob", "acme.test", "vc")
    a = online(srv, "alice", "acme.test", "vc", presence=None)
    a.send("<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Alice</FN>"
           f"<PHOTO><TYPE>image/gif</TYPE><BINVAL>{b64[:10]}\n{b64[10:]}"
           "</BINVAL></PHOTO></vCard></iq>")
    a.expect(r"id='v1'")
    a.send("<presence><show>away</show></presence>")
    m = watcher.expect(r"<presence[^>]*from='alice@acme.test/vc'.*?"
                       r"</presence>").group(0)
    want = hashlib.sha1(photo).hexdigest()
    assert f"<x xmlns='vcard-temp:x:update'><photo>{want}</photo></x>" in m
    a.close()
    watcher.close()

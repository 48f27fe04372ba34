"""xmppd's extensions over raw sockets: message carbons (XEP-0280),
blocking (XEP-0191), client state indication (XEP-0352), stream
management with resumption (XEP-0198), vCard (XEP-0054) and the message
archive with RSM paging (XEP-0313, XEP-0059)."""
import os
import re
import signal
import time

import pytest

from xmpp_util import Raw, srv  # noqa: F401 (srv: the fixture)


def online(srv, user, domain, resource, presence=True):
    c = Raw(srv.port("xmpp"))
    c.login(user, domain, resource=resource)
    if presence:
        c.send("<presence/>")
        c.expect(rf"<presence[^>]*from='{user}@{domain}/{resource}'")
    return c


def ping(c, tag):
    """a round trip: everything sent before it was handled"""
    c.send(f"<iq type='get' id='{tag}'><ping xmlns='urn:xmpp:ping'/></iq>")
    c.expect(f"id='{tag}'")


def test_carbons(srv):
    a1 = online(srv, "alice", "acme.test", "c1")
    a2 = online(srv, "alice", "acme.test", "c2")
    b = online(srv, "bob", "acme.test", "c")
    a2.send("<iq type='set' id='cb'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
    a2.expect("id='cb'")
    b.send("<iq type='set' id='cb'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
    b.expect("id='cb'")
    # alice/c1 sends: her other resource gets a <sent/> copy
    a1.send("<message to='bob@acme.test/c' type='chat' id='s1'>"
            "<body>one</body></message>")
    m = a2.expect(r"<message [^>]*>.*?</message></forwarded></sent>"
                  r"</message>").group(0)
    assert "<sent xmlns='urn:xmpp:carbons:2'>" in m
    assert "from='alice@acme.test'" in m and "<body>one</body>" in m
    assert "from='alice@acme.test/c1'" in m
    b.expect("<body>one</body>")
    # bob answers to alice/c1's full JID: alice/c2 gets a <received/> copy
    b.send("<message to='alice@acme.test/c1' type='chat'><body>two</body>"
           "</message>")
    a1.expect("<body>two</body>")
    m = a2.expect(r"<received xmlns='urn:xmpp:carbons:2'>.*?</received>")
    assert "<body>two</body>" in m.group(0)
    # a private message is not copied
    a1.send("<message to='bob@acme.test/c' type='chat'><body>three</body>"
            "<private xmlns='urn:xmpp:carbons:2'/></message>")
    b.expect("<body>three</body>")
    ping(a2, "p-carbons")
    assert "three" not in a2.data.decode()
    # disabled: no more copies
    a2.send("<iq type='set' id='cd'><disable xmlns='urn:xmpp:carbons:2'/>"
            "</iq>")
    a2.expect("id='cd'")
    a1.send("<message to='bob@acme.test/c' type='chat'><body>four</body>"
            "</message>")
    b.expect("<body>four</body>")
    ping(a2, "p-carbons2")
    assert "four" not in a2.data.decode()
    for c in (a1, a2, b):
        c.close()


def test_blocking(srv):
    c = online(srv, "carol", "acme.test", "blk")
    d = online(srv, "dave", "other.test", "blk")
    c2 = Raw(srv.port("xmpp"))
    c2.login("carol", "acme.test", resource="second")
    c2.send("<iq type='get' id='bl0'><blocklist xmlns='urn:xmpp:blocking'/>"
            "</iq>")
    c2.expect(r"id='bl0'[^>]*>\s*<blocklist xmlns='urn:xmpp:blocking'/>|"
              r"<blocklist xmlns='urn:xmpp:blocking'/></iq>")
    # dave can write to carol before the block
    d.send("<message to='carol@acme.test' type='chat'><body>before</body>"
           "</message>")
    c.expect("<body>before</body>")
    c.send("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'>"
           "<item jid='dave@other.test'/></block></iq>")
    c.expect("id='b1'")
    # the push reaches the resource that asked for the list
    c2.expect(r"<block xmlns='urn:xmpp:blocking'><item jid='dave@other.test'"
              r"/></block>")
    # dave's messages are refused, carol's to dave too
    d.send("<message to='carol@acme.test' type='chat' id='x1'><body>after"
           "</body></message>")
    d.expect(r"id='x1'.*?<service-unavailable ")
    c.send("<message to='dave@other.test' type='chat' id='x2'><body>to dave"
           "</body></message>")
    m = c.expect(r"id='x2'.*?</message>").group(0)
    assert "<not-acceptable " in m and "urn:xmpp:blocking:errors" in m
    ping(c, "p-blk")
    assert "after" not in c.data.decode()
    # the list holds dave; unblocking everything lets him through again
    c.send("<iq type='get' id='bl1'><blocklist xmlns='urn:xmpp:blocking'/>"
           "</iq>")
    c.expect(r"id='bl1'.*?<item jid='dave@other.test'/>")
    c.send("<iq type='set' id='u1'><unblock xmlns='urn:xmpp:blocking'/></iq>")
    c.expect("id='u1'")
    c2.expect(r"<unblock xmlns='urn:xmpp:blocking'/>")
    d.send("<message to='carol@acme.test' type='chat'><body>again</body>"
           "</message>")
    c.expect("<body>again</body>")
    for x in (c, c2, d):
        x.close()


def test_client_state_indication(srv):
    b = online(srv, "bob", "acme.test", "phone")
    b.send("<inactive xmlns='urn:xmpp:csi:0'/>")
    ping(b, "p-inactive")
    # presences wait while bob is inactive; the latest of each counts
    a = online(srv, "alice", "acme.test", "csi")
    a.send("<presence><show>away</show></presence>")
    a.send("<presence><show>dnd</show></presence>")
    ping(a, "p-a")
    ping(b, "p-b")
    assert "alice@acme.test/csi" not in b.data.decode()
    # a message is not held: it comes at once, the presences before it
    a.send("<message to='bob@acme.test/phone' type='chat'><body>urgent"
           "</body></message>")
    m = b.expect(r"<presence[^>]*from='alice@acme.test/csi'.*?<body>urgent"
                 r"</body>").group(0)
    assert "<show>dnd</show>" in m and "<show>away</show>" not in m
    a.send("<presence><show>xa</show></presence>")
    ping(a, "p-a2")
    ping(b, "p-b2")
    assert "<show>xa</show>" not in b.data.decode()
    b.send("<active xmlns='urn:xmpp:csi:0'/>")
    b.expect("<show>xa</show>")
    a.close()
    b.close()


def sasl_only(srv, user, domain):
    """a new stream, logged in, not bound (to resume)"""
    import base64
    from xmpp_util import PW, header
    c = Raw(srv.port("xmpp"))
    c.send(header(domain))
    c.expect("</stream:features>")
    cred = base64.b64encode(f"\0{user}\0{PW[user]}".encode()).decode()
    c.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
           f"mechanism='PLAIN'>{cred}</auth>")
    c.expect("<success ")
    c.send(header(domain))
    f = c.expect(r"<stream:features>.*?</stream:features>").group(0)
    assert "<sm xmlns='urn:xmpp:sm:3'/>" in f
    return c


def test_stream_management_resumption(srv):
    a = online(srv, "alice", "acme.test", "sm")
    a.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
    smid = a.expect(r"<enabled xmlns='urn:xmpp:sm:3' id='([0-9a-f]+)' "
                    r"resume='true' max='300'/>").group(1)
    b = online(srv, "bob", "acme.test", "sm")
    b.send("<message to='alice@acme.test/sm' type='chat'><body>m1</body>"
           "</message>")
    a.expect("<body>m1</body>")
    # acks: alice has handled two stanzas of hers since enabling
    ping(a, "p-sm1")
    a.send("<presence><show>chat</show></presence>")
    a.send("<r xmlns='urn:xmpp:sm:3'/>")
    a.expect(r"<a xmlns='urn:xmpp:sm:3' h='2'/>")
    # she acknowledges what she received since <enabled/> (m1 with it)
    ping(a, "p-sm2")
    text = a.all.decode()
    after = text[text.index("<enabled "):]
    h = len(re.findall(r"<(?:message|presence|iq)[ >/]", after))
    a.send(f"<a xmlns='urn:xmpp:sm:3' h='{h}'/>")
    ping(a, "p-sm3")
    # the connection drops without a word: the session waits
    a.sock.close()
    for i in (2, 3):
        b.send(f"<message to='alice@acme.test/sm' type='chat' id='q{i}'>"
               f"<body>m{i}</body></message>")
    ping(b, "p-b-sm")
    assert "error" not in b.data.decode(), b.data
    # a wrong id fails; the right one resumes and resends what was not
    # acknowledged (the last ping result, m2, m3)
    c = sasl_only(srv, "alice", "acme.test")
    c.send("<resume xmlns='urn:xmpp:sm:3' previd='0000' h='0'/>")
    c.expect(r"<failed xmlns='urn:xmpp:sm:3'><item-not-found ")
    c.send(f"<resume xmlns='urn:xmpp:sm:3' previd='{smid}' h='{h}'/>")
    c.expect(rf"<resumed xmlns='urn:xmpp:sm:3' previd='{smid}' h='\d+'/>")
    got = c.expect(r".*?<body>m3</body>").group(0)
    assert "<body>m2</body>" in got and "<body>m1</body>" not in got
    # the resumed session is the old one: same JID, still reachable
    b.send("<message to='alice@acme.test/sm' type='chat'><body>m4</body>"
           "</message>")
    c.expect("<body>m4</body>")
    c.send("<iq type='get' id='p-c'><ping xmlns='urn:xmpp:ping'/></iq>")
    c.expect("id='p-c'")
    c.close()
    b.close()


def test_stream_management_unacked_kept(srv):
    """a stream that ends with messages the client never acknowledged:
    they are delivered at the next login, not lost"""
    a = online(srv, "carol", "acme.test", "sm2")
    a.send("<enable xmlns='urn:xmpp:sm:3'/>")
    a.expect(r"<enabled xmlns='urn:xmpp:sm:3'/>")
    b = online(srv, "bob", "acme.test", "sm2")
    b.send("<message to='carol@acme.test/sm2' type='chat'><body>unacked"
           "</body></message>")
    a.expect("<body>unacked</body>")
    # an ack for more than was sent is refused
    a.send("<a xmlns='urn:xmpp:sm:3' h='999'/>")
    a.stream_error("undefined-condition")
    ping(b, "p-b-sm2")
    c = online(srv, "carol", "acme.test", "sm3")
    c.expect("<body>unacked</body>")
    c.close()
    b.close()


def test_vcard(srv):
    e = online(srv, "erin", "other.test", "vc", presence=False)
    e.send("<iq type='get' id='v0'><vCard xmlns='vcard-temp'/></iq>")
    e.expect(r"id='v0'[^>]*>\s*<vCard xmlns='vcard-temp'/>")
    e.send("<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Erin "
           "&amp; Co</FN><NICKNAME>erin</NICKNAME></vCard></iq>")
    e.expect(r"<iq [^>]*id='v1'|<iq type='result' id='v1'")
    d = online(srv, "dave", "other.test", "vc", presence=False)
    d.send("<iq type='get' id='v2' to='erin@other.test'>"
           "<vCard xmlns='vcard-temp'/></iq>")
    m = d.expect(r"id='v2'.*?</iq>").group(0)
    assert "<FN>Erin &amp; Co</FN>" in m and "from='erin@other.test'" in m
    # nobody sets another's vCard
    d.send("<iq type='set' id='v3' to='erin@other.test'>"
           "<vCard xmlns='vcard-temp'><FN>x</FN></vCard></iq>")
    d.expect(r"id='v3'.*?<forbidden ")
    e.close()
    d.close()


WITH = ("<x xmlns='jabber:x:data' type='submit'><field var='with'>"
        "<value>{}</value></field></x>")


def test_message_archive_paging(srv):
    d = online(srv, "dave", "other.test", "mam")
    e = online(srv, "erin", "other.test", "mam")
    for i in range(7):
        d.send(f"<message to='erin@other.test' type='chat' id='a{i}'>"
               f"<body>archived {i}</body></message>")
        e.expect(f"<body>archived {i}</body>")
    # the delivered copy carries its archive id (XEP-0359)
    assert re.search(r"<stanza-id xmlns='urn:xmpp:sid:0' "
                     r"by='erin@other.test' id='\d+'/>", e.all.decode())
    e.send("<iq type='set' id='m0'><query xmlns='urn:xmpp:mam:2' "
           "queryid='q0'><x xmlns='jabber:x:data' type='submit'>"
           "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2"
           "</value></field><field var='with'><value>dave@other.test"
           "</value></field></x><set xmlns='http://jabber.org/protocol/rsm'>"
           "<max>3</max></set></query></iq>")
    page = e.expect(r".*?<iq [^>]*id='m0'.*?</iq>").group(0)
    bodies = re.findall(r"<body>archived (\d)</body>", page)
    assert bodies == ["0", "1", "2"], page
    assert "queryid='q0'" in page and "complete='true'" not in page
    assert "<count>7</count>" in page
    last = re.search(r"<last>(\d+)</last>", page).group(1)
    # the next page after the last id, then the last page (<before/>)
    e.send("<iq type='set' id='m1'><query xmlns='urn:xmpp:mam:2'>"
           + WITH.format("dave@other.test") + "<set xmlns='http://jabber.org/protocol/rsm'><max>10</max>"
           f"<after>{last}</after></set></query></iq>")
    page = e.expect(r".*?<iq [^>]*id='m1'.*?</iq>").group(0)
    assert re.findall(r"<body>archived (\d)</body>", page) == \
        ["3", "4", "5", "6"]
    assert "complete='true'" in page
    e.send("<iq type='set' id='m2'><query xmlns='urn:xmpp:mam:2'>"
           + WITH.format("dave@other.test") + "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max>"
           "<before/></set></query></iq>")
    page = e.expect(r".*?<iq [^>]*id='m2'.*?</iq>").group(0)
    assert re.findall(r"<body>archived (\d)</body>", page) == ["5", "6"]
    # the sender has them too; a malformed filter is refused
    d.send("<iq type='set' id='m3'><query xmlns='urn:xmpp:mam:2'>"
           "<x xmlns='jabber:x:data' type='submit'><field var='start'>"
           "<value>yesterday</value></field></x></query></iq>")
    d.expect(r"id='m3'.*?<bad-request ")
    d.send("<iq type='set' id='m4'><query xmlns='urn:xmpp:mam:2'>"
           + WITH.format("erin@other.test") + "<set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set>"
           "</query></iq>")
    d.expect(r"id='m4'.*?<count>7</count>")
    d.close()
    e.close()


def test_muc_rooms(srv):
    room = "team@conference.acme.test"
    a = online(srv, "alice", "acme.test", "muc")
    a.send("<iq type='get' id='di' to='acme.test'><query xmlns="
           "'http://jabber.org/protocol/disco#items'/></iq>")
    a.expect(r"id='di'.*?<item jid='conference.acme.test'")
    a.send(f"<presence to='{room}/Al'><x xmlns='http://jabber.org/protocol/"
           "muc'/></presence>")
    m = a.expect(r"<presence [^>]*from='team@conference.acme.test/Al'.*?"
                 r"</presence>").group(0)
    assert "code='110'" in m and "code='201'" in m and "role='moderator'" in m
    a.expect(r"<message [^>]*type='groupchat'[^>]*><subject")
    a.send(f"<message to='{room}' type='groupchat'><body>first</body>"
           "</message>")
    a.expect(r"from='team@conference.acme.test/Al'.*?<body>first</body>")
    # bob joins: he sees alice, then himself; alice sees him; history
    b = online(srv, "bob", "acme.test", "muc")
    b.send(f"<presence to='{room}/Bob'/>")
    got = b.expect(r".*?<subject").group(0)
    assert got.index("/Al'") < got.index("code='110'")
    assert "<body>first</body>" in got and "urn:xmpp:delay" in got
    a.expect(r"from='team@conference.acme.test/Bob'")
    # a nickname in use; a user of another post office
    c = online(srv, "carol", "acme.test", "muc")
    c.send(f"<presence to='{room}/Bob'/>")
    c.expect(r"<presence [^>]*type='error'.*?<conflict ")
    d = online(srv, "dave", "other.test", "muc")
    d.send(f"<presence to='{room}/Dave'/>")
    d.expect(r"type='error'.*?<registration-required ")
    d.send(f"<message to='{room}' type='groupchat'><body>x</body></message>")
    d.expect(r"type='error'.*?<not-acceptable ")
    # a message reaches every occupant; a private one only its addressee
    b.send(f"<message to='{room}' type='groupchat'><body>hello all</body>"
           "</message>")
    a.expect(r"from='team@conference.acme.test/Bob'[^>]*>.*?hello all")
    b.expect(r"hello all")
    b.send(f"<message to='{room}/Al' type='chat'><body>psst</body></message>")
    a.expect(r"from='team@conference.acme.test/Bob'[^>]*>.*?psst")
    # only the owner sets the subject
    b.send(f"<message to='{room}' type='groupchat'><subject>mine</subject>"
           "</message>")
    b.expect(r"type='error'.*?<forbidden ")
    # bob's stream ends: alice sees him leave
    b.send("</stream:stream>")
    a.expect(r"<presence [^>]*from='team@conference.acme.test/Bob'[^>]*"
             r"type='unavailable'|<presence type='unavailable' [^>]*"
             r"from='team@conference.acme.test/Bob'")
    for x in (a, c, d):
        x.close()


def test_acked_messages_survive_a_crash(srv):
    """the chat store writes in one transaction per loop turn (batched);
    what an XEP-0198 <a/> counts is on disk first: xmppd killed right
    after the ack loses neither the offline message nor its archive row"""
    srv.cli("mailbox", "add", "frank@acme", "--password", "Chat-secret-6")
    a = online(srv, "alice", "acme.test", "crash")
    a.send("<enable xmlns='urn:xmpp:sm:3'/>")
    a.expect(r"<enabled xmlns='urn:xmpp:sm:3'/>")
    for i in range(5):
        a.send(f"<message to='frank@acme.test' type='chat' id='k{i}'>"
               f"<body>kept {i}</body></message>")
    a.send("<r xmlns='urn:xmpp:sm:3'/>")
    a.expect(r"<a xmlns='urn:xmpp:sm:3' h='5'/>")
    old = next(s for s in srv.status()["services"]
               if s["name"] == "xmppd")["pid"]
    os.kill(old, signal.SIGKILL)
    a.closed()
    deadline = time.time() + 60
    while True:
        st = srv.status()
        x = next(s for s in st["services"] if s["name"] == "xmppd")
        if x["pid"] not in (0, old) and x["state"] == "running":
            break
        assert time.time() < deadline, x
        time.sleep(0.2)
    srv.wait_running(["xmppd"])
    f = Raw(srv.port("xmpp"))
    for _ in range(100):        # the new xmppd may still be binding
        try:
            f.login("frank", "acme.test", password="Chat-secret-6",
                    resource="back")
            break
        except (AssertionError, OSError):
            f.close()
            time.sleep(0.2)
            f = Raw(srv.port("xmpp"))
    f.send("<presence/>")
    got = f.expect(r".*<body>kept 4</body>").group(0)
    assert all(f"<body>kept {i}</body>" in got for i in range(5)), got
    assert "urn:xmpp:delay" in got
    f.send("<iq type='set' id='mk'><query xmlns='urn:xmpp:mam:2'>"
           + WITH.format("alice@acme.test") + "</query></iq>")
    page = f.expect(r".*?<iq [^>]*id='mk'.*?</iq>").group(0)
    assert len(re.findall(r"<body>kept \d</body>", page)) == 5, page
    f.close()

"""Persistent multi-user chat (XEP-0045) over raw sockets and slixmpp:
a room configured persistent and members-only survives a restart of
xmppd with its members, subject and history (from the room's archive);
mediated invitations make members; password rooms; bans and kicks
(muc#admin) with their status codes; the flood limit; destroy; direct
invitations (XEP-0249) pass between users."""
import re
import signal
import os
import time

from xmpp_util import Raw, srv  # noqa: F401 (srv: the fixture)

MUC = "http://jabber.org/protocol/muc"
CONF = "http://jabber.org/protocol/muc#roomconfig"


def online(srv, user, domain, resource, presence=True):
    c = Raw(srv.port("xmpp"))
    c.login(user, domain, resource=resource)
    if presence:
        c.send("<presence/>")
        c.expect(rf"<presence[^>]*from='{user}@{domain}/{resource}'")
    return c


def ping(c, tag):
    c.send(f"<iq type='get' id='{tag}'><ping xmlns='urn:xmpp:ping'/></iq>")
    c.expect(f"id='{tag}'")


def join(c, room, nick, extra=""):
    c.send(f"<presence to='{room}/{nick}'><x xmlns='{MUC}'>{extra}</x>"
           "</presence>")
    return c.expect(rf".*?<message [^>]*from='{room}'[^>]*><subject").group(0)


def configure(c, room, tag, **fields):
    vals = "".join(f"<field var='muc#roomconfig_{k}'><value>{v}</value>"
                   "</field>" for k, v in fields.items())
    c.send(f"<iq type='set' id='{tag}' to='{room}'><query xmlns='{MUC}#owner'>"
           f"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
           f"<value>{CONF}</value></field>{vals}</x></query></iq>")
    return c.expect(rf"<iq [^>]*id='{tag}'.*?(?:/>|</iq>)").group(0)


def restart_xmppd(srv):
    old = next(s for s in srv.status()["services"]
               if s["name"] == "xmppd")["pid"]
    os.kill(old, signal.SIGKILL)
    deadline = time.time() + 60
    while True:
        x = next(s for s in srv.status()["services"] if s["name"] == "xmppd")
        if x["pid"] not in (0, old) and x["state"] == "running":
            break
        assert time.time() < deadline, x
        time.sleep(0.2)
    srv.wait_running(["xmppd"])


def login_retry(srv, user, domain, resource):
    for _ in range(100):        # the new xmppd may still be binding
        try:
            return online(srv, user, domain, resource)
        except (AssertionError, OSError):
            time.sleep(0.2)
    raise AssertionError("xmppd did not come back")


def test_persistent_members_only_room_survives_restart(srv):
    room = "plans@conference.acme.test"
    a = online(srv, "alice", "acme.test", "p")
    got = join(a, room, "Al")
    assert "code='201'" in got
    # the owner's form, then persistent and members-only
    a.send(f"<iq type='get' id='cf' to='{room}'><query xmlns='{MUC}#owner'/>"
           "</iq>")
    form = a.expect(r"id='cf'.*?</iq>").group(0)
    assert "muc#roomconfig_persistentroom" in form
    assert "type='result'" in configure(a, room, "c1", persistentroom="1",
                                        membersonly="1", roomname="Plans")
    a.send(f"<message to='{room}' type='groupchat'><subject>Q1 plans"
           "</subject></message>")
    a.expect(r"<subject>Q1 plans</subject>")
    for i in range(3):
        a.send(f"<message to='{room}' type='groupchat'><body>before {i}"
               "</body></message>")
        a.expect(rf"<body>before {i}</body>")
    # carol is no member: refused; a mediated invitation makes bob one
    c = online(srv, "carol", "acme.test", "p")
    c.send(f"<presence to='{room}/Carol'/>")
    c.expect(r"type='error'.*?<registration-required ")
    b = online(srv, "bob", "acme.test", "p")
    a.send(f"<message to='{room}'><x xmlns='{MUC}#user'><invite to="
           "'bob@acme.test'><reason>join us</reason></invite></x></message>")
    inv = b.expect(rf"<message [^>]*from='{room}'.*?</message>").group(0)
    assert "<invite from='alice@acme.test/p'>" in inv and "join us" in inv
    a.send(f"<iq type='get' id='ml' to='{room}'><query xmlns='{MUC}#admin'>"
           "<item affiliation='member'/></query></iq>")
    assert "jid='bob@acme.test'" in a.expect(r"id='ml'.*?</iq>").group(0)
    for x in (a, b, c):
        x.close()

    restart_xmppd(srv)

    b = login_retry(srv, "bob", "acme.test", "after")
    b.send(f"<iq type='get' id='di' to='{room}'><query xmlns="
           "'http://jabber.org/protocol/disco#info'/></iq>")
    info = b.expect(r"id='di'.*?</iq>").group(0)
    assert "muc_persistent" in info and "muc_membersonly" in info
    assert "name='Plans'" in info
    got = join(b, room, "Bob")
    bodies = re.findall(r"<body>before (\d)</body>", got)
    assert bodies == ["0", "1", "2"], got
    assert "urn:xmpp:delay" in got
    b.expect(r"Q1 plans</subject>")
    assert "code='201'" not in got        # the same room, not a new one
    c = login_retry(srv, "carol", "acme.test", "after")
    c.send(f"<presence to='{room}/Carol'/>")
    c.expect(r"type='error'.*?<registration-required ")
    b.close()
    c.close()


def test_password_bans_kicks_and_destroy(srv):
    room = "locked@conference.acme.test"
    a = online(srv, "alice", "acme.test", "k")
    join(a, room, "Al")
    assert "type='result'" in configure(
        a, room, "c1", passwordprotectedroom="1", roomsecret="Room-pw-123")
    # a password room without a secret is refused
    other = "nopw@conference.acme.test"
    join(a, other, "Al")
    m = configure(a, other, "c2", passwordprotectedroom="1")
    assert "<not-acceptable " in m
    b = online(srv, "bob", "acme.test", "k")
    b.send(f"<presence to='{room}/Bob'/>")
    b.expect(r"type='error'.*?<not-authorized ")
    b.send(f"<presence to='{room}/Bob'><x xmlns='{MUC}'><password>wrong"
           "</password></x></presence>")
    b.expect(r"type='error'.*?<not-authorized ")
    join(b, room, "Bob", "<password>Room-pw-123</password>")
    c = online(srv, "carol", "acme.test", "k")
    join(c, room, "Carol", "<password>Room-pw-123</password>")
    # a participant may not kick; the owner kicks (307) and bans (301)
    b.send(f"<iq type='set' id='k0' to='{room}'><query xmlns='{MUC}#admin'>"
           "<item role='none' nick='Carol'/></query></iq>")
    b.expect(r"id='k0'.*?<forbidden ")
    a.send(f"<iq type='set' id='k1' to='{room}'><query xmlns='{MUC}#admin'>"
           "<item role='none' nick='Carol'/></query></iq>")
    m = c.expect(rf"<presence [^>]*from='{room}/Carol'.*?</presence>").group(0)
    assert "type='unavailable'" in m and "code='307'" in m
    a.expect(r"id='k1'")
    a.send(f"<iq type='set' id='k2' to='{room}'><query xmlns='{MUC}#admin'>"
           "<item affiliation='outcast' jid='bob@acme.test'/></query></iq>")
    m = b.expect(rf"<presence [^>]*from='{room}/Bob'.*?</presence>").group(0)
    assert "code='301'" in m and "affiliation='outcast'" in m
    b.send(f"<presence to='{room}/Bob'><x xmlns='{MUC}'><password>Room-pw-123"
           "</password></x></presence>")
    b.expect(r"type='error'.*?<forbidden ")
    # the only owner cannot step down; an unknown user is not found
    a.send(f"<iq type='set' id='k3' to='{room}'><query xmlns='{MUC}#admin'>"
           "<item affiliation='member' jid='alice@acme.test'/></query></iq>")
    a.expect(r"id='k3'.*?<conflict ")
    a.send(f"<iq type='set' id='k4' to='{room}'><query xmlns='{MUC}#admin'>"
           "<item affiliation='member' jid='nobody@acme.test'/></query></iq>")
    a.expect(r"id='k4'.*?<item-not-found ")
    # destroy: the occupants are told, the room is gone
    join(c, room, "Carol", "<password>Room-pw-123</password>")
    a.send(f"<iq type='set' id='d1' to='{room}'><query xmlns='{MUC}#owner'>"
           "<destroy/></query></iq>")
    m = c.expect(rf"<presence [^>]*from='{room}/Carol'.*?</presence>").group(0)
    assert "<destroy " in m
    a.expect(r"id='d1'")
    c.send(f"<iq type='get' id='gone' to='{room}'><query xmlns="
           "'http://jabber.org/protocol/disco#info'/></iq>")
    c.expect(r"id='gone'.*?<item-not-found ")
    for x in (a, b, c):
        x.close()


def test_flood_limit_and_direct_invite(srv):
    room = "busy@conference.acme.test"
    a = online(srv, "alice", "acme.test", "f")
    join(a, room, "Al")
    b = online(srv, "bob", "acme.test", "f")
    join(b, room, "Bob")
    n = 40
    b.send("".join(f"<message to='{room}' type='groupchat' id='fl{i}'>"
                   f"<body>flood {i}</body></message>" for i in range(n)))
    ping(b, "after-flood")
    errors = len(re.findall(r"type='error'[^>]*>.*?<policy-violation ",
                            b.all.decode()))
    assert errors > 0, "no message was refused"
    ping(a, "a-after")
    passed = len(re.findall(r"<body>flood \d+</body>", a.all.decode()))
    assert passed + errors == n and passed < n
    # the room still works for everyone else, and for bob once he slows
    a.send(f"<message to='{room}' type='groupchat'><body>calm</body>"
           "</message>")
    b.expect(r"<body>calm</body>")
    deadline = time.time() + 30
    for i in range(200):
        b.send(f"<message to='{room}' type='groupchat' id='lt{i}'><body>"
               "later</body></message>")
        ping(b, f"l{i}")
        if not re.search(rf"id='lt{i}'[^>]*type='error'|type='error'[^>]*"
                         rf"id='lt{i}'", b.all.decode()):
            break       # a token came back (2 a second)
        assert time.time() < deadline
        time.sleep(0.2)
    a.expect(r"<body>later</body>")
    # XEP-0249: a direct invitation is a message between users
    c = online(srv, "carol", "acme.test", "f")
    a.send("<message to='carol@acme.test'><x xmlns='jabber:x:conference' "
           f"jid='{room}' reason='come'/></message>")
    m = c.expect(r"<message [^>]*>.*?</message>").group(0)
    assert "jabber:x:conference" in m and f"jid='{room}'" in m
    for x in (a, b, c):
        x.close()

"""postern chat: sessions and live rooms from the running xmppd, rooms
made and destroyed by the administrator (xmppd applies them within a
second: a members-only room refuses a non-member and knows its owner;
destroy tells the occupants), the archive's size and pruning; bad
arguments get usage errors and exit codes."""
import time

from xmpp_util import Raw, srv  # noqa: F401 (srv: the fixture)

T = 30
MUC = "http://jabber.org/protocol/muc"


def until(fn, what, timeout=T):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.time() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


def sessions(srv):
    r = srv.cli("chat", "sessions", json_out=True, check=False)
    if not isinstance(r, list):
        # xmppd writes its state file within a second of starting
        assert "xmppd is not running" in r.stderr, r.stderr
        return {}
    return {s["jid"]: s for s in r}


def rooms(srv):
    return {r["jid"]: r for r in srv.cli("chat", "rooms", json_out=True)}


def test_sessions(srv):
    c = Raw(srv.port("xmpp"))
    jid = c.login("carol", "acme.test", resource="desk")
    s = until(lambda: sessions(srv).get(jid), "session")
    assert s["mailbox"] == "carol@acme" and s["address"] == "127.0.0.1"
    assert s["since"] > 0 and not s["available"]
    c.send("<presence/>")
    until(lambda: sessions(srv)[jid]["available"], "available session")
    table = srv.cli("chat", "sessions").stdout
    assert jid in table and "ADDRESS" in table
    c.close()
    until(lambda: jid not in sessions(srv), "session gone")


def test_room_create_and_destroy(srv):
    room = "lobby@conference.acme.test"
    srv.cli("chat", "room", "create", "Lobby@conference.acme.test",
            "--owner", "alice@acme", "--name", "The lobby", "--members-only")
    r = rooms(srv)[room]
    assert r["persistent"] and r["members_only"]
    assert r["owners"] == ["alice@acme"] and r["name"] == "The lobby"
    a = Raw(srv.port("xmpp"))
    a.login("alice", "acme.test", resource="r")
    b = Raw(srv.port("xmpp"))
    b.login("bob", "acme.test", resource="r")
    # xmppd takes the room within a second: poll its disco#info
    def known():
        a.send(f"<iq type='get' id='d' to='{room}'><query xmlns='http://"
               "jabber.org/protocol/disco#info'/></iq>")
        got = a.expect(r"<iq [^>]*id='d'.*?</iq>").group(0)
        return "muc_membersonly" in got and got
    assert "The lobby" in until(known, "room in xmppd")
    # a non-member is refused; the owner enters as owner
    b.send(f"<presence to='{room}/bob'><x xmlns='{MUC}'/></presence>")
    assert "<registration-required" in b.expect(
        r"<presence [^>]*type='error'.*?</presence>").group(0)
    a.send(f"<presence to='{room}/al'><x xmlns='{MUC}'/></presence>")
    got = a.expect(r"<presence [^>]*from='lobby@conference\.acme\.test/al'"
                   r".*?</presence>").group(0)
    assert "affiliation='owner'" in got
    until(lambda: rooms(srv)[room]["occupants"] == 1, "occupant counted")
    # the same room again, a foreign owner, malformed names
    r = srv.cli("chat", "room", "create", room, "--owner", "bob@acme",
                check=False)
    assert r.returncode == 4 and "exists" in r.stderr
    r = srv.cli("chat", "room", "create", "x@conference.acme.test",
                "--owner", "dave@other", check=False)
    assert r.returncode == 3 and "post office 'acme'" in r.stderr
    for bad in ("a b@conference.acme.test", "x@acme.test", "@conference.acme"
                ".test", "a<b@conference.acme.test"):
        r = srv.cli("chat", "room", "create", bad, "--owner", "alice@acme",
                    check=False)
        assert r.returncode == 2, (bad, r.stderr)
    r = srv.cli("chat", "room", "create", "x@conference.nowhere.test",
                "--owner", "alice@acme", check=False)
    assert r.returncode == 3
    # destroy: needs --yes without a terminal; the occupant is told
    r = srv.cli("chat", "room", "destroy", room, check=False)
    assert r.returncode == 2
    r = srv.cli("chat", "room", "destroy", "nope@conference.acme.test",
                "--yes", check=False)
    assert r.returncode == 3
    out = srv.cli("chat", "room", "destroy", room, "--yes", json_out=True)
    assert out["removed"] == "chat room" and out["name"] == room
    got = a.expect(r"<presence [^>]*type='unavailable'.*?</presence>",
                   timeout=T).group(0)
    assert "<destroy" in got
    assert room not in rooms(srv)
    # the session goes on
    a.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
    a.expect(r"id='p'")
    a.close()
    b.close()


def test_temporary_room_listed(srv):
    a = Raw(srv.port("xmpp"))
    a.login("alice", "acme.test", resource="t")
    room = "tmp@conference.acme.test"
    a.send(f"<presence to='{room}/al'><x xmlns='{MUC}'/></presence>")
    a.expect(r"status code='201'")
    r = until(lambda: rooms(srv).get(room), "temporary room")
    assert not r["persistent"] and r["occupants"] == 1
    a.close()
    until(lambda: room not in rooms(srv), "temporary room gone")


def test_archive_and_prune(srv):
    a = Raw(srv.port("xmpp"))
    a.login("alice", "acme.test", resource="m")
    a.send("<message to='bob@acme.test' type='chat' id='m1'><body>hello "
           "archive</body></message>")
    a.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
    a.expect(r"id='p'")
    st = until(lambda: (lambda s: s["messages"] > 0 and s)(
        srv.cli("chat", "archive", json_out=True)), "archived message")
    assert st["retention_days"] == 0 and st["oldest"]
    srv.cli("config", "set", "xmpp.archive_days", "30")
    assert "retention: 30 days" in srv.cli("chat", "archive").stdout
    srv.cli("config", "unset", "xmpp.archive_days")
    # prune: --yes needed, --days checked
    assert srv.cli("chat", "archive", "prune", "--days", "0",
                   check=False).returncode == 2
    assert srv.cli("chat", "archive", "prune", "--days", "-1", "--yes",
                   check=False).returncode == 2
    assert srv.cli("chat", "archive", "prune", "--days", "30", "--yes",
                   json_out=True)["messages"] == 0
    # --days 0: everything older than now (the clock must pass a second)
    def pruned():
        srv.cli("chat", "archive", "prune", "--days", "0", "--yes")
        return srv.cli("chat", "archive", json_out=True)["messages"] == 0
    until(pruned, "archive emptied")
    a.close()


def test_bad_usage(srv):
    # a verb command alone prints its help (exit 0), a wrong verb is 2
    assert "postern chat sessions" in srv.cli("chat").stdout
    assert srv.cli("chat", "frob", check=False).returncode == 2
    assert srv.cli("chat", "room", "create", "x@conference.acme.test",
                   check=False).returncode == 2
    assert srv.cli("chat", "--help").returncode == 0


def test_directory_changes_reach_routing(srv):
    """xmppd caches where a JID points; a mailbox added or disabled by
    the administrator is seen within a second or two (the config store's
    data_version), not after the cache's lifetime"""
    c = Raw(srv.port("xmpp"))
    c.login("alice", "acme.test", resource="route")

    def send(tag):
        c.send(f"<message to='newbie@acme.test' id='{tag}' type='chat'>"
               f"<body>{tag}</body></message>"
               f"<iq type='get' id='{tag}p'><ping xmlns='urn:xmpp:ping'/>"
               "</iq>")
        got = c.expect(rf"id='{tag}p'").string
        return f"id='{tag}'" in got and "service-unavailable" in got
    assert send("m0")            # no such user (and now cached)
    srv.cli("mailbox", "add", "newbie@acme", "--password", "Newbie-pw-77")
    t0 = time.time()
    n = 0
    while send(f"m{n + 1}"):
        n += 1
        assert time.time() - t0 < 10, "the new mailbox is not routed to"
        time.sleep(0.2)
    assert time.time() - t0 < 5
    srv.cli("mailbox", "set", "newbie@acme", "disabled=yes")
    t0 = time.time()
    while not send(f"d{n}"):
        n += 1
        assert time.time() - t0 < 10, "the disabled mailbox still gets chat"
        time.sleep(0.2)
    assert time.time() - t0 < 5
    c.close()

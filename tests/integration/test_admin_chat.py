"""Chat in the web admin API (issue 18 item 5): a post office's admin
makes and destroys persistent rooms (ChatRoom/get|set) and invites and
revokes external contacts (ChatGuest/get|set) over real HTTP, and the
running xmppd applies it within a second (a raw XMPP client sees the
room's features, the inviter's roster push and its removal); another
post office's admin neither sees nor changes them; bad input gets
notCreated/notDestroyed/notRevoked with a reason; a SYSADMIN sets the
retention and guest limits with Setting/set; the chat page in chromium."""
import os
import re
import shutil
import subprocess
import time

import pytest

from test_api import Client
from xmpp_util import Raw, xmpp_server

ACME_PW = "Postmaster-pw-1"
OTHER_PW = "Postmaster-pw-2"
ROOT_PW = "Root-Secret-7731"
T = 30


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = xmpp_server(tmp_path_factory, start=False)
    p.cli("postoffice", "add", "hq", "--password", "Hq-Secret-1234")
    p.cli("mailbox", "add", "root@hq", "--password", ROOT_PW, "--type",
          "SYSADMIN")
    p.start(services=["xmppd", "httpd", "mta"], timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def admin(srv, login, pw):
    c = Client(srv.port("http"))
    c.login(login, pw)
    return c


def until(fn, what, timeout=T):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.time() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


def test_rooms(srv):
    acme = admin(srv, "postmaster@acme", ACME_PW)
    other = admin(srv, "postmaster@other", OTHER_PW)
    room = "board@conference.acme.test"
    r = acme.call("ChatRoom/set", {"create": {"k1": {
        "jid": "Board@conference.acme.test", "owner": "alice@acme",
        "name": "The board", "membersOnly": True}}})[1]
    assert r["created"] == {"k1": {"id": "Board@conference.acme.test"}}, r
    got = {x["id"]: x for x in acme.call("ChatRoom/get", {})[1]["list"]}
    assert got[room]["owners"] == ["alice@acme"]
    assert got[room]["membersOnly"] and got[room]["name"] == "The board"
    assert got[room]["postOffice"] == "acme"
    # another post office's admin neither sees nor destroys it
    assert room not in {x["id"] for x in
                        other.call("ChatRoom/get", {})[1]["list"]}
    r = other.call("ChatRoom/set", {"destroy": [room]})[1]
    assert r["notDestroyed"][room]["type"] == "notFound"
    r = other.call("ChatRoom/get", {"postOffice": "acme"})
    assert r[0] == "error" and r[1]["type"] == "notFound"
    # xmppd has it within a second: members-only, its name
    c = Raw(srv.port("xmpp"))
    c.login("bob", "acme.test")

    def known():
        c.send(f"<iq type='get' id='d' to='{room}'><query xmlns='http://"
               "jabber.org/protocol/disco#info'/></iq>")
        got = c.expect(r"<iq [^>]*id='d'.*?</iq>").group(0)
        return "muc_membersonly" in got and got
    assert "The board" in until(known, "room in xmppd")
    # bad rooms: a foreign domain, an owner of another post office, the
    # same room again, a malformed JID, a name too long
    for v, prop in (({"jid": "x@conference.other.test", "owner": "alice@acme"},
                     "jid"),
                    ({"jid": "x@conference.acme.test", "owner": "dave@other"},
                     "owner"),
                    ({"jid": "x y@conference.acme.test",
                      "owner": "alice@acme"}, "jid"),
                    ({"jid": "x@acme.test", "owner": "alice@acme"}, "jid"),
                    ({"jid": "x@conference.acme.test", "owner": "alice@acme",
                      "name": "n" * 300}, "name")):
        r = acme.call("ChatRoom/set", {"create": {"k": v}})[1]
        assert r["notCreated"]["k"]["properties"] == [prop], (v, r)
    r = acme.call("ChatRoom/set", {"create": {"k": {
        "jid": room, "owner": "bob@acme"}}})[1]
    assert r["notCreated"]["k"]["type"] == "alreadyExists"
    # destroyed: gone from the store and from xmppd
    r = acme.call("ChatRoom/set", {"destroy": [room]})[1]
    assert r["destroyed"] == [room]
    assert acme.call("ChatRoom/get", {})[1]["list"] == []

    def gone():
        c.send(f"<iq type='get' id='e' to='{room}'><query xmlns='http://"
               "jabber.org/protocol/disco#info'/></iq>")
        return "item-not-found" in c.expect(
            r"<iq [^>]*id='e'.*?</iq>").group(0)
    until(gone, "room destroyed in xmppd")
    c.close()
    audit = admin(srv, "root@hq", ROOT_PW).call(
        "AuditEntry/query", {})[1]
    assert "ChatRoom" in str(audit)


def test_guests(srv):
    acme = admin(srv, "postmaster@acme", ACME_PW)
    other = admin(srv, "postmaster@other", OTHER_PW)
    alice = Raw(srv.port("xmpp"))
    alice.login("alice", "acme.test", resource="web")
    alice.send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/>"
               "</iq>")
    alice.expect(r"id='r1'")
    r = acme.call("ChatGuest/set", {"create": {"g": {
        "address": "client@outside.example", "inviter": "alice@acme.test",
        "days": 5}}})[1]
    g = r["created"]["g"]
    assert re.fullmatch(r"guest~[0-9a-f]+@acme\.test", g["id"]), r
    assert g["status"] == "active" and g["inviter"] == "alice@acme.test"
    assert 4 * 86400 < g["expires"] - time.time() <= 5 * 86400
    # the inviter's roster push, from xmppd within a second
    push = alice.expect(r"<iq [^>]*type='set'[^>]*>.*?</iq>").group(0)
    assert g["id"] in push and "subscription='both'" in push
    got = acme.call("ChatGuest/get", {})[1]["list"]
    assert [x["id"] for x in got] == [g["id"]]
    assert other.call("ChatGuest/get", {})[1]["list"] == []
    # another post office's admin cannot revoke it, nor invite for alice
    r = other.call("ChatGuest/set", {"revoke": [g["id"]]})[1]
    assert r["notRevoked"][g["id"]]["type"] == "notFound"
    r = other.call("ChatGuest/set", {"create": {"x": {
        "address": "a@outside.example", "inviter": "alice@acme.test"}}})[1]
    assert r["notCreated"]["x"]["properties"] == ["inviter"]
    # bad invitations
    for v in ({"address": "nope", "inviter": "alice@acme.test"},
              {"address": "bob@acme.test", "inviter": "alice@acme.test"},
              {"address": "a@outside.example", "inviter": "alice@acme.test",
               "days": 0},
              {"address": "a@outside.example", "inviter": "alice@acme.test",
               "days": "7"},
              {"inviter": "alice@acme.test"}):
        r = acme.call("ChatGuest/set", {"create": {"b": v}})[1]
        assert r["notCreated"]["b"]["type"] == "invalidProperties", (v, r)
    # revoked: the removal pushed to alice
    r = acme.call("ChatGuest/set", {"revoke": [g["id"]]})[1]
    assert r["revoked"] == [g["id"]]
    push = alice.expect(r"<iq [^>]*type='set'[^>]*>.*?</iq>").group(0)
    assert g["id"] in push and "subscription='remove'" in push
    st = acme.call("ChatGuest/get", {"postOffice": "acme"})[1]["list"]
    assert st[0]["status"] == "revoked"
    r = acme.call("ChatGuest/set", {"revoke": [g["id"]]})[1]
    assert r["notRevoked"][g["id"]]["type"] == "notFound"
    alice.close()


def test_settings(srv):
    root = admin(srv, "root@hq", ROOT_PW)
    ids = ["xmpp.archive_days", "xmpp.guests_per_user", "xmpp.guest_days",
           "xmpp.guest_url"]
    got = {x["id"]: x for x in root.call("Setting/get",
                                         {"ids": ids})[1]["list"]}
    assert set(got) == set(ids)
    assert got["xmpp.guests_per_user"]["default"] == 10
    assert got["xmpp.guest_days"]["max"] == 90
    r = root.call("Setting/set", {"update": {
        "xmpp.archive_days": {"value": 30},
        "xmpp.guests_per_user": {"value": 0}}})[1]
    assert set(r["updated"]) == {"xmpp.archive_days", "xmpp.guests_per_user"}
    # 0: nobody invites
    acme = admin(srv, "postmaster@acme", ACME_PW)
    r = acme.call("ChatGuest/set", {"create": {"g": {
        "address": "late@outside.example", "inviter": "bob@acme.test"}}})[1]
    assert "off" in r["notCreated"]["g"]["description"]
    root.call("Setting/set", {"update": {
        "xmpp.guests_per_user": {"value": 10}}})
    # an ADMIN does not change global settings
    r = acme.call("Setting/set", {"update": {
        "xmpp.archive_days": {"value": 1}}})
    assert r[0] == "error" or r[1].get("notUpdated")


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_chat_page_in_chromium(srv, tmp_path):
    """tests/browser/webadmin-chat.mjs: the ADMIN's chat page; then the
    room and the revoked guest checked here through the CLI"""
    from conftest import BUILD, ROOT
    modules = ROOT / "web" / "node_modules"
    assert shutil.which("node"), "node is missing (scripts/install-deps.sh)"
    assert (modules / "playwright-core").is_dir()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://127.0.0.1:{srv.port('http')}",
               ADMIN=f"postmaster@acme:{ACME_PW}", SHOTS=str(shots),
               WEB_MODULES=str(modules))
    r = subprocess.run(["node", str(ROOT / "tests/browser/webadmin-chat.mjs")],
                       env=env, capture_output=True, text=True, timeout=240)
    stable = BUILD / "screenshots"
    stable.mkdir(exist_ok=True)
    for f in shots.glob("*.png"):
        shutil.copy(f, stable / f.name)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{srv.log('httpd')[-3000:]}"
    assert "webadmin chat browser test: ok" in r.stdout
    assert {"chat-desktop.png", "chat-revoked.png", "phone-chat.png"} <= \
        {f.name for f in shots.glob("*.png")}
    rooms = {x["jid"]: x for x in srv.cli("chat", "rooms", json_out=True)}
    assert rooms["board@conference.acme.test"]["members_only"]
    guests = {g["address"]: g for g in srv.cli("chat", "guest", "list",
                                               json_out=True)}
    assert guests["client@outside.example"]["status"] == "revoked"

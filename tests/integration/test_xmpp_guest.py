"""External contacts (manual 2.4, issue 18 item 3): a user invites an
outside address with an IQ (urn:postern:chat:guest:0), an administrator
with postern chat guest invite; the invitation mail goes through the
pickup directory and the MTA into the outgoing queue, where the test
reads the temporary login. The guest logs in to xmppd with slixmpp, is in
the inviter's roster (pushed) and the inviter in its, they see and write
to each other, and nobody else: the guest cannot reach other users, the
chat rooms or their vCards, others cannot reach it, and IMAP and SMTP
refuse its login. Revocation (CLI and IQ) and expiry close its stream and
remove it from the inviter's roster; it cannot log in again. Only a hash
of the password is stored."""
import asyncio
import glob
import imaplib
import os
import re
import smtplib
import sqlite3
import ssl
import time

import pytest

from xmpp_util import PW, Raw, xmpp_server

slixmpp = pytest.importorskip(
    "slixmpp", reason="python3-slixmpp missing (scripts/install-deps.sh)")

T = 30
NS = "urn:postern:chat:guest:0"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = xmpp_server(tmp_path_factory, start=False)
    p.cli("config", "set", "auth.max_failures", "100")
    p.cli("config", "set", "xmpp.guests_per_user", "3")
    p.start(services=["xmppd", "mta", "imapd", "smtpd"], timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


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


def run(loop, coro, timeout=90):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def until(fn, what, timeout=T):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.time() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


class Client(slixmpp.ClientXMPP):
    """a slixmpp client recording what reaches it"""

    def __init__(self, jid, password=None):
        super().__init__(jid, password or PW[jid.split("@")[0]])
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        self.register_plugin("xep_0030")
        self.inbox = asyncio.Queue()
        self.seen = asyncio.Queue()
        self.pushes = asyncio.Queue()
        self.errors = asyncio.Queue()
        self.gone = asyncio.get_event_loop().create_future()
        self.add_event_handler("message", self.on_message)
        self.add_event_handler(
            "message_error",
            lambda m: self.errors.put_nowait(m["error"]["condition"]))
        for ev in ("presence_available", "presence_unavailable"):
            self.add_event_handler(
                ev, lambda p, ev=ev: self.seen.put_nowait(
                    (ev.split("_", 1)[1], str(p["from"]))))
        self.add_event_handler(
            "roster_update",
            lambda iq: iq["type"] == "set" and self.pushes.put_nowait(
                {str(j): dict(v) for j, v in iq["roster"]["items"].items()}))
        self.add_event_handler(
            "disconnected",
            lambda _: self.gone.done() or self.gone.set_result(True))
        self.add_event_handler(
            "stream_error",
            lambda e: self.errors.put_nowait(e["text"]))
        self.ritems = {}

    def on_message(self, m):
        if m["type"] != "error":
            self.inbox.put_nowait(m)

    async def start(self, port):
        fut = asyncio.get_event_loop().create_future()
        self.add_event_handler(
            "session_start", lambda _: fut.done() or fut.set_result(True))
        self.add_event_handler(
            "failed_auth", lambda _: fut.done() or fut.set_exception(
                AssertionError("login failed")))
        self.connect(address=("127.0.0.1", port))
        await asyncio.wait_for(fut, T)
        iq = await self.get_roster()
        self.ritems = {str(j): dict(v)
                       for j, v in iq["roster"]["items"].items()}
        self.send_presence()
        return self

    async def stop(self):
        self.disconnect()
        await asyncio.wait_for(self.gone, T)

    async def raw_iq(self, xml):
        """send an IQ (raw XML, id 'q'); the answer as XML text"""
        iq = self.Iq()
        iq.append(slixmpp.xmlstream.ET.fromstring(xml))
        iq["type"] = "set" if not xml.startswith("<guests") else "get"
        try:
            r = await iq.send(timeout=T)
        except slixmpp.exceptions.IqError as e:
            return str(e.iq)
        return str(r)

    async def push_for(self, jid, sub=None):
        while True:
            p = await asyncio.wait_for(self.pushes.get(), T)
            if jid in p and (sub is None or p[jid]["subscription"] == sub):
                return p[jid]

    async def wait_presence(self, kind, prefix):
        while True:
            k, frm = await asyncio.wait_for(self.seen.get(), T)
            if k == kind and frm.startswith(prefix):
                return frm

    async def wait_message(self, text):
        while True:
            m = await asyncio.wait_for(self.inbox.get(), T)
            if m["body"] == text:
                return m

    async def nothing(self, secs=1.5):
        """no message reached the client meanwhile"""
        await asyncio.sleep(secs)
        return self.inbox.empty()


def invitation(srv, address):
    """(chat address, password) from the invitation mail to address in
    the MTA's outgoing queue (queued by pickup, not sent: no smtp-out)"""
    def find():
        for f in glob.glob(str(srv.root / "**" / "*"), recursive=True):
            # (not while still in the pickup directory: the MTA takes it)
            if not os.path.isfile(f) or "/chat/" in f or "/pickup/" in f:
                continue
            try:
                text = open(f, "rb").read().decode(errors="replace")
            except OSError:
                continue
            if f"To: <{address}>" in text and "Chat address:" in text:
                return f, text
        return None
    path, text = until(find, f"invitation mail to {address} taken by the "
                       "MTA")
    # the file is seen as soon as the MTA has it; the queue lists it once
    # routed to smtp/outgoing, a moment later
    until(lambda: any(address in str(i.get("recipients")) for i in
                      srv.cli("queue", "list", json_out=True)),
          f"{address} in the outgoing queue")
    jid = re.search(r"Chat address: (\S+)", text).group(1)
    pw = re.search(r"Password: +(\S+)", text).group(1)
    assert "Auto-Submitted: auto-generated" in text
    return jid, pw


def invite_xml(address, days=None):
    d = f" days='{days}'" if days is not None else ""
    return f"<invite xmlns='{NS}' address='{address}'{d}/>"


def chat_db_bytes(srv):
    out = b""
    for f in glob.glob(str(srv.root / "chat" / "chat.db*")):
        out += open(f, "rb").read()
    return out


def test_invite_chat_and_fence(srv, loop):
    port = srv.port("xmpp")

    async def go():
        alice = await Client("alice@acme.test/desk").start(port)
        bob = await Client("bob@acme.test/desk").start(port)
        r = await alice.raw_iq(invite_xml("visitor@outside.example", 2))
        m = re.search(r"jid=\"(guest~[0-9a-f]+@acme\.test)\"", r)
        assert m, r
        gjid = m.group(1)
        assert "status=\"active\"" in r
        # RFC 6121 2.1.6: the guest in the inviter's roster, pushed
        item = await alice.push_for(gjid)
        assert item["subscription"] == "both"
        assert "Guests" in item["groups"]
        assert item["name"] == "visitor@outside.example"
        jid, pw = invitation(srv, "visitor@outside.example")
        assert jid == gjid
        # never stored in the clear
        assert pw.encode() not in chat_db_bytes(srv)

        guest = await Client(jid + "/phone", pw).start(port)
        # its roster: the inviter only
        assert set(guest.ritems) == {"alice@acme.test"}
        assert guest.ritems["alice@acme.test"]["subscription"] == "both"
        await guest.wait_presence("available", "alice@acme.test/desk")
        await alice.wait_presence("available", jid + "/phone")
        guest.send_message(mto="alice@acme.test", mbody="hi from outside",
                           mtype="chat")
        await alice.wait_message("hi from outside")
        alice.send_message(mto=jid, mbody="welcome", mtype="chat")
        await guest.wait_message("welcome")

        # the fence: bob neither sees nor reaches the guest, nor it bob
        assert jid not in (await bob.get_roster())["roster"]["items"].keys()
        guest.send_message(mto="bob@acme.test", mbody="psst", mtype="chat")
        assert await asyncio.wait_for(guest.errors.get(), T) == \
            "service-unavailable"
        guest.send_presence(pto="bob@acme.test", ptype="subscribe")
        bob.send_message(mto=jid, mbody="hello guest", mtype="chat")
        assert await asyncio.wait_for(bob.errors.get(), T) == \
            "service-unavailable"
        assert await bob.nothing() and await guest.nothing(0.1)
        while not bob.seen.empty():
            assert not bob.seen.get_nowait()[1].startswith("guest~")
        # nor anyone's vCard, nor a chat room, nor a roster change
        iq = guest.Iq(stype="get", sto="bob@acme.test")
        iq.append(slixmpp.xmlstream.ET.fromstring(
            "<vCard xmlns='vcard-temp'/>"))
        with pytest.raises(slixmpp.exceptions.IqError) as e:
            await iq.send(timeout=T)
        assert e.value.condition == "service-unavailable"
        guest.send_presence(pto="lobby@conference.acme.test/g")
        iq = guest.Iq(stype="get", sto="conference.acme.test")
        iq.append(slixmpp.xmlstream.ET.fromstring(
            "<query xmlns='http://jabber.org/protocol/disco#info'/>"))
        with pytest.raises(slixmpp.exceptions.IqError) as e:
            await iq.send(timeout=T)
        assert e.value.condition == "service-unavailable"
        with pytest.raises(slixmpp.exceptions.IqError) as e:
            await guest.update_roster("bob@acme.test", name="Bob")
        assert e.value.condition == "not-allowed"
        # a guest does not invite
        r = await guest.raw_iq(invite_xml("x@outside.example"))
        assert "not-allowed" in r

        # the inviter's own list, then revocation by the inviter
        r = await alice.raw_iq(f"<guests xmlns='{NS}'/>")
        assert jid in r and "visitor@outside.example" in r
        r = await alice.raw_iq(f"<revoke xmlns='{NS}' jid='{jid}'/>")
        assert "type=\"result\"" in r, r
        item = await alice.push_for(jid)
        assert item["subscription"] == "remove"
        await asyncio.wait_for(guest.gone, T)
        await alice.wait_presence("unavailable", jid + "/phone")
        r = await alice.raw_iq(f"<revoke xmlns='{NS}' jid='{jid}'/>")
        assert "item-not-found" in r
        await alice.stop()
        await bob.stop()
        return jid, pw

    jid, pw = run(loop, go())
    # the login is gone
    c = Raw(srv.port("xmpp"))
    c.login_refused(jid.split("@")[0], "acme.test", pw)
    assert "not-authorized" in c.data.decode() + c.all.decode()
    c.close()
    st = {g["jid"]: g for g in srv.cli("chat", "guest", "list",
                                       json_out=True)}
    assert st[jid]["status"] == "revoked"


def test_guest_refused_by_imap_and_smtp(srv, loop):
    async def go():
        alice = await Client("alice@acme.test/imap").start(srv.port("xmpp"))
        await alice.raw_iq(invite_xml("mailtry@outside.example"))
        await alice.stop()
    run(loop, go())
    jid, pw = invitation(srv, "mailtry@outside.example")
    local = jid.split("@")[0]
    # the chat login works...
    c = Raw(srv.port("xmpp"))
    assert c.login(local, "acme.test", password=pw).startswith(jid)
    c.close()
    # ... IMAP and SMTP do not know it
    for user in (jid, local, f"{local}@acme"):
        im = imaplib.IMAP4("127.0.0.1", srv.port("imap"))
        with pytest.raises(imaplib.IMAP4.error):
            im.login(user, pw)
        im.logout()
        s = smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=T)
        s.ehlo()
        if s.has_extn("starttls"):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s.starttls(context=ctx)
            s.ehlo()
        with pytest.raises(smtplib.SMTPException):
            s.login(user, pw)
        s.quit()


def test_admin_invite_revoke_and_expiry(srv, loop):
    port = srv.port("xmpp")

    async def go():
        bob = await Client("bob@acme.test/desk").start(port)
        # the administrator invites for bob: pushed within a second
        out = srv.cli("chat", "guest", "invite", "partner@outside.example",
                      "--by", "bob@acme.test", "--days", "3", json_out=True)
        gjid = out["jid"]
        assert out["inviter"] == "bob@acme.test"
        item = await bob.push_for(gjid)
        assert item["subscription"] == "both"
        jid, pw = invitation(srv, "partner@outside.example")
        assert jid == gjid
        guest = await Client(jid + "/a", pw).start(port)
        await bob.wait_presence("available", jid + "/a")
        # revoked by the administrator: stream closed, roster item gone
        srv.cli("chat", "guest", "revoke", jid)
        await asyncio.wait_for(guest.gone, T)
        await bob.push_for(jid, "remove")
        assert jid not in (await bob.get_roster())["roster"]["items"].keys()

        # expiry: a second invitation whose end the test brings forward
        out = srv.cli("chat", "guest", "invite", "late@outside.example",
                      "--by", "bob@acme.test", json_out=True)
        jid2, pw2 = invitation(srv, "late@outside.example")
        guest2 = await Client(jid2 + "/a", pw2).start(port)
        await bob.wait_presence("available", jid2 + "/a")
        db = sqlite3.connect(str(srv.root / "chat" / "chat.db"))
        db.execute("UPDATE guest SET expires = ? WHERE jid = ?",
                   (int(time.time()) + 2, jid2))
        db.commit()
        db.close()
        t0 = time.time()
        await asyncio.wait_for(guest2.gone, T)
        assert time.time() - t0 >= 1
        await bob.push_for(jid2, "remove")
        await bob.wait_presence("unavailable", jid2 + "/a")
        await bob.stop()
        return jid2, pw2

    jid2, pw2 = run(loop, go())
    st = {g["jid"]: g for g in srv.cli("chat", "guest", "list", "--by",
                                       "bob@acme.test", json_out=True)}
    assert st[jid2]["status"] == "expired"
    c = Raw(srv.port("xmpp"))
    c.login_refused(jid2.split("@")[0], "acme.test", pw2)
    c.close()
    table = srv.cli("chat", "guest", "list").stdout
    assert "late@outside.example" in table and "expired" in table


def test_bad_invitations(srv, loop):
    async def go():
        carol = await Client("carol@acme.test/x").start(srv.port("xmpp"))
        for xml, want in (
                (invite_xml("not-an-address"), "not-acceptable"),
                (invite_xml("dave@other.test"), "not-acceptable"),
                (invite_xml("a@b.example", 0), "bad-request"),
                (invite_xml("a@b.example", 91), "bad-request"),
                (f"<invite xmlns='{NS}'/>", "bad-request"),
                (invite_xml("x@y.example\r\nBcc: z@z.example"),
                 "not-acceptable")):
            r = await carol.raw_iq(xml)
            assert want in r, (xml, r)
        # xmpp.guests_per_user (3 here)
        for i in range(3):
            r = await carol.raw_iq(invite_xml(f"g{i}@outside.example"))
            assert "type=\"result\"" in r, r
        r = await carol.raw_iq(invite_xml("g4@outside.example"))
        assert "not-acceptable" in r and "revoke one first" in r
        # revoking and inviting again: twice the limit a day
        for round_ in range(2):
            r = await carol.raw_iq(f"<guests xmlns='{NS}'/>")
            for jid in re.findall(r'jid="([^"]+)"[^>]*status="active"', r):
                r2 = await carol.raw_iq(f"<revoke xmlns='{NS}' jid='{jid}'/>")
                assert "type=\"result\"" in r2, r2
            if round_ == 0:
                for i in range(3):
                    r = await carol.raw_iq(invite_xml(f"h{i}@outside.example"))
                    assert "type=\"result\"" in r, r
        r = await carol.raw_iq(invite_xml("h9@outside.example"))
        assert "not-acceptable" in r and "last 24 hours" in r, r
        await carol.stop()
    run(loop, go())
    r = srv.cli("chat", "guest", "invite", "a@b.example", "--by",
                "nobody@acme.test", check=False)
    assert r.returncode == 3
    r = srv.cli("chat", "guest", "invite", "a@b.example", "--by",
                "bob@acme.test", "--days", "0", check=False)
    assert r.returncode == 2
    r = srv.cli("chat", "guest", "revoke", "guest~00@acme.test", check=False)
    assert r.returncode == 3
    # a wrong password for a real guest, and a made-up guest: refused
    jid = [g["jid"] for g in srv.cli("chat", "guest", "list", json_out=True)
           if g["status"] == "active"][0]
    for user in (jid.split("@")[0], "guest~0123456789"):
        c = Raw(srv.port("xmpp"))
        c.login_refused(user, "acme.test", "wrong-password")
        c.close()


def test_rooms_do_not_reach_a_guest(srv):
    """a room's occupant other than the inviter invites the guest
    (XEP-0045 mediated, XEP-0249 direct): refused, nothing reaches it"""
    muc = "http://jabber.org/protocol/muc"
    out = srv.cli("chat", "guest", "invite", "roomtry@outside.example",
                  "--by", "alice@acme.test", json_out=True)
    jid, pw = invitation(srv, "roomtry@outside.example")
    assert jid == out["jid"]
    g = Raw(srv.port("xmpp"))
    g.login(jid.split("@")[0], "acme.test", password=pw, resource="g")
    g.send("<presence/>")
    c = Raw(srv.port("xmpp"))
    c.login("carol", "acme.test", resource="c")
    room = "den@conference.acme.test"
    c.send(f"<presence to='{room}/Carol'><x xmlns='{muc}'/></presence>")
    c.expect(r"code='201'")
    c.send(f"<message to='{room}' id='i1'><x xmlns='{muc}#user'><invite "
           f"to='{jid}'><reason>come</reason></invite></x></message>")
    assert "<item-not-found" in c.expect(
        r"<message [^>]*type='error'.*?</message>").group(0)
    c.send(f"<message to='{jid}' id='i2'><x xmlns='jabber:x:conference' "
           f"jid='{room}'/></message>")
    assert "<service-unavailable" in c.expect(
        r"<message [^>]*id='i2'[^>]*type='error'.*?</message>|"
        r"<message [^>]*type='error'[^>]*id='i2'.*?</message>").group(0)
    # the guest got neither
    g.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
    g.expect(r"id='p'")
    assert room not in g.all.decode() and "carol" not in g.all.decode()
    g.close()
    c.close()


NODE = "urn:postern:chat:guest:invite"


async def adhoc_invite(client, address, days=None):
    """the XEP-0050 invitation with slixmpp's xep_0050 workflow: execute,
    fill the form it answers, complete; (the form, the completed
    <command/>)"""
    fut = asyncio.get_event_loop().create_future()
    seen = {}

    def on_error(iq, session):
        fut.done() or fut.set_exception(AssertionError(str(iq)))

    def on_done(iq, session):
        fut.done() or fut.set_result(iq["command"])

    def on_form(iq, session):
        form = iq["command"]["form"]
        seen["form"] = form
        seen["status"] = iq["command"]["status"]
        answer = client["xep_0004"].make_form(ftype="submit")
        answer.add_field(var="address", value=address)
        if days is not None:
            answer.add_field(var="days", value=str(days))
        session["payload"] = answer
        session["next"] = on_done
        client["xep_0050"].complete_command(session)

    client["xep_0050"].start_command(
        "acme.test", NODE, {"next": on_form, "error": on_error})
    cmd = await asyncio.wait_for(fut, T)
    return seen, cmd


def test_adhoc_invite(srv, loop):
    """XEP-0050: the invitation as an ad-hoc command any client can run
    (here slixmpp's xep_0050 plugin): listed on the server's commands
    node, a data form asking the address and days, completed with the
    guest's address or an error note; the same road as the IQ (the mail
    goes out, the roster push, xmpp.guests_per_user)"""
    srv.cli("mailbox", "add", "ivy@acme", "--password", "Ivy-adhoc-pw1")

    async def go():
        ivy = Client("ivy@acme.test/adhoc", "Ivy-adhoc-pw1")
        ivy.register_plugin("xep_0004")
        ivy.register_plugin("xep_0050")
        await ivy.start(srv.port("xmpp"))
        items = await ivy["xep_0050"].get_commands(jid="acme.test")
        nodes = {(str(i[0]), i[1]): i[2]
                 for i in items["disco_items"]["items"]}
        assert ("acme.test", NODE) in nodes, nodes
        info = await ivy["xep_0030"].get_info(jid="acme.test", node=NODE)
        assert ("automation", "command-node") in {
            i[:2] for i in info["disco_info"]["identities"]}
        assert "jabber:x:data" in info["disco_info"]["features"]
        info = await ivy["xep_0030"].get_info(jid="acme.test")
        assert "http://jabber.org/protocol/commands" in \
            info["disco_info"]["features"]

        seen, cmd = await adhoc_invite(ivy, "ivy-friend@outside.example", 5)
        assert seen["status"] == "executing"
        fields = seen["form"].get_fields()
        assert set(fields) >= {"address", "days"}, fields
        assert fields["address"]["required"]
        assert cmd["status"] == "completed"
        note = cmd.xml.find("{http://jabber.org/protocol/commands}note")
        assert note.get("type") == "info", str(cmd)
        assert "ivy-friend@outside.example" in note.text
        res = cmd["form"]
        assert res["type"] == "result"
        jid = res.get_fields()["jid"]["value"]
        assert jid.startswith("guest~") and jid.endswith("@acme.test"), jid
        push = await ivy.push_for(jid)
        assert push["subscription"] == "both", push
        mail_jid, _ = invitation(srv, "ivy-friend@outside.example")
        assert mail_jid == jid
        assert any(g["jid"] == jid and g["inviter"].startswith("ivy@")
                   for g in srv.cli("chat", "guest", "list", json_out=True))

        # bad input: an error note, the session goes on
        for address, days, want in (
                ("not-an-address", None, "address"),
                ("dave@other.test", None, "this server"),
                ("a@b.example", 0, "1 to 90"),
                ("a@b.example", "many", "1 to 90"),
                ("", None, "missing")):
            _, cmd = await adhoc_invite(ivy, address, days)
            note = cmd.xml.find("{http://jabber.org/protocol/commands}note")
            assert cmd["status"] == "completed" and \
                note.get("type") == "error", str(cmd)
            assert want in note.text, (address, days, note.text)
        # xmpp.guests_per_user (3 here): two more, then refused
        for i in range(2):
            _, cmd = await adhoc_invite(ivy, f"ivy{i}@outside.example")
            note = cmd.xml.find("{http://jabber.org/protocol/commands}note")
            assert note.get("type") == "info", str(cmd)
        _, cmd = await adhoc_invite(ivy, "ivy9@outside.example")
        note = cmd.xml.find("{http://jabber.org/protocol/commands}note")
        assert note.get("type") == "error" and \
            "revoke one first" in note.text, str(cmd)
        # cancel
        r = await ivy["xep_0050"].send_command("acme.test", NODE,
                                               action="cancel",
                                               sessionid="abc")
        assert r["command"]["status"] == "canceled"
        # an unknown node
        with pytest.raises(slixmpp.exceptions.IqError) as e:
            await ivy["xep_0050"].send_command("acme.test", "no-such-node")
        assert e.value.iq["error"]["condition"] == "item-not-found"
        await ivy.stop()
    run(loop, go())

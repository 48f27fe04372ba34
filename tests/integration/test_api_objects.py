"""The web admin API's object families beyond post offices and mailboxes
(src/httpd/api-admin-group.c, -list.c, -queue.c, the /set skeleton in
api-admin.c) over real HTTP against one real posternd (httpd only, so
nothing consumes the queues while the test looks at them): groups and
their members, lists with members, held posts and the web admin limits of
manual 5.3.6, the queues (list, show, retry, release, delete) through the
same code as `postern queue`, the audit log with its actors, ifInState
(two admins editing the same mailbox: the second gets stateMismatch and
nothing of it is written) and Type/changes."""
import time
from pathlib import Path

import pytest

from conftest import Postern
from test_api import Client, SYS_PW, ALPHA_PW, BETA_PW
from test_smtp_out import inject


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("api-objects") / "root")
    p.init()
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("mailbox", "add", "root@hq", "--password", SYS_PW, "--type",
          "SYSADMIN")
    p.cli("postoffice", "add", "alpha", "--password", ALPHA_PW)
    p.cli("postoffice", "add", "beta", "--password", BETA_PW)
    p.cli("domain", "add", "alpha.test", "--postoffice", "alpha")
    p.cli("domain", "add", "beta.test", "--postoffice", "beta")
    p.cli("mailbox", "add", "carol@alpha", "--password", "Kx9-Secret-55c")
    p.cli("mailbox", "add", "dave@beta", "--password", "Kx9-Secret-66d")
    p.start(services=["httpd"])
    p.http = p.port("http")
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def sysadmin(p):
    c = Client(p.http)
    c.login("root@hq", SYS_PW)
    return c


def alpha_admin(p):
    c = Client(p.http)
    c.login("postmaster@alpha", ALPHA_PW)
    return c


def ok_set(resp, what):
    name, res, _ = resp
    assert name.endswith("/set"), resp
    return res[what]


# ---- groups ----------------------------------------------------------------

def test_group_lifecycle_members_and_scope(srv):
    a = alpha_admin(srv)
    s = sysadmin(srv)
    r = a.call("Group/set", {"create": {"g": {
        "address": "team@alpha.test", "name": "<b>Team</b>",
        "addMembers": ["carol@alpha.test", "outside@remote.test"]}}})
    assert ok_set(r, "created")["g"]["id"] == "team@alpha.test", r
    got = a.call("Group/get", {"ids": ["team@alpha.test"]})[1]["list"][0]
    assert got["name"] == "<b>Team</b>"          # markup is data
    assert got["postOffice"] == "alpha"
    assert sorted(got["members"]) == ["carol@alpha.test", "outside@remote.test"]
    # the CLI sees what the API made: one model
    cli = srv.cli("group", "show", "team@alpha.test", json_out=True)
    assert "carol@alpha.test" in str(cli)
    # a bad member address: named, and nothing of the update remains
    r = a.call("Group/set", {"update": {"team@alpha.test": {
        "name": "renamed", "addMembers": ["fine@remote.test", "not an address"]}}})
    err = ok_set(r, "notUpdated")["team@alpha.test"]
    assert err["type"] == "invalidProperties" and err["properties"] == ["addMembers"]
    assert "addMembers[1]" in err["description"]
    got = a.call("Group/get", {"ids": ["team@alpha.test"]})[1]["list"][0]
    assert got["name"] == "<b>Team</b>" and "fine@remote.test" not in got["members"]
    r = a.call("Group/set", {"update": {"team@alpha.test": {
        "removeMembers": ["outside@remote.test"], "disabled": True}}})
    assert "team@alpha.test" in ok_set(r, "updated")
    got = a.call("Group/get", {"ids": ["team@alpha.test"]})[1]["list"][0]
    assert got["members"] == ["carol@alpha.test"] and got["disabled"] is True
    # beta's group does not exist for alpha's ADMIN, by get, query or set
    r = s.call("Group/set", {"create": {"b": {"address": "crew@beta.test",
                                              "postOffice": "beta"}}})
    assert "b" in ok_set(r, "created")
    assert a.call("Group/get", {"ids": ["crew@beta.test"]})[1]["notFound"] == \
        ["crew@beta.test"]
    q = a.call("Group/query", {"calculateTotal": True})[1]
    assert q["ids"] == ["team@alpha.test"] and q["total"] == 1
    r = a.call("Group/set", {"destroy": ["crew@beta.test"],
                             "create": {"x": {"address": "x@beta.test",
                                              "postOffice": "beta"}}})
    assert ok_set(r, "notDestroyed")["crew@beta.test"]["type"] == "notFound"
    assert ok_set(r, "notCreated")["x"]["properties"] == ["postOffice"]
    # sorted and paged on the server; a sort key it does not know is named
    q = s.call("Group/query", {"sort": [{"property": "address",
                                        "isAscending": False}]})[1]
    assert q["ids"] == ["team@alpha.test", "crew@beta.test"]
    e = s.call("Group/query", {"sort": [{"property": "members"}]})
    assert e[0] == "error" and e[1]["type"] == "unsupportedSort"
    assert "address" in e[1]["description"]
    r = a.call("Group/set", {"destroy": ["team@alpha.test"]})
    assert ok_set(r, "destroyed") == ["team@alpha.test"]
    assert srv.cli("group", "show", "team@alpha.test", check=False).returncode != 0


# ---- lists -----------------------------------------------------------------

def test_list_limits_members_and_held_posts(srv):
    s = sysadmin(srv)
    a = alpha_admin(srv)
    s.call("PostOffice/set", {"update": {"alpha": {
        "webadmin_max_lists": 1, "webadmin_max_list_addresses": 2}}})
    r = a.call("List/set", {"create": {"l1": {
        "address": "news@alpha.test", "owner": "carol@alpha.test",
        "description": "<script>x</script>",
        "addMembers": ["m1@remote.test", "m2@remote.test"]}}})
    assert "l1" in ok_set(r, "created"), r
    # the list limit refuses the second list, with the numbers
    r = a.call("List/set", {"create": {"l2": {"address": "more@alpha.test"}}})
    e = ok_set(r, "notCreated")["l2"]
    assert e["type"] == "overQuota" and "webadmin_max_lists" in e["description"]
    # a third member is over webadmin_max_list_addresses: nothing written
    r = a.call("List/set", {"update": {"news@alpha.test": {
        "addMembers": ["m3@remote.test"], "subject_prefix": "[n]"}}})
    e = ok_set(r, "notUpdated")["news@alpha.test"]
    assert e["type"] == "overQuota" and e["properties"] == ["addMembers"]
    got = a.call("List/get", {"ids": ["news@alpha.test"]})[1]["list"][0]
    assert got["memberCount"] == 2 and got["subject_prefix"] == ""
    assert got["description"] == "<script>x</script>"
    # the SYSADMIN is not held to a post office's web admin limits
    r = s.call("List/set", {"update": {"news@alpha.test": {
        "addMembers": ["m3@remote.test"]}}})
    assert "news@alpha.test" in ok_set(r, "updated")
    # a held post (as the list server leaves it) is shown and approved
    held = srv.root / "queue" / "ls" / "held"
    held.mkdir(parents=True, exist_ok=True)
    tok = "0123456789abcdef0123"
    (held / f"{tok}.msg").write_text("Subject: hi\r\n\r\nbody\r\n")
    (held / f"{tok}.info").write_text(
        f"v1\nnews@alpha.test\nm1@remote.test\nQ1\n{int(time.time())}\n"
        "m1@remote.test\n<i>hello</i>\n")
    got = a.call("List/get", {"ids": ["news@alpha.test"],
                              "properties": ["held"]})[1]["list"][0]
    assert [h["token"] for h in got["held"]] == [tok]
    assert got["held"][0]["subject"] == "<i>hello</i>"
    r = a.call("List/set", {"update": {"news@alpha.test": {
        "approve": ["ffffffffffffffffffff"]}}})
    assert ok_set(r, "notUpdated")["news@alpha.test"]["type"] == "notFound"
    r = a.call("List/set", {"update": {"news@alpha.test": {"approve": [tok]}}})
    assert "news@alpha.test" in ok_set(r, "updated"), r
    assert (held / f"{tok}.approve").exists()
    # an ADMIN whose post office may not edit lists is refused, clearly
    s.call("PostOffice/set", {"update": {"alpha": {"webadmin_edit_lists": False}}})
    r = a.call("List/set", {"destroy": ["news@alpha.test"]})
    e = ok_set(r, "notDestroyed")["news@alpha.test"]
    assert e["type"] == "forbidden" and "webadmin_edit_lists" in e["description"]
    s.call("PostOffice/set", {"update": {"alpha": {"webadmin_edit_lists": True}}})
    r = a.call("List/set", {"destroy": ["news@alpha.test"]})
    assert ok_set(r, "destroyed") == ["news@alpha.test"]


# ---- the queues ------------------------------------------------------------

def deferred_item(root, rcpt):
    """an outgoing item whose recipient waits for a retry far ahead"""
    qid = inject(root, "carol@alpha.test", [rcpt], "Subject: q\r\n\r\nq\r\n")
    env = Path(root) / "queue" / "smtp" / "outgoing" / "new" / f"{qid}.env"
    text = env.read_text().replace(" 0 0 0 0 - -", " 0 2 3 9999999999 - -")
    env.write_text(text)
    return qid, env


def test_queue_list_show_retry_release_delete(srv):
    s = sysadmin(srv)
    a = alpha_admin(srv)
    qid, env = deferred_item(srv.root, "x@remote.test")
    q = s.call("Queue/query", {"filter": {"queue": "smtp/outgoing"}})[1]
    assert qid in q["ids"]
    assert q["byQueue"]["smtp/outgoing"] >= 1
    item = next(i for i in q["list"] if i["id"] == qid)
    assert item["recipients"][0]["status"] == "deferred"
    got = s.call("Queue/get", {"ids": [qid, "0000000000000000"]})[1]
    assert got["notFound"] == ["0000000000000000"]
    assert "Subject: q" in got["list"][0]["headers"]
    # retry: the recipient is due now, as `postern queue retry` makes it
    r = s.call("Queue/set", {"update": {qid: {"action": "retry"}}})
    assert qid in ok_set(r, "updated"), r
    assert " 0 2 3 0 " in env.read_text()
    # release is for bad mail only: the reason is named
    r = s.call("Queue/set", {"update": {qid: {"action": "release"}}})
    e = ok_set(r, "notUpdated")[qid]
    assert e["type"] == "invalidProperties" and "bad mail" in e["description"]
    r = s.call("Queue/set", {"update": {qid: {"action": "explode"}}})
    assert ok_set(r, "notUpdated")[qid]["properties"] == ["action"]
    # bad mail released goes back to the MTA's inbound queue
    bad = srv.root / "queue" / "badmail"
    bad.mkdir(parents=True, exist_ok=True)
    bid = "00000000DEADBEEF"
    (bad / f"{bid}.msg").write_text("Subject: y\r\n\r\ny\r\n")
    (bad / f"{bid}.env").write_text(f"POSTERN-ENV 1\nid ={bid}\nend\n")
    (bad / f"{bid}.reason").write_text("<b>broken</b>\n")
    got = s.call("Queue/get", {"ids": [bid]})[1]["list"][0]
    assert got["state"] == "badmail" and got["reason"] == "<b>broken</b>\n"
    r = s.call("Queue/set", {"update": {bid: {"action": "release"}}})
    assert bid in ok_set(r, "updated"), r
    assert not (bad / f"{bid}.env").exists()
    inbound = srv.root / "queue" / "smtp" / "inbound" / "new"
    assert any(inbound.glob("*.env"))
    # delete, and a second delete finds nothing
    r = s.call("Queue/set", {"destroy": [qid]})
    assert ok_set(r, "destroyed") == [qid]
    assert not env.exists()
    r = s.call("Queue/set", {"destroy": [qid]})
    assert ok_set(r, "notDestroyed")[qid]["type"] == "notFound"
    # the queues hold every post office's mail: not an ADMIN's
    for m, args in (("Queue/query", {}), ("Queue/get", {"ids": [qid]}),
                    ("Queue/set", {"destroy": [qid]})):
        e = a.call(m, args)
        assert e[0] == "error" and e[1]["type"] == "forbidden", (m, e)
    e = s.call("Queue/query", {"filter": {"queue": "nosuch/queue"}})
    assert e[0] == "error" and e[1]["type"] == "unsupportedFilter"
    e = s.call("Queue/query", {"position": 10**6})
    assert e[0] == "error" and e[1]["properties"] == ["position"]


# ---- ifInState, /changes, the audit log -------------------------------------

def test_two_admins_same_mailbox_state_mismatch(srv):
    a1 = alpha_admin(srv)
    a2 = alpha_admin(srv)
    s = sysadmin(srv)
    st = a1.call("Mailbox/set", {})[1]["newState"]
    # both read state st; the first edit wins, the second is refused whole
    r = a1.call("Mailbox/set", {"ifInState": st, "update": {
        "carol@alpha": {"friendly_name": "Carol One"}}})
    assert "carol@alpha" in ok_set(r, "updated")
    assert r[1]["oldState"] == st and r[1]["newState"] != st
    e = a2.call("Mailbox/set", {"ifInState": st, "update": {
        "carol@alpha": {"friendly_name": "Carol Two"}},
        "create": {"n": {"name": "zed", "password": "Zz-Secret-9912"}}})
    assert e[0] == "error" and e[1]["type"] == "stateMismatch", e
    got = a2.call("Mailbox/get", {"ids": ["carol@alpha"]})[1]["list"][0]
    assert got["friendly_name"] == "Carol One"
    assert srv.cli("mailbox", "show", "zed@alpha", check=False).returncode != 0
    # /changes since st names the mailbox; an unknown state is refused
    ch = a2.call("Mailbox/changes", {"sinceState": st})[1]
    assert ch["updated"] == ["carol@alpha"] and ch["newState"] == r[1]["newState"]
    e = a2.call("Mailbox/changes", {"sinceState": "99999999"})
    assert e[0] == "error" and e[1]["type"] == "cannotCalculateChanges"
    e = a2.call("Mailbox/changes", {"sinceState": "x"})
    assert e[0] == "error" and e[1]["properties"] == ["sinceState"]
    # a change in beta is not among alpha's changes
    s.call("Mailbox/set", {"update": {"dave@beta": {"friendly_name": "D"}}})
    ch = a2.call("Mailbox/changes", {"sinceState": st})[1]
    assert "dave@beta" not in ch["updated"]
    # the audit log: who did what, newest first, keyset paged
    q = s.call("AuditEntry/query", {"filter": {"type": "Mailbox"},
                                    "limit": 2})[1]
    first = q["list"][0]
    assert first["object"] == "dave@beta" and first["actor"] == "root@hq"
    second = q["list"][1]
    assert second["actor"] == "postmaster@alpha" and "Carol One" in second["text"]
    more = s.call("AuditEntry/query", {"filter": {"type": "Mailbox"},
                                       "anchor": q["ids"][-1], "limit": 50})[1]
    assert all(int(i) < int(q["ids"][-1]) for i in more["ids"])
    e = s.call("AuditEntry/query", {"anchor": "nope"})
    assert e[0] == "error" and e[1]["type"] == "anchorNotFound"
    e = a2.call("AuditEntry/query", {})
    assert e[0] == "error" and e[1]["type"] == "forbidden"
    # a /set that keeps no state says so rather than ignore ifInState
    e = s.call("Setting/set", {"ifInState": st, "update": {}})
    assert e[0] == "error" and e[1]["properties"] == ["ifInState"]
    e = s.call("Mailbox/set", {"ifInState": 5})
    assert e[0] == "error" and e[1]["properties"] == ["ifInState"]
    # passwords never reach the audit log
    s.call("Mailbox/set", {"update": {"carol@alpha": {
        "password": "Nw-Secret-77311"}}})
    q = s.call("AuditEntry/query", {"filter": {"object": "carol@alpha"},
                                    "limit": 1})[1]
    assert "Nw-Secret" not in q["list"][0]["text"] and "***" in q["list"][0]["text"]


# ---- domains: DKIM selectors and the DNS text, autodiscover -------------------

def test_domain_dkim_and_autodiscover(srv):
    s = sysadmin(srv)
    a = alpha_admin(srv)
    # alpha's web admins may not edit domains (the default)
    r = a.call("Domain/set", {"update": {"alpha.test": {
        "dkimAdd": {"selector": "s1"}}}})
    assert ok_set(r, "notUpdated")["alpha.test"]["type"] == "forbidden"
    r = s.call("Domain/set", {"update": {"alpha.test": {
        "dkimAdd": {"selector": "s1", "bits": 1024, "activate": True},
        "autodiscoverAdd": {"protocol": "imap", "host": "imap.alpha.test",
                            "security": "tls"}}}})
    assert "alpha.test" in ok_set(r, "updated"), r
    d = s.call("Domain/get", {"ids": ["alpha.test"], "properties":
                              ["dkimSelectors", "autodiscover"]})[1]["list"][0]
    sel = d["dkimSelectors"][0]
    assert sel["selector"] == "s1" and sel["active"] is True
    assert sel["dns_name"] == "s1._domainkey.alpha.test"
    assert sel["record"].startswith("v=DKIM1;") and "p=" in sel["record"]
    # the same text `postern dkim dns` prints: one place makes it
    cli = srv.cli("dkim", "dns", "alpha.test", "s1", json_out=True)
    assert cli["record"] == sel["record"] and cli["zone"] == sel["zone"]
    assert "PRIVATE" not in str(d)
    assert d["autodiscover"] == [{"protocol": "imap", "host": "imap.alpha.test",
                                  "port": 993, "security": "tls"}]
    assert d["autodiscoverDerived"] is False
    # a bad selector name and a duplicate are named; nothing else changes
    r = s.call("Domain/set", {"update": {"alpha.test": {
        "dkimAdd": {"selector": "bad name!"}, "autodiscoverDetect": True}}})
    e = ok_set(r, "notUpdated")["alpha.test"]
    assert e["properties"] == ["dkimAdd"], e
    d = s.call("Domain/get", {"ids": ["alpha.test"], "properties":
                              ["autodiscover"]})[1]["list"][0]
    assert len(d["autodiscover"]) == 1
    r = s.call("Domain/set", {"update": {"alpha.test": {
        "autodiscoverRemove": {"protocol": "imap"}, "dkimRemove": "s1"}}})
    assert "alpha.test" in ok_set(r, "updated"), r
    d = s.call("Domain/get", {"ids": ["alpha.test"], "properties":
                              ["dkimSelectors", "autodiscover"]})[1]["list"][0]
    assert d["dkimSelectors"] == [] and d["autodiscoverDerived"] is True


# ---- mailbox details: addresses, redirection, POP retrieval ----------------------

def test_mailbox_details(srv):
    a = alpha_admin(srv)
    r = a.call("Mailbox/set", {"update": {"carol@alpha": {
        "addAddresses": ["sales@alpha.test"],
        "addRedirects": ["carol@elsewhere.test"],
        "redirect_enabled": True, "redirect_keep_copy": True,
        "autoresponder_enabled": True, "autoresponder_subject": "Away",
        "popAdd": {"host": "pop.remote.test", "username": "carol",
                   "password": "Remote-Secret-1"}}}})
    assert "carol@alpha" in ok_set(r, "updated"), r
    m = a.call("Mailbox/get", {"ids": ["carol@alpha"], "properties": [
        "addresses", "redirects", "popRetrieval", "redirect_enabled",
        "autoresponder_subject"]})[1]["list"][0]
    assert "sales@alpha.test" in m["addresses"]
    assert m["redirects"] == ["carol@elsewhere.test"]
    assert m["autoresponder_subject"] == "Away" and m["redirect_enabled"]
    pop = m["popRetrieval"][0]
    assert pop["host"] == "pop.remote.test" and "password" not in pop
    # another post office's address, another mailbox's POP account: named
    r = a.call("Mailbox/set", {"update": {"carol@alpha": {
        "addAddresses": ["x@beta.test"]}}})
    e = ok_set(r, "notUpdated")["carol@alpha"]
    assert e["properties"] == ["addAddresses"] and "addAddresses[0]" in e["description"]
    r = a.call("Mailbox/set", {"update": {"carol@alpha": {"popRemove": 999999}}})
    assert ok_set(r, "notUpdated")["carol@alpha"]["properties"] == ["popRemove"]
    r = a.call("Mailbox/set", {"update": {"carol@alpha": {
        "removeAddresses": ["sales@alpha.test"], "removeRedirects":
        ["carol@elsewhere.test"], "popDisable": pop["id"]}}})
    assert "carol@alpha" in ok_set(r, "updated"), r
    m = a.call("Mailbox/get", {"ids": ["carol@alpha"], "properties": [
        "addresses", "redirects", "popRetrieval"]})[1]["list"][0]
    assert "sales@alpha.test" not in m["addresses"] and m["redirects"] == []
    assert m["popRetrieval"][0]["enabled"] is False
    s = sysadmin(srv)
    q = s.call("AuditEntry/query", {"filter": {"object": "carol@alpha"}})[1]
    assert all("Remote-Secret" not in e["text"] for e in q["list"])


# ---- tracking and the diagnostic report -----------------------------------------

def test_track_and_diagnostic(srv):
    s = sysadmin(srv)
    a = alpha_admin(srv)
    qid = inject(srv.root, "carol@alpha.test", ["t@remote.test"],
                 "Subject: tracked\r\n\r\nx\r\n")
    t = s.call("Track/get", {"ids": [qid, "nobody-ever@nowhere.test"]})[1]
    assert t["notFound"] == ["nobody-ever@nowhere.test"]
    assert t["list"][0]["queued"][0]["id"] == qid
    e = a.call("Track/get", {"ids": [qid]})
    assert e[0] == "error" and e[1]["type"] == "forbidden"
    e = s.call("Track/get", {"ids": None})
    assert e[0] == "error" and e[1]["properties"] == ["ids"]
    d = s.call("Diagnostic/get", {"dns": False, "network": False})[1]["list"][0]
    assert d["sections"] and all("items" in sec for sec in d["sections"])
    assert isinstance(d["errors"], int)
    e = s.call("Diagnostic/get", {"dns": "yes"})
    assert e[0] == "error" and e[1]["properties"] == ["dns"]
    e = a.call("Diagnostic/get", {})
    assert e[0] == "error" and e[1]["type"] == "forbidden"
    s.call("Queue/set", {"destroy": [qid]})


# ---- a mailbox's messages (manual 5.5.7) -----------------------------------------

def test_mailbox_messages_and_forward_all(srv):
    a = alpha_admin(srv)
    new = srv.root / "store" / "alpha" / "carol" / "new"
    assert new.is_dir(), list((srv.root / "store").rglob("*"))[:20]
    for i in range(3):
        (new / f"{int(time.time())}.M{i}P1.test").write_bytes(
            f"From: Sender {i} <s{i}@remote.test>\r\nSubject: <b>m{i}</b>\r\n"
            f"Date: Mon, 7 Dec 2026 03:0{i}:00 +0000\r\n\r\nbody {i}\r\n".encode())
    # an encoded subject (RFC 2047) and raw 8-bit bytes in a From
    (new / f"{int(time.time())}.M9P1.test").write_bytes(
        b"From: J\xf6rg <j@remote.test>\r\n"
        b"Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n\r\nx\r\n")
    q = a.call("MailboxMessage/query", {"filter": {"mailbox": "carol@alpha"}})[1]
    assert q["total"] == 4 and len(q["list"]) == 4
    enc = next(m for m in q["list"] if m["subject"] == "Grüße")
    assert enc["from"].startswith("J")
    assert {m["subject"] for m in q["list"]} == {"<b>m0</b>", "<b>m1</b>",
                                                 "<b>m2</b>", "Grüße"}
    m0 = next(m for m in q["list"] if m["subject"] == "<b>m0</b>")
    assert m0["from"] == "Sender 0 <s0@remote.test>" and m0["size"] > 0
    assert enc["from"] == "J?rg <j@remote.test>"   # 8-bit bytes replaced
    # another post office's mailbox does not exist for alpha's ADMIN
    e = a.call("MailboxMessage/query", {"filter": {"mailbox": "dave@beta"}})
    assert e[0] == "error" and e[1]["type"] == "notFound"
    e = a.call("MailboxMessage/query", {})
    assert e[0] == "error" and e[1]["properties"] == ["filter"]
    # forward all: queued for the MTA, the mail stays
    inbound = srv.root / "queue" / "smtp" / "inbound" / "new"
    before = set(inbound.glob("*.env")) if inbound.is_dir() else set()
    r = a.call("Mailbox/set", {"update": {"carol@alpha": {
        "forwardAll": {"to": "out@remote.test"}}}})
    assert ok_set(r, "updated")["carol@alpha"] == {"forwarded": 4}, r
    made = set(inbound.glob("*.env")) - before
    assert len(made) == 4
    assert all("out@remote.test" in p.read_text() for p in made)
    q = a.call("MailboxMessage/query", {"filter": {"mailbox": "carol@alpha"}})[1]
    assert q["total"] == 4
    r = a.call("Mailbox/set", {"update": {"carol@alpha": {
        "forwardAll": {"to": "no address"}}}})
    assert ok_set(r, "notUpdated")["carol@alpha"]["properties"] == ["forwardAll"]
    for p in made:
        p.unlink()
        p.with_suffix(".msg").unlink()


# ---- users import and export (manual 5.3.9.2, 5.3.9.4) -------------------------

def test_users_import_export(srv):
    a = alpha_admin(srv)
    s = sysadmin(srv)
    r = a.call("Users/import", {"csv": "u1@alpha.test,Us-Secret-40411,2048,<b>U1</b>\n"
                                       "u2@alpha.test\n"
                                       "bad row without at\n"
                                       "u3@nosuchdomain.test,Us-Secret-40413\n"})
    res = r[1]
    assert res["total"] == 4 and res["imported"] == 2 and res["failed"] == 2, res
    assert {e["line"] for e in res["errors"]} == {3, 4}
    assert [g["address"] for g in res["generated"]] == ["u2@alpha.test"]
    m = a.call("Mailbox/get", {"ids": ["u1@alpha"], "properties": [
        "quota_kb", "friendly_name"]})[1]["list"][0]
    # the quota column is in MB, as `postern users import` reads it
    assert m["quota_kb"] == 2048 * 1024 and m["friendly_name"] == "<b>U1</b>"
    # an ADMIN's export has no password hashes, and it may not ask for them
    out = a.call("Users/export", {})[1]["csv"]
    assert "u1@alpha.test" in out and "$" not in out
    e = a.call("Users/export", {"fields": "emailaddress,password"})
    assert e[0] == "error" and e[1]["type"] == "forbidden"
    e = a.call("Users/export", {"postOffice": "beta"})
    assert e[0] == "error" and e[1]["properties"] == ["postOffice"]
    e = a.call("Users/import", {"csv": "x@beta.test\n", "postOffice": "beta"})
    assert e[0] == "error" and e[1]["properties"] == ["postOffice"]
    e = a.call("Users/import", {"csv": "z@new.test\n", "createDomains": True})
    assert e[0] == "error" and e[1]["type"] == "forbidden"
    # the SYSADMIN's export carries the hashes, and imports back
    out = s.call("Users/export", {"postOffice": "alpha"})[1]["csv"]
    assert "u1@alpha.test" in out and "$" in out
    q = s.call("AuditEntry/query", {"filter": {"type": "Users"}})[1]
    assert q["list"][0]["actor"] == "postmaster@alpha"
    assert "2 of 4 rows" in q["list"][0]["text"]

"""Changes made with the `postern` CLI in the audit store (src/cli/
cli-audit.c): the audit log shows them with the Unix user as the actor
and their secrets hidden, Type/changes reports them (an ADMIN only its
post office's), and they move the types' states, so a web admin's
ifInState set from before a CLI change gets stateMismatch."""
import os
import pwd

from test_api import Client, SYS_PW, ALPHA_PW, web  # noqa: F401

ACTOR = "cli:" + pwd.getpwuid(os.getuid()).pw_name


def test_cli_changes_in_audit_and_changes(web):  # noqa: F811
    sysc = Client(web.http)
    sysc.login("root@hq", SYS_PW)
    a = Client(web.http)
    a.login("postmaster@alpha", ALPHA_PW)
    st = sysc.call("Mailbox/get", {"ids": ["carol@alpha"]})[1]["state"]
    ast = a.call("Mailbox/get", {"ids": ["carol@alpha"]})[1]["state"]
    gst = sysc.call("Group/get", {"ids": []})[1]

    web.cli("mailbox", "add", "erin@alpha", "--password", "Very-Secret-77x")
    web.cli("mailbox", "set", "carol@alpha", "friendly_name=Carol C")
    web.cli("mailbox", "add", "fred@beta", "--password", "Other-Secret-88y")
    web.cli("mailbox", "passwd", "dave@beta", "--password", "Third-Secret-99z")
    web.cli("config", "set", "smarthost.password", "Smart-Secret-11q")
    # several pairs: a secret in the second is hidden too
    web.cli("config", "set", "smtp.max_recipients", "77",
            "srs.secret", "Srs-Secret-22w")
    web.cli("group", "add", "team@alpha.test", "--postoffice", "alpha")
    web.cli("group", "del", "team@alpha.test", "--yes")
    dst = sysc.call("Domain/get", {"ids": []})[1]["state"]
    web.cli("dkim", "selector", "add", "alpha.test", "s1", "--bits", "1024")
    web.cli("dkim", "selector", "list", "alpha.test")          # a read: none
    script = web.root / "f.sieve"
    script.write_text("keep;\n")
    web.cli("filter", "set", "carol@alpha", str(script))
    # a failing command records nothing
    r = web.cli("mailbox", "add", "erin@alpha", "--password", "x", check=False)
    assert r.returncode != 0

    # the SYSADMIN's /changes: every CLI change of mailboxes since st
    ch = sysc.call("Mailbox/changes", {"sinceState": st})[1]
    assert set(ch["created"]) == {"erin@alpha", "fred@beta"}, ch
    assert set(ch["updated"]) == {"carol@alpha", "dave@beta"}, ch
    assert ch["newState"] != st
    # the ADMIN's: only alpha's
    ch = a.call("Mailbox/changes", {"sinceState": ast})[1]
    assert ch["created"] == ["erin@alpha"] and ch["updated"] == ["carol@alpha"], ch
    # a group made and deleted: destroyed
    ch = sysc.call("Group/changes", {"sinceState": gst["state"]})[1]
    assert ch["destroyed"] == ["team@alpha.test"] and ch["created"] == [], ch
    # /get's state is the one /changes and /set use (RFC 8620 5.1)
    now = sysc.call("Mailbox/get", {"ids": []})[1]["state"]
    assert now == sysc.call("Mailbox/set", {})[1]["newState"] != st

    ch = sysc.call("Domain/changes", {"sinceState": dst})[1]
    assert ch["updated"] == ["alpha.test"], ch
    # an edit from the state before the CLI's change is refused
    name, res, _ = a.call("Mailbox/set", {"ifInState": ast, "update": {
        "carol@alpha": {"quota_kb": 4096}}})
    assert name == "error" and res["type"] == "stateMismatch", res

    # the audit log: the Unix user, the post office, no secret
    rows = sysc.call("AuditEntry/query", {"filter": {"actor": ACTOR},
                                          "limit": 50})[1]["list"]
    got = {(e["type"], e["object"], e["op"], e["postOffice"]) for e in rows}
    assert ("Mailbox", "erin@alpha", "create", "alpha") in got, got
    assert ("Mailbox", "carol@alpha", "update", "alpha") in got
    assert ("Mailbox", "dave@beta", "update", "beta") in got
    assert ("Setting", "smarthost.password", "update", None) in got or \
        ("Setting", "smarthost.password", "update", "") in got, got
    assert ("Group", "team@alpha.test", "create", "alpha") in got
    assert ("Group", "team@alpha.test", "destroy", "alpha") in got
    assert ("Domain", "alpha.test", "update", "alpha") in got
    assert ("MailboxFilter", "carol@alpha", "update", "alpha") in got
    dk = [e for e in rows if e["type"] == "Domain" and e["op"] == "update"]
    assert len(dk) == 1 and dk[0]["text"].startswith("selector add s1"), dk
    assert all(e["client"] == "local" for e in rows)
    text = " ".join(e["text"] for e in rows)
    for secret in ("Very-Secret-77x", "Other-Secret-88y", "Third-Secret-99z",
                   "Smart-Secret-11q", "Srs-Secret-22w"):
        assert secret not in text, text
    assert "friendly_name=Carol C" in text
    assert len([e for e in rows if e["object"] == "erin@alpha"]) == 1
    # an ADMIN's audit view is not offered (SYSADMIN only) but its
    # changes list shows nothing of beta
    ch = a.call("Mailbox/changes", {"sinceState": ast})[1]
    assert "fred@beta" not in ch["created"]


def _rows(c, **flt):
    rows = c.call("AuditEntry/query", {"filter": flt, "limit": 200})[1]["list"]
    return [(e["type"], e["object"], e["op"], e["postOffice"] or None, e)
            for e in rows]


def test_cli_and_api_audit_the_same_way(web):  # noqa: F811
    """address, popretrieval del/enable/disable, users import, welcome and
    messages: the CLI's row is the API's (type, object, op, post office);
    the welcome message reaches mailboxes made by the API and imports."""
    sysc = Client(web.http)
    sysc.login("root@hq", SYS_PW)

    def setx(type_, **kw):
        name, res, _ = sysc.call(f"{type_}/set", kw)
        assert name == f"{type_}/set" and not res.get("notCreated") and \
            not res.get("notUpdated"), res
        return res
    sysc.set = setx

    def new_rows(since):
        return [r for r in _rows(sysc) if r[4]["id"] not in since]

    def ids():
        return {r[4]["id"] for r in _rows(sysc)}

    # an address: `address add` and Mailbox/set addAddresses
    before = ids()
    web.cli("address", "add", "cx@alpha.test", "--mailbox", "carol@alpha")
    cli_row = new_rows(before)
    before = ids()
    sysc.set("Mailbox", update={"carol@alpha": {
        "addAddresses": ["cy@alpha.test"]}})
    api_row = new_rows(before)
    assert [r[:4] for r in cli_row] == [r[:4] for r in api_row] == [
        ("Mailbox", "carol@alpha", "update", "alpha")], (cli_row, api_row)
    assert cli_row[0][4]["actor"] == ACTOR and "cx@alpha.test" in \
        cli_row[0][4]["text"]
    before = ids()
    web.cli("address", "del", "cx@alpha.test")
    assert [r[:4] for r in new_rows(before)] == [
        ("Mailbox", "carol@alpha", "update", "alpha")]

    # POP retrieval accounts: del/enable/disable name the owner mailbox
    out = web.cli("popretrieval", "add", "dave@beta", "--host", "127.0.0.1",
                  "--port", "9", "--user", "u", "--password",
                  "Pop-Secret-31x", json_out=True)
    before = ids()
    web.cli("popretrieval", "disable", str(out["id"]))
    web.cli("popretrieval", "enable", str(out["id"]))
    web.cli("popretrieval", "del", str(out["id"]))
    got = new_rows(before)
    assert [r[:4] for r in got] == [("Mailbox", "dave@beta", "update",
                                     "beta")] * 3, got
    assert {r[4]["text"] for r in got} == {f"disable {out['id']}",
                                          f"enable {out['id']}",
                                          f"del {out['id']}"}

    # the welcome message: `welcome set` and Setting/set are one row kind
    f = web.root / "welcome.txt"
    f.write_text("Hello from <b>the admins</b>.\n")
    before = ids()
    web.cli("welcome", "set", "--file", str(f))
    cli_row = new_rows(before)
    assert [r[:4] for r in cli_row] == [
        ("Setting", "welcome.message", "update", None)], cli_row

    # a mailbox made through the API gets it, as `mailbox add` does
    res = sysc.set("Mailbox", create={"w": {
        "name": "wanda", "postOffice": "alpha",
        "password": "Wanda-Secret-42q"}})
    assert res["created"]["w"]["welcomed"] is True, res
    q = sysc.call("MailboxMessage/query",
                  {"filter": {"mailbox": "wanda@alpha"}})[1]
    assert [m["subject"] for m in q["list"]] == ["Welcome"], q

    # users import: CLI and API rows alike; imported mailboxes welcomed
    csv = web.root / "users.csv"
    csv.write_text("ivan@alpha.test\n")
    before = ids()
    web.cli("users", "import", str(csv), "--postoffice", "alpha",
            "--password", "Import-Secret-77w")
    cli_row = new_rows(before)
    before = ids()
    r = sysc.call("Users/import", {"postOffice": "alpha",
                                   "csv": "jane@alpha.test\n",
                                   "password": "Import-Secret-88v"})[1]
    assert r["imported"] == 1, r
    api_row = new_rows(before)
    assert [x[:4] for x in cli_row] == [x[:4] for x in api_row] == [
        ("Users", "alpha", "import", "alpha")], (cli_row, api_row)
    assert "Import-Secret-77w" not in cli_row[0][4]["text"]
    for who in ("ivan@alpha", "jane@alpha"):
        q = sysc.call("MailboxMessage/query", {"filter": {"mailbox": who}})[1]
        assert [m["subject"] for m in q["list"]] == ["Welcome"], (who, q)

    before = ids()
    sysc.set("Setting", update={"welcome.message": {"value": None}})
    api_row = new_rows(before)
    before = ids()
    web.cli("welcome", "clear")
    assert [r[:4] for r in new_rows(before)] == [r[:4] for r in api_row] == [
        ("Setting", "welcome.message", "update", None)]

    # messages delete: one row for the mailbox it emptied
    before = ids()
    web.cli("messages", "delete", "--mailbox", "wanda@alpha", "--everything",
            "--yes")
    got = new_rows(before)
    assert [r[:4] for r in got] == [
        ("MailboxMessage", "wanda@alpha", "destroy", "alpha")], got
    q = sysc.call("MailboxMessage/query",
                  {"filter": {"mailbox": "wanda@alpha"}})[1]
    assert q["list"] == []
    before = ids()
    web.cli("messages", "delete", "--postoffice", "beta", "--older-than",
            "30", "--yes")
    assert [r[:4] for r in new_rows(before)] == [
        ("MailboxMessage", "beta", "destroy", "beta")]

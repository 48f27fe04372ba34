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
                   "Smart-Secret-11q"):
        assert secret not in text, text
    assert "friendly_name=Carol C" in text
    assert len([e for e in rows if e["object"] == "erin@alpha"]) == 1
    # an ADMIN's audit view is not offered (SYSADMIN only) but its
    # changes list shows nothing of beta
    ch = a.call("Mailbox/changes", {"sinceState": ast})[1]
    assert "fred@beta" not in ch["created"]

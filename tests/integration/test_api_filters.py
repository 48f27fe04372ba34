"""A mailbox's Sieve filters through the admin API (MailboxFilter/get|set,
src/httpd/api-admin-filter.c) over real HTTP: stored in the same store
`postern filter` and deliver use, compiled first (errors name line and
column), activated, deactivated, deleted; an ADMIN only on its post
office's mailboxes; the audit log names who did it."""
from test_api import Client, SYS_PW, ALPHA_PW, web  # noqa: F401

SCRIPT = ('require ["fileinto"];\n'
          'if header :contains "subject" "<b>invoice</b>" { fileinto "Bills"; }\n')


def fset(c, args):
    return c.call("MailboxFilter/set", args)


def test_filters_through_the_api(web):  # noqa: F811
    s = Client(web.http)
    s.login("root@hq", SYS_PW)
    name, r, _ = fset(s, {"mailbox": "carol@alpha", "put": {
        "name": "rules", "script": SCRIPT, "activate": True}})
    assert name == "MailboxFilter/set", r
    assert r["stored"] == "rules" and r["activated"] == "rules"
    # the CLI sees the same active script
    out = web.cli("filter", "show", "carol@alpha").stdout
    assert out == SCRIPT
    name, g, _ = s.call("MailboxFilter/get", {"mailbox": "carol@alpha"})
    assert g["active"] == "rules"
    assert g["list"] == [{"name": "rules", "active": True, "script": SCRIPT}]

    # a script that does not compile: the place and nothing stored
    name, e, _ = fset(s, {"mailbox": "carol@alpha", "put": {
        "name": "bad", "script": 'require ["fileinto"];\nfileinto ;\n'}})
    assert name == "error" and e["type"] == "invalidArguments", e
    assert e["properties"] == ["script"] and e["description"].startswith("2:"), e
    g = s.call("MailboxFilter/get", {"mailbox": "carol@alpha"})[1]
    assert [x["name"] for x in g["list"]] == ["rules"]
    for bad in ({"put": "x"}, {"put": {"name": "a"}}, {"activate": 3},
                {"destroy": "rules"}, {"destroy": [1]}):
        name, e, _ = fset(s, dict(bad, mailbox="carol@alpha"))
        assert name == "error" and e["type"] == "invalidArguments", (bad, e)
    name, e, _ = fset(s, {"mailbox": "carol@alpha", "put": {
        "name": "../x", "script": "keep;"}})
    assert name == "error" and e["properties"] == ["name"], e
    name, e, _ = s.call("MailboxFilter/get", {})
    assert name == "error" and e["properties"] == ["mailbox"]

    # the active one cannot go; deactivated, it can
    name, e, _ = fset(s, {"mailbox": "carol@alpha", "destroy": ["rules"]})
    assert name == "error" and e["properties"] == ["destroy"], e
    name, r, _ = fset(s, {"mailbox": "carol@alpha", "activate": None,
                          "destroy": ["rules"]})
    assert name == "MailboxFilter/set" and r["destroyed"] == ["rules"], r
    g = s.call("MailboxFilter/get", {"mailbox": "carol@alpha"})[1]
    assert g["list"] == [] and g["active"] is None

    # an ADMIN: its post office's mailboxes only, never a SYSADMIN's
    a = Client(web.http)
    a.login("postmaster@alpha", ALPHA_PW)
    name, r, _ = fset(a, {"mailbox": "carol@alpha", "put": {
        "name": "mine", "script": "keep;\n", "activate": True}})
    assert name == "MailboxFilter/set", r
    for other in ("dave@beta", "root@hq", "nobody@alpha"):
        name, e, _ = a.call("MailboxFilter/get", {"mailbox": other})
        assert name == "error" and e["type"] == "notFound", (other, e)
    web.cli("postoffice", "set", "alpha", "webadmin_edit_mailboxes=no")
    name, e, _ = fset(a, {"mailbox": "carol@alpha", "destroy": ["mine"]})
    assert name == "error" and e["type"] == "forbidden", e
    rows = s.call("AuditEntry/query", {"filter": {"type": "MailboxFilter"}})[1]["list"]
    got = [(x["actor"], x["object"], x["text"]) for x in rows]
    assert ("root@hq", "carol@alpha", "put rules") in got, got
    assert ("postmaster@alpha", "carol@alpha", "activate mine") in got, got

"""Global MTA filters: rules from `postern filter global`, applied once per
message in the MTA: add header, redirect, copy, quarantine, delete, reject
(a DSN to the sender), by sender, recipient, header, size and attachment
name; order and move; mail read back from the Maildir and bad mail."""
import email
import email.policy
import smtplib
import time

from test_mta import badmail, mailbox_msgs, make_msg, wait_for

SERVICES = ["smtpd", "mta", "deliver"]


def send(p, frm, to, raw):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail(frm, to, raw.encode() if isinstance(raw, str) else raw)


def gf(p, *args):
    return p.cli("filter", "global", "add", *args, json_out=True)["id"]


def test_cli_add_list_move_del(populated):
    p = populated
    a = gf(p, "--if", "sender", "--match", "*@spam.test", "--then", "delete")
    b = gf(p, "--if", "header", "--header", "Subject", "--match", "*x*",
           "--then", "add-header", "--arg", "X-Tag: 1")
    c = gf(p, "--if", "all", "--then", "copy", "--arg", "bob@acme.test",
           "--position", "1")
    rows = p.cli("filter", "global", "list", json_out=True)
    assert [r["id"] for r in rows] == [c, a, b]
    assert [r["position"] for r in rows] == [1, 2, 3]
    p.cli("filter", "global", "move", str(c), "3")
    assert [r["id"] for r in p.cli("filter", "global", "list",
                                   json_out=True)] == [a, b, c]
    p.cli("filter", "global", "del", str(a))
    rows = p.cli("filter", "global", "list", json_out=True)
    assert [(r["id"], r["position"]) for r in rows] == [(b, 1), (c, 2)]
    for bad in (["--if", "nope", "--then", "delete"],
                ["--if", "sender", "--then", "delete"],
                ["--if", "header", "--match", "x", "--then", "delete"],
                ["--if", "all", "--then", "add-header", "--arg", "nocolon"],
                ["--if", "all", "--then", "redirect", "--arg", "not an address"],
                ["--if", "size-over", "--match", "big", "--then", "delete"]):
        r = p.cli("filter", "global", "add", *bad, check=False)
        assert r.returncode == 2, bad
    assert p.cli("filter", "global", "del", "999", check=False).returncode == 3


def test_actions_end_to_end(populated):
    p = populated
    p.cli("mailbox", "add", "carol@acme", "--password", "carol-pw-1")
    p.cli("mailbox", "add", "audit@acme", "--password", "audit-pw-1")
    gf(p, "--if", "header", "--header", "Subject", "--match", "*TAGME*",
       "--then", "add-header", "--arg", "X-Filtered: yes")
    gf(p, "--if", "recipient", "--match", "carol@*", "--then", "redirect",
       "--arg", "bob@acme.test")
    gf(p, "--if", "sender", "--match", "boss@remote.test", "--then", "copy",
       "--arg", "audit@acme.test")
    gf(p, "--if", "attachment", "--match", "*.exe", "--then", "quarantine")
    gf(p, "--if", "sender", "--match", "*@spam.test", "--then", "delete")
    gf(p, "--if", "size-over", "--match", "20K", "--then", "reject")
    p.start(services=SERVICES)

    m, mid = make_msg("x@remote.test", "alice@acme.test", subject="a [TAGME] b")
    send(p, "x@remote.test", ["alice@acme.test"], m)
    a = wait_for(lambda: mailbox_msgs(p.root, "alice"), 60, "tagged")
    assert "\r\nX-Filtered: yes\r\n" in a[0] and mid in a[0]

    m, mid = make_msg("x@remote.test", "carol@acme.test", subject="redir")
    send(p, "x@remote.test", ["carol@acme.test"], m)
    b = wait_for(lambda: mailbox_msgs(p.root, "bob"), 60, "redirected")
    assert mid in b[0]

    m, mid = make_msg("boss@remote.test", "alice@acme.test", subject="copy")
    send(p, "boss@remote.test", ["alice@acme.test"], m)
    au = wait_for(lambda: mailbox_msgs(p.root, "audit"), 60, "audit copy")
    assert mid in au[0]
    wait_for(lambda: any(mid in x for x in mailbox_msgs(p.root, "alice")), 60,
             "original recipient too")

    exe = ("From: x@remote.test\r\nTo: alice@acme.test\r\nSubject: exe\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=q\r\n"
           "\r\n--q\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--q\r\n"
           "Content-Type: application/octet-stream\r\nContent-Disposition: "
           "attachment; filename=\"=?utf-8?q?Setup?=.EXE\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\nTVqQAA==\r\n--q--\r\n")
    send(p, "x@remote.test", ["alice@acme.test"], exe)
    bad = wait_for(lambda: [r for r in badmail(p.root).values()
                            if "quarantined by global filter" in r], 60,
                   "quarantine")
    assert bad

    m, mid = make_msg("junk@spam.test", "alice@acme.test", subject="spam")
    send(p, "junk@spam.test", ["alice@acme.test"], m)
    wait_for(lambda: "deleted by global filter" in p.log("mta"), 60, "deleted")

    big, bmid = make_msg("bob@acme.test", "alice@acme.test", subject="big",
                         body=("z" * 70 + "\r\n") * 400)
    send(p, "bob@acme.test", ["alice@acme.test"], big)
    dsn = wait_for(lambda: [x for x in mailbox_msgs(p.root, "bob")
                            if "multipart/report" in x], 60, "reject bounce")
    assert "5.7.1" in dsn[0] and "rejected by global filter" in dsn[0]
    time.sleep(1)
    alice = mailbox_msgs(p.root, "alice")
    assert not any("spam.test" in x or "Subject: exe" in x or bmid in x
                   for x in alice)
    assert len(alice) == 2
    # once per message: the redirected copy that deliver forwards is not
    # filtered again (a single "redirect" log line for it)
    assert p.log("mta").count("(recipient carol@*) matches") == 1

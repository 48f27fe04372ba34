"""Maintenance actions (manual 5.3.9.5-9): email all users of a post
office or one user, delete INBOX messages (per mailbox, post office, all;
older than N days, before a date, everything) through the index, and the
default welcome message of new mailboxes; read back over POP3 and IMAP."""
import imaplib
import poplib
import smtplib

from test_mta import mailbox_msgs, make_msg, wait_for


def pop_count(p, user, pw):
    c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=60)
    c.user(user)
    c.pass_(pw)
    n = c.stat()[0]
    msgs = [b"\r\n".join(c.retr(i + 1)[1]).decode() for i in range(n)]
    c.quit()
    return msgs


def test_welcome_and_email(populated, tmp_path):
    p = populated
    f = tmp_path / "welcome.eml"
    f.write_text("From: IT <it@acme.test>\nSubject: Welcome aboard\n\n"
                 "Your mailbox is ready.\n")
    p.cli("welcome", "set", "--file", str(f))
    assert "Welcome aboard" in p.cli("welcome", "show").stdout
    p.cli("mailbox", "add", "carol@acme", "--password", "carol-pw-1")
    m = mailbox_msgs(p.root, "carol")
    assert len(m) == 1 and "Subject: Welcome aboard\r\n" in m[0]
    assert "Your mailbox is ready.\r\n" in m[0]
    # plain text: sent with a header of ours
    f.write_text("Hello and welcome, \u00e9t\u00e9.\n")
    p.cli("welcome", "set", "--file", str(f))
    p.cli("mailbox", "add", "dave@acme", "--password", "dave-pw-1")
    m = mailbox_msgs(p.root, "dave")
    assert "Subject: Welcome\r\n" in m[0] and "charset=utf-8" in m[0]
    # users import creates mailboxes too: they get it, updated rows do not
    csv = tmp_path / "users.csv"
    csv.write_text("frank@acme.test,frank-pw-1,,Frank\n"
                   "bogus-no-at,x,,\n")
    r = p.cli("users", "import", str(csv), "--postoffice", "acme", check=False)
    assert r.returncode == 5                      # one row failed
    m = mailbox_msgs(p.root, "frank")
    assert len(m) == 1 and "Subject: Welcome\r\n" in m[0]
    p.cli("welcome", "clear")
    p.cli("mailbox", "add", "erin@acme", "--password", "erin-pw-1")
    assert mailbox_msgs(p.root, "erin") == []

    body = tmp_path / "body.txt"
    body.write_text("The server restarts at 22:00.\n")
    r = p.cli("postoffice", "email", "acme", "--subject", "Maintenance",
              "--body-file", str(body), json_out=True)
    assert r["sent"] == 7 and r["failed"] == 0   # postmaster alice bob carol dave frank erin
    p.cli("mailbox", "email", "alice@acme", "--subject", "Just you",
          "--body-file", str(body))
    p.start(services=["pop3d", "imapd"])
    a = pop_count(p, "alice@acme", "alice-pw")
    assert len(a) == 2
    assert any("Subject: Maintenance" in x for x in a)
    assert any("Subject: Just you" in x and "To: <alice@acme.test>" in x
               for x in a)
    b = pop_count(p, "bob@acme", "bob-pw")
    assert len(b) == 1 and "The server restarts at 22:00." in b[0]
    r = p.cli("mailbox", "email", "nobody@acme", "--subject", "x",
              "--body-file", str(body), check=False)
    assert r.returncode == 3


def test_delete_inbox_messages(populated):
    p = populated
    p.start(services=["smtpd", "mta", "deliver", "imapd"])
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        for to in ("alice", "alice", "alice", "bob", "bob"):
            msg, _ = make_msg("x@remote.test", f"{to}@acme.test",
                              body=("b" * 70 + "\r\n") * 30)
            s.sendmail("x@remote.test", [f"{to}@acme.test"], msg.encode())
    wait_for(lambda: len(mailbox_msgs(p.root, "alice")) == 3 and
             len(mailbox_msgs(p.root, "bob")) == 2, 60, "delivered")
    im = imaplib.IMAP4("127.0.0.1", p.port("imap"))
    im.login("alice@acme", "alice-pw")
    typ, d = im.select("INBOX")
    assert d[0] == b"3"
    usage0 = p.cli("postoffice", "usage", "acme", json_out=True)["usage_bytes"]

    # nothing is older than 1 day or before 2000-01-01
    r = p.cli("messages", "delete", "--all", "--older-than", "1", "--yes",
              json_out=True)
    assert r["deleted"] == 0
    r = p.cli("messages", "delete", "--mailbox", "alice@acme", "--before",
              "2000-01-01", "--yes", json_out=True)
    assert r["deleted"] == 0
    # everything before tomorrow, in alice's mailbox only
    r = p.cli("messages", "delete", "--mailbox", "alice@acme", "--before",
              "2999-01-01", "--yes", json_out=True)
    assert r["deleted"] == 3
    assert r["mailboxes"] == [{"mailbox": "alice@acme", "deleted": 3}]
    im.noop()
    typ, d = im.select("INBOX")
    assert d[0] == b"0", "the IMAP view sees them expunged"
    im.logout()
    assert mailbox_msgs(p.root, "alice") == []
    assert len(mailbox_msgs(p.root, "bob")) == 2
    usage1 = p.cli("postoffice", "usage", "acme", json_out=True)["usage_bytes"]
    assert usage1 < usage0 - 3 * 2000, "the quota usage went down"
    # the whole post office, older than 0 days
    r = p.cli("messages", "delete", "--postoffice", "acme", "--everything", "--yes",
              json_out=True)
    assert r["deleted"] == 2 and mailbox_msgs(p.root, "bob") == []
    assert p.cli("postoffice", "usage", "acme",
                 json_out=True)["usage_bytes"] == 0
    for bad in (["--all"], ["--all", "--mailbox", "alice@acme", "--everything"],
                ["--all", "--before", "yesterday"],
                ["--all", "--older-than", "x"]):
        assert p.cli("messages", "delete", *bad, check=False).returncode == 2

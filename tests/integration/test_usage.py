"""Post office usage notifications (manual 5.3.5): ONE notice when the
post office's usage (the sum of its mailboxes' quota usage) crosses the
threshold, not one per message; re-armed when usage drops below it;
`postern postoffice usage` shows the figure."""
import imaplib
import smtplib

from test_mta import mailbox_msgs, make_msg, wait_for

SERVICES = ["smtpd", "mta", "deliver", "imapd"]


def send(p, frm, to, msg):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail(frm, [to], msg.encode())


def notices(p):
    return [m for m in mailbox_msgs(p.root, "bob")
            if "reached its usage threshold" in m]


def test_one_notice_per_crossing(populated):
    p = populated
    p.cli("postoffice", "set", "acme", "usage_notify=yes",
          "usage_threshold=12K", "usage_notify_mailbox=bob")
    p.start(services=SERVICES)
    u = p.cli("postoffice", "usage", "acme", json_out=True)
    assert u["usage_bytes"] == 0 and u["usage_threshold_kb"] == 12
    body = ("y" * 70 + "\r\n") * 40            # about 2.9 KB each
    for i in range(8):
        msg, _ = make_msg("x@remote.test", "alice@acme.test", subject=f"m{i}",
                          body=body)
        send(p, "x@remote.test", "alice@acme.test", msg)
    wait_for(lambda: len(mailbox_msgs(p.root, "alice")) == 8, 90, "delivered")
    n = wait_for(lambda: notices(p), 30, "the notice")
    assert len(n) == 1
    assert "Post office acme has reached its usage threshold" in n[0]
    u = p.cli("postoffice", "usage", "acme", json_out=True)
    assert u["usage_bytes"] > 12 * 1024 and u["messages"] >= 8
    assert u["usage_notified"] is True
    text = p.cli("postoffice", "usage", "acme").stdout
    assert "post office acme:" in text and "notified" in text

    # below again: alice expunges everything over IMAP, the next delivery
    # re-arms, the next crossing notifies once more
    im = imaplib.IMAP4("127.0.0.1", p.port("imap"))
    im.login("alice@acme", "alice-pw")
    im.select("INBOX")
    im.store("1:*", "+FLAGS", "(\\Deleted)")
    im.expunge()
    im.logout()
    msg, _ = make_msg("x@remote.test", "alice@acme.test", subject="small")
    send(p, "x@remote.test", "alice@acme.test", msg)
    wait_for(lambda: "notification re-armed" in p.log("deliver"), 60, "re-arm")
    assert p.cli("postoffice", "usage", "acme",
                 json_out=True)["usage_notified"] is False
    for i in range(6):
        msg, _ = make_msg("x@remote.test", "alice@acme.test", subject=f"n{i}",
                          body=body)
        send(p, "x@remote.test", "alice@acme.test", msg)
    wait_for(lambda: len(notices(p)) == 2, 90, "the second notice")
    wait_for(lambda: len(mailbox_msgs(p.root, "alice")) == 7, 60, "delivered")
    assert len(notices(p)) == 2


def test_usage_cli_unknown_and_off(populated):
    p = populated
    r = p.cli("postoffice", "usage", "nope", check=False)
    assert r.returncode != 0
    assert "no usage notification" in p.cli("postoffice", "usage", "acme").stdout

"""The auto responder (manual 5.5.6, RFC 3834), end to end over SMTP: one
reply per sender per period (kept across a restart), never to bulk, list,
automatic, null-sender or system mail, no loop between two responders,
the time window, and the postmaster mailbox refused."""
import email
import email.policy
import smtplib
import time

from test_mta import mailbox_msgs, make_msg, queue_items, wait_for

SERVICES = ["smtpd", "mta", "deliver"]


def send(p, frm, to, msg):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail(frm, [to], msg.encode())


def parse(raw):
    return email.message_from_string(raw, policy=email.policy.default)


def enable(p, mb, *extra):
    p.cli("mailbox", "set", mb, "autoresponder_enabled=yes", *extra)


def test_reply_once_per_period_and_after_restart(populated):
    p = populated
    enable(p, "alice@acme", "autoresponder_body=I am away.\nBack Monday.",
           "friendly_name=Alice Smith", "reply_to=desk@acme.test")
    p.start(services=SERVICES)
    msg, mid = make_msg("bob@acme.test", "alice@acme.test", subject="hello")
    send(p, "bob@acme.test", "alice@acme.test", msg)
    r = wait_for(lambda: mailbox_msgs(p.root, "bob"), 60, "auto reply")
    rep = parse(r[0])
    assert rep["Auto-Submitted"] == "auto-replied"
    assert rep["Subject"] == "Auto: hello"
    assert rep["In-Reply-To"] == mid and mid in rep["References"]
    assert rep["From"].addresses[0].display_name == "Alice Smith"
    assert rep["From"].addresses[0].addr_spec == "alice@acme.test"
    assert rep["Reply-To"].addresses[0].addr_spec == "desk@acme.test"
    assert r[0].startswith("Return-Path: <>\r\n"), "null sender"
    assert "I am away.\r\nBack Monday." in r[0]

    # a second message from the same sender: no second reply
    msg2, mid2 = make_msg("bob@acme.test", "alice@acme.test", subject="again")
    send(p, "bob@acme.test", "alice@acme.test", msg2)
    wait_for(lambda: len(mailbox_msgs(p.root, "alice")) == 2, 60, "2nd copy")
    wait_for(lambda: "one was sent in the last 24 hours" in p.log("deliver"),
             30, "rate limit log line")
    # the record survives a restart
    p.stop()
    p.start(services=SERVICES)
    msg3, _ = make_msg("bob@acme.test", "alice@acme.test", subject="third")
    send(p, "bob@acme.test", "alice@acme.test", msg3)
    wait_for(lambda: len(mailbox_msgs(p.root, "alice")) == 3, 60, "3rd copy")
    wait_for(lambda: p.log("deliver").count("one was sent in the last") >= 2,
             30, "rate limit after restart")
    time.sleep(1)
    assert len(mailbox_msgs(p.root, "bob")) == 1, "one reply per period"

    # period 0: every message gets a reply; a configured subject
    p.cli("mailbox", "set", "alice@acme", "autoresponder_period_h=0",
          "autoresponder_subject=Out of office")
    msg4, mid4 = make_msg("bob@acme.test", "alice@acme.test", subject="4th")
    send(p, "bob@acme.test", "alice@acme.test", msg4)
    r = wait_for(lambda: len(mailbox_msgs(p.root, "bob")) == 2 and
                 mailbox_msgs(p.root, "bob"), 60, "reply with period 0")
    reps = [parse(x) for x in r]
    assert any(x["Subject"] == "Out of office" and x["In-Reply-To"] == mid4
               for x in reps)


def test_no_reply_to_bulk_list_automatic_null_or_system(populated):
    p = populated
    enable(p, "alice@acme")
    p.start(services=SERVICES)
    cases = [
        ("bob@acme.test", "Precedence: bulk\r\n"),
        ("bob@acme.test", "Precedence: list\r\n"),
        ("bob@acme.test", "Precedence: junk\r\n"),
        ("bob@acme.test", "List-Id: <news.example.org>\r\n"),
        ("bob@acme.test", "List-Unsubscribe: <mailto:u@example.org>\r\n"),
        ("bob@acme.test", "Auto-Submitted: auto-generated\r\n"),
        ("bob@acme.test", "Auto-Submitted: auto-replied\r\n"),
        ("bob@acme.test", "X-Auto-Response-Suppress: OOF, AutoReply\r\n"),
        ("", ""),
        ("MAILER-DAEMON@remote.test", ""),
        ("postmaster@remote.test", ""),
        ("news-request@remote.test", ""),
        ("owner-list@remote.test", ""),
        ("alice@acme.test", ""),   # her own address
    ]
    for frm, extra in cases:
        msg, _ = make_msg(frm or "nobody@remote.test", "alice@acme.test",
                          extra=extra)
        send(p, frm, "alice@acme.test", msg)
    # then a normal message: the only one answered
    msg, mid = make_msg("bob@acme.test", "alice@acme.test", subject="normal",
                        extra="Auto-Submitted: no\r\n")
    send(p, "bob@acme.test", "alice@acme.test", msg)
    wait_for(lambda: len(mailbox_msgs(p.root, "alice")) >= len(cases) + 1, 90,
             "every message delivered")
    r = wait_for(lambda: mailbox_msgs(p.root, "bob"), 60, "the one reply")
    time.sleep(1.5)
    r = mailbox_msgs(p.root, "bob")
    assert len(r) == 1 and parse(r[0])["In-Reply-To"] == mid
    # nothing went out to the remote system senders
    assert queue_items(p.root, "smtp", "outgoing") == []
    log = p.log("deliver")
    assert log.count("no auto reply from alice@acme") >= len(cases)
    for why in ("null sender", "bulk, list or automatic message",
                "system sender", "X-Auto-Response-Suppress",
                "the sender is the mailbox itself"):
        assert why in log, why


def test_two_responders_do_not_loop(populated):
    p = populated
    enable(p, "alice@acme", "autoresponder_period_h=0")
    enable(p, "bob@acme", "autoresponder_period_h=0")
    p.start(services=SERVICES)
    msg, mid = make_msg("bob@acme.test", "alice@acme.test", subject="ping")
    send(p, "bob@acme.test", "alice@acme.test", msg)
    r = wait_for(lambda: mailbox_msgs(p.root, "bob"), 60, "alice's reply")
    wait_for(lambda: "no auto reply from bob@acme" in p.log("deliver"), 30,
             "bob's responder declines")
    time.sleep(2)
    assert len(mailbox_msgs(p.root, "bob")) == 1
    assert len(mailbox_msgs(p.root, "alice")) == 1, "no reply to the reply"
    assert parse(r[0])["Auto-Submitted"] == "auto-replied"


def test_remote_sender_reply_goes_out_with_null_sender(populated):
    p = populated
    enable(p, "alice@acme", "autoresponder_subject=Gone fishing \u00e9t\u00e9")
    p.start(services=SERVICES)
    msg, mid = make_msg("carol@remote.test", "alice@acme.test")
    send(p, "carol@remote.test", "alice@acme.test", msg)
    out = wait_for(lambda: queue_items(p.root, "smtp", "outgoing"), 60,
                   "reply in smtp outgoing")
    qid, env = out[0]
    assert "sender =\n" in env and "rcpt =carol@remote.test" in env
    assert "bulk 1" in env
    raw = (p.root / "queue/smtp/outgoing/new" / f"{qid}.msg").read_text()
    rep = parse(raw)
    assert rep["Subject"] == "Gone fishing \u00e9t\u00e9"
    assert "=?UTF-8?B?" in raw


def test_window_and_postmaster(populated):
    p = populated
    r = p.cli("mailbox", "set", "postmaster@acme", "autoresponder_enabled=yes",
              check=False)
    assert r.returncode != 0 and "postmaster" in (r.stderr + r.stdout)
    enable(p, "alice@acme", "autoresponder_start=2099-01-01")
    enable(p, "bob@acme", "autoresponder_end=2001-01-01")
    p.start(services=SERVICES)
    for a, b in (("bob", "alice"), ("alice", "bob")):
        msg, _ = make_msg(f"{a}@acme.test", f"{b}@acme.test")
        send(p, f"{a}@acme.test", f"{b}@acme.test", msg)
    wait_for(lambda: "before autoresponder_start" in p.log("deliver") and
             "after autoresponder_end" in p.log("deliver"), 60, "window")
    time.sleep(1)
    assert len(mailbox_msgs(p.root, "alice")) == 1
    assert len(mailbox_msgs(p.root, "bob")) == 1

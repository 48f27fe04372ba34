"""Mailbox filters in Sieve, end to end: a script set with `postern filter
set`, mail over SMTP through smtpd, the MTA and deliver, the result read
from the Maildir (folders, flags) and the queues (vacation replies and
rejections going out, redirects arriving at the other mailbox)."""
import imaplib
import smtplib
import os
import time
from pathlib import Path

from test_mta import header_block, mailbox_msgs, queue_items, wait_for
from test_privileges import owned  # noqa: F401 (fixture)

SERVICES = ["smtpd", "mta", "deliver"]
T = 60   # the machine is loaded: generous deadlines


def set_filter(p, mbox, text, name=None):
    f = p.root.parent / f"{mbox}-{time.time_ns()}.sieve"
    f.write_text(text)
    args = ["filter", "set", f"{mbox}@acme", str(f)]
    if name:
        args += ["--name", name]
    return p.cli(*args).stdout


def send(p, frm, to, subject="test", body="hello\r\n", extra="", rcpt=None):
    msg = (f"From: {frm}\r\nTo: {', '.join(to) if isinstance(to, list) else to}"
           f"\r\nSubject: {subject}\r\nMessage-ID: <{time.time_ns()}@t.example>"
           f"\r\n{extra}\r\n{body}")
    m = smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=30)
    rcpts = rcpt or (to if isinstance(to, list) else [to])
    m.sendmail(frm, [r.split("<")[-1].rstrip(">") for r in rcpts], msg.encode())
    m.quit()


def folder_files(root, mbox, folder):
    base = Path(root) / "store" / "acme" / mbox / f".{folder}"
    out = []
    for sub in ("new", "cur"):
        d = base / sub
        if d.is_dir():
            out += sorted(d.iterdir())
    return out


def inbox_files(root, mbox):
    base = Path(root) / "store" / "acme" / mbox
    return [f for sub in ("new", "cur") if (base / sub).is_dir()
            for f in sorted((base / sub).iterdir())]


def outgoing(p):
    """(id, env, message text) of the items queued for remote delivery"""
    out = []
    for qid, env in queue_items(p.root, "smtp", "outgoing"):
        msg = (p.root / "queue/smtp/outgoing/new" / f"{qid}.msg")
        out.append((qid, env, msg.read_text(errors="replace")
                    if msg.exists() else ""))
    return out


def deliver_log(p):
    return p.log("deliver")


FILTER = r'''require ["fileinto", "imap4flags", "body", "relational",
          "comparator-i;ascii-numeric", "variables", "subaddress"];
# work mail, flagged
if header :contains "subject" "[work]" {
    addflag ["\\Flagged", "$Work"];
    fileinto "Work";
    stop;
}
if body :contains "unsubscribe-me" { discard; stop; }
if address :detail ["to", "cc"] "news" { fileinto "News"; stop; }
if header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "5" {
    fileinto "Junk";
    stop;
}
if header :matches "subject" "tag:*" {
    set :lower "t" "${1}";
    fileinto "Tags.${t}";
    stop;
}
if header :contains "subject" "read it" { setflag "\\Seen"; }
'''


def test_fileinto_discard_flags_and_extensions(populated):
    p = populated
    out = set_filter(p, "alice", FILTER)
    assert "stored and active" in out
    assert p.cli("filter", "show", "alice@acme").stdout.strip() == FILTER.strip()
    p.start(services=SERVICES)
    send(p, "x@remote.test", "alice@acme.test", subject="report [work]")
    send(p, "x@remote.test", "alice@acme.test", subject="spam",
         body="click unsubscribe-me now\r\n")
    send(p, "x@remote.test", ["alice@acme.test"], subject="news",
         extra="Cc: alice+news@acme.test\r\n")
    send(p, "x@remote.test", "alice@acme.test", subject="maybe",
         extra="X-Spam-Score: 12\r\n")
    send(p, "x@remote.test", "alice@acme.test", subject="maybe",
         extra="X-Spam-Score: 3\r\n")
    send(p, "x@remote.test", "alice@acme.test", subject="tag:Projects")
    send(p, "x@remote.test", "alice@acme.test", subject="please read it")
    work = wait_for(lambda: folder_files(p.root, "alice", "Work"), T, "Work")
    assert work[0].name.endswith(":2,F"), work[0].name
    assert "report [work]" in work[0].read_text()
    wait_for(lambda: folder_files(p.root, "alice", "News"), T, "News")
    junk = wait_for(lambda: folder_files(p.root, "alice", "Junk"), T, "Junk")
    assert "X-Spam-Score: 12" in junk[0].read_text()
    wait_for(lambda: folder_files(p.root, "alice", "Tags.projects"), T,
             "Tags.projects (variables)")
    inbox = wait_for(lambda: len(inbox_files(p.root, "alice")) >= 2 and
                     inbox_files(p.root, "alice"), T, "the two kept")
    texts = {f.name: f.read_text() for f in inbox}
    seen = [n for n, t in texts.items() if "please read it" in t]
    assert seen and seen[0].endswith(":2,S"), texts.keys()
    assert any("X-Spam-Score: 3" in t for t in texts.values())
    wait_for(lambda: "sieve: discarded" in deliver_log(p), T, "discard logged")
    time.sleep(1)
    assert not any("unsubscribe-me" in t for t in mailbox_msgs(p.root, "alice"))
    assert len(inbox_files(p.root, "alice")) == 2
    # the folders are real IMAP folders (created by fileinto)
    p.stop()
    p.start(services=["imapd"])
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=30)
    c.login("alice@acme", "alice-pw")
    typ, lst = c.list()
    names = b" ".join(lst)
    assert b"Work" in names and b"Tags.projects" in names
    typ, d = c.select("Work")
    assert d == [b"1"]
    typ, d = c.fetch("1", "(FLAGS)")
    assert b"\\Flagged" in d[0] and b"$Work" in d[0], d
    c.logout()


def test_redirect_and_loop(populated):
    p = populated
    set_filter(p, "alice", 'redirect "bob@acme.test";\n')
    set_filter(p, "bob", 'require "copy";\nredirect :copy "alice@acme.test";\n')
    p.start(services=SERVICES)
    send(p, "x@remote.test", "alice@acme.test", subject="ping pong")
    b = wait_for(lambda: mailbox_msgs(p.root, "bob"), T, "bob's copy")
    hdr = header_block(b[0])
    assert "Delivered-To: alice@acme.test" in hdr
    assert "Return-Path: <x@remote.test>" in hdr, "original envelope sender"
    # bob's :copy back to alice is refused: it passed alice already
    wait_for(lambda: "refused: the message passed there already"
             in deliver_log(p) or "mail loop" in deliver_log(p), T,
             "loop stopped")
    time.sleep(2)
    assert len(mailbox_msgs(p.root, "bob")) == 1
    assert mailbox_msgs(p.root, "alice") == []


def test_reject_and_ereject(populated):
    p = populated
    set_filter(p, "alice", 'require "reject";\n'
               'if header :contains "subject" "offer" { reject "Not wanted."; }\n')
    set_filter(p, "bob", 'require "ereject";\nereject "Go away.";\n')
    p.start(services=SERVICES)
    send(p, "x@remote.test", "alice@acme.test", subject="great offer")
    send(p, "y@remote.test", "bob@acme.test", subject="hi")
    out = wait_for(lambda: len(outgoing(p)) >= 2 and outgoing(p), T,
                   "two rejections to the senders")
    by_rcpt = {}
    for qid, env, msg in out:
        for line in env.splitlines():
            if line.startswith("rcpt "):
                by_rcpt[line.split("=", 1)[1].split()[0]] = (env, msg)
    assert "x@remote.test" in by_rcpt, [(e, m[:300]) for _, e, m in out]
    env, msg = by_rcpt["x@remote.test"]
    assert "sender =\n" in env, "the notice has the null sender"
    # reject: an MDN (RFC 5429 2.2); ereject: a DSN (2.1.1)
    assert "report-type=disposition-notification" in msg
    assert "Not wanted." in msg and "Disposition: automatic-action/" \
        "MDN-sent-automatically; deleted" in msg
    assert "Subject: great offer" in msg, "the original header"
    env2, msg2 = by_rcpt["y@remote.test"]
    assert "sender =\n" in env2
    assert "5.7.1" in msg2 and "Go away." in msg2
    assert "report-type=delivery-status" in msg2
    assert mailbox_msgs(p.root, "alice") == []
    # a message from the null sender is not answered
    m = smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=30)
    m.sendmail("", ["alice@acme.test"], b"Subject: offer\r\n\r\nx\r\n")
    m.quit()
    wait_for(lambda: "no notice (null sender" in deliver_log(p), T, "null")
    assert len(outgoing(p)) == 2


def test_vacation_once_per_sender(populated):
    p = populated
    set_filter(p, "alice", 'require "vacation";\n'
               'vacation :days 7 :subject "Away" "I am away until Monday.";\n')
    # records older than the longest :days (365) are swept at the next
    # reply; younger ones stay
    vac = p.root / "store/acme/alice/sieve/.vacation"
    vac.mkdir(parents=True, exist_ok=True)
    now = time.time()
    (vac / "00000000000000aa").write_text("old@remote.test")
    os.utime(vac / "00000000000000aa", (now - 400 * 86400,) * 2)
    (vac / "00000000000000bb").write_text("recent@remote.test")
    os.utime(vac / "00000000000000bb", (now - 100 * 86400,) * 2)
    p.start(services=SERVICES)
    send(p, "x@remote.test", "alice@acme.test", subject="one")
    wait_for(lambda: len(mailbox_msgs(p.root, "alice")) == 1, T, "kept")
    out = wait_for(lambda: outgoing(p), T, "the reply")
    wait_for(lambda: not (vac / "00000000000000aa").exists(), T,
             "the expired record swept")
    assert (vac / "00000000000000bb").exists()
    qid, env, msg = out[0]
    assert "sender =\n" in env and "rcpt =x@remote.test" in env
    assert "Auto-Submitted: auto-replied" in msg
    assert "Subject: Away" in msg and "I am away until Monday." in msg
    assert "From: alice@acme.test" in msg and "In-Reply-To: <" in msg
    # the same sender again: no second reply; another sender: one
    send(p, "x@remote.test", "alice@acme.test", subject="two")
    send(p, "z@remote.test", "alice@acme.test", subject="three")
    wait_for(lambda: len(mailbox_msgs(p.root, "alice")) == 3, T, "kept")
    wait_for(lambda: len(outgoing(p)) == 2, T, "reply to z")
    # no reply to a list, to auto-submitted mail, to the null sender
    send(p, "w@remote.test", "alice@acme.test", subject="list",
         extra="List-Id: <l.remote.test>\r\n")
    send(p, "v@remote.test", "alice@acme.test", subject="auto",
         extra="Auto-Submitted: auto-generated\r\n")
    send(p, "u@remote.test", "other@remote.test", subject="not to me",
         rcpt=["alice@acme.test"])
    wait_for(lambda: deliver_log(p).count("vacation: no reply") >= 3, T,
             "the list, the auto reply and the Bcc skipped")
    time.sleep(2)
    log = deliver_log(p)
    assert "had a reply within 7 days" in log
    assert "Auto-Submitted" in log and "List-*" in log
    assert "the recipient is not in To/Cc/Bcc" in log
    assert len(outgoing(p)) == 2, "no more replies"


def test_vacation_once_when_deliveries_run_side_by_side(populated):
    """deliver's workers take messages in parallel: several from one
    sender arriving together get one vacation reply, not one per worker
    that checked the record before another wrote it."""
    import threading
    p, senders, per = populated, 6, 6
    set_filter(p, "alice", 'require "vacation";\n'
               'vacation :days 3 "Away.";\n')
    p.start(services=SERVICES)
    for k in range(senders):
        ts = [threading.Thread(target=send, args=(p, f"s{k}@remote.test",
                                                  "alice@acme.test", f"m{k}.{i}"))
              for i in range(per)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
    wait_for(lambda: len(mailbox_msgs(p.root, "alice")) == senders * per, T,
             "delivered")
    wait_for(lambda: len(outgoing(p)) >= senders, T, "the replies")
    time.sleep(2)
    to = sorted(next(l for l in env.splitlines() if l.startswith("rcpt ="))
                .split()[1][1:] for _, env, _ in outgoing(p))
    assert to == sorted(f"s{k}@remote.test" for k in range(senders)), \
        deliver_log(p)


def test_check_errors_and_limits(populated):
    p = populated
    bad = p.root.parent / "bad.sieve"
    bad.write_text('require "fileinto";\nif header :is "subject" "x" {\n'
                   '  fileinto "A"\n}\n')
    r = p.cli("filter", "check", str(bad), check=False)
    assert r.returncode == 2 and "4:1: expected ';' or '{' after fileinto" \
        in r.stderr
    bad.write_text('require ["fileinto", "nosuchext"];\n')
    r = p.cli("filter", "set", "alice@acme", str(bad), check=False)
    assert r.returncode == 2 and '1:9: unsupported extension "nosuchext"' \
        in r.stderr
    # deeply nested
    bad.write_text("if true {\n" * 100 + "}\n" * 100)
    r = p.cli("filter", "check", str(bad), check=False)
    assert r.returncode == 2 and "33:4: nesting deeper than 32" in r.stderr
    # huge
    bad.write_text("# " + "x" * 100 + "\n" * 1 + ("keep;\n" * 200000))
    r = p.cli("filter", "set", "alice@acme", str(bad), check=False)
    assert r.returncode == 2 and "1:1: script larger than" in r.stderr
    r = p.cli("filter", "show", "alice@acme", check=False)
    assert r.returncode == 3, "nothing was stored"
    ok = p.root.parent / "ok.sieve"
    ok.write_text("keep;\n")
    assert "ok" in p.cli("filter", "check", str(ok)).stdout
    p.cli("filter", "set", "alice@acme", str(ok), "--name", "one")
    p.cli("filter", "set", "alice@acme", str(ok), "--name", "two")
    assert p.cli("filter", "list", "alice@acme").stdout == "one\ntwo (active)\n"
    p.cli("filter", "activate", "alice@acme", "one")
    r = p.cli("filter", "delete", "alice@acme", "one", check=False)
    assert r.returncode == 1, "the active script is not deleted"
    p.cli("filter", "delete", "alice@acme", "two")
    assert p.cli("filter", "list", "alice@acme").stdout == "one (active)\n"


def test_unprivileged_services_use_scripts_set_by_root(owned):
    """The data root belongs to an unprivileged user: a script set by
    root with the CLI is given to that user, so deliver (running as the
    user) files mail with it and writes its vacation records."""
    p, pw = owned
    f = p.root.parent / "s.sieve"
    f.write_text('require ["fileinto", "vacation"];\n'
                 'vacation "away";\nfileinto "Filed";\n')
    p.cli("filter", "set", "alice@acme", str(f))
    sdir = p.root / "store/acme/alice/sieve"
    for x in [sdir] + list(sdir.iterdir()):
        assert x.stat().st_uid == pw.pw_uid, x
    p.start(services=SERVICES, timeout=60)
    send(p, "x@remote.test", "alice@acme.test", subject="s")
    wait_for(lambda: folder_files(p.root, "alice", "Filed"), T, "filed")
    wait_for(lambda: outgoing(p), T, "the vacation reply")
    track = list((sdir / ".vacation").iterdir())
    assert track and track[0].stat().st_uid == pw.pw_uid

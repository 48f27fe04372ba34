"""The list server connector (src/listserv): one copy per member with the
list headers (RFC 2369, 2919, 8058 mailto form), moderation by the CLI and
by reply, subscription with confirmation, unsubscription through the
List-Unsubscribe address and by request, bounce counting that disables a
member (VERP and DSN parsing), disabled and members-only lists."""
import re
import smtplib
import time

from test_mta import (header_block, mailbox_msgs, make_msg, queue_items,
                      queue_put, wait_for)

SERVICES = ["smtpd", "mta", "deliver", "listserv"]
T = 60   # the machine is loaded: generous deadlines


def send(p, sender, rcpts, subject="hello", body="hello list\r\n", extra="",
         frm=None):
    msg = (f"From: {frm or sender or 'mailer-daemon@remote.test'}\r\n"
           f"To: {rcpts[0]}\r\nSubject: {subject}\r\n"
           f"Message-ID: <{time.time_ns()}@test.example>\r\n{extra}\r\n{body}")
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail(sender, rcpts, msg.encode())
    return msg


def members(p, lst="news@acme.test"):
    return {m["address"]: m for m in
            p.cli("list", "member", "list", lst, json_out=True)}


def make_list(p, *opts, owner="alice@acme.test"):
    p.cli("list", "add", "news@acme.test", "--postoffice", "acme",
          "--owner", owner)
    if opts:
        p.cli("list", "set", "news@acme.test", *opts)


def remote_copies(p):
    return [(i, e) for i, e in queue_items(p.root, "smtp", "outgoing")]


def msgs_with(p, mbox, text):
    return [m for m in mailbox_msgs(p.root, mbox) if text in m]


def posts(p, mbox, subject):
    """copies of list posts with this subject in a mailbox"""
    return [m for m in mailbox_msgs(p.root, mbox)
            if "List-Post:" in header_block(m)
            and f"Subject: {subject}" in header_block(m)]


def test_post_to_50_members(populated):
    p = populated
    make_list(p, "subject_prefix=[news]", "footer=-- \nAcme news footer",
              "reply_to_list=yes", "description=Acme News")
    remote = [f"m{i:02d}@remote.test" for i in range(48)]
    for m in remote + ["alice@acme.test", "bob@acme.test"]:
        p.cli("list", "member", "add", "news@acme.test", m)
    p.start(services=SERVICES)
    send(p, "alice@acme.test", ["news@acme.test"], subject="first post")
    out = wait_for(lambda: len(remote_copies(p)) >= 48 and remote_copies(p),
                   T, "48 remote copies")
    time.sleep(1)
    out = remote_copies(p)
    assert len(out) == 48, "one copy per remote member, no more"
    got = sorted(re.search(r"^rcpt =(\S+)", e, re.M).group(1) for _, e in out)
    assert got == sorted(remote)
    for qid, env in out:
        assert "sender =news-bounces@acme.test\n" in env
    a = wait_for(lambda: msgs_with(p, "alice", "first post"), T, "alice's copy")
    b = wait_for(lambda: msgs_with(p, "bob", "first post"), T, "bob's copy")
    assert len(a) == 1 and len(b) == 1
    h = header_block(b[0])
    assert "Subject: [news] first post" in h
    assert 'List-Id: "Acme News" <news.acme.test>' in h
    assert "List-Post: <mailto:news@acme.test>" in h
    assert "List-Help: <mailto:news-request@acme.test?subject=help>" in h
    assert "List-Subscribe: <mailto:news-subscribe@acme.test>" in h
    assert re.search(r"List-Unsubscribe: <mailto:news-unsubscribe\+[0-9a-f]{20}"
                     r"@acme.test\?subject=unsubscribe>", h)
    assert "List-Unsubscribe-Post" not in h, "only with the HTTP service"
    assert "Precedence: list" in h
    assert "Reply-To: <news@acme.test>" in h
    assert "Return-Path: <news-bounces@acme.test>" in h
    assert b[0].rstrip().endswith("Acme news footer")
    # each member has its own unsubscribe key
    ua = re.search(r"news-unsubscribe\+([0-9a-f]+)", a[0]).group(1)
    ub = re.search(r"news-unsubscribe\+([0-9a-f]+)", b[0]).group(1)
    assert ua != ub
    # a copy sent back to the list is a loop and dropped
    msg = b[0].split("\n", 1)[1] if b[0].startswith("Return-Path") else b[0]
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail("bob@acme.test", ["news@acme.test"], msg.encode())
    wait_for(lambda: "loop" in p.log("listserv"), T, "loop detected")
    assert len(remote_copies(p)) == 48


def test_moderation_cli_and_reply(populated):
    p = populated
    make_list(p, "moderated=yes")
    for m in ("bob@acme.test", "ext@remote.test"):
        p.cli("list", "member", "add", "news@acme.test", m)
    p.start(services=SERVICES)

    def held():
        return p.cli("list", "held", "news@acme.test", json_out=True)

    def request_for(subject):
        reqs = wait_for(lambda: msgs_with(p, "alice", subject), T,
                        f"moderation request for {subject}")
        return re.search(r"Token:\s+([0-9a-f]{20})", reqs[-1]).group(1), reqs[-1]

    # 1. held, approved by the CLI
    send(p, "bob@acme.test", ["news@acme.test"], subject="post one")
    tok1, req = request_for("post one")
    assert f"Reply-To: <news-request+approve-{tok1}@acme.test>" in req
    assert [h["token"] for h in held()] == [tok1]
    assert not msgs_with(p, "bob", "post one")
    p.cli("list", "approve", "news@acme.test", tok1)
    wait_for(lambda: msgs_with(p, "bob", "post one"), T, "approved post")
    wait_for(lambda: held() == [], T, "held list empty")
    # 2. rejected by the CLI: the poster is told, nobody gets it
    send(p, "bob@acme.test", ["news@acme.test"], subject="post two")
    tok2, _ = request_for("post two")
    r = p.cli("list", "reject", "news@acme.test", "0" * 20, check=False)
    assert r.returncode == 3, "unknown token"
    p.cli("list", "reject", "news@acme.test", tok2)
    wait_for(lambda: msgs_with(p, "bob", "was rejected"), T, "rejection notice")
    # 3. approved by a reply of the owner to the request
    send(p, "bob@acme.test", ["news@acme.test"], subject="post three")
    tok3, _ = request_for("post three")
    # somebody else replying does nothing
    send(p, "mallory@acme.test", [f"news-request+approve-{tok3}@acme.test"],
         subject="Re: approve")
    time.sleep(3)
    assert not msgs_with(p, "bob", "post three")
    send(p, "alice@acme.test", [f"news-request+approve-{tok3}@acme.test"],
         subject="Re: awaits approval")
    wait_for(lambda: msgs_with(p, "bob", "post three"), T, "approved by reply")
    # 4. rejected by mail
    send(p, "bob@acme.test", ["news@acme.test"], subject="post four")
    tok4, _ = request_for("post four")
    send(p, "alice@acme.test", ["news-request@acme.test"],
         subject=f"reject {tok4}")
    wait_for(lambda: held() == [], T, "rejected by mail")
    time.sleep(2)
    assert not posts(p, "bob", "post four")
    assert not posts(p, "bob", "post two")
    assert len(msgs_with(p, "bob", "post two")) == 1  # only the notice
    # the owner's own post is not held
    send(p, "alice@acme.test", ["news@acme.test"], subject="owner post")
    wait_for(lambda: msgs_with(p, "bob", "owner post"), T, "owner post")
    ext = [e for _, e in remote_copies(p) if "rcpt =ext@remote.test" in e]
    assert len(ext) == 3, "posts one, three and the owner's"


def test_subscribe_confirm_and_unsubscribe(populated):
    p = populated
    make_list(p)
    p.cli("list", "member", "add", "news@acme.test", "alice@acme.test")
    p.start(services=SERVICES)
    # someone asks to subscribe bob: bob gets the token, nothing changes
    send(p, "bob@acme.test", ["news-subscribe@acme.test"], frm="mallory@x.test")
    conf = wait_for(lambda: msgs_with(p, "bob", "Subject: confirm "), T,
                    "confirmation")
    tok = re.search(r"Subject: confirm ([0-9a-f]{20})", conf[0]).group(1)
    assert f"Reply-To: <news-confirm+{tok}@acme.test>" in conf[0]
    assert "bob@acme.test" not in members(p)
    # a guessed token does nothing
    send(p, "mallory@remote.test", [f"news-confirm+{'1' * 20}@acme.test"])
    time.sleep(3)
    assert "bob@acme.test" not in members(p)
    # bob replies: subscribed, welcomed
    send(p, "bob@acme.test", ["news-request@acme.test"],
         subject=f"Re: confirm {tok}")
    wait_for(lambda: "bob@acme.test" in members(p), T, "subscribed")
    wait_for(lambda: msgs_with(p, "bob", "Welcome to news@acme.test"), T,
             "welcome")
    # subject "subscribe" to -request works the same (here for a remote)
    send(p, "carol@remote.test", ["news-request@acme.test"],
         subject="subscribe")
    wait_for(lambda: [e for _, e in remote_copies(p)
                      if "rcpt =carol@remote.test" in e], T, "carol's token")
    # unsubscribe through the List-Unsubscribe address of a copy
    send(p, "alice@acme.test", ["news@acme.test"], subject="news one")
    copy = wait_for(lambda: msgs_with(p, "bob", "news one"), T, "bob's copy")
    unsub = re.search(r"List-Unsubscribe: <mailto:([^?>]+)", copy[0]).group(1)
    send(p, "bob@acme.test", [unsub], subject="unsubscribe")
    wait_for(lambda: "bob@acme.test" not in members(p), T, "unsubscribed")
    wait_for(lambda: msgs_with(p, "bob", "You have left"), T, "goodbye")
    # unsubscribe by request: confirmed by mail to the confirm address
    send(p, "alice@acme.test", ["news-unsubscribe@acme.test"])
    conf = wait_for(lambda: [m for m in msgs_with(p, "alice", "Subject: confirm ")
                             if "unsubscribe" in m], T, "unsubscribe token")
    tok = re.search(r"Subject: confirm ([0-9a-f]{20})", conf[0]).group(1)
    assert "alice@acme.test" in members(p)
    send(p, "alice@acme.test", [f"news-confirm+{tok}@acme.test"])
    wait_for(lambda: "alice@acme.test" not in members(p), T, "alice left")


DSN_HEAD = ("Content-Type: multipart/report; report-type=delivery-status; "
            "boundary=X\r\nMIME-Version: 1.0\r\n")


def dsn_body(rcpt, action="failed"):
    return ("--X\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--X\r\n"
            "Content-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.remote.test\r\n\r\n"
            f"Final-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\n"
            "Status: 5.1.1\r\n\r\n--X--\r\n")


def test_bounces_probe_then_disable(populated):
    """Bounces are counted, and at the limit the member gets a probe with a
    signed VERP address: only a bounce of the probe disables it. Forged
    bounces (to VERP addresses, or a forged probe token) cannot disable
    anybody; a person's mail to the bounce address goes to the owner;
    read receipts and delays do not count; old bounces are forgotten."""
    p = populated
    make_list(p, "verp=yes", "bounce_limit=2", owner="bob@acme.test")
    for m in ("alice@acme.test", "ghost@acme.test", "far@remote.test"):
        p.cli("list", "member", "add", "news@acme.test", m)
    p.start(services=SERVICES)
    # ghost@ does not exist: the post office bounces each copy to the VERP
    # address news-bounces+ghost=acme.test@, which the list server counts
    send(p, "bob@acme.test", ["news@acme.test"], subject="b1")
    wait_for(lambda: members(p)["ghost@acme.test"]["bounces"] in (1, "1"), T,
             "first bounce")
    env = [e for _, e in remote_copies(p) if "rcpt =far@remote.test" in e]
    assert "sender =news-bounces+far=remote.test@acme.test\n" in env[0]
    send(p, "bob@acme.test", ["news@acme.test"], subject="b2")
    # at the limit: a probe, which bounces too: disabled, the owner told
    wait_for(lambda: members(p)["ghost@acme.test"]["status"] == "disabled", T,
             "ghost disabled when its probe bounced")
    assert re.search(r"<ghost@acme.test> reached the bounce limit: probe "
                     r"p[0-9a-f]{24} sent", p.log("listserv"))
    note = wait_for(lambda: msgs_with(p, "bob", "ghost@acme.test disabled"), T,
                    "the owner's notice")
    assert "Subject: news@acme.test: ghost@acme.test disabled" in note[0]

    # forged bounces for alice (old-style, null sender, to her VERP
    # address) reach the limit: she gets a probe, which does not bounce
    for i in range(2):
        send(p, "", ["news-bounces+alice=acme.test@acme.test"],
             subject=f"fake bounce {i}", body="your mail failed\r\n")
    probe = wait_for(lambda: msgs_with(p, "alice", "probe message"), T,
                     "alice's probe")
    tok = re.search(r"Return-Path: <news-bounces\+(p[0-9a-f]{24})@acme.test>",
                    probe[0]).group(1)
    # a forged probe bounce: the shape of a token, not its signature
    forged = tok[:-1] + ("0" if tok[-1] != "0" else "1")
    send(p, "", [f"news-bounces+{forged}@acme.test"], extra=DSN_HEAD,
         body=dsn_body("alice@acme.test"), subject="Undelivered")
    wait_for(lambda: "matches no pending probe" in p.log("listserv"), T,
             "the forged probe bounce")
    assert members(p)["alice@acme.test"]["status"] == "active"
    assert not msgs_with(p, "bob", "alice@acme.test disabled")

    # a person's mail to a bounce address: forwarded to the owner
    send(p, "carol@remote.test", ["news-bounces+far=remote.test@acme.test"],
         subject="hello owner")
    wait_for(lambda: msgs_with(p, "bob", "hello owner"), T, "owner forward")
    assert members(p)["far@remote.test"]["bounces"] in (0, "0")
    # a DSN to the plain bounce address: Final-Recipient names the member
    send(p, "", ["news-bounces@acme.test"], extra=DSN_HEAD,
         body=dsn_body("far@remote.test"), subject="Undelivered")
    wait_for(lambda: members(p)["far@remote.test"]["bounces"] in (1, "1"), T,
             "DSN counted")
    # a delay and a read receipt do not count
    send(p, "", ["news-bounces@acme.test"], extra=DSN_HEAD,
         body=dsn_body("far@remote.test", "delayed"), subject="Delayed")
    mdn = DSN_HEAD.replace("delivery-status", "disposition-notification")
    send(p, "", ["news-bounces+far=remote.test@acme.test"], extra=mdn,
         body=dsn_body("far@remote.test").replace(
             "message/delivery-status", "message/disposition-notification"),
         subject="Read: b1")
    wait_for(lambda: p.log("listserv").count("dropped") >= 2, T,
             "the delay and the receipt dropped")
    assert members(p)["far@remote.test"]["bounces"] in (1, "1")
    # bounces older than list.bounce_stale_after are forgotten: the next
    # one counts 1 again, not 2 (which would probe)
    p.cli("config", "set", "list.bounce_stale_after", "2")
    time.sleep(3)
    send(p, "", ["news-bounces@acme.test"], extra=DSN_HEAD,
         body=dsn_body("far@remote.test"), subject="Undelivered again")
    wait_for(lambda: p.log("listserv").count(
        "bounce from <far@remote.test> counted (1)") == 2, T,
        "the second DSN counted from 0")
    assert members(p)["far@remote.test"]["bounces"] in (1, "1")
    assert members(p)["far@remote.test"]["status"] == "active"
    assert "far@remote.test> reached the bounce limit" not in p.log("listserv")
    assert members(p)["alice@acme.test"]["bounces"] in (2, "2")


def test_disabled_and_members_only(populated):
    p = populated
    make_list(p, "members_only=yes")
    p.cli("list", "member", "add", "news@acme.test", "alice@acme.test")
    p.start(services=SERVICES)
    send(p, "bob@acme.test", ["news@acme.test"], subject="from outside")
    dsn = wait_for(lambda: msgs_with(p, "bob", "multipart/report"), T,
                   "members-only bounce")
    assert "5.7.1" in dsn[0] and "only members" in dsn[0]
    assert not msgs_with(p, "alice", "from outside")
    p.cli("list", "set", "news@acme.test", "disabled=yes")
    # smtpd refuses a disabled list at RCPT; mail queued before (here put
    # straight into the queue) is bounced by the list server
    try:
        send(p, "alice@acme.test", ["news@acme.test"], subject="refused")
        raise AssertionError("a disabled list accepted a post")
    except smtplib.SMTPRecipientsRefused as e:
        assert e.recipients["news@acme.test"][0] == 550
    msg, _ = make_msg("alice@acme.test", "news@acme.test",
                      subject="to a disabled list")
    queue_put(p.root, "smtp", "inbound", msg, "alice@acme.test",
              ["news@acme.test"])
    dsn = wait_for(lambda: msgs_with(p, "alice", "multipart/report"), T,
                   "disabled-list bounce")
    assert "5.2.1" in dsn[0]


def test_kill_mid_post_one_copy_per_member(populated):
    """SIGKILL of the list server while it writes the copies of a post to
    200 members: after the restart the MTA has received exactly one copy
    for every member (before: the copies handed over before the kill were
    handed over again)."""
    import json
    import os
    import signal
    from pathlib import Path
    p = populated
    make_list(p)
    mem = [f"k{i:03d}@remote.test" for i in range(200)]
    f = p.root / "members.csv"
    f.write_text("".join(m + "\n" for m in mem))
    p.cli("list", "member", "import", "news@acme.test", str(f))
    p.start(services=["mta", "listserv"])   # no smtp-out: copies stay queued
    pid = json.loads((p.root / "run/listserv.json").read_text())["pid"]
    msg, _ = make_msg("alice@acme.test", "news@acme.test", subject="kill test")
    qid = queue_put(p.root, "smtp", "inbound", msg, "alice@acme.test",
                    ["news@acme.test"])
    staged = Path(p.root) / "queue" / "ls" / "posting" / qid

    def routed():
        return re.findall(r"to=<(k\d{3}@remote\.test)> -> smtp", p.log("mta"))

    def midway():
        # copies staged (now) or already handed to the MTA (before)
        try:
            n = len([e for e in os.listdir(staged / "new")
                     if e.endswith(".env")])
        except OSError:
            n = 0
        return n >= 20 or len(routed()) >= 20
    wait_for(midway, T, "a post half written")
    os.kill(pid, signal.SIGKILL)
    assert "posted to 200 members" not in p.log("listserv"), \
        "the post was over before the kill: nothing tested"
    wait_for(lambda: json.loads((p.root / "run/listserv.json").read_text())
             ["pid"] != pid, 30, "posternd restarts the list server")
    wait_for(lambda: len(set(routed())) == 200, 4 * T, "every member's copy")
    time.sleep(3)
    got = routed()
    assert sorted(got) == sorted(mem), \
        f"{len(got)} copies for 200 members: duplicates"
    rcpts = sorted(re.search(r"^rcpt =(\S+)", e, re.M).group(1)
                   for _, e in remote_copies(p))
    assert rcpts == sorted(mem)
    wait_for(lambda: not staged.exists(), T, "the staging directory removed")


def test_held_posts_and_confirmations_expire(populated):
    """list.held_expire: a held post nobody decides on is discarded and its
    poster told; list.confirm_expire: an unanswered confirmation token
    stops working."""
    p = populated
    make_list(p, "moderated=yes")
    p.cli("list", "member", "add", "news@acme.test", "alice@acme.test")
    p.cli("config", "set", "list.held_expire", "2")
    p.cli("config", "set", "list.confirm_expire", "2")
    p.start(services=SERVICES)
    send(p, "bob@acme.test", ["news@acme.test"], subject="never decided")
    wait_for(lambda: msgs_with(p, "alice", "never decided"), T,
             "the moderation request")
    note = wait_for(lambda: msgs_with(p, "bob", "expired"), T,
                    "the expiry notice")
    assert "Subject: Your post to news@acme.test expired" in note[0]
    assert "never decided" in note[0]
    assert p.cli("list", "held", "news@acme.test", json_out=True) == []
    assert not [f for f in (p.root / "queue/ls/held").iterdir()]
    # bob asks to subscribe and answers too late
    send(p, "bob@acme.test", ["news-subscribe@acme.test"])
    conf = wait_for(lambda: msgs_with(p, "bob", "Subject: confirm "), T,
                    "confirmation")
    tok = re.search(r"Subject: confirm ([0-9a-f]{20})", conf[0]).group(1)
    wait_for(lambda: f"confirmation {tok} expired" in p.log("listserv"), T,
             "the token expired")
    send(p, "bob@acme.test", [f"news-confirm+{tok}@acme.test"])
    wait_for(lambda: f"confirmation {tok}: no such request" in
             p.log("listserv"), T, "the late answer")
    assert "bob@acme.test" not in members(p)
    # the post itself never went out
    assert not posts(p, "alice", "never decided")


def test_requests_by_subject_reply_to_and_members_round_trip(populated):
    """"subscribe" alone in the subject of a post is a request (Mailman's
    administrivia), not a post; the confirmation is answered by a reply
    to its Reply-To; an auto responder answering it confirms nothing;
    `postern list members` export/import round trip."""
    p = populated
    make_list(p)
    p.cli("list", "member", "add", "news@acme.test", "alice@acme.test",
          "--name", 'Doe, "Alice" É')
    p.start(services=SERVICES)
    send(p, "bob@acme.test", ["news@acme.test"], subject="Subscribe")
    conf = wait_for(lambda: msgs_with(p, "bob", "Subject: confirm "), T,
                    "confirmation")
    tok = re.search(r"Subject: confirm ([0-9a-f]{20})", conf[0]).group(1)
    reply_to = re.search(r"^Reply-To: <([^>]+)>", header_block(conf[0]),
                         re.M).group(1)
    assert reply_to == f"news-confirm+{tok}@acme.test"
    assert "handled as a request" in p.log("listserv")
    # asked again at once (or by a forger, many times): no second mail
    send(p, "bob@acme.test", ["news-subscribe@acme.test"], frm="x@remote.test")
    wait_for(lambda: "not sent again" in p.log("listserv"), T, "the repeat")
    assert len(msgs_with(p, "bob", "Subject: confirm ")) == 1
    # bob's auto responder answers the confirmation (to its Reply-To)
    send(p, "bob@acme.test", [reply_to], subject=f"Auto: confirm {tok}",
         extra="Auto-Submitted: auto-replied\r\n")
    wait_for(lambda: "automatic request" in p.log("listserv"), T,
             "the auto reply ignored")
    assert "bob@acme.test" not in members(p)
    # bob replies
    send(p, "bob@acme.test", [reply_to], subject=f"Re: confirm {tok}",
         body=f"> To confirm, reply to this message\r\n")
    wait_for(lambda: "bob@acme.test" in members(p), T, "subscribed")
    # the requests never went to the members
    assert not posts(p, "alice", "Subscribe")
    # "unsubscribe" to the list address, confirmed through -request
    send(p, "bob@acme.test", ["news@acme.test"], subject="unsubscribe")
    conf = wait_for(lambda: [m for m in msgs_with(p, "bob", "Subject: confirm ")
                             if "to unsubscribe" in m], T, "unsubscribe token")
    tok = re.search(r"Subject: confirm ([0-9a-f]{20})", conf[0]).group(1)
    send(p, "bob@acme.test", ["news-request@acme.test"],
         subject=f"Re: confirm {tok}")
    wait_for(lambda: "bob@acme.test" not in members(p), T, "unsubscribed")
    assert not posts(p, "alice", "unsubscribe")
    # members export | import into another list: the same members
    for m in ("Carol@Remote.test", "dave@remote.test"):
        p.cli("list", "members", "add", "news@acme.test", m)
    p.cli("list", "members", "del", "news@acme.test", "dave@remote.test")
    exported = p.cli("list", "members", "export", "news@acme.test").stdout
    assert exported == ('alice@acme.test,"Doe, ""Alice"" É"\n'
                        "carol@remote.test,\n")
    p.cli("list", "add", "two@acme.test", "--postoffice", "acme",
          "--owner", "alice@acme.test")
    f = p.root / "export.csv"
    f.write_text(exported)
    p.cli("list", "members", "import", "two@acme.test", str(f))
    assert p.cli("list", "members", "export", "two@acme.test").stdout == exported
    two = {m["address"]: m for m in
           p.cli("list", "member", "list", "two@acme.test", json_out=True)}
    assert two["alice@acme.test"]["name"] == 'Doe, "Alice" É'

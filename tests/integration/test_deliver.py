"""The post office connector: mailbox delivery, groups, redirection (with
and without a kept copy), catch-all (one copy), quota and disabled bounces
(RFC 3464 DSN to a local or remote sender), loops (hop count, Delivered-To,
redirect ping-pong), bad mail for the null sender, and a kill -9 of deliver
in the middle of a batch losing nothing."""
import json
import os
import shutil
import signal
import time

from test_mta import (SERVICES, badmail, header_block, mailbox_msgs, make_msg,
                      queue_items, queue_put, wait_for)


def deliver_pid(p):
    return json.loads((p.root / "run" / "deliver.json").read_text())["pid"]


def test_group_expands_local_and_external(populated):
    p = populated
    p.cli("group", "add", "staff@acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "dave@acme", "--password", "dave-pw-1")
    p.cli("mailbox", "set", "dave@acme", "disabled=yes")
    for m in ("alice@acme.test", "bob@acme.test", "ext@remote.test",
              "dave@acme.test"):
        p.cli("group", "member", "add", "staff@acme.test", m)
    p.start(services=SERVICES)
    msg, mid = make_msg("boss@remote.test", "staff@acme.test")
    qid = queue_put(p.root, "smtp", "inbound", msg, "boss@remote.test",
                    ["staff@acme.test"])
    a = wait_for(lambda: mailbox_msgs(p.root, "alice"), 10, "alice")
    b = wait_for(lambda: mailbox_msgs(p.root, "bob"), 10, "bob")
    assert mid in a[0] and mid in b[0]
    assert "Delivered-To: alice@acme.test" in a[0]
    out = wait_for(lambda: len(queue_items(p.root, "smtp", "outgoing")) == 2
                   and queue_items(p.root, "smtp", "outgoing"), 10,
                   "external member and the member's bounce through the MTA")
    (qid_out, env), = [x for x in out if "rcpt =ext@remote.test" in x[1]]
    # from an outside sender to an outside member: SRS (srs.h), so the
    # copy passes SPF at the next hop (test_sender_policy.py)
    assert "sender =SRS0=" in env and "=remote.test=boss@acme.test\n" in env
    assert qid_out.startswith(qid), "the queue id follows the message"
    # the disabled member is bounced to the sender, the others delivered
    (bid, benv), = [x for x in out if "rcpt =boss@remote.test" in x[1]]
    bounce = (p.root / "queue/smtp/outgoing/new" / f"{bid}.msg").read_text()
    assert "dave@acme.test" in bounce and "5.2.1" in bounce
    assert "sender =\n" in benv
    # a disabled group bounces as an invalid address
    p.cli("group", "set", "staff@acme.test", "disabled=yes")
    msg2, _ = make_msg("bob@acme.test", "staff@acme.test", subject="again")
    queue_put(p.root, "smtp", "inbound", msg2, "bob@acme.test",
              ["staff@acme.test"])
    dsn = wait_for(lambda: [m for m in mailbox_msgs(p.root, "bob")
                            if "multipart/report" in m], 10, "group bounce")
    assert "5.1.1" in dsn[0]


def test_redirect_without_and_with_copy(populated):
    p = populated
    p.cli("mailbox", "redirect", "add", "alice@acme", "bob@acme.test")
    p.cli("mailbox", "redirect", "add", "alice@acme", "far@remote.test")
    p.cli("mailbox", "set", "alice@acme", "redirect_enabled=yes")
    p.start(services=SERVICES)
    msg, mid = make_msg("x@remote.test", "alice@acme.test")
    queue_put(p.root, "smtp", "inbound", msg, "x@remote.test", ["alice@acme.test"])
    b = wait_for(lambda: mailbox_msgs(p.root, "bob"), 10, "bob via redirect")
    hdr = header_block(b[0])
    assert "Delivered-To: bob@acme.test" in hdr
    assert "Delivered-To: alice@acme.test" in hdr, "forwarding address recorded"
    out = wait_for(lambda: queue_items(p.root, "smtp", "outgoing"), 10, "remote")
    assert "rcpt =far@remote.test" in out[0][1]
    time.sleep(0.5)
    assert mailbox_msgs(p.root, "alice") == [], "no copy kept"

    p.cli("mailbox", "set", "alice@acme", "redirect_keep_copy=yes")
    msg2, mid2 = make_msg("x@remote.test", "alice@acme.test", subject="copy")
    queue_put(p.root, "smtp", "inbound", msg2, "x@remote.test", ["alice@acme.test"])
    a = wait_for(lambda: mailbox_msgs(p.root, "alice"), 10, "kept copy")
    assert mid2 in a[0]
    wait_for(lambda: any(mid2 in m for m in mailbox_msgs(p.root, "bob")), 10,
             "bob's redirected copy")


def test_catchall_one_copy_for_three_recipients(populated):
    p = populated
    p.cli("domain", "set", "acme.test", "catchall_address=bob")
    p.start(services=SERVICES)
    msg, mid = make_msg("x@remote.test", "a1@acme.test")
    rcpts = ["nope1@acme.test", "nope2@acme.test", "nope3@acme.test"]
    queue_put(p.root, "smtp", "inbound", msg, "x@remote.test",
              rcpts + ["alice@acme.test"])
    wait_for(lambda: mailbox_msgs(p.root, "alice"), 10, "alice")
    b = wait_for(lambda: mailbox_msgs(p.root, "bob"), 10, "catch-all copy")
    time.sleep(0.5)
    b = mailbox_msgs(p.root, "bob")
    assert len(b) == 1, "one copy however many recipients hit the catch-all"
    hdr = header_block(b[0]).replace("\n ", " ")
    line = [h for h in hdr.split("\n")
            if h.startswith("X-Postern-Catchall-Recipients:")][0]
    for r in rcpts:
        assert r in line
    assert "alice" not in line


def test_over_quota_bounces_to_local_and_remote_sender(populated):
    p = populated
    p.cli("mailbox", "set", "alice@acme", "quota=2K")
    p.start(services=SERVICES)
    big = "x" * 70 + "\r\n"
    msg, mid = make_msg("bob@acme.test", "alice@acme.test", body=big * 60)
    queue_put(p.root, "smtp", "inbound", msg, "bob@acme.test", ["alice@acme.test"],
              auth="bob@acme")
    dsn = wait_for(lambda: mailbox_msgs(p.root, "bob"), 10, "bounce to bob")
    d = dsn[0]
    assert "multipart/report" in d and "report-type=delivery-status" in d
    assert "Status: 5.2.2" in d
    assert "Final-Recipient: rfc822; alice@acme.test" in d or \
        "Final-Recipient: rfc822;alice@acme.test" in d
    assert d.startswith("Return-Path: <>\r\n"), "a bounce has the null sender"
    assert mailbox_msgs(p.root, "alice") == []
    # remote sender: the bounce goes out through smtp outgoing
    msg2, _ = make_msg("far@remote.test", "alice@acme.test", body=big * 60)
    queue_put(p.root, "smtp", "inbound", msg2, "far@remote.test",
              ["alice@acme.test"])
    out = wait_for(lambda: queue_items(p.root, "smtp", "outgoing"), 10,
                   "remote bounce")
    env = out[0][1]
    assert "rcpt =far@remote.test" in env and "sender =\n" in env
    assert "bulk 1" in env
    assert "over its quota" in p.log("deliver")
    # a small message still fits
    small, mid3 = make_msg("bob@acme.test", "alice@acme.test")
    queue_put(p.root, "smtp", "inbound", small, "bob@acme.test", ["alice@acme.test"],
              auth="bob@acme")
    a = wait_for(lambda: mailbox_msgs(p.root, "alice"), 10, "small message")
    assert mid3 in a[0]


def test_disabled_mailbox_bounces_and_null_sender_goes_to_badmail(populated):
    p = populated
    p.cli("mailbox", "set", "alice@acme", "disabled=yes")
    p.start(services=SERVICES)
    msg, mid = make_msg("bob@acme.test", "alice@acme.test")
    queue_put(p.root, "smtp", "inbound", msg, "bob@acme.test", ["alice@acme.test"],
              auth="bob@acme")
    dsn = wait_for(lambda: mailbox_msgs(p.root, "bob"), 10, "bounce")
    assert "Status: 5.2.1" in dsn[0]
    # an address unknown by the time the item is delivered: 5.1.1
    msg0, _ = make_msg("bob@acme.test", "ghost@acme.test")
    queue_put(p.root, "smtp", "inbound", msg0, "bob@acme.test",
              ["ghost@acme.test"], auth="bob@acme")
    dsn = wait_for(lambda: len(mailbox_msgs(p.root, "bob")) == 2 and
                   mailbox_msgs(p.root, "bob"), 10, "unknown bounce")
    assert any("Status: 5.1.1" in m and "ghost@acme.test" in m for m in dsn)
    # never bounce a bounce: the null sender's failure is quarantined
    msg2, _ = make_msg("MAILER-DAEMON@remote.test", "alice@acme.test")
    queue_put(p.root, "smtp", "inbound", msg2, "", ["alice@acme.test"])
    bm = wait_for(lambda: badmail(p.root), 10, "bad mail")
    (reason,) = bm.values()
    assert "null sender" in reason and "5.2.1" in reason
    assert len(mailbox_msgs(p.root, "bob")) == 2
    assert queue_items(p.root, "sf", "outgoing") == []


def test_loops_hops_delivered_to_and_redirect_pingpong(populated):
    p = populated
    p.start(services=SERVICES)
    hops = "".join(f"Received: from h{i} by h{i+1}; Mon, 1 Jan 2026\r\n"
                   for i in range(51))
    msg, _ = make_msg("bob@acme.test", "alice@acme.test", extra=hops)
    queue_put(p.root, "smtp", "inbound", msg, "bob@acme.test", ["alice@acme.test"],
              auth="bob@acme")
    d = wait_for(lambda: mailbox_msgs(p.root, "bob"), 10, "hop bounce")
    assert "Status: 5.4.6" in d[0]
    msg2, _ = make_msg("bob@acme.test", "alice@acme.test",
                       extra="Delivered-To: alice@acme.test\r\n")
    queue_put(p.root, "smtp", "inbound", msg2, "bob@acme.test", ["alice@acme.test"],
              auth="bob@acme")
    wait_for(lambda: len(mailbox_msgs(p.root, "bob")) == 2, 10, "DT bounce")
    assert mailbox_msgs(p.root, "alice") == []
    assert "Delivered-To: alice@acme.test is already" in p.log("deliver")

    # alice -> bob -> alice: stops with a bounce to the sender, once
    p.cli("mailbox", "add", "carol@acme", "--password", "carol-pw-1")
    p.cli("mailbox", "redirect", "add", "alice@acme", "bob@acme.test")
    p.cli("mailbox", "set", "alice@acme", "redirect_enabled=yes")
    p.cli("mailbox", "redirect", "add", "bob@acme", "alice@acme.test")
    p.cli("mailbox", "set", "bob@acme", "redirect_enabled=yes")
    msg3, _ = make_msg("carol@acme.test", "alice@acme.test", subject="pingpong")
    queue_put(p.root, "smtp", "inbound", msg3, "carol@acme.test",
              ["alice@acme.test"], auth="carol@acme")
    c = wait_for(lambda: mailbox_msgs(p.root, "carol"), 15, "loop bounce")
    time.sleep(1)
    assert len(mailbox_msgs(p.root, "carol")) == 1
    assert "5.4.6" in c[0]


def test_kill_deliver_mid_batch_loses_nothing(populated):
    p = populated
    n = 400
    mids = []
    for i in range(n):
        msg, mid = make_msg("x@remote.test", "alice@acme.test", subject=f"m{i}",
                            body=("y" * 900 + "\r\n") * 4)
        mids.append(mid)
        queue_put(p.root, "sf", "outgoing", msg, "x@remote.test",
                  ["alice@acme.test", "bob@acme.test"])
    p.start(services=SERVICES)
    # kill -9 once some, not all, are in
    new = p.root / "store/acme/alice/new"
    wait_for(lambda: new.is_dir() and len(os.listdir(new)) >= 5, 20,
             "first deliveries")
    pid = deliver_pid(p)
    os.kill(pid, signal.SIGKILL)
    before = len(os.listdir(new))
    assert before < n, "the kill came too late to test anything"
    # posternd restarts it; every message ends in both mailboxes
    wait_for(lambda: deliver_pid(p) != pid, 15, "restart")

    def all_in():
        a, b = mailbox_msgs(p.root, "alice"), mailbox_msgs(p.root, "bob")
        got_a = {m for m in mids if any(m in x for x in a)}
        got_b = {m for m in mids if any(m in x for x in b)}
        return len(got_a) == n and len(got_b) == n
    wait_for(all_in, 40, "every message delivered after the restart")
    wait_for(lambda: queue_items(p.root, "sf", "outgoing") == [] and
             not list((p.root / "queue/sf/outgoing/cur").iterdir()), 10,
             "queue drained")
    dups = len(mailbox_msgs(p.root, "alice")) - n
    workers = 4   # delivery.workers: one item in flight per process
    assert dups <= workers, f"{dups} duplicates: at most the items in flight"


def test_temporary_failure_is_retried_not_bounced(populated):
    p = populated
    p.cli("config", "set", "queue.retry_schedule", "1s")
    p.start(services=SERVICES)
    box = p.root / "store/acme/alice"
    if box.is_dir():
        shutil.rmtree(box)
    box.parent.mkdir(parents=True, exist_ok=True)
    box.write_text("a file where the Maildir should be: writes fail\n")
    msg, mid = make_msg("bob@acme.test", "alice@acme.test")
    queue_put(p.root, "smtp", "inbound", msg, "bob@acme.test",
              ["alice@acme.test"], auth="bob@acme")
    wait_for(lambda: "recipients deferred" in p.log("deliver"), 10, "deferral")
    items = wait_for(lambda: queue_items(p.root, "sf", "outgoing"), 10,
                     "the item back in the queue")
    assert "rcpt =alice@acme.test - 0 2 " in items[0][1], "deferred state kept"
    box.unlink()
    a = wait_for(lambda: mailbox_msgs(p.root, "alice"), 15, "the retry")
    assert mid in a[0]
    assert mailbox_msgs(p.root, "bob") == [], "a temporary failure never bounces"

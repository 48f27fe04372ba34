"""The MTA agent: pickup injection, routing of inbound items to the right
outgoing queues, splitting, relay refusal to bad mail, the wake-up by
inotify. Items are injected the way the real writers do it: a file in the
pickup directory, or a queue item written with the queue.h protocol (tmp,
fsync, rename .msg then .env into new/)."""
import json
import os
import signal
import smtplib
import time
import uuid
from pathlib import Path

import pytest

from conftest import BUILD

SERVICES = ["mta", "deliver"]


# -- helpers shared with test_deliver.py ----------------------------------

def _esc(v):
    if v is None:
        return " -"
    out = []
    for ch in v.encode():
        if ch <= 0x20 or ch == 0x25 or ch == 0x7F:
            out.append("%%%02X" % ch)
        else:
            out.append(chr(ch))
    return " =" + "".join(out)


def new_id():
    return "%08X%08X" % (int(time.time()) & 0xFFFFFFFF,
                         int.from_bytes(os.urandom(4), "big"))


def queue_put(root, conn, direction, msg, sender, rcpts, qid=None,
              client="192.0.2.10", auth=None, hops=0, bulk=False):
    """Write a committed queue item like queue_writer_commit does."""
    qid = qid or new_id()
    q = Path(root) / "queue" / conn / direction
    for sub in ("tmp", "new", "cur"):
        (q / sub).mkdir(parents=True, exist_ok=True)
    if isinstance(msg, str):
        msg = msg.encode()
    env = ["POSTERN-ENV 1", "id =" + qid, "arrival %d" % int(time.time()),
           "sender" + _esc(sender), "auth" + _esc(auth),
           "client" + _esc(client) + _esc("test.example"),
           "body" + _esc(None), "smtputf8 0", "envid" + _esc(None),
           "ret" + _esc(None), "hops %d" % hops, "bulk %d" % int(bulk),
           "delay-notified 0"]
    for r in rcpts:
        env.append("rcpt" + _esc(r) + _esc(None) + " 0 0 0 0" + _esc(None)
                   + _esc(None))
    env.append("end")
    for ext, data in (("msg", msg), ("env", ("\n".join(env) + "\n").encode())):
        tmp = q / "tmp" / f"{qid}.{ext}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    os.rename(q / "tmp" / f"{qid}.msg", q / "new" / f"{qid}.msg")
    os.rename(q / "tmp" / f"{qid}.env", q / "new" / f"{qid}.env")
    return qid


def make_msg(frm, to, subject="test", body="hello\r\n", extra=""):
    mid = f"<{uuid.uuid4().hex}@test.example>"
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: {mid}\r\n{extra}\r\n{body}"), mid


def mailbox_msgs(root, mbox, po="acme"):
    """Contents of the messages in a mailbox's INBOX (new/ and cur/)."""
    base = Path(root) / "store" / po / mbox
    out = []
    for sub in ("new", "cur"):
        d = base / sub
        if d.is_dir():
            for p in sorted(d.iterdir()):
                out.append(p.read_bytes().decode(errors="replace"))
    return out


def wait_for(fn, timeout=10, what="condition"):
    deadline = time.time() + timeout
    val = None
    while time.time() < deadline:
        val = fn()
        if val:
            return val
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {val!r})")


def queue_items(root, conn, direction):
    """(id, envelope text) of the committed items of a queue."""
    d = Path(root) / "queue" / conn / direction / "new"
    if not d.is_dir():
        return []
    return [(p.name[:-4], p.read_text()) for p in sorted(d.glob("*.env"))]


def badmail(root):
    d = Path(root) / "queue" / "badmail"
    if not d.is_dir():
        return {}
    return {p.name[:-7]: p.read_text() for p in d.glob("*.reason")}


def drop_pickup(root, name, text):
    d = Path(root) / "queue" / "pickup"
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / ("." + name)
    tmp.write_bytes(text.encode() if isinstance(text, str) else text)
    os.rename(tmp, d / name)


def header_block(msg):
    return msg.replace("\r\n", "\n").split("\n\n", 1)[0]


# -- tests -----------------------------------------------------------------

def test_pickup_delivers_locally(populated):
    p = populated
    p.start(services=SERVICES)
    t0 = time.time()
    drop_pickup(p.root, "m1.eml",
                "From: Carol <carol@acme.test>\nTo: Alice <alice@acme.test>\n"
                "Cc: bob@acme.test\nBcc: (hidden) <bob@acme.test>\n"
                "Subject: pickup\n\nline one\nline two\n")
    msgs = wait_for(lambda: mailbox_msgs(p.root, "alice"), 10, "alice's copy")
    took = time.time() - t0
    bob = wait_for(lambda: mailbox_msgs(p.root, "bob"), 10, "bob's copy")
    assert len(msgs) == 1 and len(bob) == 1, "one copy each"
    m = msgs[0]
    hdr = header_block(m)
    assert m.startswith("Return-Path: <carol@acme.test>\r\nDelivered-To: alice@acme.test\r\n")
    assert "Received: from pickup (file m1.eml)" in hdr
    assert "Bcc" not in m
    assert "line one\r\nline two\r\n" in m, "line ends made CRLF"
    assert "Delivered-To: bob@acme.test" in bob[0]
    assert not list((p.root / "queue/pickup").iterdir()), "pickup file removed"
    # woken by inotify, not by the 5 s fallback scan
    assert took < 3, f"delivery took {took:.1f}s"
    log = p.log("mta")
    assert "picked up m1.eml" in log
    assert "to=<alice@acme.test> -> sf (local, mailbox)" in log


def test_pickup_recipients_header_and_remote_split(populated):
    p = populated
    p.start(services=SERVICES)
    drop_pickup(p.root, "m2",
                "From: alice@acme.test\r\nTo: nobody-in-envelope@acme.test\r\n"
                "X-Postern-Recipients: bob@acme.test,\r\n <far@remote.test>\r\n"
                "Subject: split\r\n\r\nbody\r\n")
    bob = wait_for(lambda: mailbox_msgs(p.root, "bob"), 10, "bob's copy")
    assert "X-Postern-Recipients" not in bob[0]
    out = wait_for(lambda: queue_items(p.root, "smtp", "outgoing"), 10,
                   "remote part in smtp outgoing")
    assert len(out) == 1
    qid, env = out[0]
    assert "rcpt =far@remote.test" in env and "bob@acme.test" not in env
    assert "sender =alice@acme.test" in env
    base = qid.rsplit(".", 1)[0]
    assert qid.endswith((".1", ".2")) and len(base) == 16, "split keeps the id"
    assert base in p.log("mta")
    # the recipient only named in To: got nothing
    time.sleep(0.3)
    assert badmail(p.root) == {}


def test_pickup_without_recipients_goes_to_badmail(populated):
    p = populated
    p.start(services=SERVICES)
    drop_pickup(p.root, "bad", "Subject: nobody\n\nno recipients\n")
    bm = wait_for(lambda: badmail(p.root), 10, "bad mail")
    (reason,) = bm.values()
    assert "no recipients" in reason
    assert not list((p.root / "queue/pickup").iterdir())


def test_inbound_routing_split_and_relay_refusal(populated):
    p = populated
    p.cli("list", "add", "news@acme.test", "--postoffice", "acme",
          "--owner", "alice@acme.test")
    p.start(services=SERVICES)
    msg, _ = make_msg("someone@remote.test", "alice@acme.test")
    # unauthenticated SMTP client: remote recipient must not be relayed
    qid = queue_put(p.root, "smtp", "inbound", msg, "someone@remote.test",
                    ["alice@acme.test", "news@acme.test", "far@remote.test"])
    wait_for(lambda: mailbox_msgs(p.root, "alice"), 10, "alice's copy")
    ls = wait_for(lambda: queue_items(p.root, "ls", "outgoing"), 10,
                  "list part in ls outgoing")
    assert "rcpt =news@acme.test" in ls[0][1]
    assert ls[0][0].startswith(qid + ".")
    bm = wait_for(lambda: badmail(p.root), 10, "bad mail for the relay")
    assert "relaying denied" in bm[qid]
    # the reason file is written first, the envelope moved in last
    env = p.root / "queue/badmail" / f"{qid}.env"
    wait_for(lambda: env.exists(), 10, "the bad mail's envelope")
    assert "far@remote.test" in env.read_text()
    assert queue_items(p.root, "smtp", "outgoing") == []
    assert queue_items(p.root, "smtp", "inbound") == [], "inbound item removed"

    # authenticated: relayed, one part, the id unchanged
    qid2 = queue_put(p.root, "smtp", "inbound", msg, "alice@acme.test",
                     ["far@remote.test"], auth="alice@acme")
    out = wait_for(lambda: queue_items(p.root, "smtp", "outgoing"), 10,
                   "relayed item")
    assert out[0][0] == qid2
    # a relay network lets an unauthenticated client relay
    p.cli("config", "set", "smtp.relay_networks", "192.0.2.0/24")
    qid3 = queue_put(p.root, "smtp", "inbound", msg, "x@remote.test",
                     ["far2@remote.test"], client="192.0.2.77")
    wait_for(lambda: any(i == qid3 for i, _ in
                         queue_items(p.root, "smtp", "outgoing")), 10, "relay net")
    assert "from=<x@remote.test> to=<far2@remote.test> -> smtp (remote)" in p.log("mta")


def test_mta_restart_recovers_claimed_items(populated):
    """An item left in inbound cur/ (MTA killed mid-way) is routed after a
    restart: queue_recover moves it back."""
    p = populated
    msg, mid = make_msg("a@remote.test", "bob@acme.test")
    qid = queue_put(p.root, "smtp", "inbound", msg, "a@remote.test",
                    ["bob@acme.test"])
    q = p.root / "queue/smtp/inbound"
    for ext in ("msg", "env"):
        os.rename(q / "new" / f"{qid}.{ext}", q / "cur" / f"{qid}.{ext}")
    p.start(services=SERVICES)
    bob = wait_for(lambda: mailbox_msgs(p.root, "bob"), 10, "bob's copy")
    assert mid in bob[0]


@pytest.mark.skipif(not (BUILD / "postern-smtpd").exists(),
                    reason="smtpd not built in this build directory")
def test_smtp_to_mailbox_end_to_end(populated):
    p = populated
    p.start(services=["smtpd", "mta", "deliver"])
    msg, mid = make_msg("sender@remote.test", "alice@acme.test")
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=10) as s:
        s.sendmail("sender@remote.test", ["alice@acme.test"], msg)
    got = wait_for(lambda: mailbox_msgs(p.root, "alice"), 10, "delivery")
    assert mid in got[0]
    assert got[0].startswith("Return-Path: <sender@remote.test>\r\n"
                             "Delivered-To: alice@acme.test\r\n")


def test_corrupt_inbound_item_goes_to_badmail(populated):
    p = populated
    p.start(services=SERVICES)
    q = p.root / "queue/smtp/inbound"
    qid = new_id()
    (q / "tmp" / f"{qid}.msg").write_text("Subject: x\r\n\r\nbody\r\n")
    (q / "tmp" / f"{qid}.env").write_text("POSTERN-ENV 1\nid =%s\ngarbage\n" % qid)
    os.rename(q / "tmp" / f"{qid}.msg", q / "new" / f"{qid}.msg")
    os.rename(q / "tmp" / f"{qid}.env", q / "new" / f"{qid}.env")
    bm = wait_for(lambda: badmail(p.root), 10, "bad mail")
    assert qid in bm
    # the MTA goes on working
    msg, mid = make_msg("a@remote.test", "bob@acme.test")
    queue_put(p.root, "smtp", "inbound", msg, "a@remote.test", ["bob@acme.test"])
    wait_for(lambda: mailbox_msgs(p.root, "bob"), 10, "next item")


def test_kill_mta_mid_batch_loses_nothing(populated):
    p = populated
    n = 500
    mids = []
    for i in range(n):
        msg, mid = make_msg("x@remote.test", "alice@acme.test", subject=f"k{i}")
        mids.append(mid)
        queue_put(p.root, "smtp", "inbound", msg, "x@remote.test",
                  ["alice@acme.test", "far@remote.test"], auth="x")
    p.start(services=SERVICES)
    out = p.root / "queue/smtp/outgoing/new"
    wait_for(lambda: out.is_dir() and len(os.listdir(out)) >= 10, 20, "first")
    st = json.loads((p.root / "run/mta.json").read_text())
    os.kill(st["pid"], signal.SIGKILL)
    assert len(os.listdir(out)) < 2 * n, "killed too late"

    def done():
        a = mailbox_msgs(p.root, "alice")
        return len({m for m in mids if any(m in x for x in a)}) == n
    wait_for(done, 40, "every message in the mailbox after the restart")
    out = queue_items(p.root, "smtp", "outgoing")
    assert len(out) >= n
    msgs = [(p.root / "queue/smtp/outgoing/new" / f"{i}.msg").read_text()
            for i, _ in out]
    assert len({m for m in mids if any(m in x for x in msgs)}) == n, \
        "every remote part queued"
    assert queue_items(p.root, "smtp", "inbound") == []

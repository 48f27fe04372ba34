"""The delivery event (manual 5.5.6) and the MTA pickup event: the
program gets the delivered file and the connector type; bulk mail is
skipped unless delivery.event_on_bulk; a program that hangs, crashes or
prints megabytes is bounded and logged with the queue id, and the mail is
delivered and the queue emptied all the same."""
import os
import smtplib
import stat
import time

from test_mta import (drop_pickup, mailbox_msgs, make_msg, queue_items,
                      wait_for)

SERVICES = ["smtpd", "mta", "deliver"]


def send(p, frm, to, msg):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail(frm, [to], msg.encode())


def script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def set_event(p, mb, prog):
    p.cli("mailbox", "set", mb, "delivery_event_enabled=yes",
          f"delivery_event_program={prog}")


def queues_empty(p):
    return all(queue_items(p.root, c, d) == [] for c in ("smtp", "sf")
               for d in ("inbound", "outgoing"))


def test_event_gets_file_and_type_and_skips_bulk(populated, tmp_path):
    p = populated
    out = tmp_path / "calls"
    prog = script(tmp_path / "ev.sh",
                  f'echo "$1 $2 $(grep -c "^Subject: " "$1")" >> {out}\n'
                  'echo started fine\n')
    set_event(p, "alice@acme", f"{prog}")
    p.start(services=SERVICES)
    msg, mid = make_msg("bob@acme.test", "alice@acme.test", subject="ev1")
    send(p, "bob@acme.test", "alice@acme.test", msg)
    wait_for(lambda: out.exists() and out.read_text(), 60, "event ran")
    path, ctype, n = out.read_text().split()
    assert ctype == "SF"
    assert path.startswith(str(p.root / "store/acme/alice/"))
    assert "/new/" in path or "/cur/" in path
    assert n == "1", "the program could read the delivered file"
    wait_for(lambda: "started fine" in p.log("deliver"), 30, "output logged")
    assert "delivery event" in p.log("deliver")
    # a bulk message: delivered, no event
    bulk, _ = make_msg("bob@acme.test", "alice@acme.test", subject="bulk",
                       extra="Precedence: bulk\r\n")
    send(p, "bob@acme.test", "alice@acme.test", bulk)
    wait_for(lambda: "delivery.event_on_bulk is off" in p.log("deliver"), 60,
             "bulk skipped")
    assert len(out.read_text().splitlines()) == 1
    # event_on_bulk: runs for bulk too
    p.cli("config", "set", "delivery.event_on_bulk", "yes")
    send(p, "bob@acme.test", "alice@acme.test", bulk)
    wait_for(lambda: len(out.read_text().splitlines()) == 2, 60,
             "event on bulk")
    assert len(mailbox_msgs(p.root, "alice")) == 3


def test_hang_crash_flood_never_hurt_delivery(populated, tmp_path):
    p = populated
    p.cli("config", "set", "delivery.event_timeout", "2")
    p.cli("config", "set", "delivery.workers", "1")
    hang = script(tmp_path / "hang.sh", "echo hanging\nsleep 600 &\nsleep 600\n")
    crash = script(tmp_path / "crash.sh", "echo dying >&2\nkill -SEGV $$\n")
    flood = script(tmp_path / "flood.sh",
                   "head -c 8000000 /dev/zero | tr '\\0' x\nexit 3\n")
    p.cli("mailbox", "add", "carol@acme", "--password", "carol-pw-1")
    set_event(p, "alice@acme", str(hang))
    set_event(p, "bob@acme", str(crash))
    set_event(p, "carol@acme", str(flood))
    p.start(services=SERVICES)
    t0 = time.time()
    for to in ("alice", "bob", "carol"):
        msg, _ = make_msg("x@remote.test", f"{to}@acme.test", subject=to)
        send(p, "x@remote.test", f"{to}@acme.test", msg)
    for to in ("alice", "bob", "carol"):
        wait_for(lambda: mailbox_msgs(p.root, to), 90, f"{to} delivered")
    log = wait_for(lambda: ("timed out after 2 s" in p.log("deliver") and
                            "crashed: signal 11" in p.log("deliver") and
                            "failed: exit 3" in p.log("deliver")) and
                   p.log("deliver"), 90, "three outcomes logged")
    assert time.time() - t0 < 80
    wait_for(lambda: queues_empty(p), 60, "queues empty")
    # the flood is bounded in the log
    assert len(log) < 200000, "megabytes of output did not reach the log"
    assert "8000000 bytes of output" in log
    # queue id on the lines
    line = [x for x in log.splitlines() if "timed out" in x][0]
    assert "hang.sh" in line
    # the hung program's process group is gone
    time.sleep(0.5)
    procs = os.popen("ps -eo args").read()
    assert str(hang) not in procs
    # a missing program: logged, delivered
    set_event(p, "alice@acme", "/nonexistent/prog")
    msg, _ = make_msg("x@remote.test", "alice@acme.test", subject="missing")
    send(p, "x@remote.test", "alice@acme.test", msg)
    wait_for(lambda: len(mailbox_msgs(p.root, "alice")) == 2, 60, "delivered")
    wait_for(lambda: "cannot run /nonexistent/prog" in p.log("deliver"), 30,
             "exec failure logged")


def test_pickup_event(populated, tmp_path):
    p = populated
    out = tmp_path / "pick"
    prog = script(tmp_path / "pick.sh",
                  f'echo "$2 $(grep -c Subject "$1")" >> {out}\n')
    p.cli("config", "set", "mta.pickup_event", str(prog))
    p.start(services=["mta", "deliver"])
    drop_pickup(p.root, "m1.eml", "From: carol@acme.test\nTo: alice@acme.test\n"
                "Subject: picked\n\nbody\n")
    wait_for(lambda: mailbox_msgs(p.root, "alice"), 60, "delivered")
    wait_for(lambda: out.exists() and out.read_text(), 60, "pickup event")
    assert out.read_text().split() == ["PICKUP", "1"]
    assert "pickup event" in p.log("mta")

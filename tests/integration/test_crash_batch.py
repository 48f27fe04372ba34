"""The durability promise at every stage of the group commits (issue 21):
the MTA and the post office connector take the items that are ready in
batches (delivery.batch) and share their fsyncs, so a crash can now hit a
batch half way. Each test kills the service with SIGKILL (its whole process
group, workers too: lib/crashpoint.h) exactly at one stage of a batch,
several times while 40 accepted messages flow, and then checks that every
one of them is in its mailbox exactly once. Before the retire journal is
written (queue.h) nothing of the batch is out and the items are still
claimed: they are done again, once. From the journal on, the restarted
service completes the batch (the moves not made yet, the fsyncs, the items
removed) instead of doing it again: no duplicate either.

test_crash.py kills at random moments; this kills at the named ones."""
import json
import smtplib
import time

import pytest

MESSAGES = 40
CRASHES = 3

# (service, stage): every stage of the two group commits, in order
STAGES = [
    ("mta", "queue.batch.staged"),      # envelopes written, not synced
    ("mta", "queue.batch.synced"),      # synced, nothing moved
    ("mta", "queue.batch.journaled"),   # retire journal written
    ("mta", "queue.batch.published"),   # moved into new/, not fsynced
    ("mta", "queue.batch.committed"),   # new/ fsynced, nothing retired
    ("mta", "mta.batch.retiring"),      # half the inbound items removed
    ("deliver", "store.batch.staged"),
    ("deliver", "store.batch.synced"),
    ("deliver", "store.batch.journaled"),
    ("deliver", "store.batch.published"),
    ("deliver", "store.batch.committed"),
    ("deliver", "deliver.batch.retiring"),
]


def service_pid(p, name):
    try:
        st = json.loads((p.root / "run/status.json").read_text())
    except (OSError, ValueError):
        return 0
    for s in st["services"]:
        if s["name"] == name:
            return s["pid"]
    return 0


def mailbox_tokens(p):
    """token -> copies in alice's and bob's mailboxes."""
    found = {}
    for mb in ("alice", "bob"):
        for sub in ("new", "cur"):
            d = p.root / "store" / "acme" / mb / sub
            if not d.is_dir():
                continue
            for f in d.iterdir():
                try:
                    data = f.read_bytes()
                except OSError:
                    continue
                i = data.find(b"X-Batch-Token: ")
                if i >= 0:
                    tok = data[i + 15:data.index(b"\r\n", i)].decode()
                    found[tok] = found.get(tok, 0) + 1
    return found


@pytest.mark.parametrize("service,stage", STAGES, ids=[s[1] for s in STAGES])
def test_kill_at_batch_stage(populated, tmp_path, service, stage):
    p = populated
    p.cli("config", "set", "delivery.workers", "2")
    p.cli("config", "set", "delivery.batch", "8")
    # the messages wait in smtp inbound, so the MTA and then deliver find
    # many at once: real batches, not one item each
    p.start(services=["smtpd"])
    accepted = {}
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=30) as s:
        s.ehlo("batch.test")
        for i in range(MESSAGES):
            tok = f"{stage}-{i}"
            rcpt = ("alice@acme.test", "bob@acme.test")[i % 2]
            body = (f"From: load@example.org\r\nTo: {rcpt}\r\n"
                    f"Subject: batch {i}\r\nX-Batch-Token: {tok}\r\n\r\n"
                    f"body {i}\r\n")
            s.mail("load@example.org")
            s.rcpt(rcpt)
            code, _ = s.data(body.encode())
            assert code == 250
            accepted[tok] = rcpt.split("@")[0]
    p.stop()

    arm = tmp_path / "crash-armed"
    arm.write_text("")
    p.env["POSTERN_CRASHPOINT"] = f"{stage}:{arm}"
    p.start(services=["smtpd", "mta", "deliver"], wait=False)
    crashes = 0
    pids = set()
    deadline = time.time() + 120
    while time.time() < deadline and crashes < CRASHES:
        pid = service_pid(p, service)
        if pid > 0:
            pids.add(pid)
        if not arm.exists():
            crashes += 1          # the service removed it and died
            if crashes < CRASHES:
                arm.write_text("")   # again, at a later batch
            continue
        if len(mailbox_tokens(p)) >= len(accepted):
            break   # all in before the stage came round again
        time.sleep(0.05)
    # the stage was reached and the service died there
    assert crashes >= 1, f"{stage} was never reached"
    arm.unlink(missing_ok=True)
    p.wait_running(["smtpd", "mta", "deliver"], 60)
    assert len(pids | {service_pid(p, service)}) >= 2, \
        f"{service} was not restarted after the crash at {stage}"

    deadline = time.time() + 90
    found = {}
    while time.time() < deadline:
        found = mailbox_tokens(p)
        if all(t in found for t in accepted):
            break
        time.sleep(0.2)
    lost = [t for t in accepted if t not in found]
    assert not lost, (f"{len(lost)} of {len(accepted)} accepted messages "
                      f"lost after {crashes} crashes at {stage}: {lost[:5]}")
    # before the first move nothing is out; from the journal on, the
    # restarted service completes the batch instead of doing it again
    dups = [t for t, n in found.items() if n > 1]
    assert not dups, f"crash at {stage} duplicated {dups[:5]}"
    # every copy in the right mailbox
    for tok, mb in accepted.items():
        d = p.root / "store" / "acme" / mb
        assert any(b"X-Batch-Token: " + tok.encode() + b"\r\n" in f.read_bytes()
                   for sub in ("new", "cur") for f in (d / sub).iterdir()), tok
    # the queues drained, nothing in bad mail
    time.sleep(1)
    q = p.root / "queue"
    left = [f for conn in ("smtp", "sf") for way in ("inbound", "outgoing")
            for sub in ("new", "cur")
            for f in (q / conn / way / sub).glob("*.env")]
    assert not left, left[:5]
    bad = q / "badmail"
    assert not bad.exists() or not any(bad.iterdir()), list(bad.iterdir())
    print(f"\n{stage}: {crashes} crashes, {len(dups)} duplicates")

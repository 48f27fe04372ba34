"""The durability promise end to end (issue 3): while hundreds of messages
flow SMTP -> MTA -> post office connector -> mailbox, smtpd, mta and deliver
are killed with SIGKILL at random moments (posternd restarts them). Every
message that got its 250 must end up in its mailbox: at least once, never
lost; duplicates are allowed but counted."""
import json
import os
import random
import signal
import smtplib
import threading
import time
from pathlib import Path


def service_pid(postern, name):
    try:
        st = json.loads((postern.root / "run/status.json").read_text())
    except (OSError, ValueError):
        return 0
    for s in st["services"]:
        if s["name"] == name:
            return s["pid"]
    return 0


def mailbox_tokens(postern, mailboxes):
    """token -> number of copies found in the mailboxes."""
    found = {}
    for mb in mailboxes:
        for sub in ("new", "cur"):
            d = postern.root / "store" / "acme" / mb / sub
            if not d.is_dir():
                continue
            for f in d.iterdir():
                try:
                    data = f.read_bytes()
                except OSError:
                    continue
                i = data.find(b"X-Crash-Token: ")
                if i >= 0:
                    tok = data[i + 15:data.index(b"\r\n", i)].decode()
                    found[tok] = found.get(tok, 0) + 1
    return found


def test_sigkill_everything_under_load(populated):
    postern = populated
    postern.cli("config", "set", "smtp.max_connections_per_ip", "200")
    postern.start(services=["smtpd", "mta", "deliver"])
    rcpts = ["alice@acme.test", "bob@acme.test"]
    accepted = {}           # token -> recipient mailbox name
    lock = threading.Lock()
    # the load runs for 25 s and then until 300 messages are in (a loaded
    # machine accepts fewer per second), at most 120 s: a count, not a rate
    start = time.time()
    done = threading.Event()
    rnd = random.Random(1234)

    def sender(n):
        i = 0
        while not done.is_set() and i < 200:
            try:
                with smtplib.SMTP("127.0.0.1", postern.port("smtp"), timeout=15) as s:
                    s.ehlo("crash.test")
                    while not done.is_set() and i < 200:
                        tok = f"{n}-{i}"
                        rcpt = rcpts[(n + i) % 2]
                        i += 1
                        body = (f"From: load@example.org\r\nTo: {rcpt}\r\n"
                                f"Subject: crash {tok}\r\nX-Crash-Token: {tok}\r\n\r\n"
                                + "z" * 60 + "\r\n") * 1
                        s.mail("load@example.org")
                        s.rcpt(rcpt)
                        code, _ = s.data(body.encode())
                        if code == 250:
                            with lock:
                                accepted[tok] = rcpt.split("@")[0]
            except (smtplib.SMTPException, OSError):
                time.sleep(0.05)   # the server died under us: reconnect

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    kills = 0
    while True:
        now = time.time()
        with lock:
            n_accepted = len(accepted)
        if (now - start >= 25 and n_accepted >= 300) or now - start >= 120:
            break
        time.sleep(rnd.uniform(0.3, 1.2))
        name = rnd.choice(["smtpd", "mta", "deliver"])
        pid = service_pid(postern, name)
        if pid > 0:
            try:
                os.kill(pid, signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
    done.set()
    for t in threads:
        t.join(60)
    assert kills >= 5
    assert len(accepted) >= 300, f"only {len(accepted)} messages accepted"

    # let posternd restart what was killed and the queues drain
    deadline = time.time() + 120
    found = {}
    while time.time() < deadline:
        found = mailbox_tokens(postern, ["alice", "bob"])
        if all(tok in found for tok in accepted):
            break
        time.sleep(0.5)
    lost = [t for t in accepted if t not in found]
    misplaced = []
    for tok, mb in accepted.items():
        if tok in found:
            p = postern.root / "store/acme" / mb
            # the copy must be in the right mailbox
            hit = any(b"X-Crash-Token: " + tok.encode() + b"\r\n" in f.read_bytes()
                      for sub in ("new", "cur") for f in (p / sub).iterdir())
            if not hit:
                misplaced.append(tok)
    dups = sum(1 for t in accepted if found.get(t, 0) > 1)
    print(f"accepted {len(accepted)}, kills {kills}, duplicates {dups}")
    assert not lost, f"{len(lost)} accepted messages lost, e.g. {lost[:5]}"
    assert not misplaced, f"delivered to the wrong mailbox: {misplaced[:5]}"
    # nothing may be left in bad mail for this clean traffic
    bad = postern.root / "queue" / "badmail"
    assert not bad.exists() or not any(bad.iterdir()), list(bad.iterdir())

"""SIGKILL of every service at random under mixed load: SMTP in (local and
remote recipients), delivery to mailboxes, IMAP and POP3 readers, and
smtp-out to a local sink MX (dnsmasq gives the MX, as in test_smtp_out).
test_crash.py covers smtpd/mta/deliver alone; this adds imapd, pop3d and
smtp-out. Final audit: every message that got a 250 is in its mailbox,
delivered to the sink, still in the outbound queue, or bounced - none
lost. Duplicates are allowed (a crash may duplicate, never lose)."""
import imaplib
import json
import os
import poplib
import random
import signal
import smtplib
import threading
import time

from test_smtp_out import dns, sinks, setup_out  # noqa: F401 (fixtures)

SERVICES = ["smtpd", "mta", "deliver", "smtp-out", "imapd", "pop3d"]


def service_pid(p, name):
    try:
        st = json.loads((p.root / "run/status.json").read_text())
    except (OSError, ValueError):
        return 0
    for s in st["services"]:
        if s["name"] == name:
            return s["pid"]
    return 0


def scan_tokens(paths):
    found = set()
    for d in paths:
        if not d.is_dir():
            continue
        for f in d.rglob("*"):
            try:
                if not f.is_file():
                    continue
                data = f.read_bytes()
            except OSError:
                continue
            i = 0
            while True:
                i = data.find(b"X-Token: ", i)
                if i < 0:
                    break
                j = data.find(b"\r\n", i)
                found.add(data[i + 9:j].decode(errors="replace"))
                i = j
    return found


def test_sigkill_every_service_under_mixed_load(populated, dns, sinks):  # noqa: F811
    p = populated
    sink = sinks()
    setup_out(p, dns, sink)
    p.cli("config", "set", "smtp.relay_networks", "127.0.0.0/8")
    p.cli("config", "set", "smtp.max_connections_per_ip", "200")
    p.start(services=SERVICES, timeout=60)
    accepted = {}     # token -> "local" or "remote"
    lock = threading.Lock()
    stop = time.time() + 25
    reads = {"imap": 0, "pop3": 0}

    def sender(n):
        i = 0
        while time.time() < stop and i < 150:
            try:
                with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=20) as s:
                    s.ehlo("crash.test")
                    while time.time() < stop and i < 150:
                        i += 1
                        tok = f"{n}-{i}"
                        rcpt = ("alice@acme.test", "bob@acme.test",
                                f"u{n}@remote.test")[i % 3]
                        body = (f"From: load@example.org\r\nTo: {rcpt}\r\n"
                                f"Subject: mixed {tok}\r\nX-Token: {tok}\r\n"
                                f"\r\nbody\r\n")
                        s.mail("load@example.org")
                        s.rcpt(rcpt)
                        code, _ = s.data(body.encode())
                        if code == 250:
                            with lock:
                                accepted[tok] = ("remote" if "remote" in rcpt
                                                 else "local")
            except (smtplib.SMTPException, OSError):
                time.sleep(0.1)

    def imap_reader():
        while time.time() < stop:
            try:
                c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=20)
                c.login("alice@acme", "alice-pw")
                typ, data = c.select("INBOX", readonly=True)
                n = int(data[0])
                if n:
                    c.fetch(f"{max(1, n - 4)}:{n}", "(BODY.PEEK[])")
                c.logout()
                reads["imap"] += 1
            except Exception:   # noqa: BLE001 - the server was killed
                time.sleep(0.2)

    def pop3_reader():
        while time.time() < stop:
            try:
                c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=20)
                c.user("bob@acme")
                c.pass_("bob-pw")
                n, _ = c.stat()
                if n:
                    c.retr(n)
                c.quit()      # nothing deleted: the audit needs the mail
                reads["pop3"] += 1
            except Exception:   # noqa: BLE001
                time.sleep(0.2)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
    threads += [threading.Thread(target=imap_reader),
                threading.Thread(target=pop3_reader)]
    for t in threads:
        t.start()
    rnd = random.Random(4321)
    kills = {s: 0 for s in SERVICES}
    time.sleep(2)
    while time.time() < stop - 3:
        name = rnd.choice(SERVICES)
        pid = service_pid(p, name)
        if pid > 0:
            try:
                os.kill(pid, signal.SIGKILL)
                kills[name] += 1
            except ProcessLookupError:
                pass
        time.sleep(rnd.uniform(0.4, 1.5))
    for t in threads:
        t.join(timeout=60)
    assert accepted, "nothing was accepted"
    assert sum(kills.values()) >= 8, kills
    assert reads["imap"] > 0 and reads["pop3"] > 0, reads

    # everything settles: the services are back and the queues drain
    p.wait_running(SERVICES, 90)
    store = p.root / "store"
    queue = p.root / "queue"

    def where():
        in_box = scan_tokens([store])
        in_sink = set()
        for m in list(sink.messages):
            d = m["data"]
            i = 0
            while True:
                i = d.find(b"X-Token: ", i)
                if i < 0:
                    break
                j = d.find(b"\r\n", i)
                in_sink.add(d[i + 9:j].decode(errors="replace"))
                i = j
        queued = scan_tokens([queue])
        return in_box, in_sink, queued

    deadline = time.time() + 120
    while time.time() < deadline:
        in_box, in_sink, queued = where()
        missing = [t for t, kind in accepted.items()
                   if t not in in_box and t not in in_sink]
        if not missing:
            break
        time.sleep(1)
    # what is neither delivered nor sent must at least still be queued
    # (outbound retry, or bad mail with its reason): never gone
    lost = [t for t in missing if t not in queued]
    assert not lost, (f"{len(lost)} of {len(accepted)} accepted messages "
                      f"lost, e.g. {lost[:5]}; kills {kills}")
    # local mail ends in a mailbox, never remotely
    for t, kind in accepted.items():
        if kind == "local" and t in in_sink and t not in in_box:
            raise AssertionError(f"local message {t} went to the sink")
    print(f"\n{len(accepted)} accepted, kills {kills}, reads {reads}, "
          f"{len(missing)} still queued at the end")

#!/usr/bin/python3
"""IMAP and POP3 benchmark, Postern and Dovecot side by side in one run,
with the same mailbox contents (the same message files written into each
server's Maildirs before it starts):

  mixed   N client processes for T seconds, each logged in to its own
          mailbox, doing SELECT, FETCH headers, FETCH bodies, SEARCH,
          STORE, APPEND and EXPUNGE: operations per second
  pop3    RETR of every message of every mailbox: messages and MB per second
  idle    K connections logged in, SELECTed and in IDLE: the servers' resident
          memory growth divided by K (all processes of the service)

usage: bench/imap/run.py [--clients 8] [--seconds 20] [--messages 500]
                         [--idle 2000] [--only postern|dovecot] [--results FILE]
"""
import argparse
import imaplib
import multiprocessing
import poplib
import random
import resource
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import imapbench  # noqa: E402
import peers  # noqa: E402

SUBJECTS = ["quarterly report", "lunch on friday", "invoice 2231", "hello",
            "re: the plan", "meeting notes", "build failed", "photos"]


def make_message(i):
    subj = SUBJECTS[i % len(SUBJECTS)]
    body = "".join(f"line {k} of message {i}: lorem ipsum dolor sit amet\r\n"
                   for k in range(40 + i % 60))
    return (f"Return-Path: <sender{i % 7}@example.test>\r\n"
            f"From: Sender {i % 7} <sender{i % 7}@example.test>\r\n"
            f"To: user@bench.test\r\nSubject: {subj} #{i}\r\n"
            f"Date: Mon, 2 Nov 2026 10:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <m{i}@example.test>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{body}").encode()


def mixed_worker(port, login, seconds, seed, out):
    rnd = random.Random(seed)
    ops = 0
    errors = 0
    try:
        c = imaplib.IMAP4("127.0.0.1", port)
        c.login(login, "Load-Secret-1")
        typ, data = c.select("INBOX")
        n = int(data[0])
        deadline = time.time() + seconds
        while time.time() < deadline:
            k = rnd.random()
            try:
                if k < 0.30:
                    lo = rnd.randint(1, max(1, n - 20))
                    c.fetch(f"{lo}:{lo + 19}", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])")
                elif k < 0.50:
                    c.fetch(str(rnd.randint(1, n)), "(BODY.PEEK[])")
                elif k < 0.60:
                    c.search(None, "SUBJECT", "invoice")
                elif k < 0.65:
                    c.search(None, "UNSEEN", "SINCE", "1-Nov-2026")
                elif k < 0.80:
                    c.store(str(rnd.randint(1, n)), "+FLAGS", "(\\Seen)")
                elif k < 0.90:
                    c.append("INBOX", None, None, make_message(rnd.randint(0, 999)))
                    n += 1
                elif k < 0.95:
                    c.store(str(n), "+FLAGS", "(\\Deleted)")
                    c.expunge()
                    n -= 1
                else:
                    c.noop()
                ops += 1
            except imaplib.IMAP4.error:
                errors += 1
        c.logout()
    except Exception:
        errors += 1
    out.put((ops, errors))


def mixed(peer, clients, seconds):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=mixed_worker,
                                     args=(peer.imap_port(), peer.login(i % peer.users),
                                           seconds, i, q)) for i in range(clients)]
    for p in procs:
        p.start()
    results = [q.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(10)
    ops = sum(r[0] for r in results)
    return ops / seconds, sum(r[1] for r in results)


def pop3_retr(peer, users):
    t0 = time.perf_counter()
    count = size = 0
    for u in range(users):
        c = poplib.POP3("127.0.0.1", peer.pop3_port())
        c.user(peer.login(u))
        c.pass_("Load-Secret-1")
        n, _ = c.stat()
        for i in range(1, n + 1):
            resp, lines, octets = c.retr(i)
            count += 1
            size += octets
        c.quit()
    t = time.perf_counter() - t0
    return count / t, size / t / 1e6


def idle_memory(peer, k, service):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    k = min(k, hard - 100)
    before = peers.rss_kb(peer.server_pids(service))
    socks = []
    for i in range(k):
        s = socket.create_connection(("127.0.0.1", peer.imap_port()), timeout=30)
        f = s.makefile("rb")
        f.readline()
        s.sendall(f"a LOGIN {peer.login(i % peer.users)} Load-Secret-1\r\nb SELECT INBOX\r\nc IDLE\r\n".encode())
        while True:
            line = f.readline()
            if not line or line.startswith(b"+") or line[:2] in (b"a ", b"b ") and b" OK" not in line[:6]:
                break
        socks.append((s, f))
    time.sleep(2)
    after = peers.rss_kb(peer.server_pids(service))
    for s, f in socks:
        try:
            s.sendall(b"DONE\r\nz LOGOUT\r\n")
        except OSError:
            pass
        s.close()
    return (after - before) / k


def run_peer(peer, a, owner, service):
    imapbench.fill(peer, a.users, a.messages, make_message, owner)
    peer.start()
    try:
        time.sleep(1)
        ops, errs = mixed(peer, a.clients, a.seconds)
        retr, mbps = pop3_retr(peer, min(a.users, 4))
        per_idle = idle_memory(peer, a.idle, service)
        return {"peer": peer.name, "ops": ops, "errors": errs, "retr": retr,
                "mbps": mbps, "idle_kb": per_idle}
    finally:
        peer.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--only")
    ap.add_argument("--results")
    a = ap.parse_args()
    rows = []
    if a.only in (None, "postern"):
        p = imapbench.postern(a.users, ["imapd", "pop3d"])
        rows.append(run_peer(p, a, None, "imapd"))
    if a.only in (None, "dovecot"):
        d, owner = imapbench.dovecot(a.users)
        rows.append(run_peer(d, a, owner, "imap"))
    table = ["| server | IMAP mixed ops/s | POP3 RETR msgs/s | POP3 MB/s | KB per idle IDLE connection |",
             "|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['peer']} | {r['ops']:.0f} (errors {r['errors']}) | {r['retr']:.0f} | "
                     f"{r['mbps']:.1f} | {r['idle_kb']:.1f} |")
    text = "\n".join(table)
    print(f"IMAP/POP3: {a.users} mailboxes x {a.messages} messages, {a.clients} "
          f"clients x {a.seconds} s, {a.idle} idle connections\n{text}")
    if a.results:
        p = Path(a.results)
        old = p.read_text() if p.exists() else "# Benchmark results\n"
        start, end = "<!-- imap -->", "<!-- /imap -->"
        block = (f"{start}\n## IMAP and POP3\n\n`bench/imap/run.py --clients {a.clients} "
                 f"--seconds {a.seconds} --messages {a.messages} --users {a.users} "
                 f"--idle {a.idle}` on {time.strftime('%Y-%m-%d')}, 2 cores, loopback.\n\n"
                 f"{text}\n{end}")
        if start in old:
            old = old[:old.index(start)] + block + old[old.index(end) + len(end):]
        else:
            old = old.rstrip() + "\n\n" + block + "\n"
        p.write_text(old)


if __name__ == "__main__":
    main()

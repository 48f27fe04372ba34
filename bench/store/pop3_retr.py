#!/usr/bin/python3
"""POP3 RETR throughput, Postern beside Dovecot, same Maildir contents.

    POSTERN_BUILD=build-store-opt /usr/bin/python3 bench/store/pop3_retr.py \
        [--users 4] [--messages 500] [--size 20000] [--clients 4] [--seconds 10]

Each user's Maildir gets the same messages in new/ (both servers index them
at the first login, which is not timed: one warm-up session per user). Then
N client processes, each on its own user (a POP3 maildrop is locked per
session), loop for a fixed time: log in, RETR every message, QUIT (no
DELE). Reported: messages and megabytes per second over all clients.
"""
import argparse
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import peers  # noqa: E402


def make_messages(n, size):
    msgs = []
    for i in range(n):
        head = (f"From: sender{i}@example.org\r\nTo: user@bench.test\r\n"
                f"Subject: message {i}\r\nMessage-ID: <{i}@bench>\r\n\r\n")
        line = ("The quick brown fox jumps over the lazy dog %06d.\r\n" % i)
        body = (line * (size // len(line) + 1))[:size - len(head) - 2] + "\r\n"
        msgs.append((head + body).encode())
    return msgs


def fill(maildir, msgs, uid=None, gid=None):
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for i, m in enumerate(msgs):
        p = maildir / "new" / f"{1700000000 + i}.M{i}P1.bench"
        p.write_bytes(m)
        if uid is not None:
            os.chown(p, uid, gid)
    if uid is not None:
        for d in (maildir, maildir / "cur", maildir / "new", maildir / "tmp"):
            os.chown(d, uid, gid)


def session(port, login, count=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rb")

    def cmd(line):
        s.sendall(line.encode() + b"\r\n")
        r = f.readline()
        if not r.startswith(b"+OK"):
            raise RuntimeError(f"{line.split()[0]}: {r!r}")
        return r

    f.readline()
    cmd(f"USER {login}")
    cmd("PASS Load-Secret-1")
    n = int(cmd("STAT").split()[1])
    got = 0
    nbytes = 0
    for i in range(1, n + 1):
        cmd(f"RETR {i}")
        while True:
            line = f.readline()
            if line == b".\r\n" or not line:
                break
            nbytes += len(line)
        got += 1
    cmd("QUIT")
    s.close()
    return got, nbytes


def worker(port, login, seconds, q):
    end = time.time() + seconds
    msgs = nbytes = sessions = 0
    while time.time() < end:
        g, b = session(port, login)
        msgs += g
        nbytes += b
        sessions += 1
    q.put((msgs, nbytes, sessions))


def run(peer, args, msgs):
    peer.start()
    try:
        for i in range(args.users):
            md = peer.maildir(i)
            if isinstance(peer, peers.PostfixDovecot):
                fill(md, msgs, peer.vmail.pw_uid, peer.vmail.pw_gid)
            else:
                fill(md, msgs)
        for i in range(args.users):  # warm-up: index the new mail
            session(peer.pop3_port(), peer.login(i))
        q = mp.Queue()
        procs = [mp.Process(target=worker, args=(peer.pop3_port(),
                 peer.login(c % args.users), args.seconds, q))
                 for c in range(args.clients)]
        t0 = time.time()
        for p in procs:
            p.start()
        res = [q.get(timeout=args.seconds + 120) for _ in procs]
        for p in procs:
            p.join()
        dt = time.time() - t0
        m = sum(r[0] for r in res)
        b = sum(r[1] for r in res)
        return m / dt, b / dt / 1e6, sum(r[2] for r in res)
    finally:
        peer.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    args.clients = min(args.clients, args.users)
    msgs = make_messages(args.messages, args.size)
    rows = []
    for peer in (peers.Postern(args.users, services=["pop3d"]),
                 peers.PostfixDovecot(args.users)):
        if isinstance(peer, peers.PostfixDovecot):
            # only Dovecot's POP3 is needed: no Postfix
            peer.start = (lambda p: lambda: _start_dovecot_only(p))(peer)
            name = "Dovecot " + _dovecot_version()
        else:
            peer.start = (lambda p: lambda: _start_postern_pop3(p))(peer)
            name = "Postern"
        rows.append((name, *run(peer, args, msgs)))
    print(f"POP3 RETR, {args.clients} clients, {args.messages} messages of "
          f"{args.size} bytes per maildrop, {args.seconds:.0f} s")
    print("| server | messages/s | MB/s | sessions |")
    print("|--------|-----------:|-----:|---------:|")
    for name, mps, mbs, sess in rows:
        print(f"| {name} | {mps:.0f} | {mbs:.1f} | {sess} |")


def _dovecot_version():
    import subprocess
    r = subprocess.run(["dovecot", "--version"], capture_output=True,
                       text=True)
    return r.stdout.split()[0] if r.returncode == 0 else ""


def _start_postern_pop3(peer):
    """peers.Postern.start waits for SMTP or IMAP: wait for POP3 here."""
    orig = peers.wait_port
    peers.wait_port = lambda port, timeout=20: orig(peer.ports["pop3"],
                                                    timeout)
    try:
        peers.Postern.start(peer)
    finally:
        peers.wait_port = orig


def _start_dovecot_only(peer):
    import subprocess
    conf = peer._dovecot_conf()
    # no pipes: the daemon would keep them open and run() would wait
    r = subprocess.run(["dovecot", "-c", str(conf)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=30)
    pidfile = peer.dir / "dovecot/run/master.pid"
    for _ in range(100):
        if pidfile.exists():
            peer.dovecot_pid = int(pidfile.read_text())
            break
        time.sleep(0.1)
    if r.returncode or not peer.dovecot_pid:
        raise RuntimeError("dovecot did not start: " +
                           (peer.dir / "dovecot/dovecot.log").read_text())
    peers.wait_port(peer.ports["pop3"])


if __name__ == "__main__":
    main()

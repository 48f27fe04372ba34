#!/usr/bin/python3
"""SORT and THREAD on one large folder, Postern and Dovecot side by side,
on the same message files (one mailbox, N messages in threads: Re:/Fwd:
subjects, References chains, list tags, random dates).

For each command the wall time from sending it to its tagged OK, on one
connection, and whether both servers answered the same; each command twice (the first reads the headers, the second
finds them cached: Postern's header cache, Dovecot's index cache).
Dovecot runs as its imap binary in pre-authenticated mode on a copy of
the Maildir (no login process), driven over pipes one command at a time.

usage: bench/imap/sort_thread.py [--messages 20000] [--build build-rel]
must run as root (Dovecot is started as nobody, like the tests do)
"""
import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOVECOT_IMAP = "/usr/lib/dovecot/imap"
COMMANDS = ["SORT (SUBJECT) UTF-8 ALL", "SORT (REVERSE DATE) UTF-8 ALL",
            "SORT (FROM SIZE) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL",
            "THREAD ORDEREDSUBJECT UTF-8 ALL"]


def messages(n, seed=1):
    rnd = random.Random(seed)
    out = []
    threads = max(1, n // 10)
    for i in range(n):
        t = rnd.randrange(threads)
        depth = rnd.randrange(4)
        prefix = rnd.choice(["", "Re: ", "RE: Re: ", "Fwd: ", "[list] Re: "])
        refs = " ".join(f"<t{t}.{k}@bench>" for k in range(depth))
        out.append((
            f"From: User {i % 97} <u{i % 97}@example.test>\r\n"
            f"To: list{t % 13}@example.test\r\n"
            f"Subject: {prefix if depth else ''}topic number {t}\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(1.7e9 + rnd.randrange(10**7)))}\r\n"
            f"Message-ID: <t{t}.{depth}.{i}@bench>\r\n" +
            (f"References: {refs}\r\n" if refs else "") +
            f"\r\nbody {i}\r\n").encode())
    return out


def fill(maildir, msgs):
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for i, m in enumerate(msgs):
        (maildir / "new" / f"{1700000000 + i}.M{i}.bench,S={len(m)}").write_bytes(m)


def read_tagged(readline, tag, untagged=None):
    for _ in range(10**7):
        line = readline()
        if not line:
            raise RuntimeError("connection closed")
        if line.startswith(tag + b" "):
            return line
        if untagged is not None and line[:9] in (b"* SORT\r\n", b"* SORT ",
                                                  b"* THREAD ", b"* THREAD\r"):
            untagged.append(line.rstrip())


def timed(send, readline, cmds):
    res = []
    for i, c in enumerate(cmds):
        for rep in range(2):
            tag = b"t%d%d" % (i, rep)
            t0 = time.monotonic()
            send(tag + b" " + c.encode() + b"\r\n")
            got = []
            line = read_tagged(readline, tag, got)
            res.append((c, rep, time.monotonic() - t0, line.split()[1],
                        got[0] if got else b""))
    return res


def postern(build, msgs, tmp):
    root = tmp / "postern"
    cli = [str(build / "postern"), "-d", str(root)]
    run = lambda *a: subprocess.run(cli + list(a), check=True,
                                    capture_output=True)
    run("init", "--hostname", "bench.test")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name in ("smtp", "submission", "smtps", "pop3", "pop3s", "imaps",
                 "http", "https", "managesieve"):
        run("config", "set", f"{name}.listen", "")
    run("config", "set", "imap.listen", f"127.0.0.1:{port}")
    run("postoffice", "add", "b", "--password", "Mx-Secret-pm1")
    run("mailbox", "add", "u@b", "--password", "Load-Secret-1")
    fill(root / "store" / "b" / "u", msgs)
    proc = subprocess.Popen([str(build / "posternd"), "-d", str(root),
                             "--services", "imapd"])
    try:
        for _ in range(300):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=600)
                break
            except OSError:
                time.sleep(0.1)
        f = s.makefile("rwb")
        f.readline()

        def send(b):
            f.write(b)
            f.flush()
        send(b"l LOGIN u@b Load-Secret-1\r\n")
        read_tagged(f.readline, b"l")
        t0 = time.monotonic()
        send(b"s SELECT INBOX\r\n")
        read_tagged(f.readline, b"s")
        sel = time.monotonic() - t0
        res = timed(send, f.readline, COMMANDS)
        s.close()
        return sel, res
    finally:
        proc.terminate()
        proc.wait(30)


def dovecot(msgs, tmp):
    d = tmp / "dv"
    fill(d / "Maildir", msgs)
    (d / "dovecot.conf").write_text(
        f"mail_location = maildir:{d}/Maildir\nlog_path = {d}/log\n"
        "mail_uid = 65534\nmail_gid = 65534\nfirst_valid_uid = 0\n"
        "first_valid_gid = 0\n")
    subprocess.run(["chown", "-R", "65534:65534", str(d)], check=True)
    p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534",
                          "--clear-groups", "env", "USER=nobody", f"HOME={d}",
                          DOVECOT_IMAP, "-c", str(d / "dovecot.conf")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(b):
        p.stdin.write(b)
        p.stdin.flush()
    p.stdout.readline()
    t0 = time.monotonic()
    send(b"s SELECT INBOX\r\n")
    read_tagged(p.stdout.readline, b"s")
    sel = time.monotonic() - t0
    res = timed(send, p.stdout.readline, COMMANDS)
    send(b"z LOGOUT\r\n")
    p.wait(30)
    return sel, res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--build", default="build")
    a = ap.parse_args()
    build = (ROOT / a.build).resolve()
    msgs = messages(a.messages)
    tmp = Path(tempfile.mkdtemp(prefix="sort-thread."))
    os.chmod(tmp, 0o755)
    try:
        ps, pr = postern(build, msgs, tmp)
        ds, dr = dovecot(msgs, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{a.messages} messages, load {os.getloadavg()[0]:.2f}")
    print(f"| command | Postern first | Postern again | Dovecot first | "
          f"Dovecot again | result |\n|---|---|---|---|---|---|")
    print(f"| SELECT (new folder) | {ps:.2f} s | | {ds:.2f} s | | |")
    for k in range(0, len(pr), 2):
        c = pr[k][0]
        ok = all(x[3] == b"OK" for x in pr[k:k + 2] + dr[k:k + 2])
        same = pr[k][4] == dr[k][4] and pr[k][4] == pr[k + 1][4]
        print(f"| {c} | {pr[k][2]:.2f} s | {pr[k + 1][2]:.2f} s | "
              f"{dr[k][2]:.2f} s | {dr[k + 1][2]:.2f} s | "
              f"{'same' if same else 'DIFFERENT'} |" +
              ("" if ok else " (not OK!)"))


if __name__ == "__main__":
    sys.exit(main())

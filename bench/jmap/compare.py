#!/usr/bin/python3
"""bench/jmap/compare.py - the webmail's three waits, Postern JMAP and
Dovecot IMAP side by side on the same N message files (one folder), and
the memory of an idle JMAP EventSource client.

  first page   Postern: one HTTP request, Email/query (INBOX, receivedAt
               descending, limit 50, calculateTotal) + Email/get of the 50
               (the list's properties, with preview).
               Dovecot: what Roundcube asks: SELECT INBOX, UID SORT
               (REVERSE ARRIVAL) UTF-8 ALL, UID FETCH of the first 50
               (UID RFC822.SIZE FLAGS INTERNALDATE BODYSTRUCTURE and the
               list's header fields).
  threads      the webmail's own first page (conversations on, its
               default): Email/query with collapseThreads + Email/get +
               Thread/get (the count of each row's thread), one request.
               Dovecot: Roundcube's threaded list: SELECT, UID THREAD
               REFS UTF-8 ALL, UID FETCH of the 50 newest threads' roots.
  open         Postern: Email/get of one Email with its text body values.
               Dovecot: UID FETCH BODYSTRUCTURE, then BODY.PEEK[1] and the
               header (Roundcube's message view).
  search       Postern: Email/query with an OR of subject and from (the
               webmail's quick search) + Email/get of the first 50.
               Dovecot: UID SORT (REVERSE ARRIVAL) UTF-8 OR HEADER SUBJECT
               x HEADER FROM x (Roundcube's default quick search) + the
               FETCH of the first 50.
  body search  Postern: Email/query {text} + get; Dovecot: UID SEARCH TEXT
               + FETCH (no full-text index on either side).

Each is timed cold (the first time after the files appeared: each server
indexes then) and warm (median of RUNS), by the wall clock and by the
server's own CPU time (every thread's, from /proc/PID/task/*/schedstat:
on a loaded machine the wall clock mostly measures the others). Dovecot runs as its imap binary
pre-authenticated over pipes (as in bench/imap/sort_thread.py: no login,
no network, which favours it); Postern over HTTP on loopback with the web
session cookie. Then Postern's httpd alone (no ASan: use an optimised
build) holds CLIENTS idle EventSource streams; their cost is the growth
of httpd's RSS divided by their number (the kernel's socket buffers are
not in it).

usage: bench/jmap/compare.py [--messages 100000] [--build build-opt]
       [--clients 512]       (as root: Dovecot runs as nobody)
"""
import argparse
import base64
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOVECOT_IMAP = "/usr/lib/dovecot/imap"
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]
PW = "Qz-Sample-Pw-5678"
RUNS = 5
PAGE = 50
LIST_PROPS = ["id", "threadId", "mailboxIds", "keywords", "size",
              "receivedAt", "from", "to", "subject", "preview",
              "hasAttachment"]
RC_HEADERS = ("BODY.PEEK[HEADER.FIELDS (DATE FROM TO SUBJECT CONTENT-TYPE "
              "CC REPLY-TO IN-REPLY-TO MESSAGE-ID REFERENCES X-PRIORITY)]")
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet "
         "kilo lima mike november oscar papa quebec romeo sierra tango "
         "uniform victor whiskey xray yankee zulu").split()


def messages(n, seed=7):
    rnd = random.Random(seed)
    out = []
    base = 1_780_000_000
    for i in range(n):
        t = base + i * 30 + rnd.randrange(30)
        words = " ".join(rnd.choice(WORDS) for _ in range(40 + i % 400))
        body = "\r\n".join(words[k:k + 72] for k in range(0, len(words), 72))
        who = rnd.randrange(500)
        out.append((t, (
            f"From: Sender {who} <s{who}@example.org>\r\n"
            f"To: bench@hq.test\r\n"
            f"Subject: {rnd.choice(WORDS)} report {i % 9973}\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(t))}\r\n"
            f"Message-ID: <m{i}@example.org>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"\r\n{body}\r\n").encode()))
    return out


def fill(maildir, msgs):
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for i, (t, m) in enumerate(msgs):
        p = maildir / "cur" / f"{t}.M{i}.bench,S={len(m)}:2,{'S' if i % 3 else ''}"
        p.write_bytes(m)
        os.utime(p, (t, t))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ns(pid):
    """the CPU time of every thread of pid so far (ns, schedstat)"""
    total = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((t / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass                        # a thread gone meanwhile
    return total


def timed(fn, pid, runs=RUNS):
    """(cold wall, warm wall median, cold server CPU, warm server CPU
    median) in seconds: the server's CPU time (all its threads) counts
    its own work, which the other load of the machine does not inflate
    the way it does the wall clock"""
    c0, t0 = cpu_ns(pid), time.perf_counter()
    fn()
    cold, cold_cpu = time.perf_counter() - t0, (cpu_ns(pid) - c0) / 1e9
    ts, cs = [], []
    for _ in range(runs):
        c0, t0 = cpu_ns(pid), time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        cs.append((cpu_ns(pid) - c0) / 1e9)
    return cold, statistics.median(ts), cold_cpu, statistics.median(cs)


# ----------------------------------------------------------------- Postern

class Postern:
    def __init__(self, build, tmp):
        self.build = build
        self.root = tmp / "postern"
        self.port = free_port()
        self.cli("init", "--hostname", "bench.test")
        for name in ("smtp", "submission", "smtps", "pop3", "pop3s", "imap",
                     "imaps", "https", "managesieve"):
            self.cli("config", "set", f"{name}.listen", "")
        self.cli("config", "set", "http.listen", f"127.0.0.1:{self.port}")
        self.cli("config", "set", "http.max_connections_per_ip", "100000")
        self.cli("config", "set", "http.idle_timeout", "3600")
        self.cli("postoffice", "add", "hq", "--password", "Kx-Office-Pw-1234")
        self.cli("mailbox", "add", "bench@hq", "--password", PW)
        self.proc = subprocess.Popen(
            [str(build / "posternd"), "-d", str(self.root), "--services",
             "httpd"])
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.cookie = self.login("bench@hq")
        self.pid = json.loads((self.root / "run" / "httpd.json")
                              .read_text())["pid"]
        self.acct = self.get("/jmap/mail/session", self.cookie)[
            "primaryAccounts"][USING[1]]

    def cli(self, *a):
        return subprocess.run([str(self.build / "postern"), "-d",
                               str(self.root), *a], check=True,
                              capture_output=True, text=True)

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=3600)

    def login(self, who):
        c = self.conn()
        c.request("POST", "/jmap/mail/login", json.dumps(
            {"login": who, "password": PW}),
            {"Content-Type": "application/json", "X-Postern-CSRF": "1"})
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
        c.close()
        return r.getheader("Set-Cookie").split(";")[0]

    def get(self, path, cookie):
        c = self.conn()
        c.request("GET", path, headers={"Cookie": cookie})
        r = c.getresponse()
        body = r.read()
        c.close()
        assert r.status == 200, body
        return json.loads(body)

    def api(self, calls):
        if not hasattr(self, "c"):
            self.c = self.conn()
        self.c.request("POST", "/jmap/mail/api", json.dumps(
            {"using": USING, "methodCalls": calls}),
            {"Content-Type": "application/json", "X-Postern-CSRF": "1",
             "Cookie": self.cookie})
        r = self.c.getresponse()
        body = r.read()
        assert r.status == 200, body
        out = json.loads(body)["methodResponses"]
        for res in out:
            assert res[0] != "error", res
        return out

    def mailroot(self):
        return next(p.parent for p in self.root.rglob("postern-index.db"))

    def page(self, filt, extra=None, thread_get=False):
        q = {"accountId": self.acct, "filter": filt, "sort": [
            {"property": "receivedAt", "isAscending": False}],
            "limit": PAGE, "calculateTotal": True}
        q.update(extra or {})
        calls = [["Email/query", q, "q"], ["Email/get", {
            "accountId": self.acct, "properties": LIST_PROPS,
            "#ids": {"resultOf": "q", "name": "Email/query",
                     "path": "/ids"}}, "g"]]
        if thread_get:              # as web/mail/app.js asks
            calls.append(["Thread/get", {"accountId": self.acct, "#ids": {
                "resultOf": "g", "name": "Email/get",
                "path": "/list/*/threadId"}}, "t"])
        out = self.api(calls)
        return out[0][1], out[1][1]["list"]

    def open(self, eid):
        out = self.api([["Email/get", {
            "accountId": self.acct, "ids": [eid], "properties": [
                "id", "subject", "from", "to", "cc", "sentAt", "bodyStructure",
                "textBody", "htmlBody", "attachments", "bodyValues"],
            "fetchHTMLBodyValues": True}, "o"]])
        return out[0][1]["list"][0]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)


def bench_postern(build, msgs, tmp, word, who):
    p = Postern(build, tmp)
    try:
        inbox = [m for m in p.api([["Mailbox/get", {
            "accountId": p.acct, "ids": None}, "m"]])[0][1]["list"]
            if m["role"] == "inbox"][0]["id"]
        pid = p.pid
        t = time.perf_counter()
        fill(p.mailroot(), msgs)
        made = time.perf_counter() - t
        res = {}
        first = {}

        def first_page():
            q, lst = p.page({"inMailbox": inbox})
            assert q["total"] == len(msgs) and len(lst) == PAGE
            first["ids"] = q["ids"]
        res["first page"] = timed(first_page, pid)

        def threads():
            q, lst = p.page({"inMailbox": inbox}, {"collapseThreads": True},
                            thread_get=True)
            assert q["total"] == len(msgs) and len(lst) == PAGE
        res["first page, threads"] = timed(threads, pid)

        def open_one():
            e = p.open(first["ids"][7])
            assert e["bodyValues"]
        res["open"] = timed(open_one, pid)
        sfilter = {"operator": "OR", "conditions": [
            {"subject": word}, {"from": who}]}

        def search():
            q, lst = p.page({"operator": "AND", "conditions": [
                {"inMailbox": inbox}, sfilter]})
            first["search"] = q["total"]
            assert len(lst) == min(PAGE, q["total"])
        res["search subject/from"] = timed(search, pid)

        def body_search():
            q, lst = p.page({"inMailbox": inbox, "text": "zulu yankee xray"})
            first["body"] = q["total"]
        res["body search"] = timed(body_search, pid, 2)
        return res, made, first
    finally:
        p.stop()


def bench_idle(build, tmp, clients):
    """httpd's RSS growth per idle EventSource stream"""
    p = Postern(build, tmp / "idle")
    socks = []
    try:
        per = 16                       # JMAP_PUSH_PER_ACCOUNT
        # clients + 1 streams (the first one below), per to an account
        names = [f"u{i}@hq" for i in range(clients // per + 1)]
        for n in names:
            p.cli("mailbox", "add", n, "--password", PW)
        cookies = [p.login(n) for n in names]
        # one stream first (the push machinery, inotify, code pages)
        pid = p.pid

        def open_stream(cookie):
            s = socket.create_connection(("127.0.0.1", p.port), timeout=120)
            s.sendall((f"GET /jmap/mail/eventsource/?types=*&closeafter=no&"
                       f"ping=300 HTTP/1.1\r\nHost: b\r\nCookie: {cookie}"
                       "\r\n\r\n").encode())
            got = b""
            while b"\r\n\r\n" not in got or b"data:" not in got:
                got += s.recv(65536)
            assert got.startswith(b"HTTP/1.1 200"), got[:100]
            return s
        socks.append(open_stream(cookies[0]))
        time.sleep(1)
        before = rss_kb(pid)
        for i in range(1, clients + 1):
            socks.append(open_stream(cookies[i // per]))
        time.sleep(2)
        after = rss_kb(pid)
        cpu0 = sum(int(x) for x in Path(f"/proc/{pid}/stat").read_text()
                   .split()[13:15])
        time.sleep(10)
        cpu1 = sum(int(x) for x in Path(f"/proc/{pid}/stat").read_text()
                   .split()[13:15])
        return before, after, clients, cpu1 - cpu0
    finally:
        for s in socks:
            s.close()
        p.stop()


# ----------------------------------------------------------------- Dovecot

class Dovecot:
    def __init__(self, d, msgs):
        fill(d / "Maildir", msgs)
        (d / "dovecot.conf").write_text(
            f"mail_location = maildir:{d}/Maildir\nlog_path = {d}/log\n"
            "mail_uid = 65534\nmail_gid = 65534\nfirst_valid_uid = 0\n"
            "first_valid_gid = 0\n")
        subprocess.run(["chown", "-R", "65534:65534", str(d)], check=True)
        self.p = subprocess.Popen(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "env", "USER=nobody", f"HOME={d}", DOVECOT_IMAP, "-c",
             str(d / "dovecot.conf")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.p.stdout.readline()
        self.n = 0

    def cmd(self, c):
        self.n += 1
        tag = b"d%d" % self.n
        self.p.stdin.write(tag + b" " + c.encode() + b"\r\n")
        self.p.stdin.flush()
        lines = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("dovecot closed")
            m = line.rstrip().rsplit(b"{", 1)
            if len(m) == 2 and m[1].endswith(b"}") and m[1][:-1].isdigit():
                line += self.p.stdout.read(int(m[1][:-1]))
                continue_line = self.p.stdout.readline()
                line += continue_line
            lines.append(line)
            if line.startswith(tag + b" "):
                assert line.split()[1] == b"OK", line
                return lines

    def sorted_uids(self, criteria):
        out = self.cmd(f"UID SORT (REVERSE ARRIVAL) UTF-8 {criteria}")
        for line in out:
            if line.startswith(b"* SORT"):
                return line.split()[2:]
        return []

    def thread_roots(self):
        """the first UID of each thread of UID THREAD REFS, in order"""
        roots = []
        for line in self.cmd("UID THREAD REFS UTF-8 ALL"):
            if not line.startswith(b"* THREAD"):
                continue
            depth, num, start = 0, b"", False
            for ch in line[8:]:
                c = bytes([ch])
                if c.isdigit():
                    num += c
                    continue
                if num and start:
                    roots.append(num)
                    start = False
                num = b""
                if c == b"(":
                    depth += 1
                    start = start or depth == 1
                elif c == b")":
                    depth -= 1
        return roots

    def fetch_list(self, uids):
        if uids:
            self.cmd("UID FETCH " + b",".join(uids).decode() +
                     " (UID RFC822.SIZE FLAGS INTERNALDATE BODYSTRUCTURE "
                     + RC_HEADERS + ")")

    def stop(self):
        self.p.stdin.write(b"z LOGOUT\r\n")
        self.p.stdin.flush()
        self.p.wait(60)


def bench_dovecot(msgs, tmp, word, who):
    d = Dovecot(tmp / "dv", msgs)
    pid = d.p.pid                   # setpriv and env exec the imap binary
    try:
        res = {}
        first = {}

        def first_page():
            d.cmd("SELECT INBOX")
            uids = d.sorted_uids("ALL")
            assert len(uids) == len(msgs)
            first["uids"] = uids[:PAGE]
            d.fetch_list(uids[:PAGE])
        res["first page"] = timed(first_page, pid)

        def threads():
            d.cmd("SELECT INBOX")
            roots = d.thread_roots()
            assert len(roots) == len(msgs)
            d.fetch_list(roots[-PAGE:])
        res["first page, threads"] = timed(threads, pid)

        def open_one():
            u = first["uids"][7].decode()
            d.cmd(f"UID FETCH {u} (BODYSTRUCTURE)")
            d.cmd(f"UID FETCH {u} (BODY.PEEK[HEADER] BODY.PEEK[1])")
        res["open"] = timed(open_one, pid)

        def search():
            uids = d.sorted_uids(f'OR HEADER SUBJECT "{word}" HEADER FROM '
                                 f'"{who}"')
            first["search"] = len(uids)
            d.fetch_list(uids[:PAGE])
        res["search subject/from"] = timed(search, pid)

        def body_search():
            uids = d.sorted_uids('TEXT "zulu yankee xray"')
            first["body"] = len(uids)
            d.fetch_list(uids[:PAGE])
        res["body search"] = timed(body_search, pid, 2)
        return res, first
    finally:
        d.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--build", default="build-opt")
    ap.add_argument("--clients", type=int, default=512)
    a = ap.parse_args()
    build = (ROOT / a.build).resolve()
    msgs = messages(a.messages)
    word, who = "quebec", "Sender 42 "
    tmp = Path(tempfile.mkdtemp(prefix="bench-jmap."))
    os.chmod(tmp, 0o755)
    load0 = os.getloadavg()[0]
    try:
        pr, made, pf = bench_postern(build, msgs, tmp, word, who)
        dr, df = bench_dovecot(msgs, tmp, word, who)
        idle = bench_idle(build, tmp, a.clients)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{a.messages} messages in one folder ({made:.0f} s to write "
          f"them); load average {load0:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end (2 cores)\n")
    print("| wait | Postern JMAP cold | Postern warm | Dovecot IMAP cold | "
          "Dovecot warm | server CPU warm, Postern / Dovecot | "
          "server CPU cold, Postern / Dovecot | matches (Postern / "
          "Dovecot) |")
    print("|---|---|---|---|---|---|---|---|")
    for k in pr:
        hits = {"search subject/from": "search", "body search": "body"}.get(k)
        m = f"{pf[hits]} / {df[hits]}" if hits else ""
        print(f"| {k} | {pr[k][0] * 1000:.0f} ms | {pr[k][1] * 1000:.1f} ms "
              f"| {dr[k][0] * 1000:.0f} ms | {dr[k][1] * 1000:.1f} ms "
              f"| {pr[k][3] * 1000:.1f} / {dr[k][3] * 1000:.1f} ms "
              f"| {pr[k][2] * 1000:.0f} / {dr[k][2] * 1000:.0f} ms | {m} |")
    before, after, n, ticks = idle
    hz = os.sysconf("SC_CLK_TCK")
    print(f"\nidle EventSource clients: httpd RSS {before} kB with one, "
          f"{after} kB with {n + 1}: {(after - before) / n:.1f} kB per "
          f"client; CPU over 10 idle seconds: {ticks / hz:.2f} s")


if __name__ == "__main__":
    sys.exit(main())

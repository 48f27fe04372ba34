#!/usr/bin/env python3
"""bench/jmap/query.py [BUILD] [N] - JMAP Email/query on N messages.

Makes a data root with one mailbox, puts N small messages (distinct
senders, subjects, sizes, dates, every third one \\Seen, every fifth
flagged) into its INBOX's new/ as files (the store indexes them at the
first JMAP request), starts postern-httpd alone and times Email/query
over real HTTP with the web session cookie, one request per call: the default
sort, the four indexed sorts, keyword filters, calculateTotal, and a
text filter (which no index serves: it reads every message), and the
subject/from filters the index serves (index version 7) beside the same
filter ANDed with minSize 0, which sends it down the path that reads
every message's header (the only path before version 7). Server CPU: of
posternd and every process under it, from /proc/PID/task/*/schedstat.
Prints a Markdown table for bench/RESULTS.md."""
import shutil
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import httpd_alone  # noqa: E402

BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build-opt").resolve()
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
RUNS = 10
PW = "Qz-Sample-Pw-5678"
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]


def cli(root, *a):
    return httpd_alone.cli(BUILD, root, *a)


def server_cpu_ns(pid):
    """CPU time of pid and every process under it (ns)"""
    total, pending = 0, [pid]
    while pending:
        p = pending.pop()
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
                with open(f"/proc/{p}/task/{t}/children") as f:
                    pending += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return total


def fill(maildir):
    new = maildir / "new"
    new.mkdir(parents=True, exist_ok=True)
    base = int(time.time()) - N * 60
    for i in range(N):
        body = "x" * (100 + (i * 37) % 4000)
        msg = (f"From: Sender {i % 97:02d} <s{i % 97}@example.org>\r\n"
               f"To: bench@hq.test\r\nSubject: Topic {(i * 7919) % N}\r\n"
               f"Message-ID: <b{i}@example.org>\r\n"
               f"Date: Mon, 7 Dec 2026 00:00:00 +0000\r\n\r\n{body}\r\n")
        flags = ("S" if i % 3 == 0 else "") + ("F" if i % 5 == 0 else "")
        name = f"{base + i * 60}.M{i}P1Q{i}.bench"
        path = new / name
        path.write_bytes(msg.encode())
        os.utime(path, (base + i * 60, base + i * 60))
        if flags:   # into cur/ with its flags, as another MDA would
            cur = maildir / "cur"
            cur.mkdir(exist_ok=True)
            path.rename(cur / f"{name}:2,{''.join(sorted(flags))}")


def main():
    root, hp = httpd_alone.make_root(
        BUILD, "postern-bench-jmap-", "hq", "Kx-Office-Pw-1234", "bench@hq",
        PW)
    proc = httpd_alone.start(BUILD, root, hp)
    try:
        # the web session cookie: one password check, not one a request
        c, hdr = httpd_alone.login(hp, "/jmap/mail/login", "bench@hq", PW)

        def api(calls):
            c.request("POST", "/jmap/mail/api", json.dumps(
                {"using": USING, "methodCalls": calls}), hdr)
            r = c.getresponse()
            body = r.read()
            assert r.status == 200, body
            return json.loads(body)

        c.request("GET", "/jmap/mail/session", headers=hdr)
        r = c.getresponse()
        sess = json.loads(r.read())
        acct = sess["primaryAccounts"]["urn:ietf:params:jmap:mail"]
        api([["Mailbox/get", {"accountId": acct, "ids": None}, "m"]])
        # the mailbox exists now: fill its INBOX behind the index's back
        mroot = next(p.parent for p in Path(root).rglob("postern-index.db"))
        t0 = time.time()
        fill(mroot)
        made = time.time() - t0
        t0 = time.time()
        mb = api([["Mailbox/get", {"accountId": acct, "ids": None},
                   "m"]])["methodResponses"][0][1]["list"]
        indexed = time.time() - t0
        inbox = [m["id"] for m in mb if m["role"] == "inbox"][0]
        assert [m["totalEmails"] for m in mb if m["id"] == inbox] == [N]

        def q(**kw):
            return [["Email/query", dict({"accountId": acct}, **kw), "q"]]

        cases = [
            ("(baseline: Email/get of no ids)",
             [["Email/get", {"accountId": acct, "ids": []}, "q"]]),
            ("default sort (receivedAt desc), limit 50", q(limit=50)),
            ("inMailbox, receivedAt asc, limit 50",
             q(filter={"inMailbox": inbox},
               sort=[{"property": "receivedAt", "isAscending": True}],
               limit=50)),
            ("size desc, limit 50",
             q(sort=[{"property": "size", "isAscending": False}], limit=50)),
            ("from, limit 50", q(sort=[{"property": "from"}], limit=50)),
            ("subject, limit 50", q(sort=[{"property": "subject"}], limit=50)),
            ("notKeyword $seen, calculateTotal, limit 50",
             q(filter={"notKeyword": "$seen"}, calculateTotal=True,
               limit=50)),
            ("hasKeyword $flagged, position 100, limit 50",
             q(filter={"hasKeyword": "$flagged"}, position=100, limit=50)),
            ("every id (no limit: the server's 5000)", q()),
            ("query of 50 + Email/get of them (subject, from)",
             q(limit=50) + [["Email/get", {
                 "accountId": acct, "properties": ["subject", "from"],
                 "#ids": {"resultOf": "q", "name": "Email/query",
                          "path": "/ids"}}, "g"]]),
            ("text filter (no index: reads every message), limit 50",
             q(filter={"text": "Topic 7"}, limit=50)),
        ]
        # the subject/from filters from the index, and the same with a
        # minSize 0 condition (true of every message) that sends them
        # down the path reading every header (the only one before index
        # version 7)
        for name, flt, kw in (
                ("subject filter, limit 50", {"subject": "topic 7"}, {}),
                ("inMailbox + from filter, calculateTotal, limit 50",
                 {"inMailbox": inbox, "from": "sender 42"},
                 {"calculateTotal": True}),
                ("OR of subject and from (the webmail's search), "
                 "calculateTotal, limit 50",
                 {"operator": "OR", "conditions": [
                     {"subject": "topic 123"}, {"from": "s42@"}]},
                 {"calculateTotal": True})):
            cases.append((name + " (index)", q(filter=flt, limit=50, **kw)))
            cases.append((name + " (+ minSize 0: reads every header)",
                          q(filter={"operator": "AND", "conditions": [
                              flt, {"minSize": 0}]}, limit=50, **kw)))
        rows = []
        for name, calls in cases:
            api(calls)   # warm
            ts, cs = [], []
            for _ in range(RUNS):
                t = time.perf_counter()
                c0 = server_cpu_ns(proc.pid)
                out = api(calls)
                cs.append((server_cpu_ns(proc.pid) - c0) / 1e6)
                ts.append((time.perf_counter() - t) * 1000)
            res = out["methodResponses"][0]
            assert res[0] == calls[0][0], res
            rows.append((name, statistics.median(ts), max(ts),
                         statistics.median(cs), res[1].get("total", "-"),
                         len(res[1].get("ids", res[1].get("list", [])))))
    finally:
        httpd_alone.stop(proc, 20)
        shutil.rmtree(Path(root).parent, ignore_errors=True)
    print(f"{N} messages: files written in {made:.1f} s, indexed by the "
          f"first request in {indexed:.1f} s; load "
          f"{os.getloadavg()[0]:.2f}\n")
    print("| Email/query (one HTTP request) | median | max | server CPU "
          "(median) | total | ids |")
    print("|---|---|---|---|---|---|")
    for name, med, mx, cpu, total, got in rows:
        print(f"| {name} | {med:.1f} ms | {mx:.1f} ms | {cpu:.1f} ms | "
              f"{total} | {got} |")


main()

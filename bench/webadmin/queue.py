#!/usr/bin/env python3
"""bench/webadmin/queue.py [BUILD] [N] - the web admin's queue page at N
queued items (default 20,000, in smtp/outgoing, written as the services
write them), over real HTTP against postern-httpd alone: Queue/query with
limit 0 (the dashboard's counts), the first page of 50, a page of one
queue, a text search; milliseconds per request (median of 10) and httpd's
CPU time for them. Prints a Markdown table for bench/RESULTS.md."""
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import httpd_alone  # noqa: E402

BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
RUNS = 10
USING = ["urn:ietf:params:jmap:core", "urn:postern:admin"]


def fill(root, n):
    q = Path(root) / "queue" / "smtp" / "outgoing"
    for d in ("tmp", "new", "cur"):
        (q / d).mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    for i in range(n):
        qid = "%08X%08X" % (now - n + i, random.getrandbits(32))
        env = ["POSTERN-ENV 1", f"id ={qid}", f"arrival {now - n + i}",
               "sender =bench@hq.test", "auth -", "client =127.0.0.1 -",
               "body -", "smtputf8 0", "envid -", "ret -", "hops 0", "bulk 0",
               "delay-notified 0",
               f"rcpt =user{i}@remote{i % 50}.test - 0 2 3 9999999999 - -",
               "end"]
        (q / "new" / f"{qid}.msg").write_bytes(b"Subject: b\r\n\r\nx\r\n")
        (q / "new" / f"{qid}.env").write_text("\n".join(env) + "\n")


def cpu(pid):
    """user+system seconds of a process and its threads"""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main():
    root, hp = httpd_alone.make_root(
        BUILD, "postern-bench-queue-", "hq", "Hq-Bench-Pw-1234", "root@hq",
        "Rt-Bench-Pw-5678", "--type", "SYSADMIN")
    fill(root, N)
    proc = httpd_alone.start(BUILD, root, hp)
    try:
        time.sleep(1)
        st = json.loads(Path(root, "run/status.json").read_text())
        hpid = [s["pid"] for s in st["services"] if s["name"] == "httpd"][0]
        c, hdr = httpd_alone.login(hp, "/api/login", "root@hq",
                                   "Rt-Bench-Pw-5678")

        def api(args):
            c.request("POST", "/jmap/api", json.dumps(
                {"using": USING, "methodCalls": [["Queue/query", args, "q"]]}), hdr)
            r = c.getresponse()
            body = r.read()
            assert r.status == 200, body
            out = json.loads(body)["methodResponses"][0]
            assert out[0] == "Queue/query", out
            return out[1]

        cases = [
            ("counts only (limit 0: the dashboard)", {"limit": 0}),
            ("first page of 50, all queues", {"limit": 50}),
            ("first page of 50, smtp/outgoing", {"limit": 50, "filter": {"queue": "smtp/outgoing"}}),
            ("page 200 of 50", {"limit": 50, "position": 9950}),
            ("text search 'remote7.test'", {"limit": 50, "filter": {"text": "remote7.test"}}),
        ]
        print(f"Queue/query at {N} items (load {os.getloadavg()[0]:.1f})\n")
        print("| request | ms (median of %d) | httpd CPU ms per request |" % RUNS)
        print("|---|---:|---:|")
        for name, args in cases:
            r = api(args)
            assert r["total"] >= (0 if "text" in args.get("filter", {}) else N) or \
                "text" in args.get("filter", {}), r["total"]
            times = []
            c0 = cpu(hpid)
            for _ in range(RUNS):
                t = time.perf_counter()
                api(args)
                times.append((time.perf_counter() - t) * 1000)
            cpu_ms = (cpu(hpid) - c0) * 1000 / RUNS
            print(f"| {name} | {statistics.median(times):.1f} | {cpu_ms:.0f} |")
    finally:
        httpd_alone.stop(proc)


if __name__ == "__main__":
    main()

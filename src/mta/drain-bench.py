"""Drain rate of the MTA + post office connector: N items (one local
recipient, ~3 KB) queued before the start, then posternd runs mta and
deliver; prints the time until all are in the mailbox.

usage: python3 src/mta/drain-bench.py BUILD_DIR N smtp|sf inbound|outgoing WORKERS
  e.g. python3 src/mta/drain-bench.py build-mta 2000 smtp inbound 4
"""
import sys, time, tempfile, os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/integration"))
os.environ["POSTERN_BUILD"] = os.path.abspath(sys.argv[1])
from conftest import Postern
from pathlib import Path
from test_mta import queue_put, make_msg, wait_for
n = int(sys.argv[2]); conn = sys.argv[3]; direction = sys.argv[4]; workers = sys.argv[5]
with tempfile.TemporaryDirectory(dir="/var/tmp") as t:
    p = Postern(Path(t) / "root"); p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", "alice-pw")
    p.cli("config", "set", "delivery.workers", workers)
    for _ in range(n):
        queue_put(p.root, conn, direction, make_msg("x@remote.test", "alice@acme.test", body="z" * 3000 + "\r\n")[0], "x@remote.test", ["alice@acme.test"])
    t0 = time.time()
    p.start(services=["mta", "deliver"], wait=False)
    d = p.root / "store/acme/alice/new"
    wait_for(lambda: d.is_dir() and len(os.listdir(d)) >= n, 300, "all")
    t2 = time.time()
    print(f"{n} items from {conn}/{direction}, {workers} workers: {t2-t0:.2f}s: {n/(t2-t0):.0f} msg/s")
    p.stop()

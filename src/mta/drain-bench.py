"""Drain rate of the MTA + post office connector: N items (one local
recipient, ~3 KB) queued before the start, then posternd runs mta and
deliver; prints the time until all are in the mailbox and the CPU time
the services took per message (user + system, from the rusage of the
children: posternd waits for its services, they for their workers).

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
    import resource
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    p.start(services=["mta", "deliver"], wait=False)
    d = p.root / "store/acme/alice/new"
    wait_for(lambda: d.is_dir() and len(os.listdir(d)) >= n, 300, "all")
    t2 = time.time()
    print(f"{n} items from {conn}/{direction}, {workers} workers: {t2-t0:.2f}s: {n/(t2-t0):.0f} msg/s")
    p.stop()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, sys_ = ru1.ru_utime - ru0.ru_utime, ru1.ru_stime - ru0.ru_stime
    print(f"CPU {user + sys_:.2f}s = {1e6 * (user + sys_) / n:.0f} us/msg "
          f"(user {user:.2f}, system {sys_:.2f}); load {os.getloadavg()[0]:.1f}")

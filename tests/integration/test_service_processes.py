"""A service with several processes (imap.processes): the workers take
the logins of the one pre-login process (imap-login, which holds the
listeners: docs/SECURITY.md), a dead worker restarts the whole service,
and SIGTERM stops them all."""
import imaplib
import json
import os
import signal
import time
from pathlib import Path


def children(pid):
    try:
        return [int(p) for p in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def imapd_pid(p):
    st = json.loads((p.root / "run/status.json").read_text())
    return [s for s in st["services"] if s["name"] == "imapd"][0]


def wait(cond, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


def test_imap_processes(populated):
    populated.cli("config", "set", "imap.processes", "3")
    populated.start(services=["imapd"])
    main = imapd_pid(populated)["pid"]
    # two workers and imap-login
    kids = wait(lambda: len(children(main)) == 3 and children(main),
                "two worker processes and the pre-login process")
    workers = [k for k in kids if "imap-login" not in
               Path(f"/proc/{k}/status").read_text()]
    # logins work whichever process accepts them
    for _ in range(6):
        c = imaplib.IMAP4("127.0.0.1", populated.port("imap"), timeout=10)
        c.login("alice@acme", "alice-pw")
        assert c.select("INBOX")[0] == "OK"
        c.logout()
    # a worker killed: the service restarts as a whole
    os.kill(workers[0], signal.SIGKILL)
    wait(lambda: imapd_pid(populated)["restarts"] >= 1 and
         imapd_pid(populated)["pid"] not in (0, main), "imapd restarted")
    new_main = imapd_pid(populated)["pid"]
    wait(lambda: len(children(new_main)) == 3, "workers again")
    for w in workers:
        wait(lambda: not Path(f"/proc/{w}").exists() or
             "Z" in Path(f"/proc/{w}/stat").read_text().split()[2], "old worker gone")
    c = imaplib.IMAP4("127.0.0.1", populated.port("imap"), timeout=10)
    c.login("bob@acme", "bob-pw")
    c.logout()
    # SIGTERM of posternd stops every process
    all_pids = [new_main] + children(new_main)
    populated.stop()
    for pid in all_pids:
        wait(lambda: not Path(f"/proc/{pid}").exists() or
             Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z",
             f"process {pid} stopped", timeout=15)

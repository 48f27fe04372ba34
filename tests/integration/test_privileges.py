"""The privilege model (docs/SECURITY.md): posternd started as root stays
root (it restarts services, which bind privileged ports), every service
binds its listeners as root and then becomes the owner of the data root
(setgroups, setresgid, setresuid, PR_SET_NO_NEW_PRIVS). Checked through
/proc/<pid>/status of the real processes, and by using the listeners
afterwards (mail written to the queue as that user, IMAP and POP3 logins)."""
import imaplib
import json
import os
import poplib
import pwd
import shutil
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import Postern

USER = "postern"
SERVICES = ["smtpd", "mta", "deliver", "pop3d", "imapd"]


def ensure_user():
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    r = subprocess.run(["useradd", "--system", "--no-create-home",
                        "--home-dir", "/var/lib/postern", "--shell",
                        "/usr/sbin/nologin", USER], capture_output=True)
    if r.returncode != 0 and b"already exists" not in r.stderr:
        pytest.skip("cannot create user postern: " + r.stderr.decode())
    return pwd.getpwnam(USER)


def proc_status(pid):
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out


@pytest.fixture
def owned():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    pw = ensure_user()
    # not under pytest's 0700 tmp dir: the user must reach the data root
    base = Path(tempfile.mkdtemp(prefix="postern-priv-", dir="/tmp"))
    base.chmod(0o755)
    p = Postern(base / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", "alice-pw")
    # every CLI change is done: give the whole data root away
    subprocess.run(["chown", "-R", f"{pw.pw_uid}:{pw.pw_gid}", str(p.root)],
                   check=True)
    yield p, pw
    p.stop()
    reports = p.sanitizer_reports()
    shutil.rmtree(base, ignore_errors=True)
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def test_services_drop_to_data_root_owner(owned):
    p, pw = owned
    p.start(services=SERVICES, timeout=60)
    st = json.loads((p.root / "run" / "status.json").read_text())
    pids = {s["name"]: s["pid"] for s in st["services"] if s["name"] in SERVICES}
    assert set(pids) == set(SERVICES), st
    # posternd itself stays root
    assert proc_status(p.proc.pid)["Uid"][0] == "0"
    for name, pid in pids.items():
        s = proc_status(pid)
        # real, effective, saved and filesystem ids
        assert s["Uid"] == [str(pw.pw_uid)] * 4, (name, s["Uid"])
        assert s["Gid"] == [str(pw.pw_gid)] * 4, (name, s["Gid"])
        assert s.get("Groups", []) == [], (name, s.get("Groups"))
        assert s["NoNewPrivs"] == ["1"], name
        assert s["CapEff"] == ["0000000000000000"], name
        assert f"dropped privileges to uid {pw.pw_uid}" in p.log(name), name

    # the listeners bound as root still serve, and what they write belongs
    # to the user
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=30) as s:
        s.sendmail("a@example.org", ["alice@acme.test"],
                   b"Subject: priv\r\n\r\nhello\r\n")
    store = p.root / "store"
    deadline = time.time() + 60
    found = []
    while time.time() < deadline and not found:
        found = [f for f in store.rglob("*") if f.is_file()
                 and "/new/" in str(f) and b"Subject: priv" in f.read_bytes()]
        time.sleep(0.2)
    assert found, "message not delivered"
    assert found[0].stat().st_uid == pw.pw_uid

    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=30)
    c.login("alice@acme", "alice-pw")
    typ, data = c.select("INBOX")
    assert typ == "OK" and int(data[0]) == 1
    c.logout()
    pop = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=30)
    pop.user("alice@acme")
    pop.pass_("alice-pw")
    assert pop.stat()[0] == 1
    pop.quit()


def test_root_owned_data_root_keeps_root_and_says_so(postern):
    """A data root owned by root: services keep root (logged as advice)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    postern.start(services=["smtpd"])
    st = json.loads((postern.root / "run" / "status.json").read_text())
    pid = [s["pid"] for s in st["services"] if s["name"] == "smtpd"][0]
    assert proc_status(pid)["Uid"][0] == "0"
    assert "chown the data root to an unprivileged user" in postern.log("smtpd")


def test_restarted_service_drops_again(owned):
    """A service killed and restarted by posternd (still root) drops again."""
    p, pw = owned
    p.start(services=["smtpd"], timeout=60)
    st = json.loads((p.root / "run" / "status.json").read_text())
    pid = [s["pid"] for s in st["services"] if s["name"] == "smtpd"][0]
    os.kill(pid, 9)
    deadline = time.time() + 60
    new = None
    while time.time() < deadline:
        try:
            st = json.loads((p.root / "run" / "status.json").read_text())
            s = [s for s in st["services"] if s["name"] == "smtpd"][0]
            if s["pid"] not in (0, pid) and s["state"] == "running":
                new = s["pid"]
                break
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.2)
    assert new, "smtpd not restarted"
    deadline = time.time() + 30
    while time.time() < deadline and proc_status(new)["Uid"][0] == "0":
        time.sleep(0.1)
    assert proc_status(new)["Uid"] == [str(pw.pw_uid)] * 4
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=30) as s:
        assert s.noop()[0] == 250

"""posternd, the supervisor: starting the services of host.conf, `postern
status`, restarts after kill -9, a clean stop on SIGTERM, one posternd per
data root, and a clear refusal of a missing data root.

The services run from a private libexec directory (POSTERN_LIBEXECDIR):
"fake" and "fake2", small Python services that bind a real loopback port and reports it like service_main() does, so the
listening addresses in `postern status` are tested whatever services the
build has."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BUILD, ROOT


FAKES = ["fake", "fake2"]

FAKE = r'''#!/usr/bin/python3
import json, os, signal, socket, sys, time
root = sys.argv[sys.argv.index("-d") + 1]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(5)
port = s.getsockname()[1]
name = os.path.basename(sys.argv[0])[len("postern-"):]
st = {"name": name, "pid": os.getpid(), "started": int(time.time()),
      "state": "running", "listen": ["127.0.0.1:%d" % port], "note": ""}
tmp = os.path.join(root, "run", name + ".json.tmp")
with open(tmp, "w") as f:
    json.dump(st, f)
os.rename(tmp, os.path.join(root, "run", name + ".json"))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
deadline = time.time() + 120
while time.time() < deadline:
    time.sleep(0.2)
'''


def wait_for(pred, timeout=10.0, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose, but posternd should have reaped it
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def sup(postern, tmp_path):
    """A data root whose posternd runs fake and fake2."""
    libexec = tmp_path / "libexec"
    libexec.mkdir()
    for name in FAKES:
        fake = libexec / f"postern-{name}"
        fake.write_text(FAKE)
        fake.chmod(0o755)
    postern.env["POSTERN_LIBEXECDIR"] = str(libexec)
    (postern.root / "host.conf").write_text(
        "# test services\nservices = " + " ".join(FAKES) + "\n")
    return postern


def services(p):
    return {s["name"]: s for s in p.cli("status", json_out=True)["services"]}


def test_start_and_status(sup):
    p = sup
    p.start()
    st = p.cli("status", json_out=True)
    assert st["running"] is True and st["posternd"]["pid"] == p.proc.pid
    svc = {s["name"]: s for s in st["services"]}
    assert sorted(svc) == sorted(FAKES)
    fake = svc["fake"]
    assert fake["state"] == "running" and len(fake["listen"]) == 1
    host, port = fake["listen"][0].rsplit(":", 1)
    import socket
    with socket.create_connection((host, int(port)), timeout=5):
        pass
    text = p.cli("status").stdout
    assert f"posternd running, pid {p.proc.pid}" in text
    line = next(l for l in text.splitlines() if l.startswith("fake "))
    assert fake["listen"][0] in line and " running " in line
    assert "UPTIME" in text and "RESTARTS" in text
    # each service has its own log
    assert wait_for(lambda: "running" in p.cli("status").stdout)
    assert "started fake2" in p.log("posternd")


def test_host_conf_forms(sup):
    p = sup
    (p.root / "host.conf").write_text(
        "# services = nosuch\nservices_note = nosuch2\n  services\t= fake,fake2\n")
    p.start()
    assert sorted(services(p)) == ["fake", "fake2"]


def test_no_services(sup):
    p = sup
    for arg in ["", "../bad /etc"]:
        r = subprocess.run([str(BUILD / "posternd"), "-d", str(p.root), "--services",
                            arg], capture_output=True, text=True, env=p.env, timeout=30)
        assert r.returncode == 1 and "no services to run" in r.stderr
        assert "Sanitizer" not in r.stderr
    assert p.cli("status", check=False).returncode == 1


def test_services_option(sup):
    p = sup
    p.start(services=["fake2"])
    assert sorted(services(p)) == ["fake2"]


def test_not_built_service(sup):
    p = sup
    (p.root / "host.conf").write_text("services = fake nosuchsvc\n")
    p.start()
    svc = services(p)
    assert svc["nosuchsvc"]["state"] == "not-built" and svc["nosuchsvc"]["pid"] == 0
    assert "not built" in svc["nosuchsvc"]["note"]
    assert "not-built" in p.cli("status").stdout


def test_kill9_restarts(sup):
    p = sup
    p.start()
    before = services(p)
    for name in ["fake"]:
        old = before[name]["pid"]
        os.kill(old, signal.SIGKILL)

        def restarted():
            s = services(p)[name]
            return s if s["pid"] > 0 and s["pid"] != old and \
                s["state"] == "running" else None
        s = wait_for(restarted, timeout=10)
        assert s, services(p)[name]
        assert s["restarts"] == 1 and alive(s["pid"]) and not alive(old)
    assert "killed by signal 9" in p.log("posternd")
    # the others were left alone
    after = services(p)
    assert after["fake2"]["pid"] == before["fake2"]["pid"]
    assert after["fake2"]["restarts"] == 0


def test_sigterm_stops_everything(sup):
    p = sup
    p.start()
    pids = [s["pid"] for s in services(p).values()]
    assert len(pids) == 2 and all(alive(x) for x in pids)
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(timeout=15) == 0
    assert not any(alive(x) for x in pids)
    # no process is left whose parent was posternd
    left = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().split(")")[-1].split()[1]) == p.proc.pid:
                        left.append(d)
            except (OSError, ValueError, IndexError):
                pass
    assert left == []
    st = json.loads((p.root / "run/status.json").read_text())
    assert all(s["state"] == "stopped" and s["pid"] == 0 for s in st["services"])
    r = p.cli("status", check=False)
    assert r.returncode == 1 and "not running" in r.stdout
    assert "stopped" in p.log("posternd")


def test_second_posternd_refused(sup):
    p = sup
    p.start()
    before = services(p)
    r = subprocess.run([str(BUILD / "posternd"), "-d", str(p.root)],
                       capture_output=True, text=True, env=p.env, timeout=30)
    assert r.returncode == 1
    assert "another posternd" in r.stderr
    assert "Sanitizer" not in r.stderr
    assert p.proc.poll() is None
    after = services(p)
    assert {n: s["pid"] for n, s in after.items()} == \
        {n: s["pid"] for n, s in before.items()}
    assert p.cli("status", json_out=True)["posternd"]["pid"] == p.proc.pid


def test_missing_data_root(tmp_path):
    exe = str(BUILD / "posternd")
    env = dict(os.environ)
    env.pop("POSTERN_DIR", None)
    r = subprocess.run([exe, "-d", str(tmp_path / "none")], capture_output=True,
                       text=True, env=env, timeout=30)
    assert r.returncode == 6
    assert "no Postern data root" in r.stderr and "init" in r.stderr
    assert not (tmp_path / "none").exists()
    r = subprocess.run([exe], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 2 and "no data root" in r.stderr
    r = subprocess.run([exe, "--frob"], capture_output=True, text=True, env=env,
                       timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, env=env,
                       timeout=30)
    assert r.returncode == 0
    bad = tmp_path / "bad"
    (bad / "config").mkdir(parents=True)
    (bad / "config/postern.db").write_bytes(b"garbage " * 100)
    r = subprocess.run([exe, "-d", str(bad)], capture_output=True, text=True, env=env,
                       timeout=30)
    assert r.returncode == 6 and "config database" in r.stderr


def test_run_and_log_dirs_recreated(sup):
    """run/ and log/ removed by hand: posternd makes them again."""
    p = sup
    import shutil
    shutil.rmtree(p.root / "run")
    shutil.rmtree(p.root / "log")
    p.start(services=["fake"])
    assert services(p)["fake"]["state"] == "running"
    assert (p.root / "log/posternd.log").exists()


def test_posternd_killed_takes_services(sup):
    """posternd killed with -9 cannot stop its services: they go with it,
    and a new posternd starts cleanly on the same data root."""
    p = sup
    p.start()
    pids = [s["pid"] for s in services(p).values()]
    os.kill(p.proc.pid, signal.SIGKILL)
    p.proc.wait(timeout=10)
    assert wait_for(lambda: not any(alive(x) for x in pids), timeout=10), \
        [x for x in pids if alive(x)]
    (p.root / "run/status.json").unlink()    # stale: wait for the new one
    p.start()
    assert all(s["pid"] not in pids for s in services(p).values())


def test_crashing_service_backs_off(sup, tmp_path):
    """A service that exits at once is restarted with a growing delay
    (1 s, 2 s, 4 s ...), not in a tight loop, and status says why."""
    p = sup
    libexec = Path(p.env["POSTERN_LIBEXECDIR"])
    crash = libexec / "postern-crash"
    crash.write_text("#!/bin/sh\necho crashing >&2\nexit 3\n")
    crash.chmod(0o755)
    p.proc = subprocess.Popen([str(BUILD / "posternd"), "-d", str(p.root),
                               "--services", "fake crash"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=p.env)
    assert wait_for(lambda: (p.root / "run/status.json").exists()
                    and p.cli("status", check=False).returncode == 0, timeout=10)
    time.sleep(2.5)
    s = services(p)["crash"]
    # starts at 0 s, 1 s, 3 s, 7 s ...: one or two restarts by now, not
    # the hundreds of a tight loop
    assert 1 <= s["restarts"] <= 2, s
    assert s["state"] in ("restarting", "running")
    assert "exited with status 3" in p.log("posternd")
    assert "crashing" in p.log("crash")
    assert services(p)["fake"]["restarts"] == 0


def test_install_layout():
    """`make install` puts the programs in bin, the services where posternd
    looks for them (libexec/postern) and a unit that runs that posternd."""
    r = subprocess.run(["meson", "introspect", str(BUILD), "--installed"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip("meson introspect failed: " + r.stderr[-200:])
    dest = set(json.loads(r.stdout).values())
    opts = {o["name"]: o["value"] for o in json.loads(subprocess.run(
        ["meson", "introspect", str(BUILD), "--buildoptions"],
        capture_output=True, text=True, timeout=60).stdout)}
    prefix = opts["prefix"]
    bindir = os.path.join(prefix, opts["bindir"])
    libexec = os.path.join(prefix, opts["libexecdir"], "postern")
    assert os.path.join(bindir, "postern") in dest
    assert os.path.join(bindir, "posternd") in dest
    for exe in BUILD.glob("postern-*"):
        if exe.is_file() and os.access(exe, os.X_OK) and exe.suffix == "":
            assert os.path.join(libexec, exe.name) in dest, exe.name
    unit = os.path.join(prefix, "lib/systemd/system/postern.service")
    assert unit in dest
    text = (BUILD / "postern.service").read_text()
    assert f"ExecStart={bindir}/posternd -d " in text
    assert "@" not in text.split("ExecStart=")[1].split("\n")[0]

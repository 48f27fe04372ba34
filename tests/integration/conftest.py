"""Fixtures for the integration tests: a real data root in a temporary
directory, free loopback ports, a real posternd started and stopped by PID.

    def test_x(postern):                  # a data root, nothing running
        postern.cli("postoffice", "add", "acme", "--password", "pw")

    def test_y(running):                  # + acme/acme.test/alice, bob, posternd up
        smtplib.SMTP("127.0.0.1", running.port("smtp"))
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("POSTERN_BUILD") or (ROOT / "build"))
LISTENERS = ["smtp", "submission", "smtps", "pop3", "pop3s", "imap", "imaps",
             "http", "https", "managesieve", "xmpp", "xmpps"]
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


_given_ports = set()

# Under pytest-xdist (run-tests.sh runs the suite in parallel workers) each
# worker hands out ports from a slice of its own below the kernel's
# ephemeral range (32768-60999), so two workers never give the same port to
# two servers and no outgoing connection's source port takes one either.
# The slice is the range 12000-31999 divided among the workers: a run of the
# whole suite hands out more than 2,500 ports per worker (every server takes
# a dozen listeners), and a worker that runs out fails every test after.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "8") or 8)
_SLICE = 20000 // max(1, min(_WORKERS, 8))
_next_port = None
if _WORKER.startswith("gw") and _WORKER[2:].isdigit() and int(_WORKER[2:]) < min(_WORKERS, 8):
    _lo = 12000 + int(_WORKER[2:]) * _SLICE
    _next_port = _lo + (os.getpid() % _SLICE)


def _bindable(port):
    """Free for TCP and UDP (dnsmasq listens on both) on 127.0.0.1."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port():
    """A free loopback port never handed out before in this test run: the
    kernel may give the same port to two bind(0) calls once the first
    socket is closed, and two listeners of one data root on one port make
    a service fail to start."""
    global _next_port
    # a second pass over the slice takes ports handed out before that are
    # free again (better than failing every later test of the worker)
    for i in range(2 * _SLICE if _next_port is not None else 1000):
        if _next_port is not None:
            lo = 12000 + int(_WORKER[2:]) * _SLICE
            port = _next_port
            _next_port = lo + (_next_port + 1 - lo) % _SLICE
            if (port in _given_ports and i < _SLICE) or not _bindable(port):
                continue
            _given_ports.add(port)
            return port
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        if port not in _given_ports:
            _given_ports.add(port)
            return port
    raise RuntimeError("no free port found")


DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def dnsmasq_start(records):
    """A real dnsmasq on a free loopback port answering the given records
    (dnsmasq options: "--mx-host=a.test,mx.a.test,10", "--txt-record=...")
    and NXDOMAIN for anything else under .test; nothing is forwarded.
    Returns (process, port); stop it with dnsmasq_stop(process). Skips the
    test when dnsmasq is missing."""
    if not os.access(DNSMASQ, os.X_OK):
        pytest.skip("dnsmasq missing (scripts/install-deps.sh installs it)")
    port = free_port()
    proc = subprocess.Popen([
        DNSMASQ, "-k", f"--port={port}", "--listen-address=127.0.0.1",
        "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=",
        "--user=root", "--local=/test/"] + list(records),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline and proc.poll() is None:
        # up once it answers a query over TCP (same port as UDP)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.05)
    assert proc.poll() is None, "dnsmasq did not start"
    return proc, port


def dnsmasq_stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


class Postern:
    """One data root and, once started, its posternd."""

    def __init__(self, root: Path):
        self.root = root
        self.proc = None
        self.ports = {}
        self.env = dict(os.environ)
        self.env.pop("POSTERN_DIR", None)

    # -- the CLI ---------------------------------------------------------
    def cli(self, *args, check=True, input=None, json_out=False, env=None):
        cmd = [str(BUILD / "postern"), "-d", str(self.root)]
        if json_out:
            cmd.append("--json")
        cmd += [str(a) for a in args]
        r = subprocess.run(cmd, input=input, capture_output=True, text=True,
                           env=env or self.env, timeout=600)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n"
                                 f"{r.stdout}\n{r.stderr}")
        if json_out and r.returncode == 0:
            return json.loads(r.stdout)
        return r

    def setup_env(self):
        """the environment of the fixtures' set-up commands: the same
        commands with leak checks on run in test_cli.py and the others;
        here, repeated before each of ~800 tests, LeakSanitizer's scan at
        exit (~45 ms a process) is left out"""
        env = dict(self.env)
        opts = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "detect_leaks=0"
        return env

    def init(self):
        self.cli("init", "--hostname", "mx.postern.test", env=self.setup_env())
        # the suite's fixed passwords (alice-pw...) predate the password
        # policy; test_admin_cli.py tests the policy with its defaults.
        # One `config set` of every pair (one process, one transaction)
        pairs = ["password.min_length", "1", "password.reject_names", "no"]
        for name in LISTENERS:
            self.ports[name] = free_port()
            pairs += [f"{name}.listen", f"127.0.0.1:{self.ports[name]}"]
        self.cli("config", "set", *pairs, env=self.setup_env())

    def port(self, name):
        return self.ports[name]

    # -- posternd --------------------------------------------------------
    def start(self, services=None, wait=True, timeout=30):
        cmd = [str(BUILD / "posternd"), "-d", str(self.root)]
        if services:
            cmd += ["--services", " ".join(services)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=self.env)
        if wait:
            self.wait_running(services, timeout)
        return self.proc

    def status(self):
        r = self.cli("status", check=False, json_out=False)
        if r.returncode != 0:
            return None
        return json.loads(self.cli("--json", "status").stdout)

    def wait_running(self, services=None, timeout=30):
        """Wait until every (built) service reports running or idle."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("posternd exited:\n" + self.log("posternd"))
            try:
                st = json.loads((self.root / "run/status.json").read_text())
            except (OSError, ValueError):
                time.sleep(0.1)
                continue
            last = st
            svcs = [s for s in st["services"]
                    if services is None or s["name"] in services]
            bad = [s for s in svcs if s["state"] in ("failed",)]
            if bad:
                raise AssertionError(f"service failed: {bad}\n" +
                                     "\n".join(self.log(s["name"]) for s in bad))
            if svcs and all(s["state"] in ("running", "idle", "not-built")
                            and (s["pid"] > 0 or s["state"] == "not-built")
                            and self._reported(s) for s in svcs):
                return st
            time.sleep(0.1)
        raise AssertionError(f"services did not start: {last}")

    def _reported(self, s):
        p = self.root / "run" / f"{s['name']}.json"
        try:
            return json.loads(p.read_text()).get("pid") == s["pid"]
        except (OSError, ValueError):
            return s["state"] == "not-built"

    def stop(self, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("posternd did not stop on SIGTERM")

    def log(self, name):
        try:
            return (self.root / "log" / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def sanitizer_reports(self):
        found = []
        logdir = self.root / "log"
        if logdir.is_dir():
            for p in logdir.glob("*.log"):
                text = p.read_text(errors="replace")
                if any(m in text for m in SANITIZER_MARKS):
                    found.append(f"--- {p.name} ---\n{text[-6000:]}")
        return found


@pytest.fixture
def postern(tmp_path):
    p = Postern(tmp_path / "root")
    p.init()
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


@pytest.fixture
def populated(postern):
    """acme post office, acme.test domain, mailboxes alice and bob."""
    env = postern.setup_env()
    postern.cli("postoffice", "add", "acme", "--password", "pm-secret", env=env)
    postern.cli("domain", "add", "acme.test", "--postoffice", "acme", env=env)
    postern.cli("mailbox", "add", "alice@acme", "--password", "alice-pw", env=env)
    postern.cli("mailbox", "add", "bob@acme", "--password", "bob-pw", env=env)
    return postern


@pytest.fixture
def running(populated):
    populated.start()
    return populated

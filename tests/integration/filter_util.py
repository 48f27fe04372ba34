"""Helpers of the content filter tests (test_content_filter.py): a real
clamd from Debian with a signature database made at test time by sigtool
(a custom signature over a harmless marker string: nothing malicious is
committed), fake scanners that hang or answer garbage, the tests' milters
(one on python3-milter, one on the raw protocol that drops the connection
mid-message)."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

# the bytes the test signature matches; mail carrying them is "infected"
MARKER = "POSTERN-CONTENT-TEST-SIGNATURE-7f3a"
SIGNAME = "PosternTest.Marker"
CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
SIGTOOL = shutil.which("sigtool") or "/usr/bin/sigtool"
PYTHON = "/usr/bin/python3"


def wait_socket(path, proc, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        if os.path.exists(path):
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(path)
                    return
            except OSError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on {path}")


def stop(proc):
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def clamd_start(tmp, stream_max="1M"):
    """clamd on a unix socket in tmp with only the test signature; returns
    (process, socket path)."""
    if not (os.access(CLAMD, os.X_OK) and os.access(SIGTOOL, os.X_OK)):
        pytest.skip("clamd/sigtool missing (scripts/install-deps.sh "
                    "installs clamav-daemon and clamav)")
    db = tmp / "clamdb"
    db.mkdir()
    hexsig = subprocess.run([SIGTOOL, "--hex-dump"], input=MARKER.encode(),
                            capture_output=True, check=True).stdout.decode()
    hexsig = hexsig.strip()
    assert hexsig == MARKER.encode().hex()
    (db / "postern-test.ndb").write_text(f"{SIGNAME}:0:*:{hexsig}\n")
    sock = tmp / "clamd.sock"
    conf = tmp / "clamd.conf"
    conf.write_text(f"Foreground yes\nLocalSocket {sock}\n"
                    f"DatabaseDirectory {db}\nLogFile {tmp}/clamd.log\n"
                    f"PidFile {tmp}/clamd.pid\nTemporaryDirectory {tmp}\n"
                    f"StreamMaxLength {stream_max}\nSelfCheck 0\n"
                    "Bytecode no\n")
    proc = subprocess.Popen([CLAMD, "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_socket(str(sock), proc, 60, "clamd")
    return proc, str(sock)


class FakeServer:
    """A unix socket server in a thread. mode: "hang" (accepts, reads,
    never answers), "garbage" (answers nonsense to clamd's z-commands),
    "milter-drop" (negotiates the milter protocol, then drops the
    connection at the first body chunk), "milter-hang" (the same, but
    never answers the body chunk)."""

    def __init__(self, path, mode):
        self.path, self.mode = str(path), mode
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.conns = []
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            if self.mode == "hang":
                while c.recv(65536):
                    pass
            elif self.mode == "garbage":
                c.recv(65536)
                time.sleep(0.2)
                c.sendall(b"\x01\x02 this is not clamd\n\0")
                c.close()
            elif self.mode in ("milter-drop", "milter-hang"):
                self._milter_drop(c)
        except OSError:
            pass

    @staticmethod
    def _read(c, n):
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def _milter_drop(self, c):
        while True:
            (n,) = struct.unpack("!I", self._read(c, 4))
            pkt = self._read(c, n)
            cmd = pkt[:1]
            if cmd == b"O":
                c.sendall(struct.pack("!IcIII", 13, b"O", 6, 0, 0))
            elif cmd == b"D":
                continue
            elif cmd == b"B" and self.mode == "milter-hang":
                while c.recv(65536):    # reads on, never answers
                    pass
                return
            elif cmd == b"B":
                c.close()           # gone in the middle of the message
                return
            elif cmd in (b"Q", b"A"):
                c.close()
                return
            else:
                c.sendall(struct.pack("!Ic", 1, b"c"))

    def close(self):
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


MILTER_SCRIPT = r'''
import sys
import Milter

class T(Milter.Base):
    def __init__(self):
        self.subject = ""
        self.mailfrom = ""
        self.qid = ""
        self.rcpts = []

    def envfrom(self, f, *args):
        self.mailfrom = f
        self.qid = self.getsymval("i") or ""
        self.subject = ""
        self.rcpts = []
        return Milter.CONTINUE

    def envrcpt(self, to, *args):
        self.rcpts.append(to)
        return Milter.CONTINUE

    def header(self, name, value):
        if name.lower() == "subject":
            self.subject = value
        return Milter.CONTINUE

    def eom(self):
        s = self.subject
        if "milter-reject" in s:
            self.setreply("550", "5.7.1", "the test milter says no")
            return Milter.REJECT
        if "milter-tempfail" in s:
            return Milter.TEMPFAIL
        if "milter-discard" in s:
            return Milter.DISCARD
        if "milter-quarantine" in s:
            self.quarantine("held by the test milter")
            return Milter.ACCEPT
        self.addheader("X-Test-Milter", "from=%s id=%s rcpts=%s" %
                       (self.mailfrom, self.qid, ",".join(self.rcpts)))
        if "chg" in s:
            self.chgheader("Subject", 1, "changed by the milter")
        if "ins" in s:
            self.addheader("X-First", "inserted on top", 0)
        if "addbob" in s:
            self.addrcpt("<bob@acme.test>")
        if "delalice" in s:
            self.delrcpt("<alice@acme.test>")
        if "replbody" in s:
            self.replacebody(b"the milter replaced the body\r\n")
        return Milter.ACCEPT

Milter.factory = T
Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.ADDRCPT |
                 Milter.DELRCPT | Milter.CHGBODY | Milter.QUARANTINE)
Milter.runmilter("postern-test", "unix:" + sys.argv[1], 60)
'''


def milter_start(tmp):
    """The python3-milter test milter on a unix socket; (process, path)."""
    try:
        subprocess.run([PYTHON, "-c", "import Milter"], check=True,
                       capture_output=True)
    except subprocess.CalledProcessError:
        pytest.skip("python3-milter missing (scripts/install-deps.sh)")
    script = tmp / "test_milter.py"
    script.write_text(MILTER_SCRIPT)
    sock = tmp / "milter.sock"
    proc = subprocess.Popen([PYTHON, str(script), str(sock)],
                            stdout=open(tmp / "milter.log", "w"),
                            stderr=subprocess.STDOUT)
    wait_socket(str(sock), proc, 30, "the test milter")
    return proc, str(sock)


RSPAMD = shutil.which("rspamd") or "/usr/bin/rspamd"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"

# the test rules: a subject word gives a fixed, large score
RSPAMD_LUA = r'''
local function subject_has(word)
  return function(task)
    local s = task:get_header('Subject')
    return s ~= nil and string.find(s, word, 1, true) ~= nil
  end
end
rspamd_config.POSTERN_TEST_JUNK = { callback = subject_has('SPAMTEST-JUNK'),
  score = 150.0, description = 'postern test: junk', group = 'postern' }
rspamd_config.POSTERN_TEST_REJECT = { callback = subject_has('SPAMTEST-REJECT'),
  score = 600.0, description = 'postern test: reject', group = 'postern' }
'''


def redis_start(tmp, port):
    if not os.access(REDIS, os.X_OK):
        pytest.skip("redis-server missing (scripts/install-deps.sh)")
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no",
                             "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise AssertionError("redis did not start")


def rspamd_start(tmp, normal, controller, redis_port, timeout=300,
                 proxy=None):
    """Debian's rspamd offline: its own config dir in tmp, loopback ports,
    DNS to a dead loopback port (answers fail fast), the test rules, Bayes
    on a private redis; with proxy, its proxy worker in milter mode on
    that port (scanning through the normal worker; X-Spamd-Result added
    to every message). Returns the process."""
    if not os.access(RSPAMD, os.X_OK):
        pytest.skip("rspamd missing (scripts/install-deps.sh)")
    d = tmp / "rspamd"
    (d / "local" / "local.d").mkdir(parents=True)
    (d / "db").mkdir()
    (d / "local" / "rspamd.local.lua").write_text(RSPAMD_LUA)
    (d / "local" / "local.d" / "redis.conf").write_text(
        f'servers = "127.0.0.1:{redis_port}";\n')
    (d / "local" / "local.d" / "classifier-bayes.conf").write_text(
        f'servers = "127.0.0.1:{redis_port}";\nmin_learns = 1;\n')
    conf = d / "rspamd.conf"
    conf.write_text(f'''.include "/etc/rspamd/common.conf"
options {{
    pidfile = "{d}/rspamd.pid";
    .include "/etc/rspamd/options.inc"
    dns {{ nameserver = ["127.0.0.1:9"]; timeout = 0.3s; retransmits = 1; }}
}}
logging {{ type = "file"; filename = "{d}/rspamd.log"; level = "info"; }}
worker "normal" {{ bind_socket = "127.0.0.1:{normal}"; count = 1;
    .include "/etc/rspamd/worker-normal.inc" }}
worker "controller" {{ bind_socket = "127.0.0.1:{controller}"; count = 1;
    .include "/etc/rspamd/worker-controller.inc" }}
''')
    if proxy is not None:
        with open(conf, "a") as f:
            f.write(f'''worker "rspamd_proxy" {{ bind_socket = "127.0.0.1:{proxy}";
    milter = yes; timeout = 60s; count = 1;
    upstream "local" {{ default = yes; hosts = "127.0.0.1:{normal}"; }}
    reject_message = "Spam message rejected"; }}
''')
        (d / "local" / "local.d" / "milter_headers.conf").write_text(
            'use = ["x-spamd-result"];\nskip_local = false;\n'
            'skip_authenticated = false;\n')
    proc = subprocess.Popen(
        [RSPAMD, "-f", "-u", "root", "-g", "root", "-c", str(conf),
         f"--var=LOCAL_CONFDIR={d}/local", f"--var=DBDIR={d}/db",
         f"--var=RUNDIR={d}", f"--var=LOGDIR={d}", "--var=CONFDIR=/etc/rspamd"],
        stdout=open(d / "out.log", "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("rspamd exited:\n" +
                                 (d / "out.log").read_text()[-3000:])
        ok = 0
        for port in (normal, controller):
            try:
                with socket.create_connection(("127.0.0.1", port),
                                              timeout=2) as s:
                    s.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
                    ok += b"pong" in s.recv(4096)
            except OSError:
                pass
        if ok == 2 and proxy is not None:
            try:
                socket.create_connection(("127.0.0.1", proxy),
                                         timeout=2).close()
            except OSError:
                ok = 0
        if ok == 2:
            return proc
        time.sleep(0.5)
    stop(proc)
    raise AssertionError("rspamd did not answer /ping in time")

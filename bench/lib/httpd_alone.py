"""The set-up of the benchmarks that time postern-httpd alone over real
HTTP (bench/webadmin/run.py, bench/webadmin/queue.py, bench/jmap/query.py):
a data root whose only listener is HTTP on a free loopback port, a post
office and its first mailbox, posternd running httpd alone, and a web
login's cookie. Stopped by PID (stop)."""
import http.client
import json
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# every listener but http.listen is turned off
LISTENERS_OFF = ("https", "smtp", "submission", "smtps", "pop3", "pop3s",
                 "imap", "imaps", "managesieve", "xmpp", "xmpps")


def port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cli(build, root, *a):
    return subprocess.run([str(Path(build) / "postern"), "-d", root, *a],
                          check=True, capture_output=True, text=True)


def make_root(build, prefix, po, po_pw, mailbox, mb_pw, *mb_args):
    """a data root in a new temp dir: (root, http port); mailbox is
    'name@po', mb_args more `mailbox add` arguments (--type SYSADMIN)"""
    root = f"{tempfile.mkdtemp(prefix=prefix)}/root"
    cli(build, root, "init", "--hostname", "bench.test")
    hp = port()
    cli(build, root, "config", "set", "http.listen", f"127.0.0.1:{hp}")
    for svc in LISTENERS_OFF:
        cli(build, root, "config", "set", f"{svc}.listen", "")
    cli(build, root, "postoffice", "add", po, "--password", po_pw)
    cli(build, root, "mailbox", "add", mailbox, "--password", mb_pw,
        *mb_args)
    return root, hp


def start(build, root, hp, timeout=30):
    """posternd with httpd alone, once its port answers (bounded)"""
    proc = subprocess.Popen([str(Path(build) / "posternd"), "-d", root,
                             "--services", "httpd"])
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", hp), 1).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc


def stop(proc, timeout=30):
    proc.terminate()
    proc.wait(timeout)


def login(hp, path, user, password, timeout=120):
    """a keep-alive connection and the headers of a logged-in JSON request
    (the session cookie and the CSRF header); path: /api/login (the web
    admin) or /jmap/mail/login (webmail)"""
    c = http.client.HTTPConnection("127.0.0.1", hp, timeout=timeout)
    hdr = {"Content-Type": "application/json", "X-Postern-CSRF": "1"}
    c.request("POST", path, json.dumps({"login": user, "password": password}),
              hdr)
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
    hdr["Cookie"] = r.getheader("Set-Cookie").split(";")[0]
    return c, hdr

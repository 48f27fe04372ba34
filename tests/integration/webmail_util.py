"""What the webmail's browser tests share (test_webmail_browser.py,
test_webmail_hostile.py): a running Postern with alice and bob in post
office acme, mail sent over SMTP and found over IMAP, and the node
script that drives Debian's chromium (tests/browser/*.mjs, helpers in
webmail-lib.mjs)."""
import email
import email.policy
import imaplib
import os
import shutil
import smtplib
import struct
import subprocess
import time
import zlib

from conftest import BUILD, ROOT, Postern

CHROMIUM = "/usr/bin/chromium"
WEB_MODULES = ROOT / "web" / "node_modules"
ALICE_PW = "Wm-Alice-Secret-71"
BOB_PW = "Wm-Bob-Secret-882"
HAVE_CHROMIUM = os.access(CHROMIUM, os.X_OK)
NO_CHROMIUM = "chromium is not installed (scripts/install-deps.sh installs it)"


def png(w=24, h=16, rgb=(200, 30, 30)):
    """a small valid PNG of one colour"""
    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\0" + bytes(rgb) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def smtp_send(port, msgs):
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        for m in msgs:
            s.send_message(m)


def imap_count(port, user, pw, folder="INBOX"):
    with imaplib.IMAP4("127.0.0.1", port) as c:
        c.login(user, pw)
        typ, data = c.select(folder, readonly=True)
        return int(data[0]) if typ == "OK" else -1


def imap_messages(port, user, pw, folder):
    out = []
    with imaplib.IMAP4("127.0.0.1", port) as c:
        c.login(user, pw)
        typ, _ = c.select(f'"{folder}"', readonly=True)
        assert typ == "OK", folder
        typ, data = c.search(None, "ALL")
        for n in data[0].split():
            typ, d = c.fetch(n, "(RFC822)")
            out.append(email.message_from_bytes(d[0][1], policy=email.policy.default))
    return out


def deliver_wait(p, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if imap_count(p.port("imap"), "alice@acme", ALICE_PW) >= n:
            return
        time.sleep(0.3)
    raise AssertionError(f"fewer than {n} messages in alice's INBOX:\n"
                         + p.log("mta")[-2000:] + p.log("deliver")[-2000:])


def server(tmp_path_factory, before_start=None):
    """a started Postern for one test module (httpd, imapd, smtpd, mta,
    deliver) with alice@acme and bob@acme; before_start(p) may fill the
    store first. Stop it with stop()."""
    p = Postern(tmp_path_factory.mktemp("webmail") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-4410")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", ALICE_PW)
    p.cli("mailbox", "add", "bob@acme", "--password", BOB_PW)
    if before_start:
        before_start(p)
    p.start(services=["httpd", "imapd", "smtpd", "mta", "deliver"], timeout=60)
    return p


def stop(p):
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def run_browser(p, tmp_path, script, ok_line, **extra):
    """runs tests/browser/<script> against p as alice (extra environment
    may name another USER_LOGIN); its screenshots go to
    tmp_path/screenshots and are copied to <build>/screenshots/; asserts
    it printed ok_line and returns the names of the screenshots"""
    assert shutil.which("node"), "node is missing (scripts/install-deps.sh)"
    assert (WEB_MODULES / "playwright-core").is_dir(), \
        "web/node_modules lacks playwright-core: the build runs npm ci"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://127.0.0.1:{p.port('http')}",
               USER_LOGIN="alice@acme", USER_PW=ALICE_PW, SHOTS=str(shots),
               WEB_MODULES=str(WEB_MODULES))
    env.update({k: str(v) for k, v in extra.items()})
    r = subprocess.run(["node", str(ROOT / "tests/browser" / script)],
                       env=env, capture_output=True, text=True, timeout=240)
    stable = BUILD / "screenshots"
    stable.mkdir(exist_ok=True)
    for f in shots.glob("*.png"):
        shutil.copy(f, stable / f.name)
    print(r.stdout)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
    assert ok_line in r.stdout, r.stdout
    return {f.name for f in shots.glob("*.png")}

"""Codes sent by mail as the second factor (twofactor_type smtp) and
remembered devices (auth.remember_device_days) at the web logins (issue
17, item 1): the code goes through Postern's own queue, MTA and delivery
into the mailbox of the chosen address and is read there over IMAP
(imaplib); each code once, expiring, not resent within a minute; a wrong
code fails; a device cookie skips the second factor until it is forged,
revoked (CLI) or the policy is off. Real HTTP against a real posternd."""
import imaplib
import os
import re
import sqlite3
import subprocess
import time

import pytest

from conftest import ROOT, Postern
from login_util import Web

PW = "Mail-code-secret-5530"
HOME_PW = "Home-box-secret-7719"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("login-mailcode") / "root")
    p.init()
    p.cli("config", "set", "auth.max_failures", "50")
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-4410")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "boss@acme", "--password", PW, "--type", "ADMIN")
    p.cli("mailbox", "add", "reader@acme", "--password", PW)
    p.cli("mailbox", "add", "home@acme", "--password", HOME_PW)
    for who in ("boss@acme", "reader@acme"):
        p.cli("mailbox", "set", who, "twofactor_mode=always",
              "twofactor_type=smtp", "twofactor_address=home@acme.test")
    p.start(services=["httpd", "imapd", "smtpd", "mta", "deliver"],
            timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def codes_in_home(p):
    """the login codes of the messages in home@acme's INBOX, in order"""
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=20)
    c.login("home@acme", HOME_PW)
    c.select("INBOX", readonly=True)
    _, data = c.search(None, "ALL")
    out = []
    for n in data[0].split():
        _, msg = c.fetch(n, "(BODY.PEEK[])")
        text = msg[0][1].decode()
        assert "Auto-Submitted: auto-generated" in text
        m = re.search(r"login code for (\S+) is:\r?\n\r?\n +(\d{8})", text)
        if m:
            out.append((m.group(1), m.group(2)))
    c.logout()
    return out


def wait_codes(p, n, deadline=30):
    end = time.time() + deadline
    while True:
        got = codes_in_home(p)
        if len(got) >= n or time.time() > end:
            return got
        time.sleep(0.3)


def test_code_by_mail(srv):
    p = srv
    port = p.port("http")
    w = Web(port, "127.0.0.21")
    before = len(codes_in_home(p))
    r = w.login("boss@acme", PW)
    # no TOTP enrolment: the code goes by mail, the answer says where
    assert r.status == 401 and r.json["type"].endswith(
        "secondFactorRequired"), r.json
    assert r.json["codeSentTo"] == "h***@acme.test"
    got = wait_codes(p, before + 1)
    assert len(got) == before + 1, got
    who, code = got[-1]
    assert who == "boss@acme"
    # asked again within a minute: no second mail, the first code stands
    r = w.login("boss@acme", PW)
    assert r.status == 401 and "a moment ago" in r.json["detail"]
    # a wrong code fails and is counted
    bad = f"{(int(code) + 1) % 100000000:08d}"
    r = w.login("boss@acme", PW, bad)
    assert r.status == 401 and r.json["type"].endswith("secondFactorFailed")
    # the right one, once
    r = w.login("boss@acme", PW, code)
    assert r.status == 200, r.json
    r = Web(port, "127.0.0.21").login("boss@acme", PW, code)
    assert r.status == 401, r.json
    assert len(codes_in_home(p)) == before + 1
    # the code with a wrong password is a wrong password
    r = Web(port, "127.0.0.22").login("boss@acme", PW + "x", code)
    assert r.status == 401 and r.json["type"].endswith("loginFailed")
    # an expired code is refused
    con = sqlite3.connect(str(p.root / "config/postern.db"))
    con.execute("UPDATE mail_code SET sent = 0")
    con.commit()
    r = Web(port, "127.0.0.23").login("boss@acme", PW)
    assert r.status == 401 and "codeSentTo" in r.json
    got = wait_codes(p, before + 2)
    code2 = got[-1][1]
    con.execute("UPDATE mail_code SET expires = 1")
    con.commit()
    con.close()
    r = Web(port, "127.0.0.23").login("boss@acme", PW, code2)
    assert r.status == 401 and r.json["type"].endswith("secondFactorFailed")
    # the webmail login mails codes the same way
    con = sqlite3.connect(str(p.root / "config/postern.db"))
    con.execute("UPDATE mail_code SET sent = 0")
    con.commit()
    con.close()
    m = Web(port, "127.0.0.24", path="/jmap/mail/login")
    r = m.login("reader@acme", PW)
    assert r.status == 401 and r.json["codeSentTo"] == "h***@acme.test"
    got = wait_codes(p, before + 3)
    assert got[-1][0] == "reader@acme"
    r = m.login("reader@acme", PW, got[-1][1])
    assert r.status == 200, r.json
    show = p.cli("mailbox", "twofactor", "show", "boss@acme", json_out=True)
    assert show["type"] == "smtp" and show["code_address"] == "home@acme.test"


def login_with_mailed_code(p, w, who, remember=None):
    con = sqlite3.connect(str(p.root / "config/postern.db"))
    con.execute("UPDATE mail_code SET sent = 0")
    con.commit()
    con.close()
    n = len(codes_in_home(p))
    r = w.login(who, PW)
    assert r.status == 401, r.json
    code = wait_codes(p, n + 1)[-1][1]
    return w.login(who, PW, code, remember=remember)


def test_remembered_devices(srv):
    p = srv
    port = p.port("http")
    # the policy off (default): no device cookie even when asked
    w = Web(port, "127.0.0.31")
    r = w.login("boss@acme", PW)
    assert r.status == 401 and "rememberDays" not in r.json, r.json
    r = login_with_mailed_code(p, w, "boss@acme", remember=True)
    assert r.status == 200 and w.device is None
    p.cli("config", "set", "auth.remember_device_days", "30")
    w = Web(port, "127.0.0.31")
    r = login_with_mailed_code(p, w, "boss@acme", remember=True)
    assert r.status == 200 and w.device is not None, r.json
    cookies = r.msg.get_all("Set-Cookie")
    dev = [c for c in cookies if c.startswith("postern_device=")][0]
    assert "HttpOnly" in dev and "SameSite=Strict" in dev
    assert "Max-Age=2592000" in dev
    # the device skips the second factor (no mail, no code)
    n = len(codes_in_home(p))
    r = Web(port, "127.0.0.32")
    r.device = w.device
    a = r.login("boss@acme", PW)
    assert a.status == 200, a.json
    # but not the password
    a = r.login("boss@acme", PW + "x")
    assert a.status == 401 and a.json["type"].endswith("loginFailed")
    # nor another mailbox's second factor
    o = Web(port, "127.0.0.33", path="/jmap/mail/login")
    o.device = w.device
    a = o.login("reader@acme", PW)
    assert a.status == 401 and a.json["type"].endswith("secondFactorRequired")
    # the answer tells the login page that devices are remembered here
    assert a.json["rememberDays"] == 30, a.json
    # a forged cookie (another expiry, the old signature) is refused
    name, val = w.device.split("=", 1)
    mid, exp, secret, mac = val.split(".")
    f = Web(port, "127.0.0.34")
    f.device = f"{name}={mid}.{int(exp) + 86400 * 300}.{secret}.{mac}"
    a = f.login("boss@acme", PW)
    assert a.status == 401 and a.json["type"].endswith("secondFactorRequired")
    assert len(codes_in_home(p)) >= n
    show = p.cli("mailbox", "twofactor", "show", "boss@acme", json_out=True)
    assert show["remembered_devices"] == 1
    # revoked by the admin
    p.cli("mailbox", "twofactor", "forget-devices", "boss@acme", "--yes")
    g = Web(port, "127.0.0.35")
    g.device = w.device
    a = g.login("boss@acme", PW)
    assert a.status == 401 and a.json["type"].endswith("secondFactorRequired")
    # the database holds no cookie secret, only hashes
    con = sqlite3.connect(str(p.root / "config/postern.db"))
    rows = con.execute("SELECT hash FROM remembered_device").fetchall()
    con.close()
    assert all(secret not in h for (h,) in rows)
    p.cli("config", "unset", "auth.remember_device_days")


@pytest.mark.skipif(not os.access("/usr/bin/chromium", os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_webmail_code_by_mail_in_chromium(srv, tmp_path):
    """the webmail's login page in Chromium
    (tests/browser/webmail-login-security.mjs, PHASE=mailcode, 390 px):
    the page says where the code went, the code mailed through the queue
    and read from that mailbox logs in, a wrong one does not"""
    web_modules = ROOT / "web" / "node_modules"
    assert (web_modules / "playwright-core").is_dir(), \
        "web/node_modules lacks playwright-core: the build runs npm ci"
    p = srv
    p.cli("mailbox", "add", "walker@acme", "--password", PW)
    p.cli("mailbox", "set", "walker@acme", "twofactor_mode=always",
          "twofactor_type=smtp", "twofactor_address=home@acme.test")
    shots = tmp_path / "shots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://localhost:{p.port('http')}",
               USER_LOGIN="walker@acme", USER_PW=PW, SHOTS=str(shots),
               WEB_MODULES=str(web_modules), PHASE="mailcode",
               MASKED="h***@acme.test", HOME_LOGIN="home@acme",
               HOME_PW=HOME_PW)
    r = subprocess.run(["node", str(ROOT / "tests/browser/"
                                    "webmail-login-security.mjs")],
                       env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, \
        f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
    assert "webmail login security browser test (mailcode): ok" in r.stdout
    assert (shots / "phone-login-code-by-mail.png").exists()
    seen = p.cli("mailbox", "logins", "walker@acme", json_out=True)
    assert [s["protocol"] for s in seen] == ["web"], seen


def test_code_by_mail_without_an_address(srv):
    """twofactor_type smtp with no twofactor_address: the web login asks
    for an authenticator app instead, and postern diag says why"""
    import json
    p = srv
    p.cli("mailbox", "add", "lost@acme", "--password", PW)
    p.cli("mailbox", "set", "lost@acme", "twofactor_mode=always",
          "twofactor_type=smtp")
    r = Web(p.port("http"), "127.0.0.31", path="/jmap/mail/login").login(
        "lost@acme", PW)
    assert r.status == 401 and r.json["type"].endswith("totpEnrolment"), \
        r.json
    out = p.cli("--json", "diag", "--no-dns", "--no-network", check=False)
    items = [i for s in json.loads(out.stdout)["sections"]
             for i in s["items"] if i["check"] == "Two-factor codes by mail"]
    assert len(items) == 1 and items[0]["status"] == "warning", items
    assert items[0]["value"].startswith("1 mailbox(es)"), items
    p.cli("mailbox", "set", "lost@acme", "twofactor_address=home@acme.test")
    out = p.cli("--json", "diag", "--no-dns", "--no-network", check=False)
    assert "Two-factor codes by mail" not in out.stdout

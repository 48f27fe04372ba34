"""The webmail's settings pages (web/mail/settings*.js) in a real browser:
tests/browser/webmail-settings.mjs (Debian's chromium, npm
playwright-core) drives the settings module on the real JMAP API and
cookie session of a real posternd, and this test checks from outside
what the page did: mail delivered by SMTP is filed by the filter written
in the page and answered by its auto responder (text and HTML, seen over
IMAP), an app password made in the page logs in over IMAP until the
page revokes it, the password changed in the page is the one IMAP takes.
Skips when chromium is missing. One server for the module."""
import imaplib
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT, Postern
from wmset_util import imap_fetch, imap_ok, smtp_send, wait_for

CHROMIUM = "/usr/bin/chromium"
WEB_MODULES = ROOT / "web" / "node_modules"
PW = {"erin": "Er1n-Secret-5502", "bob": "B0b-Secret-7723",
      "dave": "Dav3-Secret-6620"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("wmset-browser") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-5521")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    for name in PW:
        p.cli("mailbox", "add", f"{name}@acme", "--password", PW[name])
    # the policy of acme: 12 characters, no names in passwords
    p.cli("postoffice", "set", "acme", "password_min_length=12")
    p.cli("postoffice", "set", "acme", "password_reject_names=yes")
    p.start(services=["httpd", "imapd", "smtpd", "mta", "deliver"],
            timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_settings_in_chromium(srv, tmp_path):
    """tests/browser/webmail-settings.mjs: the settings module on the real
    JMAP API and cookie session (tests/browser/settings-page/ mounts it as
    the webmail's shell does). The auto responder (text and HTML) and a
    filter set in the page act on mail delivered by SMTP; an app password
    made in the page logs in over IMAP until the page revokes it;
    two-factor login is set up and turned off; the password changed in
    the page is the one IMAP takes. Desktop and 390 px wide; screenshots
    in <build>/screenshots/webmail-settings/"""
    assert shutil.which("oathtool"), "oathtool is missing"
    assert shutil.which("node"), "node is missing (scripts/install-deps.sh)"
    assert (WEB_MODULES / "playwright-core").is_dir(), \
        "web/node_modules lacks playwright-core: the build runs npm ci"
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=30)
    m.login("erin@acme", PW["erin"])
    m.create("Reports")
    m.logout()
    shots = tmp_path / "shots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://127.0.0.1:{srv.port('http')}",
               USER_LOGIN="erin@acme", USER_PW=PW["erin"], SHOTS=str(shots),
               WEB_MODULES=str(WEB_MODULES), FOLDER="Reports",
               APP_NAME="Phone <i>mail</i>", NEW_PW="Nw-Secret-8842x")

    def phase(name):
        r = subprocess.run(["node", str(ROOT / "tests/browser/"
                                        "webmail-settings.mjs")],
                           env=dict(env, PHASE=name), capture_output=True,
                           text=True, timeout=300)
        stable = BUILD / "screenshots" / "webmail-settings"
        stable.mkdir(parents=True, exist_ok=True)
        for f in shots.glob("*.png"):
            shutil.copy(f, stable / f.name)
        assert r.returncode == 0, \
            f"{r.stdout}\n{r.stderr}\n{srv.log('httpd')[-3000:]}"
        assert f"webmail settings browser test ({name}): ok" in r.stdout
        return r.stdout

    out = phase("create")
    pw = [ln.split(" ", 1)[1] for ln in out.splitlines()
          if ln.startswith("APP_PASSWORD ")][0]
    # the app password made in the page logs in over IMAP
    assert imap_ok(srv, "erin@acme", pw)
    # the filter written in the page files SMTP mail; the auto responder
    # set there answers the rest
    smtp_send(srv,
              ("bob@acme.test", "erin@acme.test", "[report] week 49",
               "figures"),
              ("dave@acme.test", "erin@acme.test", "lunch", "at noon?"))
    hit = wait_for(lambda: imap_fetch(srv, "erin@acme", PW["erin"],
                                      "Reports", "week 49"), "the filing")
    assert b"\\Flagged" in hit[0][0]
    assert imap_fetch(srv, "erin@acme", PW["erin"], "INBOX", "week 49") == []
    reply = wait_for(lambda: imap_fetch(srv, "dave@acme", PW["dave"],
                                        "INBOX", "until"), "the auto reply",
                     60)
    raw = reply[0][1]
    assert b"I am away." in raw and b"<p>I am <b>away</b>.</p>" in raw
    assert b"<script" not in raw and b"remote.test" not in raw
    phase("revoke")
    assert not imap_ok(srv, "erin@acme", pw)
    # the password changed in the page
    assert imap_ok(srv, "erin@acme", "Nw-Secret-8842x")
    assert not imap_ok(srv, "erin@acme", PW["erin"])
    names = {f.name for f in shots.glob("*.png")}
    for w in ("desktop", "phone"):
        for t in ("vacation", "filters", "identities", "password",
                  "twofactor", "logins", "apppasswords"):
            assert f"{w}-settings-{t}.png" in names, (w, t, names)

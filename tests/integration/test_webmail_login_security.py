"""The webmail's login security end to end (issue 17, "Done when"):
tests/browser/webmail-login-security.mjs drives the real webmail (/mail/)
in Debian's chromium (npm playwright-core, Chromium's virtual
authenticators) against a real posternd, and this test checks from
outside what the browser did:
  - a mailbox with two-factor "always": TOTP enrolment at the first
    webmail login with a QR code that zbarimg decodes (as Chromium drew
    it) and oathtool's codes, each code once, a wrong time step refused;
  - passkeys: two added in the webmail settings, a passwordless login, a
    passkey as the second factor, the sign counters stored;
  - IMAP and JMAP Basic refuse the main password of the two-factor
    mailbox and take the app password made in the webmail settings, which lists its last
    use and revokes it (then IMAP refuses it too);
  - the recent logins page shows the IMAP login with its address and its
    country from a .mmdb the test builds (127.0.0.2 is DE);
  - "remember this browser" offered only while auth.remember_device_days
    is on, and then the password alone logs that browser in.
Desktop and phone widths; screenshots in
<build>/screenshots/webmail-login-security/. Skips when chromium is
missing."""
import base64
import http.client
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT, Postern
from login_util import imap_login, make_mmdb

CHROMIUM = "/usr/bin/chromium"
WEB_MODULES = ROOT / "web" / "node_modules"
PW = "Webmail-2fa-secret-7731"
USER = "nora@acme"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("wm-loginsec")
    mmdb = base / "countries.mmdb"
    make_mmdb(mmdb, {"127.0.0.1/32": "NL", "127.0.0.2/32": "DE"})
    p = Postern(base / "root")
    p.init()
    p.cli("config", "set", "auth.geoip_db", str(mmdb))
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-5521")
    p.cli("mailbox", "add", USER, "--password", PW)
    p.cli("mailbox", "set", USER, "twofactor_mode=always")
    p.start(services=["httpd", "imapd"], timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def jmap_basic(p, user, pw):
    """the status of GET /jmap/mail/session with HTTP Basic"""
    c = http.client.HTTPConnection("127.0.0.1", p.port("http"), timeout=20)
    try:
        c.request("GET", "/jmap/mail/session", headers={
            "Authorization": "Basic " + base64.b64encode(
                f"{user}:{pw}".encode()).decode()})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_webmail_login_security_in_chromium(srv, tmp_path):
    for tool in ("node", "oathtool", "zbarimg"):
        assert shutil.which(tool), f"{tool} is missing " \
            "(scripts/install-deps.sh)"
    assert (WEB_MODULES / "playwright-core").is_dir(), \
        "web/node_modules lacks playwright-core: the build runs npm ci"
    p = srv
    shots = tmp_path / "shots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://localhost:{p.port('http')}",
               USER_LOGIN=USER, USER_PW=PW, SHOTS=str(shots),
               WEB_MODULES=str(WEB_MODULES))

    def phase(name, **extra):
        r = subprocess.run(["node", str(ROOT / "tests/browser/"
                                        "webmail-login-security.mjs")],
                           env=dict(env, PHASE=name, **extra),
                           capture_output=True, text=True, timeout=300)
        stable = BUILD / "screenshots" / "webmail-login-security"
        stable.mkdir(parents=True, exist_ok=True)
        for f in shots.glob("*.png"):
            shutil.copy(f, stable / f.name)
        assert r.returncode == 0, \
            f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
        assert f"webmail login security browser test ({name}): ok" \
            in r.stdout
        return {k: v for k, v in (ln.split(" ", 1) for ln in
                                  r.stdout.splitlines() if " " in ln)}

    # before any login, the main password takes IMAP only while
    # two-factor is off: it is on, so never
    port = p.port("imap")
    assert not imap_login(port, USER, PW)
    out = phase("enrol")
    assert "secret=" in out["QR_URI"]
    app = out["APP_PASSWORD"]
    tf = p.cli("mailbox", "twofactor", "show", USER, json_out=True)
    assert tf["totp_enrolled"] and tf["recovery_codes_left"] == 10, tf
    keys = p.cli("mailbox", "passkey", "list", USER, json_out=True)
    assert sorted(k["name"] for k in keys) == ["Phone <b>key</b>",
                                               "Work laptop"], keys
    assert all(k["signCount"] >= 1 for k in keys), keys
    # IMAP: the main password is refused, the app password taken (from
    # 127.0.0.2, DE in the country database)
    # JMAP Basic (a mail app on the JMAP API) the same; then IMAP, the
    # app password's last use
    assert jmap_basic(p, USER, PW) == 401
    assert jmap_basic(p, USER, app) == 200
    assert not imap_login(port, USER, PW, "127.0.0.2")
    assert imap_login(port, USER, app, "127.0.0.2")
    p.cli("config", "set", "auth.remember_device_days", "30")
    phase("review", RECOVERY=out["RECOVERY"], IMAP_ADDRESS="127.0.0.2",
          IMAP_COUNTRY="DE")
    # revoked in the page: IMAP refuses it now
    assert not imap_login(port, USER, app, "127.0.0.2")
    tf = p.cli("mailbox", "twofactor", "show", USER, json_out=True)
    assert tf["recovery_codes_left"] == 9, tf
    keys = p.cli("mailbox", "passkey", "list", USER, json_out=True)
    assert [k["name"] for k in keys] == ["Phone <b>key</b>"], keys
    names = {f.name for f in shots.glob("*.png")}
    for n in ("desktop-login-enrol", "desktop-login-second-factor",
              "desktop-settings-passkeys", "phone-login-second-factor",
              "phone-settings-apppasswords", "phone-settings-logins",
              "phone-settings-passkeys", "phone-login"):
        assert f"{n}.png" in names, (n, names)

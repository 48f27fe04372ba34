"""Passkeys at the web admin's login in a real browser (issue 17, item
3): Debian's chromium driven by npm playwright-core
(tests/browser/login-passkey.mjs) with Chromium's virtual authenticator
(DevTools protocol WebAuthn domain) against a real posternd: a passkey
added on the sessions page, a passwordless login, and the passkey as the
second factor once two-factor is on; the user's recent logins and the
failed-login statistics per mailbox and per address; another mailbox's
login security in its details (its passkey removed, its two-factor
enrolment reset). Skips when chromium is missing."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT
from login_util import Web, oathtool
from passkey_util import SoftKey

CHROMIUM = "/usr/bin/chromium"
WEB_MODULES = ROOT / "web" / "node_modules"
PW = "Key-secret-4471"


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_passkey_login_in_chromium(postern, tmp_path):
    assert shutil.which("node"), "node is missing (scripts/install-deps.sh)"
    assert (WEB_MODULES / "playwright-core").is_dir(), \
        "web/node_modules lacks playwright-core: the build runs npm ci"
    p = postern
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-7712")
    p.cli("mailbox", "add", "keyholder@hq", "--password", PW, "--type",
          "ADMIN")
    p.cli("mailbox", "add", "member@hq", "--password", PW)
    p.cli("mailbox", "set", "member@hq", "twofactor_mode=always")
    p.start(services=["httpd"])
    # member@hq: enrolled at the webmail login, with a passkey and a
    # failed login
    port = p.port("http")
    w = Web(port, path="/jmap/mail/login", host=f"localhost:{port}")
    secret = w.login("member@hq", PW).json["secret"]
    assert w.login("member@hq", PW, oathtool(secret)).status == 200
    opts = w.post("/jmap/mail/passkey/options", {"purpose": "register"})
    r = w.post("/jmap/mail/passkey/register", {
        "name": "member key", "credential": SoftKey().register(
            opts.json["publicKey"], f"http://localhost:{port}")})
    assert r.status == 200, r.json
    assert Web(port, "127.0.0.78").login("member@hq", "Wrong-2").status == 401
    # three wrong passwords from 127.0.0.77: the sessions page shows them
    for _ in range(3):
        r = Web(p.port("http"), "127.0.0.77").login("keyholder@hq", "Wrong-1")
        assert r.status == 401, r.json
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://localhost:{p.port('http')}",
               USER_PW=f"keyholder@hq:{PW}", SHOTS=str(shots),
               CLI=f"{BUILD / 'postern'} -d {p.root}", MEMBER="member@hq",
               WEB_MODULES=str(WEB_MODULES))
    r = subprocess.run(["node", str(ROOT / "tests/browser/login-passkey.mjs")],
                       env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, \
        f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
    assert "login passkey browser test: ok" in r.stdout
    assert (shots / "passkey-list.png").exists()
    keys = p.cli("mailbox", "passkey", "list", "keyholder@hq", json_out=True)
    assert len(keys) == 1 and keys[0]["signCount"] >= 2, keys
    # the member's reset and passkey removal, made in the page
    tf = p.cli("mailbox", "twofactor", "show", "member@hq", json_out=True)
    assert not tf["totp_enrolled"] and tf["passkeys"] == 0, tf
    assert tf["recovery_codes_left"] == 0, tf

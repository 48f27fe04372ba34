"""The web admin's two-factor login step in a real browser (issue 17):
Debian's chromium driven by npm playwright-core
(tests/browser/login-totp.mjs) against a real posternd: the QR code loads
under the page's CSP, oathtool's code enrols, recovery codes are shown
once, a wrong code is refused with a message and the right one logs in.
Skips when chromium is missing."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
WEB_MODULES = ROOT / "web" / "node_modules"
PW = "Web-secret-5512"


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_totp_login_in_chromium(postern, tmp_path):
    assert shutil.which("node"), "node is missing (scripts/install-deps.sh)"
    assert shutil.which("oathtool"), "oathtool is missing"
    assert (WEB_MODULES / "playwright-core").is_dir(), \
        "web/node_modules lacks playwright-core: the build runs npm ci"
    p = postern
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-7712")
    p.cli("mailbox", "add", "chief@hq", "--password", PW, "--type", "ADMIN")
    p.cli("mailbox", "set", "chief@hq", "twofactor_mode=always")
    p.start(services=["httpd"])
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://127.0.0.1:{p.port('http')}",
               USER_PW=f"chief@hq:{PW}", SHOTS=str(shots),
               WEB_MODULES=str(WEB_MODULES))
    r = subprocess.run(["node", str(ROOT / "tests/browser/login-totp.mjs")],
                       env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
    assert "login totp browser test: ok" in r.stdout
    assert (shots / "totp-enrol.png").exists()

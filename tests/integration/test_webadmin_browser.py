"""The web admin in a real browser: Debian's chromium driven by npm
playwright-core (tests/browser/webadmin.mjs) against a real posternd. A
SYSADMIN creates a post office limited to 3 mailboxes; its ADMIN creates
mailboxes until the limit refuses one with a clear message, edits,
deletes with confirmation, sees only its post office; markup typed into
a name shows as text; desktop and phone widths; no console errors (CSP
violations included). Screenshots go to the test's tmp dir and are
copied to <build>/screenshots/ to be looked at. Skips only when chromium
is missing."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BUILD, ROOT

CHROMIUM = "/usr/bin/chromium"
WEB_MODULES = ROOT / "web" / "node_modules"


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_webadmin_in_chromium(postern, tmp_path):
    assert shutil.which("node"), "node is missing (scripts/install-deps.sh)"
    assert (WEB_MODULES / "playwright-core").is_dir(), \
        "web/node_modules lacks playwright-core: the build runs npm ci"
    p = postern
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("mailbox", "add", "root@hq", "--password", "Rt-Secret-8812",
          "--type", "SYSADMIN")
    p.start(services=["httpd"])
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://127.0.0.1:{p.port('http')}",
               SYS="root@hq:Rt-Secret-8812", SHOTS=str(shots),
               WEB_MODULES=str(WEB_MODULES))
    r = subprocess.run(["node", str(ROOT / "tests/browser/webadmin.mjs")],
                       env=env, capture_output=True, text=True, timeout=240)
    stable = BUILD / "screenshots"
    stable.mkdir(exist_ok=True)
    for f in shots.glob("*.png"):
        shutil.copy(f, stable / f.name)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
    assert "webadmin browser test: ok" in r.stdout
    names = {f.name for f in shots.glob("*.png")}
    assert {"desktop-login.png", "desktop-mailbox-limit.png",
            "phone-mailboxes.png", "phone-settings.png"} <= names
    # the server's audit log names the ADMIN who made the mailboxes
    log = p.log("httpd")
    assert "postmaster@delta: Mailbox/set create user0@delta" in log
    assert "root@hq: PostOffice/set create delta" in log

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


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_webadmin_operations(postern, tmp_path):
    """tests/browser/webadmin-ops.mjs: queue retry from the page, a setting
    changed in the page applied by the running httpd, groups and lists with
    markup in their names, the audit log, an ADMIN refused the queues and
    another post office's group; then checked here from outside."""
    import http.client
    import json
    from test_smtp_out import inject
    assert (WEB_MODULES / "playwright-core").is_dir()
    p = postern
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("mailbox", "add", "root@hq", "--password", "Rt-Secret-8812",
          "--type", "SYSADMIN")
    p.cli("postoffice", "add", "alpha", "--password", "Ap-Secret-9931")
    p.cli("postoffice", "add", "beta", "--password", "Bt-Secret-7714")
    p.cli("domain", "add", "alpha.test", "--postoffice", "alpha")
    p.cli("domain", "add", "beta.test", "--postoffice", "beta")
    p.cli("mailbox", "add", "carol@alpha", "--password", "Kx9-Secret-55c")
    p.cli("group", "add", "crew@beta.test", "--postoffice", "beta")
    qid = inject(p.root, "carol@alpha.test", ["far@remote.test"],
                 "Subject: queued for the page\r\n\r\nx\r\n")
    env = p.root / "queue" / "smtp" / "outgoing" / "new" / f"{qid}.env"
    env.write_text(env.read_text().replace(" 0 0 0 0 - -",
                                           " 0 2 4 9999999999 - -"))
    new = p.root / "store" / "alpha" / "carol" / "new"
    (new / "1765080000.M1P1.test").write_bytes(
        b"From: <i>Eve</i> <eve@remote.test>\r\nSubject: <script>window.__xss=9"
        b"</script>\r\n\r\nhello\r\n")
    p.start(services=["httpd"])          # nothing else consumes the queue
    port = p.port("http")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    envv = dict(os.environ, BASE=f"http://127.0.0.1:{port}",
                SYS="root@hq:Rt-Secret-8812", ADMIN="postmaster@alpha:Ap-Secret-9931",
                QID=qid, SHOTS=str(shots), WEB_MODULES=str(WEB_MODULES))
    r = subprocess.run(["node", str(ROOT / "tests/browser/webadmin-ops.mjs")],
                       env=envv, capture_output=True, text=True, timeout=240)
    stable = BUILD / "screenshots"
    stable.mkdir(exist_ok=True)
    for f in shots.glob("*.png"):
        shutil.copy(f, stable / f.name)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
    assert "webadmin operations browser test: ok" in r.stdout
    assert {"ops-queue.png", "ops-groups.png", "phone-queue.png",
            "ops-admin-refused.png"} <= {f.name for f in shots.glob("*.png")}
    # the retry from the page made the recipient due now
    assert " 0 2 4 0 " in env.read_text()
    # http.max_body set to 16 KB in the page: the running httpd refuses a
    # 20 KB API request, naming the limit, without a restart
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"using": ["urn:ietf:params:jmap:core"],
                       "methodCalls": [["Core/echo", {"x": "y" * 20000}, "0"]]})
    c.request("POST", "/api/login", body=json.dumps(
        {"login": "root@hq", "password": "Rt-Secret-8812"}),
        headers={"Content-Type": "application/json", "X-Postern-CSRF": "1"})
    resp = c.getresponse()
    cookie = resp.getheader("Set-Cookie").split(";")[0]
    resp.read()
    c.request("POST", "/jmap/api", body=body, headers={
        "Content-Type": "application/json", "X-Postern-CSRF": "1",
        "Cookie": cookie})
    resp = c.getresponse()
    out = resp.read()
    c.close()
    assert resp.status in (400, 413), (resp.status, out)
    # the server log names who did it
    log = p.log("httpd")
    assert f"root@hq: Queue/set retry {qid}" in log
    assert "root@hq: Group/set create team@alpha.test" in log

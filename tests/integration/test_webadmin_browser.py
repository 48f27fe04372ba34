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
import time
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
    # the filter saved in the page is the mailbox's active Sieve script
    assert p.cli("filter", "show", "carol@alpha").stdout == \
        'require ["fileinto"];\nif header :contains "subject" "<b>x</b>" { fileinto "X"; }\n'
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


def write_traffic_day(root, minutes_ago_start=1380):
    """A day's synthetic samples before now in the traffic ring
    (src/lib/traffic.h) and the counters file holding where they end, so
    the plots have a day to draw: minutes older than minutes_ago_start
    are not sampled (gaps), posternd samples the current minute itself"""
    import math
    import struct
    now = int(time.time()) // 60
    c = [0] * 8
    ring = bytearray(b"PTRING01" + struct.pack("<II", 1440, 176))
    slots = {}
    for m in range(now - minutes_ago_start, now):
        i = m - (now - minutes_ago_start)
        q = [-1] * 12
        q[:9] = [2, int(20 + 15 * math.sin(i / 120)), 0, 1, 0, 0, 0, 0, i // 400]
        slots[m % 1440] = struct.pack("<q8Q12qq", m, *c, *q, m)
        c[0] += 4 + int(3 * math.sin(i / 60))
        c[1] += 2 + int(1.5 * math.sin(i / 45))
        c[2] += 3 + int(2 * math.cos(i / 90))
        c[3] += 1 if i % 97 == 0 else 0
    for k in range(1440):
        ring += slots.get(k, bytes(176))
    (root / "run").mkdir(exist_ok=True)
    (root / "run/traffic.ring").write_bytes(bytes(ring))
    (root / "run/traffic.counters").write_bytes(b"PTCNT001" +
                                                struct.pack("<8Q", *c))


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_webadmin_traffic_plots(postern, tmp_path):
    """tests/browser/webadmin-traffic.mjs: the dashboard's plots of a
    day of samples plus mail sent now over SMTP"""
    import json
    import smtplib
    from test_api import Client
    from test_mta import wait_for
    p = postern
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("domain", "add", "hq.test", "--postoffice", "hq")
    p.cli("mailbox", "add", "root@hq", "--password", "Rt-Secret-8812",
          "--type", "SYSADMIN")
    p.cli("postoffice", "add", "alpha", "--password", "Ap-Secret-9931")
    write_traffic_day(p.root)
    p.start(services=["smtpd", "mta", "deliver", "httpd"])
    c = Client(p.port("http"))
    c.login("root@hq", "Rt-Secret-8812")

    def day():
        t = c.call("Traffic/get", {})[1]["list"][0]
        return {k: sum(v for v in t["series"][k] if v is not None)
                for k in ("in", "out", "delivered", "bounced")}
    before = day()
    for n in range(3):
        with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=30) as s:
            s.sendmail("ext@remote.test", ["root@hq.test"],
                       f"Subject: plot {n}\r\n\r\nhi\r\n".encode())
    wait_for(lambda: day()["delivered"] >= before["delivered"] + 3, timeout=30,
             what="the deliveries in the counters")
    expect = day()
    assert expect["in"] == before["in"] + 3
    expect["sent"] = 3
    shots = tmp_path / "screenshots"
    shots.mkdir()
    envv = dict(os.environ, BASE=f"http://127.0.0.1:{p.port('http')}",
                SYS="root@hq:Rt-Secret-8812", ADMIN="postmaster@alpha:Ap-Secret-9931",
                EXPECT=json.dumps(expect), SHOTS=str(shots),
                WEB_MODULES=str(WEB_MODULES))
    r = subprocess.run(["node", str(ROOT / "tests/browser/webadmin-traffic.mjs")],
                       env=envv, capture_output=True, text=True, timeout=240)
    stable = BUILD / "screenshots"
    stable.mkdir(exist_ok=True)
    for f in shots.glob("*.png"):
        shutil.copy(f, stable / f.name)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
    assert "webadmin traffic browser test: ok" in r.stdout
    assert {"desktop-traffic.png", "phone-traffic.png"} <= \
        {f.name for f in shots.glob("*.png")}


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_webadmin_branding(postern, tmp_path):
    """tests/browser/webadmin-branding.mjs: logos uploaded in the page,
    shown on both login pages and in both banners"""
    p = postern
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("mailbox", "add", "root@hq", "--password", "Rt-Secret-8812",
          "--type", "SYSADMIN")
    p.cli("postoffice", "add", "alpha", "--password", "Ap-Secret-9931")
    p.cli("domain", "add", "alpha.test", "--postoffice", "alpha")
    p.cli("mailbox", "add", "carol@alpha", "--password", "Kx9-Secret-55c")
    p.start(services=["httpd"])
    shots = tmp_path / "screenshots"
    shots.mkdir()
    envv = dict(os.environ, BASE=f"http://127.0.0.1:{p.port('http')}",
                SYS="root@hq:Rt-Secret-8812", ADMIN="postmaster@alpha:Ap-Secret-9931",
                USER_LOGIN="carol@alpha:Kx9-Secret-55c", SHOTS=str(shots),
                WEB_MODULES=str(WEB_MODULES))
    r = subprocess.run(["node", str(ROOT / "tests/browser/webadmin-branding.mjs")],
                       env=envv, capture_output=True, text=True, timeout=240)
    stable = BUILD / "screenshots"
    stable.mkdir(exist_ok=True)
    for f in shots.glob("*.png"):
        shutil.copy(f, stable / f.name)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
    assert "webadmin branding browser test: ok" in r.stdout
    assert {"desktop-branding.png", "desktop-login-branded.png",
            "phone-branding.png", "desktop-webmail-branded.png"} <= \
        {f.name for f in shots.glob("*.png")}
    assert (p.root / "branding/alpha/login.png").exists()
    assert (p.root / "branding/alpha/banner.svg").exists()
    assert "root@hq: Branding/set update alpha" in p.log("httpd")


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_webadmin_quarantine(postern, tmp_path):
    """tests/browser/webadmin-quarantine.mjs: a message a real clamd found
    in the MTA is listed on the quarantine page with its markup subject
    as text, opened, released through the confirm step (then delivered);
    a suspended mailbox shows on the queue page's sending limits panel
    with its markup reason as text and is unsuspended there."""
    import smtplib
    from filter_util import MARKER, clamd_start, stop
    from test_mta import mailbox_msgs, make_msg, wait_for
    assert (WEB_MODULES / "playwright-core").is_dir()
    subject = '<img src=x onerror="window.__xss=1"><b>Invoice</b> & co'
    reason = '<b>stolen</b><img src=x onerror="window.__xss=2">'
    clamd, sock = clamd_start(tmp_path)
    p = postern
    try:
        p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
        p.cli("mailbox", "add", "root@hq", "--password", "Rt-Secret-8812",
              "--type", "SYSADMIN")
        p.cli("postoffice", "add", "acme", "--password", "Ap-Secret-9931")
        p.cli("domain", "add", "acme.test", "--postoffice", "acme")
        p.cli("mailbox", "add", "alice@acme", "--password", "Kx9-Secret-55c")
        p.cli("mailbox", "add", "spam@acme", "--password", "Kx9-Secret-66d")
        for k, v in {"antivirus.clamd": sock, "antivirus.at_smtp": "0",
                     "antivirus.scan": "1", "antivirus.timeout": "5s"}.items():
            p.cli("config", "set", k, v)
        p.cli("sendlimit", "suspend", "spam@acme", "--reason", reason)
        p.start(services=["smtpd", "mta", "deliver", "httpd"], timeout=60)
        m, mid = make_msg("forged@remote.test", "alice@acme.test",
                          subject=subject,
                          body=f"attachment text {MARKER} end\r\n")
        with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=30) as s:
            s.sendmail("forged@remote.test", ["alice@acme.test"], m.encode())
        wait_for(lambda: p.cli("quarantine", "list", json_out=True), 60,
                 "quarantined")
        # the suspended mailbox submits: the MTA holds it in bad mail
        from test_smtpd import tls_ctx
        with smtplib.SMTP_SSL("127.0.0.1", p.port("smtps"),
                              context=tls_ctx(), timeout=30) as s:
            s.login("spam@acme", "Kx9-Secret-66d")
            s.sendmail("spam@acme.test", ["alice@acme.test"],
                       b"Subject: <b>held</b>\r\nMessage-ID: <held.1@acme.test>"
                       b"\r\n\r\nbuy\r\n")
        wait_for(lambda: [q for q in p.cli("queue", "list", json_out=True)
                          if q.get("held")], 60, "held mail")
        shots = tmp_path / "screenshots"
        shots.mkdir()
        envv = dict(os.environ, BASE=f"http://127.0.0.1:{p.port('http')}",
                    SYS="root@hq:Rt-Secret-8812", SUBJECT=subject,
                    REASON=reason, SHOTS=str(shots),
                    WEB_MODULES=str(WEB_MODULES))
        r = subprocess.run(["node", str(ROOT / "tests/browser/"
                                        "webadmin-quarantine.mjs")],
                           env=envv, capture_output=True, text=True,
                           timeout=240)
        stable = BUILD / "screenshots"
        stable.mkdir(exist_ok=True)
        for f in shots.glob("*.png"):
            shutil.copy(f, stable / f.name)
        assert r.returncode == 0, \
            f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
        assert "webadmin quarantine browser test: ok" in r.stdout
        assert {"phone-quarantine.png", "quarantine.png",
                "queue-sendlimits.png", "phone-sendlimits.png"} <= {f.name for f in shots.glob("*.png")}
        # released from the page: delivered; unsuspended from the page
        wait_for(lambda: [x for x in mailbox_msgs(p.root, "alice")
                          if mid in x], 60, "the released mail")
        assert p.cli("quarantine", "list", json_out=True) == []
        # the held one, released from the panel without the limits
        wait_for(lambda: [x for x in mailbox_msgs(p.root, "alice")
                          if "<held.1@acme.test>" in x], 60, "the held mail")
        assert "root@hq: SendLimit/set release" in p.log("httpd")
        assert not [x for x in p.cli("sendlimit", "list", json_out=True)
                    if x.get("suspended")]
        assert "root@hq: Quarantine/set release" in p.log("httpd")
    finally:
        stop(clamd)

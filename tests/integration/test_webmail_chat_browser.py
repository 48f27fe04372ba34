"""The webmail's chat pane (web/mail/chat*.js) in a real browser:
tests/browser/webmail-chat.mjs (Debian's chromium, npm playwright-core)
has alice and bob, in two browser contexts logged in to the webmail
only, chat one-to-one, in a room and with a picture sent through the
upload service, over httpd's XMPP WebSocket to a real xmppd. From
outside, this test checks that the chat signed in by the webmail session
(SASL EXTERNAL, no password) and that the picture is the upload
service's file. Screenshots in
<build>/screenshots/webmail-chat/. Skips when chromium is missing."""
import os
import shutil
import subprocess
import urllib.request

import pytest

from conftest import BUILD, ROOT, Postern
from webmail_util import png
from xmpp_util import Raw

CHROMIUM = "/usr/bin/chromium"
WEB_MODULES = ROOT / "web" / "node_modules"
PW = {"alice": "Chat-Alice-7731", "bob": "Chat-Bob-8842",
      "carol": "Chat-Carol-9953"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("wmchat") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-5521")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    for name in PW:
        p.cli("mailbox", "add", f"{name}@acme", "--password", PW[name])
    # the upload service's URLs, and the page's origin
    p.cli("config", "set", "http.public_url",
          f"http://127.0.0.1:{p.port('http')}")
    p.start(services=["httpd", "xmppd"], timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_chat_in_chromium(srv, tmp_path):
    assert shutil.which("node"), "node is missing (scripts/install-deps.sh)"
    assert (WEB_MODULES / "playwright-core").is_dir(), \
        "web/node_modules lacks playwright-core: the build runs npm ci"
    # bob writes to alice while she is online elsewhere (not kept
    # offline: only the archive has it), and she answers from there;
    # her chat pane shows both when she opens bob's conversation (MAM)
    a_tcp = Raw(srv.port("xmpp"))
    a_tcp.login("alice", "acme.test", password=PW["alice"], resource="phone")
    a_tcp.send("<presence/>")
    b_tcp = Raw(srv.port("xmpp"))
    b_tcp.login("bob", "acme.test", password=PW["bob"], resource="phone")
    b_tcp.send("<message to='alice@acme.test' type='chat' id='early1'>"
               "<body>Written before &lt;the page&gt; loaded</body></message>")
    a_tcp.expect(r"id='early1'")
    a_tcp.send("<message to='bob@acme.test/phone' type='chat' id='early2'>"
               "<body>Answered from the phone</body></message>")
    b_tcp.expect(r"id='early2'")
    for c in (a_tcp, b_tcp):
        c.send("</stream:stream>")
        c.close()
    # carol, over TCP, writes to alice before she is online: kept
    # offline, shown in her chat pane when it comes up
    carol = Raw(srv.port("xmpp"))
    carol.login("carol", "acme.test", password=PW["carol"])
    text = "<script>alert(1)</script> & <b>bold</b>"
    carol.send("<message to='alice@acme.test' type='chat' id='c1'><body>"
               "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold"
               "&lt;/b&gt;</body></message>")
    carol.send("<message to='alice@acme.test' type='chat' id='c2'><body>x"
               "</body><x xmlns='jabber:x:oob'><url>http://127.0.0.1/"
               "%E0%A4%A.png</url></x></message>")
    carol.send("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
    carol.expect(r"id='sync'")
    carol.send("</stream:stream>")
    carol.close()
    pic = tmp_path / "red.png"
    pic.write_bytes(png(64, 40))
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://127.0.0.1:{srv.port('http')}",
               SHOTS=str(shots), WEB_MODULES=str(WEB_MODULES),
               ALICE_PW=PW["alice"], BOB_PW=PW["bob"], PICTURE=str(pic),
               CAROL_TEXT=text,
               EARLY_TEXT="Written before <the page> loaded",
               EARLY_ANSWER="Answered from the phone",
               USER_LOGIN="alice@acme", USER_PW=PW["alice"])
    r = subprocess.run(["node", str(ROOT / "tests/browser/webmail-chat.mjs")],
                       env=env, capture_output=True, text=True, timeout=240)
    stable = BUILD / "screenshots" / "webmail-chat"
    stable.mkdir(parents=True, exist_ok=True)
    for f in shots.glob("*.png"):
        shutil.copy(f, stable / f.name)
    print(r.stdout)
    assert r.returncode == 0, (f"{r.stdout}\n{r.stderr}\n"
                               f"{srv.log('xmppd')[-3000:]}")
    assert "CHAT OK" in r.stdout
    for name in ("chat-badge-desktop", "chat-direct-desktop",
                 "chat-room-desktop", "chat-file-desktop", "chat-list-phone",
                 "chat-room-phone", "chat-closed-phone"):
        assert (shots / f"{name}.png").is_file(), name

    # both signed in to chat by their webmail sessions, never a password
    log = srv.log("xmppd")
    for who in ("alice", "bob"):
        assert f"login {who}@acme.test" in log
    assert log.count("on websocket (webmail session)") >= 2
    assert "login failed" not in log
    # the picture bob saw is the upload service's file, byte for byte
    url = [ln.split(" ", 1)[1] for ln in r.stdout.splitlines()
           if ln.startswith("UPLOAD ")][0]
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.read() == pic.read_bytes()
        assert resp.headers["Content-Type"] == "image/png"

"""The webmail (web/mail) in a real browser: Debian's chromium driven by
npm playwright-core (tests/browser/webmail.mjs, with the hostile-HTML part
in webmail-hostile.mjs) against one real posternd (httpd, smtpd, the MTA,
deliver, imapd). Mail arrives over SMTP (the hostile HTML mails too) and
as maildir files (the filler that makes the list page). The browser logs
in, pages the list, reads HTML mail with an inline cid: image and
attachments, replies with an uploaded attachment, saves a draft, moves by
menu and by drag and drop, searches, sees pushed new mail, works at
390px, and opens hostile mails: nothing in them runs and nothing remote is
requested (a loopback HTTP server the script runs is the "remote" host)
until images are allowed, and then only images. Afterwards IMAP (imaplib)
finds the reply with its attachment in alice's Sent and in bob's INBOX,
and the moved messages where they were moved. Screenshots go to the
test's tmp dir and are copied to <build>/screenshots/."""
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
from email.message import EmailMessage

import pytest

from conftest import BUILD, ROOT, Postern

CHROMIUM = "/usr/bin/chromium"
WEB_MODULES = ROOT / "web" / "node_modules"
ALICE_PW = "Wm-Alice-Secret-71"
BOB_PW = "Wm-Bob-Secret-882"
FILLER = 60


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


def mails(remote):
    """the messages alice gets over SMTP; the hostile ones name the
    script's loopback "remote" origin"""
    out = []
    m = EmailMessage()
    m["From"] = "Bob Builder <bob@acme.test>"
    m["To"] = "alice@acme.test"
    m["Subject"] = "Plans for the shed"
    m["Message-ID"] = "<plans-1@acme.test>"
    m.set_content("Hello Alice,\n\nthe drawings are at https://example.org/shed?x=1&y=<2>\n"
                  "<b>not bold</b> & not markup.\n\nBob\n")
    out.append(m)

    m = EmailMessage()
    m["From"] = "Carol <carol@acme.test>"
    m["To"] = "alice@acme.test"
    m["Subject"] = "Photo report with pictures"
    m.set_content("the photo report (HTML)")
    m.add_alternative('<html><head><style>h1{color:#2454c5}</style></head><body>'
                      '<h1>Photo report</h1><p>Inline picture:</p>'
                      '<img id="inline" alt="inline" src="cid:pic1@acme.test">'
                      '<p>The zebrafinch count is 12.</p></body></html>',
                      subtype="html")
    m.get_payload()[1].add_related(png(), "image", "png", cid="<pic1@acme.test>")
    m.add_attachment(png(32, 32, (30, 120, 30)), maintype="image",
                     subtype="png", filename="green.png")
    m.add_attachment(PDF, maintype="application", subtype="pdf",
                     filename="report.pdf")
    out.append(m)

    r = remote
    hostile = [
        ("Hostile script", f'<p>script test</p><script>window.top.__pwned="script";'
         f'fetch("{r}/script")</script>'),
        ("Hostile handlers", f'<img src="x" onerror="window.top.__pwned=\'onerror\'">'
         f'<body onload="top.__pwned=\'onload\'"><div onmouseover="top.__pwned=\'hover\'">hover me</div>'
         f'<svg onload="top.__pwned=\'svgonload\'"></svg>'),
        ("Hostile links", f'<a id="js" href="javascript:top.__pwned=\'jslink\'">click me</a> '
         f'<a id="jsent" href="jav&#x09;ascript:top.__pwned=\'jsent\'">and me</a> '
         f'<a id="data" href="data:text/html,<script>alert(1)</script>">data</a>'),
        ("Hostile CSS", f'<style>@import url("{r}/import.css");'
         f'body{{background:url({r}/bg.png)}}'
         f'@font-face{{font-family:evil;src:url({r}/font.woff)}}p{{font-family:evil}}</style>'
         f'<p style="background-image:url(\'{r}/inline-bg.png\')">styled</p>'
         f'<link rel="stylesheet" href="{r}/link.css">'),
        ("Hostile SVG", f'<svg xmlns="http://www.w3.org/2000/svg"><script>top.__pwned="svgscript";'
         f'fetch("{r}/svg")</script><image href="{r}/svgimage.png" width="10" height="10"/>'
         f'<a xlink:href="javascript:top.__pwned=1"><text y="20">svg link</text></a></svg>'
         f'<img src="data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9hZD0idG9wLl9fcHduZWQ9MSIvPg==">'),
        ("Hostile remote", f'<p>tracking</p><img id="remote" src="{r}/img.png" width="20" height="20">'
         f'<table background="{r}/table.png"><tr><td>cell</td></tr></table>'
         f'<video poster="{r}/poster.png"></video><audio src="{r}/audio.mp3"></audio>'
         f'<img srcset="{r}/srcset.png 2x">'),
        ("Hostile form", f'<form action="{r}/form" method="post"><input name="pw" value="x">'
         f'<button id="go" type="submit">Go</button></form>'),
        ("Hostile tricks", f'<img id="pr" src="//localhost:{r.rsplit(":", 1)[1]}/protocol-relative.png">'
         f'<div style="background-image:image-set(\'{r}/imageset.png\' 1x)">set</div>'
         f'<div style="background:\\75 rl({r}/escaped.png)">escaped</div>'
         f'<style>@import "{r}/import2.css"; li{{list-style-image:url(&quot;{r}/list.png&quot;)}}</style>'
         f'<svg><use href="{r}/use.svg#a"></use></svg>'
         f'<input type="image" src="{r}/input.png"><a id="ping" ping="{r}/ping" href="https://example.org/">ping</a>'
         f'<picture><source srcset="{r}/source.png"><img alt="pic"></picture>'
         f'<link rel="prefetch" href="{r}/prefetch"><meta http-equiv="refresh" content="0;url={r}/refresh2">'
         f'<noscript><p title="</noscript><img src=x onerror=top.__pwned=\'mxss\'>"></p></noscript>'
         f'<svg><style><img src=x onerror="top.__pwned=\'svgstyle\'"></style></svg>'
         f'<math><mi xlink:href="javascript:top.__pwned=1">math</mi></math>'),
        ("Hostile frames", f'<meta http-equiv="refresh" content="0;url={r}/refresh">'
         f'<base href="{r}/"><img src="relative.png"><iframe src="{r}/frame"></iframe>'
         f'<object data="{r}/object"></object><embed src="{r}/embed">'
         f'<iframe srcdoc="<script>top.__pwned=\'srcdoc\'</script>"></iframe>'),
    ]
    for subject, body in hostile:
        m = EmailMessage()
        m["From"] = "Mallory <mallory@evil.test>"
        m["To"] = "alice@acme.test"
        m["Subject"] = subject
        m.set_content("text part")
        m.add_alternative(f"<html><head><title>x</title></head><body>{body}</body></html>",
                          subtype="html")
        out.append(m)
    return out


def filler(p):
    """FILLER small messages straight into alice's maildir (before start)"""
    new = p.root / "store" / "acme" / "alice" / "new"
    new.mkdir(parents=True, exist_ok=True)
    for i in range(FILLER):
        (new / f"17650{i:05d}.M{i}P1.webmail").write_bytes(
            f"From: Filler {i} <filler{i}@acme.test>\r\nTo: alice@acme.test\r\n"
            f"Subject: Filler number {i:03d}\r\n"
            f"Date: Mon, 1 Dec 2025 10:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <filler{i}@acme.test>\r\n\r\nfiller body {i}\r\n".encode())


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("webmail") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-4410")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", ALICE_PW)
    p.cli("mailbox", "add", "bob@acme", "--password", BOB_PW)
    filler(p)
    p.start(services=["httpd", "imapd", "smtpd", "mta", "deliver"], timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_webmail_in_chromium(srv, tmp_path):
    assert shutil.which("node"), "node is missing (scripts/install-deps.sh)"
    assert (WEB_MODULES / "playwright-core").is_dir(), \
        "web/node_modules lacks playwright-core: the build runs npm ci"
    p = srv
    # the hostile mails name the remote host the script will run: a port
    # taken now and handed to the script
    from conftest import free_port
    rport = free_port()
    remote = f"http://localhost:{rport}"
    msgs = mails(remote)
    t0 = time.time()
    smtp_send(p.port("smtp"), msgs)
    deliver_wait(p, FILLER + len(msgs))
    print(f"delivered in {time.time() - t0:.1f}s")

    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://127.0.0.1:{p.port('http')}",
               USER_LOGIN="alice@acme", USER_PW=ALICE_PW, SHOTS=str(shots),
               WEB_MODULES=str(WEB_MODULES), REMOTE_PORT=str(rport),
               SMTP_PORT=str(p.port("smtp")), FILLER=str(FILLER), MAILS=str(len(msgs)),
               UPLOAD=str(tmp_path / "notes.txt"))
    (tmp_path / "notes.txt").write_text("attached notes for bob\n")
    r = subprocess.run(["node", str(ROOT / "tests/browser/webmail.mjs")],
                       env=env, capture_output=True, text=True, timeout=240)
    stable = BUILD / "screenshots"
    stable.mkdir(exist_ok=True)
    for f in shots.glob("*.png"):
        shutil.copy(f, stable / f.name)
    print(r.stdout)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{p.log('httpd')[-3000:]}"
    assert "webmail browser test: ok" in r.stdout, r.stdout
    names = {f.name for f in shots.glob("*.png")}
    assert {"webmail-login.png", "webmail-list.png", "webmail-html.png",
            "webmail-compose.png", "webmail-hostile.png",
            "webmail-phone-list.png", "webmail-phone-reader.png"} <= names, names

    # the reply, with its attachment, in alice's Sent and at bob's
    imap = p.port("imap")
    sent = [m for m in imap_messages(imap, "alice@acme", ALICE_PW, "Sent")
            if "Plans for the shed" in (m["Subject"] or "")]
    assert sent, "the reply is not in alice's Sent"
    deadline = time.time() + 60
    got = []
    while time.time() < deadline and not got:
        got = [m for m in imap_messages(imap, "bob@acme", BOB_PW, "INBOX")
               if "Plans for the shed" in (m["Subject"] or "")]
        if not got:
            time.sleep(0.5)
    assert got, "bob did not get the reply:\n" + p.log("mta")[-3000:]
    for m in (sent[0], got[0]):
        assert m["Subject"] == "Re: Plans for the shed"
        assert m["In-Reply-To"] == "<plans-1@acme.test>"
        files = {part.get_filename(): part.get_payload(decode=True)
                 for part in m.walk() if part.get_filename()}
        assert files.get("notes.txt") == b"attached notes for bob\n", files
        body = next(part for part in m.walk()
                    if part.get_content_type() == "text/plain").get_content()
        assert "Thanks, the shed plans look good." in body
        assert "> the drawings are at https://example.org/shed" in body
    # the forward, with the original's attachments, at bob's
    fwd = [m for m in imap_messages(imap, "bob@acme", BOB_PW, "INBOX")
           if m["Subject"] == "Fwd: Photo report with pictures"]
    assert fwd, "bob did not get the forward"
    files = {part.get_filename(): part.get_payload(decode=True)
             for part in fwd[0].walk() if part.get_filename()}
    assert files.get("report.pdf") == PDF, files.keys()
    assert files.get("green.png") == png(32, 32, (30, 120, 30)), files.keys()
    assert "Forwarded message" in next(
        part for part in fwd[0].walk()
        if part.get_content_type() == "text/plain").get_content()
    # no draft left behind: the sent one moved to Sent, the discarded one gone
    assert imap_messages(imap, "alice@acme", ALICE_PW, "Drafts") == []
    # moved by the menu (Junk) and by drag and drop (Trash)
    junk = [m["Subject"] for m in imap_messages(imap, "alice@acme", ALICE_PW, "Junk")]
    trash = [m["Subject"] for m in imap_messages(imap, "alice@acme", ALICE_PW, "Trash")]
    assert "Filler number 059" in junk, junk
    assert "Filler number 058" in trash, trash
    # flagged, then deleted by the button: in Trash, still flagged
    assert "Filler number 057" in trash, trash
    with imaplib.IMAP4("127.0.0.1", imap) as c:
        c.login("alice@acme", ALICE_PW)
        c.select("Trash", readonly=True)
        typ, data = c.search(None, "FLAGGED")
        flagged = data[0].split()
        assert len(flagged) == 1, data
        typ, d = c.fetch(flagged[0], "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"Filler number 057" in d[0][1], d

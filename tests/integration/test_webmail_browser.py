"""The webmail (web/mail) in a real browser: Debian's chromium driven by
npm playwright-core (tests/browser/webmail.mjs) against one real
posternd (httpd, smtpd, the MTA, deliver, imapd). Mail arrives over SMTP
and as maildir files (the filler that makes the list page). The browser
logs in, pages and sorts the list, reads plain text and HTML mail with an
inline cid: image and attachments, replies with an uploaded attachment,
forwards with the original's attachments, saves and discards a draft,
moves by menu and by drag and drop, flags and deletes, searches, uses
the keys, sees pushed new mail and works at 390px. Afterwards IMAP
(imaplib) finds the reply and the forward with their attachments in
alice's Sent and in bob's INBOX, and the moved messages where they were
moved. The hostile HTML mails are test_webmail_hostile.py's."""
import imaplib
import time
from email.message import EmailMessage

import pytest

from webmail_util import (ALICE_PW, BOB_PW, HAVE_CHROMIUM, NO_CHROMIUM, PDF,
                          deliver_wait, imap_messages, png, run_browser,
                          server, smtp_send, stop)

FILLER = 60


def mails():
    """the messages alice gets over SMTP"""
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
    p = server(tmp_path_factory, filler)
    yield p
    stop(p)


@pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)
def test_webmail_in_chromium(srv, tmp_path):
    p = srv
    msgs = mails()
    t0 = time.time()
    smtp_send(p.port("smtp"), msgs)
    deliver_wait(p, FILLER + len(msgs))
    print(f"delivered in {time.time() - t0:.1f}s")
    (tmp_path / "notes.txt").write_text("attached notes for bob\n")
    names = run_browser(p, tmp_path, "webmail.mjs", "webmail browser test: ok",
                        SMTP_PORT=p.port("smtp"), FILLER=FILLER,
                        MAILS=len(msgs), UPLOAD=tmp_path / "notes.txt")
    assert {"webmail-login.png", "webmail-list.png", "webmail-html.png",
            "webmail-compose.png", "webmail-phone-list.png",
            "webmail-phone-reader.png"} <= names, names

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
    # the rich text one: HTML with the bold text, the typed markup
    # escaped, and a plain text part
    rich = [m for m in imap_messages(imap, "bob@acme", BOB_PW, "INBOX")
            if m["Subject"] == "Rich greetings"]
    assert rich, "bob did not get the rich text message"
    parts = {part.get_content_type(): part.get_content()
             for part in rich[0].walk() if part.get_content_maintype() == "text"}
    assert "<b>Bold hello</b>" in parts["text/html"], parts
    assert "plain after &lt;script&gt;" in parts["text/html"], parts
    assert "<b>plain" not in parts["text/html"], "bold toggled off"
    assert "Bold hello" in parts["text/plain"], parts
    assert "plain after <script>" in parts["text/plain"], parts
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

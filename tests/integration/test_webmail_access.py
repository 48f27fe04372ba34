"""The webmail (web/mail) with the keyboard, at the server's size limits
and with a 50 MB attachment, in a real browser: Debian's chromium driven
by npm playwright-core (tests/browser/webmail-access.mjs) against one
real posternd. The server's limits are made small (maxSizeUpload 200 KB,
smtp.max_message_size 300 KB: maxSizeAttachmentsPerEmail 172 KB) so that
the script can go past them; the 50 MB message and one of 10,000 parts
are maildir files put in place before the start."""
import os
from email.message import EmailMessage

import pytest

from webmail_util import (HAVE_CHROMIUM, NO_CHROMIUM, PDF, deliver_wait,
                          png, run_browser, server, smtp_send, stop)

BIG = 50 * 1024 * 1024
PARTS = 10000
MAX_UPLOAD = 200 * 1024
MAX_ATTACH = (300 * 1024 - 64 * 1024) // 78 * 57


def big_mail(p):
    """a message with a 50 MB attachment in alice's INBOX, and the limits"""
    p.cli("config", "set", "http.max_upload", "200K")
    p.cli("config", "set", "smtp.max_message_size", "300K")
    m = EmailMessage()
    m["From"] = "Big Sender <big@acme.test>"
    m["To"] = "alice@acme.test"
    m["Subject"] = "Fifty megabytes"
    m["Date"] = "Mon, 1 Dec 2025 09:00:00 +0000"
    m["Message-ID"] = "<big-1@acme.test>"
    m.set_content("The video is attached.\n")
    m.add_attachment(os.urandom(BIG), maintype="video", subtype="mp4",
                     filename="holiday.mp4")
    new = p.root / "store" / "acme" / "alice" / "new"
    new.mkdir(parents=True, exist_ok=True)
    (new / "1764579600.M1P1.big").write_bytes(
        m.as_bytes(policy=m.policy.clone(linesep="\r\n")))
    # and one of 10,000 parts (the store parses MIME_MAX_PARTS of them)
    parts = "".join(f"--p\r\nContent-Type: text/plain\r\nContent-Disposition:"
                    f" attachment; filename=a{i}.txt\r\n\r\npart {i}\r\n"
                    for i in range(PARTS))
    (new / "1764579500.M2P1.parts").write_bytes(
        ("From: Parts <parts@acme.test>\r\nTo: alice@acme.test\r\n"
         "Subject: Ten thousand parts\r\n"
         "Date: Mon, 1 Dec 2025 08:00:00 +0000\r\n"
         "Message-ID: <parts-1@acme.test>\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=p\r\n\r\n" + parts +
         "--p--\r\n").encode())


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = server(tmp_path_factory, big_mail)
    yield p
    stop(p)


@pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)
def test_webmail_keyboard_limits_and_a_big_attachment(srv, tmp_path):
    m = EmailMessage()
    m["From"] = "Carol <carol@acme.test>"
    m["To"] = "alice@acme.test"
    m["Subject"] = "Green picture"
    m.set_content("a picture")
    m.add_attachment(png(32, 32, (30, 120, 30)), maintype="image",
                     subtype="png", filename="green.png")
    m.add_attachment(PDF, maintype="application", subtype="pdf",
                     filename="plan.pdf")
    smtp_send(srv.port("smtp"), [m])
    deliver_wait(srv, 3)
    names = run_browser(srv, tmp_path, "webmail-access.mjs",
                        "webmail access test: ok", MAX_UPLOAD=MAX_UPLOAD,
                        MAX_ATTACH=MAX_ATTACH)
    assert {"webmail-access-limits.png", "webmail-access-preview.png",
            "webmail-access-keys.png",
            "webmail-access-phone-reader.png"} <= names, names

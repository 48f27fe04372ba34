"""Helpers of the webmail settings tests (test_webmail_settings.py and
test_webmail_settings_browser.py): mail sent by SMTP, found and logged
into by IMAP, and a bounded wait."""
import imaplib
import smtplib
import time


def imap_ok(srv, login, pw):
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=30)
    try:
        m.login(login, pw)
    except imaplib.IMAP4.error:
        m.shutdown()
        return False
    m.logout()
    return True


def imap_fetch(srv, login, pw, folder, subject):
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=30)
    m.login(login, pw)
    found = []
    if m.select(folder)[0] == "OK":
        typ, d = m.search(None, "SUBJECT", f'"{subject}"')
        for n in d[0].split():
            found.append(m.fetch(n, "(FLAGS BODY.PEEK[])")[1][0])
    m.logout()
    return found


def smtp_send(srv, *mails):
    """each of mails (sender, recipient, subject, body) sent over SMTP"""
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=30) as s:
        for frm, to, subject, body in mails:
            s.sendmail(frm, [to], f"From: {frm}\r\nTo: {to}\r\n"
                       f"Subject: {subject}\r\n\r\n{body}\r\n")


def wait_for(pred, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")

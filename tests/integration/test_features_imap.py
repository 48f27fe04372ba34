"""Issue 5's features end to end as a user sees them: mail in over SMTP,
read back over IMAP (auto responder, its bulk and loop rules, Sieve
fileinto and vacation, maintenance deletes) and POP3 (global filter
header)."""
import email
import email.policy
import imaplib
import poplib
import smtplib
import time

SERVICES = ["smtpd", "mta", "deliver", "imapd", "pop3d"]


def send(p, frm, to, subject, extra=""):
    msg = (f"From: <{frm}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
           f"Message-ID: <{time.time_ns()}@test>\r\n{extra}\r\nbody of {subject}\r\n")
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail(frm, [to], msg.encode())


def imap(p, user, password):
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=30)
    c.login(user, password)
    return c


def subjects(p, user, password, folder="INBOX"):
    c = imap(p, user, password)
    typ, _ = c.select(folder)
    out = []
    if typ == "OK":
        typ, data = c.search(None, "ALL")
        for num in data[0].split():
            typ, d = c.fetch(num, "(BODY.PEEK[HEADER])")
            out.append(email.message_from_bytes(d[0][1], policy=email.policy.default))
    c.logout()
    return out


def wait_subjects(p, user, password, cond, what, folder="INBOX", timeout=60):
    deadline = time.time() + timeout
    msgs = []
    while time.time() < deadline:
        msgs = subjects(p, user, password, folder)
        if cond(msgs):
            return msgs
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: "
                         f"{[m['Subject'] for m in msgs]}")


def test_autoreply_bulk_and_loop_over_imap(populated):
    p = populated
    p.cli("mailbox", "set", "alice@acme", "autoresponder_enabled=yes",
          "autoresponder_subject=Away", "autoresponder_body=Back soon.")
    p.cli("mailbox", "set", "bob@acme", "autoresponder_enabled=yes",
          "autoresponder_subject=Bob away", "autoresponder_body=Later.")
    p.start(services=SERVICES)
    # bulk mail gets no reply; normal mail gets one
    send(p, "bob@acme.test", "alice@acme.test", "newsletter",
         "Precedence: bulk\r\n")
    send(p, "bob@acme.test", "alice@acme.test", "hello")
    bob = wait_subjects(p, "bob@acme", "bob-pw",
                        lambda m: any(x["Subject"] == "Away" for x in m),
                        "alice's auto reply in bob's INBOX")
    replies = [m for m in bob if m["Subject"] == "Away"]
    assert len(replies) == 1, "one reply, none to the bulk message"
    assert replies[0]["Auto-Submitted"] == "auto-replied"
    # the reply is itself auto-submitted: bob's responder does not answer
    # it, so the two responders do not loop
    time.sleep(3)
    alice = subjects(p, "alice@acme", "alice-pw")
    assert [m["Subject"] for m in alice].count("Bob away") == 0
    assert sorted(m["Subject"] for m in alice) == ["hello", "newsletter"]


def test_sieve_fileinto_and_vacation_over_imap(populated, tmp_path):
    p = populated
    script = tmp_path / "s.sieve"
    script.write_text('require ["fileinto", "vacation"];\n'
                      'if header :contains "subject" "invoice" {\n'
                      '  fileinto "Invoices"; stop;\n}\n'
                      'vacation :days 1 :subject "On leave" "I am on leave.";\n')
    p.cli("filter", "set", "alice@acme", str(script))
    p.start(services=SERVICES)
    send(p, "bob@acme.test", "alice@acme.test", "invoice 42")
    send(p, "bob@acme.test", "alice@acme.test", "lunch?")
    send(p, "bob@acme.test", "alice@acme.test", "lunch again?")
    wait_subjects(p, "alice@acme", "alice-pw",
                  lambda m: [x["Subject"] for x in m] == ["invoice 42"],
                  "the invoice filed into Invoices", folder="Invoices")
    wait_subjects(p, "alice@acme", "alice-pw",
                  lambda m: sorted(x["Subject"] for x in m) == ["lunch again?", "lunch?"],
                  "the others in INBOX")
    bob = wait_subjects(p, "bob@acme", "bob-pw",
                        lambda m: any(x["Subject"] == "On leave" for x in m),
                        "the vacation reply")
    time.sleep(2)
    bob = subjects(p, "bob@acme", "bob-pw")
    assert [m["Subject"] for m in bob].count("On leave") == 1, "once per sender"


def test_global_filter_and_delete_over_pop3_and_imap(populated):
    p = populated
    p.cli("filter", "global", "add", "--if", "header", "--header", "Subject",
          "--match", "*tagme*", "--then", "add-header", "--arg", "X-Tagged: yes")
    p.start(services=SERVICES)
    send(p, "bob@acme.test", "alice@acme.test", "tagme please")
    send(p, "bob@acme.test", "alice@acme.test", "plain")
    wait_subjects(p, "alice@acme", "alice-pw", lambda m: len(m) == 2, "2 messages")
    c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=30)
    c.user("alice@acme")
    c.pass_("alice-pw")
    heads = [b"\n".join(c.top(i, 0)[1]) for i in range(1, c.stat()[0] + 1)]
    c.quit()
    tagged = [h for h in heads if b"tagme" in h]
    plain = [h for h in heads if b"plain" in h]
    assert tagged and b"X-Tagged: yes" in tagged[0]
    assert plain and b"X-Tagged" not in plain[0]
    # maintenance: delete everything in alice's INBOX; IMAP sees it empty
    p.cli("messages", "delete", "--mailbox", "alice@acme", "--everything", "--yes")
    wait_subjects(p, "alice@acme", "alice-pw", lambda m: len(m) == 0,
                  "INBOX emptied by postern messages delete")


def test_sieve_vacation_silences_the_auto_responder(populated, tmp_path):
    """A mailbox with both an auto responder and a Sieve vacation action
    answers a message once, with the vacation reply."""
    p = populated
    p.cli("mailbox", "set", "alice@acme", "autoresponder_enabled=yes",
          "autoresponder_subject=Away", "autoresponder_body=Back soon.")
    script = tmp_path / "v.sieve"
    script.write_text('require "vacation";\n'
                      'vacation :days 1 :subject "On leave" "I am on leave.";\n')
    p.cli("filter", "set", "alice@acme", str(script))
    p.start(services=SERVICES)
    send(p, "bob@acme.test", "alice@acme.test", "hi there")
    wait_subjects(p, "bob@acme", "bob-pw",
                  lambda m: any(x["Subject"] == "On leave" for x in m),
                  "the vacation reply")
    time.sleep(3)
    got = [m["Subject"] for m in subjects(p, "bob@acme", "bob-pw")]
    assert got.count("On leave") == 1 and "Away" not in got, got

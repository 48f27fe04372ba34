"""Issue 11, items 1 and 2: one tenant must never get another tenant's DKIM
signature, and a Sieve script must not write header fields of the mail it
makes. Two post offices: acme (acme.test: alice, bob, the list
news@acme.test) and other (other.test: mallory, trudy), both domains with
an active selector. Scripts go in over ManageSieve, mail over SMTP
(port 25 from "outside", submission with STARTTLS + AUTH), and what
smtp-out sends is read at a sink (the MX of remote.test, dnsmasq) and
checked with dkimpy against the records `postern dkim dns` prints.

Attacks: a vacation :from of another tenant's address; CR/LF in :from and
:subject (made by variables: a literal one is refused at upload) and
header fields in a :mime reason; MAIL FROM a list address of another post
office (the list, -bounces, -owner, -request) by an authenticated user; a
locally made item queued before origins existed (envelope version 1).
Legitimate mail still signs: a list copy (the list's domain), a user's own
mail, a vacation reply and an auto reply (the mailbox's domain)."""
import email
import email.policy
import os
import random
import smtplib
import time
from pathlib import Path

import pytest

from test_dkim import published, sig_tags, tls_ctx, verify
from test_managesieve import Client
from test_mta import wait_for
from test_smtp_out import _esc, dns, setup_out, sinks  # noqa: F401 (fixtures)

dkim = pytest.importorskip("dkim", reason="python3-dkim (dkimpy) missing: "
                           "scripts/install-deps.sh installs it")

SERVICES = ["smtpd", "mta", "deliver", "smtp-out", "listserv", "managesieve"]
T = 60
MALLORY_PW = "tenant-b-pass-77"
TRUDY_PW = "second-b-pass-88"


@pytest.fixture
def world(populated, dns, sinks):  # noqa: F811
    p = populated
    sink = sinks()
    setup_out(p, dns, sink)
    p.cli("postoffice", "add", "other", "--password", "pm-other-secret")
    p.cli("domain", "add", "other.test", "--postoffice", "other")
    p.cli("mailbox", "add", "mallory@other", "--password", MALLORY_PW)
    p.cli("mailbox", "add", "trudy@other", "--password", TRUDY_PW)
    p.cli("list", "add", "news@acme.test", "--postoffice", "acme",
          "--owner", "alice@acme.test")
    p.cli("list", "member", "add", "news@acme.test", "reader@remote.test")
    records = {}
    for domain, sel in (("acme.test", "a1"), ("other.test", "o1")):
        p.cli("dkim", "selector", "add", domain, sel, "--bits", "1024")
        p.cli("domain", "set", domain, "dkim_enabled=yes")
        records.update(published(p, domain))
    p.start(services=SERVICES)
    return p, sink, records


def sieve_put(p, login, pw, script, activate=True):
    """PUTSCRIPT (and SETACTIVE) over ManageSieve; the last response line"""
    c = Client(p.port("managesieve"))
    try:
        assert c.response()[-1].startswith("OK")
        c.starttls()
        assert c.login(login, pw)[-1].startswith("OK")
        raw = script.encode()
        c.send(b'PUTSCRIPT "main" {%d+}\r\n' % len(raw) + raw + b"\r\n")
        r = c.response()
        if r[-1].startswith("OK") and activate:
            assert c.cmd('SETACTIVE "main"')[-1].startswith("OK")
        return r[-1]
    finally:
        c.close()


def send_in(p, frm, to, subject, extra=""):
    """mail from outside over port 25"""
    msg = (f"From: <{frm}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
           f"Message-ID: <{time.time_ns()}@remote.test>\r\n{extra}\r\n"
           "hello\r\n")
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=T) as s:
        s.sendmail(frm, [to], msg.encode())


def submit(p, login, pw, mail_from, frm, subject, to="ext@remote.test"):
    """a submission with STARTTLS + AUTH; False when the sender is refused"""
    msg = (f"From: {frm}\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
           f"Message-ID: <{time.time_ns()}@other.test>\r\n\r\nhello\r\n")
    with smtplib.SMTP("127.0.0.1", p.port("submission"), timeout=T) as s:
        s.starttls(context=tls_ctx())
        s.login(login, pw)
        try:
            s.sendmail(mail_from, [to], msg.encode())
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as e:
            # a submission that binds MAIL FROM / From: to the login
            assert 500 <= e.smtp_code < 600, e
            return False
    return True


def rcpt_addrs(m):
    """the addresses of a sink message's RCPT commands ("TO:<a> ...")"""
    return [r.split("<", 1)[-1].split(">", 1)[0] for r in m["rcpts"]]


def at_sink(sink, rcpt, subject=None):
    """the bytes the sink got for rcpt (and subject, when given)"""
    def find():
        for m in list(sink.messages):
            if rcpt in rcpt_addrs(m) and (subject is None or
                                       subject.encode() in m["data"]):
                return m["data"]
        return None
    return wait_for(find, T, f"mail to {rcpt} at the sink")


def head_of(data):
    return data.split(b"\r\n\r\n", 1)[0].decode(errors="replace")


def body_of(data):
    return data.split(b"\r\n\r\n", 1)[1].decode(errors="replace")


def field_names(data):
    return [ln.split(":", 1)[0].lower()
            for ln in head_of(data).split("\r\n") if ln and ln[0] not in " \t"]


def signers(data):
    """the d= of every DKIM-Signature field"""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    out = []
    for v in msg.get_all("DKIM-Signature") or []:
        tags = dict(t.strip().split("=", 1) for t in
                    "".join(v.split()).split(";") if "=" in t)
        out.append(tags.get("d"))
    return out


def from_addr(data):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    froms = msg.get_all("From")
    assert len(froms) == 1, froms
    return froms[0].addresses[0]


def inject_local(root, sender, rcpt, body, version=1, origin=None):
    """an item in smtp/outgoing made "here" (client local), as an envelope
    of the given version would hold it"""
    qid = "%08X%08X" % (int(time.time()), random.getrandbits(32))
    q = Path(root) / "queue" / "smtp" / "outgoing"
    env = [f"POSTERN-ENV {version}", f"id ={qid}",
           f"arrival {int(time.time())}", "sender" + _esc(sender),
           "auth" + _esc(None)]
    if version >= 2:
        env.append("origin" + _esc(origin))
    env += ["client" + _esc("local") + _esc("autoreply"), "body -",
            "smtputf8 0", "envid -", "ret -", "hops 0", "bulk 1",
            "delay-notified 0", "rcpt" + _esc(rcpt) + " - 1 0 0 0 - -", "end"]
    (q / "tmp" / f"{qid}.msg").write_bytes(body.encode())
    (q / "tmp" / f"{qid}.env").write_text("\n".join(env) + "\n")
    os.rename(q / "tmp" / f"{qid}.msg", q / "new" / f"{qid}.msg")
    os.rename(q / "tmp" / f"{qid}.env", q / "new" / f"{qid}.env")
    return qid


# -- item 1: Sieve vacation ------------------------------------------------

def test_vacation_from_of_another_tenant_is_not_used(world):
    """mallory (post office other) names alice@acme.test as :from: the reply
    is from mallory's own address, signed by other.test and never by
    acme.test; alice's :from of her own address with a display name is
    used and signed by acme.test"""
    p, sink, records = world
    r = sieve_put(p, "mallory@other", MALLORY_PW,
                  'require "vacation";\r\nvacation :days 1 :from '
                  '"CEO <alice@acme.test>" :subject "away" "I am away.";\r\n')
    assert r.startswith("OK"), r
    r = sieve_put(p, "alice@acme", "alice-pw",
                  'require "vacation";\r\nvacation :days 1 :from '
                  '"\\"Alice Smith\\" <alice@acme.test>" "Alice is away.";\r\n')
    assert r.startswith("OK"), r
    send_in(p, "ext1@remote.test", "mallory@other.test", "for mallory")
    send_in(p, "ext2@remote.test", "alice@acme.test", "for alice")

    data = at_sink(sink, "ext1@remote.test")
    assert from_addr(data).addr_spec == "mallory@other.test"
    assert b"alice@acme.test" not in data.split(b"\r\n\r\n", 1)[0]
    assert signers(data) == ["other.test"], signers(data)
    assert verify(data, records)
    assert ('vacation :from "CEO <alice@acme.test>" not used (it is not an '
            'address of this mailbox): the reply is from '
            '<mallory@other.test>') in p.log("deliver")

    data = at_sink(sink, "ext2@remote.test")
    a = from_addr(data)
    assert (a.display_name, a.addr_spec) == ("Alice Smith", "alice@acme.test")
    assert sig_tags(data)["d"] == "acme.test"
    assert verify(data, records)


def test_vacation_cannot_write_header_fields(world):
    """CR/LF in :from and :subject (a literal one is refused at upload;
    one made by variables is cleaned) and non-Content fields of a :mime
    reason cannot add header fields or a body to the reply"""
    p, sink, records = world
    # a literal line break: refused at upload with the place and the rule
    r = sieve_put(p, "mallory@other", MALLORY_PW,
                  'require "vacation";\r\nvacation :from "mallory@other.test'
                  '\r\nBcc: victim@remote.test" "x";\r\n')
    assert r.startswith('NO "2:16: :from: no control characters'), r
    # made by variables at run time
    r = sieve_put(p, "mallory@other", MALLORY_PW,
                  'require ["vacation", "variables"];\r\n'
                  'set "f" "mallory@other.test\r\nBcc: victim@remote.test\r\n'
                  'X-Injected: from";\r\n'
                  'set "s" "Away\r\nX-Injected: subject\r\n\r\nInjected body";\r\n'
                  'vacation :from "${f}" :subject "${s}" "I am away.";\r\n')
    assert r.startswith("OK"), r
    # :mime: the reason's From/Bcc/DKIM-Signature would join the header
    r = sieve_put(p, "trudy@other", TRUDY_PW,
                  'require "vacation";\r\nvacation :mime text:\r\n'
                  'From: CEO <alice@acme.test>\r\n'
                  'Bcc: victim@remote.test\r\n'
                  'DKIM-Signature: v=1; d=acme.test\r\n'
                  'Content-Type: text/plain;\r\n charset=us-ascii\r\n'
                  '\r\n'
                  'Trudy is away (mime).\r\n.\r\n;\r\n')
    assert r.startswith("OK"), r
    send_in(p, "ext3@remote.test", "mallory@other.test", "for mallory")
    send_in(p, "ext4@remote.test", "trudy@other.test", "for trudy")

    data = at_sink(sink, "ext3@remote.test")
    names = field_names(data)
    assert "x-injected" not in names and "bcc" not in names, names
    assert names.count("from") == 1 and names.count("subject") == 1
    assert from_addr(data).addr_spec == "mallory@other.test"
    assert body_of(data).strip() == "I am away.", body_of(data)
    subj = [ln for ln in head_of(data).split("\r\n")
            if ln.startswith("Subject:")][0]
    assert "Injected body" in subj   # what was meant as a body stays in it
    assert verify(data, records) and signers(data) == ["other.test"]
    assert "it holds control characters" in p.log("deliver")

    data = at_sink(sink, "ext4@remote.test")
    names = field_names(data)
    assert "bcc" not in names and names.count("from") == 1, names
    assert names.count("dkim-signature") == 1
    assert from_addr(data).addr_spec == "trudy@other.test"
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().strip() == "Trudy is away (mime)."
    assert signers(data) == ["other.test"] and verify(data, records)
    assert "3 header line(s) other than Content-* dropped" in p.log("deliver")
    assert "victim@remote.test" not in {r for m in list(sink.messages)
                                        for r in rcpt_addrs(m)}


# -- item 2: list addresses of another post office ---------------------------

def test_list_addresses_of_another_post_office_are_not_signed(world):
    """mallory (post office other), authenticated, sends with MAIL FROM the
    list of acme (and its -bounces, -owner, -request addresses): no
    acme.test signature. Her own mail is signed by other.test, and a post
    to the list goes to its member signed by acme.test"""
    p, sink, records = world
    sent = []
    for local in ("news", "news-bounces", "news-owner", "news-request"):
        subject = f"as {local}"
        if submit(p, "mallory@other", MALLORY_PW, f"{local}@acme.test",
                  "News <news@acme.test>", subject):
            sent.append(subject)
    # the same with her own From: signed by her own domain only
    if submit(p, "mallory@other", MALLORY_PW, "news-bounces@acme.test",
              "Mallory <mallory@other.test>", "own from, list sender"):
        sent.append("own from, list sender")
    # (a submission that binds MAIL FROM to the login refuses them; the
    # signing rule is then checked with the same envelope queued directly)
    if len(sent) < 5:
        q = Path(p.root) / "queue" / "smtp" / "outgoing"
        for local in ("news", "news-bounces", "news-owner", "news-request",
                      "own from"):
            sender = "news-bounces" if local == "own from" else local
            frm = ("Mallory <mallory@other.test>" if local == "own from"
                   else "News <news@acme.test>")
            qid = "%08X%08X" % (int(time.time()), random.getrandbits(32))
            env = ["POSTERN-ENV 1", f"id ={qid}", f"arrival {int(time.time())}",
                   "sender" + _esc(f"{sender}@acme.test"),
                   "auth" + _esc("mallory@other"),
                   "client" + _esc("127.0.0.1") + _esc("client.test"),
                   "body -", "smtputf8 0", "envid -", "ret -", "hops 0",
                   "bulk 0", "delay-notified 0",
                   "rcpt" + _esc("ext@remote.test") + " - 0 0 0 0 - -", "end"]
            msg = (f"From: {frm}\r\nTo: <ext@remote.test>\r\n"
                   f"Subject: queued as {local}\r\n\r\nhello\r\n")
            (q / "tmp" / f"{qid}.msg").write_bytes(msg.encode())
            (q / "tmp" / f"{qid}.env").write_text("\n".join(env) + "\n")
            os.rename(q / "tmp" / f"{qid}.msg", q / "new" / f"{qid}.msg")
            os.rename(q / "tmp" / f"{qid}.env", q / "new" / f"{qid}.env")
            sent.append(f"queued as {local}")
    for subject in sent:
        data = at_sink(sink, "ext@remote.test", f"Subject: {subject}\r\n")
        if "own from" in subject:
            assert signers(data) == ["other.test"], (subject, signers(data))
            assert verify(data, records)
        else:
            assert signers(data) == [], (subject, signers(data))
    log = p.log("smtp-out")
    assert ("not signed as the list news@acme.test: the submitter "
            "mallory@other is not of its post office") in log

    # mallory's own mail: signed by other.test
    assert submit(p, "mallory@other", MALLORY_PW, "mallory@other.test",
                  "Mallory <mallory@other.test>", "her own mail")
    data = at_sink(sink, "ext@remote.test", "Subject: her own mail\r\n")
    assert signers(data) == ["other.test"] and verify(data, records)

    # a post to the list from outside: the copy is signed as the list
    send_in(p, "carol@outside.test", "news@acme.test", "list post")
    data = at_sink(sink, "reader@remote.test", "list post")
    assert signers(data) == ["acme.test"] and verify(data, records)
    assert "(list)" in p.log("smtp-out")


# -- every local origin ------------------------------------------------------

def test_auto_reply_signed_and_items_without_origin_are_not(world):
    """the mailbox auto responder's reply is signed by the mailbox's domain;
    a locally made item of envelope version 1 (queued before origins) goes
    out unsigned, and one whose origin is another post office than its
    From domain's too"""
    p, sink, records = world
    p.cli("mailbox", "set", "bob@acme", "autoresponder_enabled=yes",
          "autoresponder_body=Bob is away.")
    send_in(p, "ext5@remote.test", "bob@acme.test", "for bob")
    data = at_sink(sink, "ext5@remote.test")
    assert from_addr(data).addr_spec == "bob@acme.test"
    assert signers(data) == ["acme.test"] and verify(data, records)

    body = ("From: <alice@acme.test>\r\nTo: <ext6@remote.test>\r\n"
            "Subject: old envelope\r\n\r\nhello\r\n")
    inject_local(p.root, "", "ext6@remote.test", body, version=1)
    data = at_sink(sink, "ext6@remote.test")
    assert signers(data) == [], signers(data)
    assert "DKIM: not signed: made here without a post office of origin" in \
        p.log("smtp-out")

    body = body.replace("ext6", "ext7").replace("old envelope", "other origin")
    inject_local(p.root, "", "ext7@remote.test", body, version=2,
                 origin="other")
    data = at_sink(sink, "ext7@remote.test")
    assert signers(data) == [], signers(data)
    assert "not signed for acme.test: the origin other is not of its post " \
        "office" in p.log("smtp-out")

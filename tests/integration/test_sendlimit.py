"""Outbound abuse limits (issue 19 item 5): a compromised account that
sets out to send 5,000 messages over one pipelined SMTP session (BDAT,
so a batch is one write) is stopped at its hourly limit: exactly the
limit's worth reaches the remote sink, the rest waits in the queue as
"held" (postern queue list), the administrator gets one notice, and
'postern sendlimit release' sends a held item on. Recipients per hour,
suspension and the post office's limit are checked on their own
mailboxes. Real smtpd, MTA, deliver and smtp-out; DNS from dnsmasq."""
import smtplib
import time

import pytest

from conftest import Postern, dnsmasq_start, dnsmasq_stop
from test_mta import mailbox_msgs, wait_for
from test_smtp_out import Sink
from test_smtpd import tls_ctx

T = 60
LIMIT = 20           # limits.mailbox_messages
RCPT_LIMIT = 30      # limits.mailbox_recipients
PO_LIMIT = 60        # limits.postoffice_messages (post office "big")
ATTEMPT = 5000       # what the stolen account means to send
BATCH = 50


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    sink = Sink().start()
    p = Postern(tmp_path_factory.mktemp("sendlimit") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-1")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    for mb in ("spam", "wide", "susp", "admin"):
        p.cli("mailbox", "add", f"{mb}@acme", "--password", f"{mb}-Secret-9x")
    p.cli("postoffice", "add", "big", "--password", "pm-secret-2")
    p.cli("domain", "add", "big.test", "--postoffice", "big")
    for mb in ("one", "two", "three", "four"):
        p.cli("mailbox", "add", f"{mb}@big", "--password", f"{mb}-Secret-9x")
    proc, port = dnsmasq_start([
        "--mx-host=remote.test,mx.remote.test,10",
        "--host-record=mx.remote.test,127.0.0.1",
    ])
    for k, v in {"dns.hosts": f"127.0.0.1:{port}",
                 "smtp.out_port": str(sink.port),
                 "smtp.out_timeout": "10",
                 "limits.mailbox_messages": str(LIMIT),
                 "limits.mailbox_recipients": str(RCPT_LIMIT),
                 "limits.postoffice_messages": str(PO_LIMIT),
                 "limits.alert": "admin@acme.test"}.items():
        p.cli("config", "set", k, v)
    p.start(services=["smtpd", "mta", "deliver", "smtp-out"])
    p.sink = sink
    yield p
    p.stop()
    sink.stop()
    dnsmasq_stop(proc)
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def login(p, user):
    s = smtplib.SMTP_SSL("127.0.0.1", p.port("smtps"), context=tls_ctx(),
                         local_hostname="client.test", timeout=T)
    s.ehlo()
    assert s.has_extn("pipelining") and s.has_extn("chunking")
    s.login(user, user.split("@")[0] + "-Secret-9x")
    return s


def message(frm, n, to):
    return (f"From: <{frm}>\r\nTo: <{to}>\r\nSubject: offer {n}\r\n"
            f"Message-ID: <{time.time_ns()}.{n}@acme.test>\r\n\r\n"
            f"Cheap watches, number {n}.\r\n").encode()


def send_batch(s, frm, first, count, rcpts):
    """count pipelined transactions (MAIL, RCPTs, BDAT LAST) in one write;
    every reply must be positive"""
    out = []
    for n in range(first, first + count):
        body = message(frm, n, rcpts[0])
        out.append(f"MAIL FROM:<{frm}>\r\n".encode())
        out += [f"RCPT TO:<{r}>\r\n".encode() for r in rcpts]
        out.append(f"BDAT {len(body)} LAST\r\n".encode() + body)
    s.send(b"".join(out))
    for _ in range(count * (2 + len(rcpts))):
        code, msg = s.getreply()
        assert code == 250, (code, msg)


def queue(p):
    return p.cli("queue", "list", json_out=True)


def held(p, frm):
    return [q for q in queue(p) if q.get("held") and q["sender"] == frm]


def at_sink(p, frm):
    return [m for m in p.sink.messages if f"<{frm}>" in m["mail"]]


def settled(p, frm, sent):
    """every message sent is at the sink or held (the MTA and smtp-out
    are done with them)"""
    return wait_for(lambda: len(at_sink(p, frm)) + len(held(p, frm)) == sent,
                    T, f"{sent} messages of {frm} settled")


def test_compromised_account_stops_at_the_limit(srv):
    frm = "spam@acme.test"
    s = login(srv, "spam@acme")
    sent = 0
    # the stolen account sends as fast as pipelining lets it; after each
    # batch the spammer's script (this test) looks whether the server
    # still sends, as such scripts probe block lists: it gives up once
    # mail is held, long before 5,000
    while sent < ATTEMPT:
        send_batch(s, frm, sent, BATCH, ["victim@remote.test"])
        sent += BATCH
        settled(srv, frm, sent)
        if held(srv, frm):
            break
    s.quit()
    assert sent == BATCH
    assert len(at_sink(srv, frm)) == LIMIT
    h = held(srv, frm)
    assert len(h) == BATCH - LIMIT
    assert all(q["state"] == "badmail" and
               q["reason"].startswith("held: mailbox spam@acme sent 20 "
                                      "messages in the last hour (limit 20)")
               for q in h)
    # the table shows them as held
    table = srv.cli("queue", "list").stdout
    assert len([l for l in table.splitlines()
                if " held " in l and frm in l]) == BATCH - LIMIT
    # one notice to the administrator, not one per held message
    notes = wait_for(lambda: [m for m in mailbox_msgs(srv.root, "admin")
                              if "Outbound limit reached: spam@acme" in m],
                     T, "the notice")
    assert len(notes) == 1 and "sent 20 messages" in notes[0]
    rows = srv.cli("sendlimit", "list", json_out=True)
    mb = [r for r in rows if r["kind"] == "mailbox" and r["name"] == "spam@acme"]
    assert mb and mb[0]["messages"] == LIMIT and "suspended" not in mb[0]
    # nothing more leaves while the hour lasts ...
    s = login(srv, "spam@acme")
    send_batch(s, frm, sent, 1, ["victim@remote.test"])
    s.quit()
    settled(srv, frm, sent + 1)
    assert len(at_sink(srv, frm)) == LIMIT
    # ... but the administrator's release sends one on, and only that one
    qid = h[0]["id"]
    srv.cli("sendlimit", "release", qid)
    wait_for(lambda: len(at_sink(srv, frm)) == LIMIT + 1, T, "the release")
    assert qid not in [q["id"] for q in queue(srv)]
    assert f"{qid}: limits: released by the administrator" in srv.log("mta")
    r = srv.cli("sendlimit", "release", "nosuchid", check=False)
    assert r.returncode == 3 and "no queue item nosuchid" in r.stderr


def test_recipients_per_hour(srv):
    frm = "wide@acme.test"
    s = login(srv, "wide@acme")
    rc = [f"r{i}@remote.test" for i in range(12)]
    send_batch(s, frm, 0, 3, rc)    # 12, 24, then 36 > 30: held
    s.quit()
    settled(srv, frm, 3)
    assert len(at_sink(srv, frm)) == 2
    h = held(srv, frm)
    assert len(h) == 1 and "recipients" in h[0]["reason"]
    assert len(h[0]["recipients"]) == 12


def test_suspension(srv):
    frm = "susp@acme.test"
    srv.cli("config", "set", "limits.suspend", "yes")
    try:
        s = login(srv, "susp@acme")
        send_batch(s, frm, 0, LIMIT + 1, ["x@remote.test"])
        settled(srv, frm, LIMIT + 1)
        rows = srv.cli("sendlimit", "list", json_out=True)
        row, = [r for r in rows if r["name"] == "susp@acme"]
        assert row["suspended"] > 0 and "limit 20" in row["reason"]
        note, = wait_for(lambda: [m for m in mailbox_msgs(srv.root, "admin")
                                  if "limit reached: susp@acme" in m],
                         T, "the notice")
        assert "suspended" in note
        # unsuspended: the count still says the hour is used up
        srv.cli("sendlimit", "unsuspend", "susp@acme")
        r = srv.cli("sendlimit", "unsuspend", "susp@acme", check=False)
        assert r.returncode == 3 and "not suspended" in r.stderr
        # suspended by hand: even the first message is held
        srv.cli("sendlimit", "suspend", "susp@acme", "--reason", "stolen")
        assert [r for r in srv.cli("sendlimit", "list", json_out=True)
                if r["name"] == "susp@acme"][0]["reason"] == "stolen"
        send_batch(s, frm, LIMIT + 1, 1, ["x@remote.test"])
        s.quit()
        settled(srv, frm, LIMIT + 2)
        assert any("sending of susp@acme is suspended (stolen)" in q["reason"]
                   for q in held(srv, frm))
        assert len(at_sink(srv, frm)) == LIMIT
    finally:
        srv.cli("config", "set", "limits.suspend", "no")


def test_postoffice_limit(srv):
    # four mailboxes of "big", each under its own limit of 20, together
    # over the post office's 60
    sent = {}
    for mb in ("one", "two", "three", "four"):
        s = login(srv, f"{mb}@big")
        send_batch(s, f"{mb}@big.test", 0, 18, ["y@remote.test"])
        s.quit()
        sent[mb] = 18
    for mb, n in sent.items():
        settled(srv, f"{mb}@big.test", n)
    out = sum(len(at_sink(srv, f"{mb}@big.test")) for mb in sent)
    hs = [q for mb in sent for q in held(srv, f"{mb}@big.test")]
    assert out == PO_LIMIT and len(hs) == 72 - PO_LIMIT
    assert all("post office big sent 60 messages" in q["reason"] for q in hs)
    wait_for(lambda: [m for m in mailbox_msgs(srv.root, "admin")
                      if "Outbound limit reached: post office big" in m],
             T, "the post office notice")

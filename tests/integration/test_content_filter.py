"""Content security (issue 19 items 1-2): antivirus with a real clamd
(signature made by sigtool at test time), at SMTP time (554 before the
250) and in the MTA (quarantine, notice to the recipient, never a bounce,
release/delete with `postern quarantine`); a scanner that is down, hangs
or answers garbage (the setting decides: defer or pass; nothing lost);
StreamMaxLength; per post office settings; `postern diag`; the milter
client against a python3-milter milter (modifications, reject, tempfail,
discard, quarantine) and against one that drops the connection
mid-message."""
import smtplib
import pytest

from conftest import Postern
from filter_util import (MARKER, SIGNAME, FakeServer, clamd_start,
                         milter_start, stop)
from test_mta import mailbox_msgs, make_msg, queue_items, wait_for

T = 60          # generous bound of every wait (loaded machine, ASan)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("content")
    clamd, sock = clamd_start(tmp)
    milter, msock = milter_start(tmp)
    p = Postern(tmp / "root")
    p.tmp, p.clamd_sock, p.milter_sock = tmp, sock, msock
    try:
        p.init()
        p.cli("postoffice", "add", "acme", "--password", "pm-secret-1")
        p.cli("domain", "add", "acme.test", "--postoffice", "acme")
        p.cli("mailbox", "add", "alice@acme", "--password", "alice-pw-123")
        p.cli("mailbox", "add", "bob@acme", "--password", "bob-pw-1234")
        p.cli("postoffice", "add", "other", "--password", "pm-secret-2")
        p.cli("domain", "add", "other.test", "--postoffice", "other")
        p.cli("mailbox", "add", "carol@other", "--password", "carol-pw-12")
        p.cli("config", "set", "antivirus.clamd", sock)
        p.cli("config", "set", "antivirus.stream_max", "1M")
        p.cli("config", "set", "antivirus.timeout", "5s")
        p.start(services=["smtpd", "mta", "deliver"], timeout=60)
        yield p
    finally:
        p.stop()
        stop(milter)
        stop(clamd)
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def settings(p, **kv):
    for k, v in kv.items():
        p.cli("config", "set", k.replace("__", "."), str(v))


def defaults(p, **kv):
    """The module's baseline, then kv: every test states what it needs."""
    base = {"antivirus__clamd": p.clamd_sock, "antivirus__at_smtp": 1,
            "antivirus__on_failure": "defer", "antivirus__scan": 1,
            "antivirus__stream_max": "1M", "antivirus__timeout": "5s"}
    base.update(kv)
    settings(p, **base)
    p.cli("config", "unset", "milter.list")


def send(p, frm, to, raw):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=T) as s:
        s.sendmail(frm, to, raw.encode() if isinstance(raw, str) else raw)


def delivered(p, mbox, mid, po="acme"):
    return [m for m in mailbox_msgs(p.root, mbox, po) if mid in m]


def in_inbound(p, mid):
    """The message waits in the MTA's inbound queue (new/ or cur/)."""
    base = p.root / "queue" / "smtp" / "inbound"
    return any(mid in f.read_text(errors="replace")
               for d in ("new", "cur") for f in (base / d).glob("*.msg")
               if f.exists())


def quarantined(p):
    return p.cli("quarantine", "list", json_out=True)


def infected(frm, to, subject="infected"):
    return make_msg(frm, to, subject=subject,
                    body=f"attachment text {MARKER} end\r\n")


# -- antivirus ----------------------------------------------------------

def test_virus_refused_before_250(srv):
    p = srv
    defaults(p)
    m, mid = make_msg("x@remote.test", "alice@acme.test", subject="clean")
    send(p, "x@remote.test", ["alice@acme.test"], m)
    wait_for(lambda: delivered(p, "alice", mid), T, "clean mail")
    m, mid = infected("x@remote.test", "alice@acme.test")
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(p, "x@remote.test", ["alice@acme.test"], m)
    assert e.value.smtp_code == 554
    assert SIGNAME.encode() in e.value.smtp_error
    assert "554 5.7.1" in p.log("smtpd") and SIGNAME in p.log("smtpd")
    # nothing was queued: the MTA never saw it (it logs every message-id)
    m2, mid2 = make_msg("x@remote.test", "alice@acme.test", subject="after")
    send(p, "x@remote.test", ["alice@acme.test"], m2)
    wait_for(lambda: delivered(p, "alice", mid2), T, "the next mail")
    assert mid not in p.log("mta")


def test_virus_quarantined_in_mta_notice_release(srv):
    p = srv
    defaults(p, antivirus__at_smtp=0, antivirus__notify="carol@other.test")
    m, mid = infected("forged@remote.test", "alice@acme.test",
                      subject="quarantine me")
    send(p, "forged@remote.test", ["alice@acme.test"], m)
    q = wait_for(lambda: [x for x in quarantined(p)
                          if x["sender"] == "forged@remote.test"
                          and x["recipients"] == "alice@acme.test"], T,
                 "quarantined")[0]
    assert SIGNAME in q["reason"] and q["from"] == "smtp"
    # the recipient is told, with the id and how to release
    note = wait_for(lambda: [x for x in mailbox_msgs(p.root, "alice")
                             if q["id"] in x and "quarantined" in x], T,
                    "notice")[0]
    assert "postern quarantine release " + q["id"] in note
    # and the admin address of antivirus.notify
    wait_for(lambda: [x for x in mailbox_msgs(p.root, "carol", "other")
                      if q["id"] in x and SIGNAME in x], T, "admin notice")
    p.cli("config", "unset", "antivirus.notify")
    assert not delivered(p, "alice", mid)
    # never a bounce to the (forged) sender
    assert not [e for _, e in queue_items(p.root, "smtp", "outgoing")
                if "forged@remote.test" in e]
    shown = p.cli("quarantine", "show", q["id"]).stdout
    assert mid in shown and SIGNAME in shown
    r = p.cli("quarantine", "release", q["id"])
    assert "released" in r.stdout
    got = wait_for(lambda: delivered(p, "alice", mid), T, "released mail")
    assert MARKER in got[0]
    assert "released from the quarantine" in p.log("mta")
    assert not [x for x in quarantined(p) if x["id"] == q["id"]]
    # a second infected one is deleted for good
    m, mid2 = infected("forged@remote.test", "bob@acme.test")
    send(p, "forged@remote.test", ["bob@acme.test"], m)
    q2 = wait_for(lambda: [x for x in quarantined(p)
                           if x["recipients"] == "bob@acme.test"], T,
                  "quarantined")[0]
    assert p.cli("quarantine", "delete", q2["id"], check=False).returncode == 2
    p.cli("quarantine", "delete", q2["id"], "--yes")
    assert not [x for x in quarantined(p) if x["id"] == q2["id"]]
    assert p.cli("quarantine", "release", q2["id"],
                 check=False).returncode == 3
    assert p.cli("quarantine", "release", "../../etc",
                 check=False).returncode != 0


def test_postoffice_setting(srv):
    p = srv
    defaults(p, antivirus__scan=0)
    # off globally: carol's post office asks for it, acme inherits (off)
    p.cli("postoffice", "set", "other", "antivirus=on")
    try:
        m, mid = infected("x@remote.test", "bob@acme.test", subject="po-off")
        send(p, "x@remote.test", ["bob@acme.test"], m)
        wait_for(lambda: delivered(p, "bob", mid), T, "unscanned")
        m, mid = infected("x@remote.test", "carol@other.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(p, "x@remote.test", ["carol@other.test"], m)
        assert e.value.smtp_code == 554
        # on globally, off for acme: acme's mail passes
        defaults(p)
        p.cli("postoffice", "set", "acme", "antivirus=off")
        m, mid = infected("x@remote.test", "bob@acme.test", subject="po-2")
        send(p, "x@remote.test", ["bob@acme.test"], m)
        wait_for(lambda: delivered(p, "bob", mid), T, "unscanned 2")
    finally:
        p.cli("postoffice", "set", "other", "antivirus=inherit")
        p.cli("postoffice", "set", "acme", "antivirus=inherit")
    assert p.cli("postoffice", "set", "acme", "antivirus=maybe",
                 check=False).returncode == 2


def test_scanner_down_defers_then_delivers(srv):
    p = srv
    missing = str(p.tmp / "no-such-clamd.sock")
    defaults(p, antivirus__clamd=missing)
    m, mid = make_msg("x@remote.test", "alice@acme.test", subject="down")
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(p, "x@remote.test", ["alice@acme.test"], m)
    assert e.value.smtp_code == 451
    # in the MTA: kept in the queue, delivered once clamd is back
    settings(p, antivirus__at_smtp=0)
    send(p, "x@remote.test", ["alice@acme.test"], m)
    wait_for(lambda: "virus scanner unavailable" in p.log("mta"), T,
             "deferral logged")
    assert in_inbound(p, mid)
    assert not delivered(p, "alice", mid)
    settings(p, antivirus__clamd=p.clamd_sock)
    wait_for(lambda: delivered(p, "alice", mid), T, "delivered after")
    # pass: unscanned mail goes through, with a log line
    defaults(p, antivirus__clamd=missing, antivirus__on_failure="pass")
    m, mid = infected("x@remote.test", "alice@acme.test", subject="pass")
    send(p, "x@remote.test", ["alice@acme.test"], m)
    wait_for(lambda: delivered(p, "alice", mid), T, "passed")
    assert "passed unscanned" in p.log("smtpd")
    defaults(p)


@pytest.mark.parametrize("mode", ["hang", "garbage"])
def test_scanner_hangs_or_answers_garbage(srv, mode):
    p = srv
    path = p.tmp / f"fake-{mode}.sock"
    fake = FakeServer(path, mode)
    try:
        defaults(p, antivirus__clamd=str(path), antivirus__timeout="2s")
        m, mid = make_msg("x@remote.test", "alice@acme.test", subject=mode)
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(p, "x@remote.test", ["alice@acme.test"], m)
        assert e.value.smtp_code == 451
        log = p.log("smtpd")
        assert ("timed out" in log) if mode == "hang" else \
            ("not clamd" in log)
        settings(p, antivirus__on_failure="pass")
        send(p, "x@remote.test", ["alice@acme.test"], m)
        wait_for(lambda: delivered(p, "alice", mid), T, "passed")
    finally:
        defaults(p)
        fake.close()


def test_stream_max(srv):
    p = srv
    # clamd's StreamMaxLength is 1M: a larger setting is clamd's error
    defaults(p, antivirus__stream_max="4M")
    big = "x" * 76 + "\r\n"
    body = big * (1536 * 1024 // len(big))
    m, mid = make_msg("x@remote.test", "alice@acme.test", subject="big",
                      body=body)
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(p, "x@remote.test", ["alice@acme.test"], m)
    assert e.value.smtp_code == 451
    assert "StreamMaxLength" in p.log("smtpd")
    # honoured: the first 1M is scanned, a marker there is found...
    defaults(p)
    m, mid = make_msg("x@remote.test", "alice@acme.test", subject="big1",
                      body=f"{MARKER}\r\n" + body)
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(p, "x@remote.test", ["alice@acme.test"], m)
    assert e.value.smtp_code == 554
    # ...one past it is not (logged as a partial scan)
    m, mid = make_msg("x@remote.test", "alice@acme.test", subject="big2",
                      body=body + f"{MARKER}\r\n")
    send(p, "x@remote.test", ["alice@acme.test"], m)
    wait_for(lambda: delivered(p, "alice", mid), T, "big delivered")
    assert "only the first antivirus.stream_max bytes scanned" in p.log("smtpd")


def test_diag_reports_scanner(srv):
    p = srv
    defaults(p)
    d = p.cli("diag", "--json", check=False)
    assert "ClamAV" in d.stdout and "Antivirus" in d.stdout
    settings(p, antivirus__clamd=str(p.tmp / "gone.sock"))
    d = p.cli("diag", "--json", check=False)
    assert "does not answer" in d.stdout and "deferred" in d.stdout
    defaults(p)


# -- milters ------------------------------------------------------------

def test_milter_modifications(srv):
    p = srv
    defaults(p)
    settings(p, milter__list=f"unix:{p.milter_sock};timeout=20s")
    m, mid = make_msg("x@remote.test", "alice@acme.test",
                      subject="chg ins addbob replbody")
    send(p, "x@remote.test", ["alice@acme.test"], m)
    a = wait_for(lambda: delivered(p, "alice", mid), T, "milter mail")[0]
    b = wait_for(lambda: delivered(p, "bob", mid), T, "added recipient")[0]
    head, _, body = a.partition("\r\n\r\n")
    assert "X-Test-Milter: from=<x@remote.test>" in head
    assert "rcpts=<alice@acme.test>" in head
    # macro i: the queue id
    qid = head.split(" id ", 1)[1].split(";")[0].split()[0]
    assert f"id={qid}" in head
    # inserted at index 0: above our Received (deliver adds its own lines)
    assert "\r\nX-First: inserted on top\r\nReceived: from" in head
    assert "Subject: changed by the milter" in head
    assert "chg ins addbob" not in head
    assert body == "the milter replaced the body\r\n"
    assert b.split("X-First", 1)[1] == a.split("X-First", 1)[1]
    # delrcpt: alice removed, bob added
    m, mid = make_msg("x@remote.test", "alice@acme.test",
                      subject="delalice addbob")
    send(p, "x@remote.test", ["alice@acme.test"], m)
    wait_for(lambda: delivered(p, "bob", mid), T, "bob instead")
    assert not delivered(p, "alice", mid)
    p.cli("config", "unset", "milter.list")


def test_milter_verdicts(srv):
    p = srv
    defaults(p)
    settings(p, milter__list=f"unix:{p.milter_sock}")
    m, mid = make_msg("x@remote.test", "bob@acme.test", subject="milter-reject")
    send(p, "x@remote.test", ["bob@acme.test"], m)
    q = wait_for(lambda: [x for x in quarantined(p) if "says no" in
                          x["reason"]], T, "rejected: held")[0]
    assert "550 5.7.1" in q["reason"]
    m, mid = make_msg("x@remote.test", "bob@acme.test",
                      subject="milter-quarantine")
    send(p, "x@remote.test", ["bob@acme.test"], m)
    wait_for(lambda: [x for x in quarantined(p)
                      if "held by the test milter" in x["reason"]], T, "q")
    m, mid = make_msg("x@remote.test", "bob@acme.test", subject="milter-discard")
    send(p, "x@remote.test", ["bob@acme.test"], m)
    wait_for(lambda: "discarded by filter milter" in p.log("mta"), T, "discard")
    m, mid = make_msg("x@remote.test", "bob@acme.test",
                      subject="milter-tempfail")
    send(p, "x@remote.test", ["bob@acme.test"], m)
    wait_for(lambda: "deferred: milter" in p.log("mta") and
             "tempfail" in p.log("mta"), T, "tempfail")
    assert in_inbound(p, mid) and not delivered(p, "bob", mid)
    # the milter lets it go once the list is emptied: nothing was lost
    p.cli("config", "unset", "milter.list")
    wait_for(lambda: delivered(p, "bob", mid), T, "after tempfail")
    for x in quarantined(p):
        p.cli("quarantine", "delete", x["id"], "--yes")


@pytest.mark.parametrize("mode", ["milter-drop", "milter-hang"])
def test_milter_disconnects_or_hangs_mid_message(srv, mode):
    p = srv
    defaults(p)
    path = p.tmp / f"{mode}.sock"
    fake = FakeServer(path, mode)
    try:
        settings(p, milter__list=f"unix:{path};timeout=2s")
        m, mid = make_msg("x@remote.test", "alice@acme.test", subject=mode)
        send(p, "x@remote.test", ["alice@acme.test"], m)
        line = wait_for(lambda: [x for x in p.log("mta").splitlines()
                                 if f"milter unix:{path} failed" in x], T,
                        "failure logged")[0]
        assert "default action tempfail" in line
        if mode == "milter-hang":
            assert "timed out" in line
        # deferred: kept in the queue, not delivered, not held
        assert in_inbound(p, mid) and not delivered(p, "alice", mid)
        # default accept: the broken milter is skipped, nothing was lost
        settings(p, milter__list=f"unix:{path};timeout=2s;default=accept")
        wait_for(lambda: delivered(p, "alice", mid), T, "delivered")
        assert not [x for x in quarantined(p) if mode in x["reason"]]
        if mode == "milter-hang":
            return
        # a milter that is not there at all, default reject: held
        settings(p, milter__list=f"unix:{p.tmp}/none.sock;default=reject")
        m, mid = make_msg("x@remote.test", "alice@acme.test", subject="none")
        send(p, "x@remote.test", ["alice@acme.test"], m)
        wait_for(lambda: [x for x in quarantined(p)
                          if "none.sock" in x["reason"]], T, "held")
        # a malformed list is refused when it is set
        for bad in ("unix:/x;bogus=1", "tcp:1.2.3.4:5", "inet:nohost",
                    "unix:/x;timeout=0s"):
            r = p.cli("config", "set", "milter.list", bad, check=False)
            assert r.returncode == 2, bad
        assert "unknown option" in p.cli("config", "set", "milter.list",
                                         "unix:/x;bogus=1",
                                         check=False).stderr
    finally:
        p.cli("config", "unset", "milter.list")
        for x in quarantined(p):
            p.cli("quarantine", "delete", x["id"], "--yes")
        fake.close()

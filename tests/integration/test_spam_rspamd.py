"""Spam filtering with Debian's rspamd, started once for the module
offline (its own config in tmp, loopback ports, test rules in Lua giving
fixed scores, Bayes on a private redis): the verdict as X-Spam-* fields
(forged ones removed, Authentication-Results untouched), Junk delivery
and rejection (550 before the 250; quarantine with a notice after it) by
per post office scores, and
training when an IMAP user moves mail into or out of Junk; an rspamd
that hangs lets mail pass unchecked."""
import imaplib
import json
import smtplib
import socket
import threading
import urllib.request

import pytest

from conftest import Postern, free_port
from filter_util import redis_start, rspamd_start, stop
from jmap_util import Client
from test_mta import mailbox_msgs, make_msg, queue_items, wait_for

T = 60


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spam")
    normal, ctl, rport = free_port(), free_port(), free_port()
    proxy = free_port()
    redis = rspamd = None
    p = Postern(tmp / "root")
    try:
        redis = redis_start(tmp, rport)
        rspamd = rspamd_start(tmp, normal, ctl, rport, proxy=proxy)
        p.ctl, p.proxy = ctl, proxy
        p.tmp = tmp
        p.init()
        p.cli("postoffice", "add", "acme", "--password", "pm-secret-1")
        p.cli("domain", "add", "acme.test", "--postoffice", "acme")
        p.cli("mailbox", "add", "alice@acme", "--password", "alice-pw-123")
        p.cli("postoffice", "add", "other", "--password", "pm-secret-2")
        p.cli("domain", "add", "other.test", "--postoffice", "other")
        p.cli("mailbox", "add", "carol@other", "--password", "carol-pw-12")
        p.cli("config", "set", "spam.rspamd", f"127.0.0.1:{normal}")
        p.cli("config", "set", "spam.rspamd_controller", f"127.0.0.1:{ctl}")
        p.cli("config", "set", "spam.junk_score", "100")
        p.cli("config", "set", "spam.reject_score", "500")
        p.start(services=["smtpd", "mta", "deliver", "imapd", "httpd"],
                timeout=60)
        yield p
    finally:
        p.stop()
        stop(rspamd)
        stop(redis)
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def send(p, to, raw):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=T) as s:
        s.sendmail("x@remote.test", to if isinstance(to, list) else [to],
                   raw.encode())


def folder_msgs(p, mbox, folder, po="acme"):
    base = p.root / "store" / po / mbox / ("." + folder)
    return [f.read_text(errors="replace") for sub in ("new", "cur")
            if (base / sub).is_dir() for f in sorted((base / sub).iterdir())]


BODY = ("Dear friend, this is a long enough message about many different "
        "things so that the statistics have words to learn from: apples "
        "oranges bananas cherries plums grapes melons lemons limes kiwis "
        "mangoes papayas.\r\n")


def test_verdict_headers_and_junk(srv):
    p = srv
    m, mid = make_msg("x@remote.test", "alice@acme.test", subject="hello",
                      body=BODY, extra="X-Spam-Score: 999.00\r\n"
                      "X-Spam-Status: Yes, forged\r\n"
                      "Authentication-Results: elsewhere.test; none\r\n")
    send(p, "alice@acme.test", m)
    got = wait_for(lambda: [x for x in mailbox_msgs(p.root, "alice")
                            if mid in x], T, "inbox")[0]
    head = got.split("\r\n\r\n", 1)[0]
    assert head.count("X-Spam-Score:") == 1 and "999" not in head
    assert "X-Spam-Status: No, score=" in head and "forged" not in head
    assert "Authentication-Results: elsewhere.test; none" in head
    # asked once, by smtpd before its 250; the MTA wrote its verdict
    qid = head.split(" id ", 1)[1].split()[0].rstrip(";")
    assert f"{qid}: spam check: score=" in p.log("smtpd")
    assert f"{qid}: spam check" not in p.log("mta")
    # 150 points: Junk (junk_score 100)
    m, mid = make_msg("x@remote.test", "alice@acme.test",
                      subject="SPAMTEST-JUNK offer", body=BODY)
    send(p, "alice@acme.test", m)
    j = wait_for(lambda: [x for x in folder_msgs(p, "alice", "Junk")
                          if mid in x], T, "junk")[0]
    assert "X-Spam-Status: Yes" in j and "POSTERN_TEST_JUNK(150.00)" in j
    assert not [x for x in mailbox_msgs(p.root, "alice") if mid in x]


def quarantined(p):
    return p.cli("quarantine", "list", json_out=True)


def test_postoffice_thresholds_and_reject(srv):
    p = srv
    # other: its own junk score above 150 -> INBOX, Status No
    p.cli("postoffice", "set", "other", "spam_junk_score=1000")
    try:
        m, mid = make_msg("x@remote.test", "carol@other.test",
                          subject="SPAMTEST-JUNK two", body=BODY)
        send(p, "carol@other.test", m)
        got = wait_for(lambda: [x for x in mailbox_msgs(p.root, "carol",
                                                        "other")
                                if mid in x], T, "carol inbox")[0]
        assert "X-Spam-Status: No, score=15" in got
        assert "POSTERN_TEST_JUNK(150.00)" in got
        # 600 points: over the reject score -> refused before the 250
        m, mid = make_msg("x@remote.test", "alice@acme.test",
                          subject="SPAMTEST-REJECT", body=BODY)
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(p, "alice@acme.test", m)
        assert e.value.smtp_code == 550
        assert b"5.7.1" in e.value.smtp_error
        assert b"spam" in e.value.smtp_error
        assert "refused: 550 5.7.1 spam: score 60" in p.log("smtpd")
        # a recipient whose post office rejects from 1000 only: not
        # refused; each is filed by its own Junk score
        p.cli("postoffice", "set", "other", "spam_reject_score=1000")
        m, mid = make_msg("x@remote.test", "alice@acme.test",
                          subject="SPAMTEST-REJECT both", body=BODY)
        send(p, ["alice@acme.test", "carol@other.test"], m)
        wait_for(lambda: [x for x in folder_msgs(p, "alice", "Junk")
                          if mid in x], T, "alice: Junk")
        wait_for(lambda: [x for x in mailbox_msgs(p.root, "carol", "other")
                          if mid in x], T, "carol: INBOX")
        # after the 250 (spam.at_smtp off): held, recipient told, no bounce
        p.cli("config", "set", "spam.at_smtp", "0")
        m, mid = make_msg("forged@remote.test", "alice@acme.test",
                          subject="SPAMTEST-REJECT late", body=BODY)
        send(p, "alice@acme.test", m)
        q = wait_for(lambda: [x for x in quarantined(p)
                              if "reject score" in x["reason"]], T, "held")
        note = wait_for(lambda: [x for x in mailbox_msgs(p.root, "alice")
                                 if q[0]["id"] in x and "quarantined" in x],
                        T, "notice")
        assert "spam: score 60" in note[0]
        assert mid in p.cli("quarantine", "show", q[0]["id"]).stdout
        assert f"{q[0]['id']}: spam check: score=60" in p.log("mta")
        assert not [e for _, e in queue_items(p.root, "smtp", "outgoing")
                    if "forged@remote.test" in e]       # never a bounce
        p.cli("quarantine", "delete", q[0]["id"], "--yes")
        p.cli("config", "unset", "spam.at_smtp")
        # spam_filter off: not even asked
        p.cli("postoffice", "set", "other", "spam_filter=off")
        m, mid = make_msg("x@remote.test", "carol@other.test",
                          subject="SPAMTEST-REJECT off", body=BODY)
        send(p, "carol@other.test", m)
        got = wait_for(lambda: [x for x in mailbox_msgs(p.root, "carol",
                                                        "other")
                                if mid in x], T, "unfiltered")[0]
        assert "X-Spam-Score" not in got
    finally:
        p.cli("config", "unset", "spam.at_smtp")
        p.cli("postoffice", "set", "other", "spam_filter=inherit")
        p.cli("postoffice", "set", "other", "spam_junk_score=0")
        p.cli("postoffice", "set", "other", "spam_reject_score=0")


def learned(p):
    with urllib.request.urlopen(f"http://127.0.0.1:{p.ctl}/stat",
                                timeout=30) as r:
        st = json.loads(r.read())
    return st.get("learned", 0)


def test_training_by_imap_move(srv):
    p = srv
    m, mid = make_msg("x@remote.test", "alice@acme.test",
                      subject="train me", body=BODY * 3)
    send(p, "alice@acme.test", m)
    wait_for(lambda: [x for x in mailbox_msgs(p.root, "alice") if mid in x],
             T, "inbox")
    before = learned(p)
    im = imaplib.IMAP4("127.0.0.1", p.port("imap"))
    try:
        im.login("alice@acme", "alice-pw-123")
        im.create("Junk")
        im.select("INBOX")
        typ, data = im.uid("SEARCH", None, "HEADER", "Message-ID", mid)
        uid = data[0].split()[-1].decode()
        assert im.uid("MOVE", uid, "Junk")[0] == "OK"
        wait_for(lambda: "as spam" in p.log("mta"), T, "learned spam")
        assert "learned" in p.log("mta") and "spam training:" in p.log("mta")
        assert "(dropped)" not in p.log("mta"), p.log("mta")
        wait_for(lambda: learned(p) > before, T, "rspamd's count")
        # out of Junk again: ham
        im.select("Junk")
        typ, data = im.uid("SEARCH", None, "HEADER", "Message-ID", mid)
        uid = data[0].split()[-1].decode()
        assert im.uid("MOVE", uid, "INBOX")[0] == "OK"
        wait_for(lambda: "as ham" in p.log("mta"), T, "learned ham")
    finally:
        im.logout()


def test_training_by_jmap_move(srv):
    """the webmail's move (JMAP Email/set mailboxIds) teaches rspamd as
    IMAP's MOVE does: into Junk spam, out of it ham"""
    p = srv
    m, mid = make_msg("x@remote.test", "alice@acme.test",
                      subject="train me by the web", body=BODY * 3)
    send(p, "alice@acme.test", m)
    wait_for(lambda: [x for x in mailbox_msgs(p.root, "alice") if mid in x],
             T, "inbox")
    im = imaplib.IMAP4("127.0.0.1", p.port("imap"))
    try:
        im.login("alice@acme", "alice-pw-123")
        im.create("Junk")     # NO when it is there already: fine
    finally:
        im.logout()
    j = Client(p.port("http"), "alice@acme", "alice-pw-123")
    boxes = j.call("Mailbox/get", {"ids": None})[1]["list"]
    ids = {b["name"]: b["id"] for b in boxes}
    ids.update({b["role"]: b["id"] for b in boxes if b.get("role")})
    q = j.call("Email/query", {"filter": {"inMailbox": ids["inbox"],
                                          "subject": "train me by the web"}})
    eid = q[1]["ids"][0]
    log = p.log("mta")
    spam_before, ham_before = log.count("as spam"), log.count("as ham")
    r = j.call("Email/set", {"update": {eid: {"mailboxIds": {ids["Junk"]:
                                                             True}}}})
    assert eid in r[1]["updated"], r
    wait_for(lambda: p.log("mta").count("as spam") > spam_before, T,
             "learned spam from the web")
    r = j.call("Email/set", {"update": {eid: {"mailboxIds": {ids["inbox"]:
                                                             True}}}})
    assert eid in r[1]["updated"], r
    wait_for(lambda: p.log("mta").count("as ham") > ham_before, T,
             "learned ham from the web")
    # to Trash is neither
    r = j.call("Email/set", {"update": {eid: {"mailboxIds": {ids["trash"]:
                                                             True}}}})
    assert eid in r[1]["updated"], r


def test_rspamd_hangs_mail_passes(srv):
    p = srv
    port = free_port()
    # a TCP server that accepts and never answers
    lst = socket.socket()
    lst.bind(("127.0.0.1", port))
    lst.listen(8)
    conns = []
    threading.Thread(target=lambda: [conns.append(lst.accept()[0])
                                     for _ in range(4)], daemon=True).start()
    normal = p.cli("config", "get", "spam.rspamd").stdout.strip()
    try:
        p.cli("config", "set", "spam.rspamd", f"127.0.0.1:{port}")
        p.cli("config", "set", "spam.timeout", "2s")
        # before the 250 (smtpd), then after it (the MTA)
        for at_smtp, log in (("1", "smtpd"), ("0", "mta")):
            p.cli("config", "set", "spam.at_smtp", at_smtp)
            m, mid = make_msg("x@remote.test", "alice@acme.test",
                              subject="SPAMTEST-REJECT while down",
                              body=BODY, extra="X-Spam-Score: 0.00\r\n")
            send(p, "alice@acme.test", m)
            got = wait_for(lambda: [x for x in mailbox_msgs(p.root, "alice")
                                    if mid in x], T, "passed unchecked")[0]
            assert "X-Spam-Score" not in got     # the forged one removed
            assert "passed unchecked" in p.log(log)
    finally:
        p.cli("config", "set", "spam.rspamd", normal)
        p.cli("config", "unset", "spam.timeout")
        p.cli("config", "unset", "spam.at_smtp")
        lst.close()
        for c in conns:
            c.close()


def test_diag_reports_rspamd(srv):
    p = srv
    d = p.cli("diag", "--json", check=False).stdout
    assert "answers; Junk from score 100" in d and "training on" in d
    assert "SMTP mail before the 250" in d
    port = free_port()      # nothing listens there
    normal = p.cli("config", "get", "spam.rspamd").stdout.strip()
    try:
        p.cli("config", "set", "spam.rspamd", f"127.0.0.1:{port}")
        d = p.cli("diag", "--json", check=False).stdout
        assert "does not answer" in d and "passes unchecked" in d
    finally:
        p.cli("config", "set", "spam.rspamd", normal)


def test_rspamd_proxy_as_milter(srv):
    """The milter client against a milter that is not ours: rspamd's
    proxy worker in milter mode (the spam check through milter.list
    instead of spam.rspamd)."""
    p = srv
    normal = p.cli("config", "get", "spam.rspamd").stdout.strip()
    try:
        p.cli("config", "unset", "spam.rspamd")
        p.cli("config", "set", "milter.list",
              f"inet:127.0.0.1:{p.proxy};timeout=30s")
        m, mid = make_msg("x@remote.test", "alice@acme.test",
                          subject="milter hello", body=BODY)
        send(p, "alice@acme.test", m)
        got = wait_for(lambda: [x for x in mailbox_msgs(p.root, "alice")
                                if mid in x], T, "through the milter")[0]
        head = got.split("\r\n\r\n", 1)[0]
        assert "X-Spamd-Result: default:" in head     # rspamd's addheader
        assert "X-Spam-Score" not in head
        # rspamd's reject: after the 250, held (never bounced)
        m, mid = make_msg("x@remote.test", "alice@acme.test",
                          subject="SPAMTEST-REJECT milter", body=BODY)
        send(p, "alice@acme.test", m)
        q = wait_for(lambda: [x for x in quarantined(p)
                              if "Spam message rejected" in x["reason"]],
                     T, "held by the milter's reject")
        assert mid in p.cli("quarantine", "show", q[0]["id"]).stdout
        p.cli("quarantine", "delete", q[0]["id"], "--yes")
    finally:
        p.cli("config", "unset", "milter.list")
        p.cli("config", "set", "spam.rspamd", normal)

"""The config store on a real PostgreSQL (src/lib-config/db-pg.c,
db-copy.c; docs/CLUSTER.md): a populated SQLite data root moved over with
'postern db migrate-to postgresql URL' keeps every object and password;
posternd on PostgreSQL takes SMTP mail and serves it over IMAP; a change
made with the CLI reaches a running service at once (LISTEN/NOTIFY);
PostgreSQL stopped: SMTP mail is not lost, logins fail clearly, and all
comes back with it; a migration killed halfway changes nothing and runs
again."""
import http.client
import imaplib
import json
import os
import signal
import smtplib
import sqlite3
import subprocess
import time

import pytest

from conftest import BUILD, free_port
from pg_util import PgServer, needs_postgresql, pg  # noqa: F401 (pg: a fixture)

pytestmark = needs_postgresql


def populate(p):
    """every kind of object, with passwords"""
    p.cli("postoffice", "add", "acme", "--password", "pm-secret")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", "alice-pw")
    p.cli("mailbox", "add", "bob@acme", "--password", "bob-pw")
    p.cli("group", "add", "staff@acme.test", "--postoffice", "acme")
    p.cli("group", "member", "add", "staff@acme.test", "alice@acme.test")
    p.cli("list", "add", "news@acme.test", "--postoffice", "acme",
          "--owner", "alice@acme.test")
    p.cli("list", "member", "add", "news@acme.test", "reader@example.org")
    p.cli("config", "set", "smtp.max_message_size", "20M")
    token = p.cli("token", "add", "postmaster@acme").stdout.split()[-1]
    return token


def snapshot(p):
    out = {}
    for what in (("postoffice", "list"), ("domain", "list"),
                 ("mailbox", "list"), ("group", "list"), ("list", "list"),
                 ("token", "list"), ("config", "list"),
                 ("group", "member", "list", "staff@acme.test"),
                 ("list", "member", "list", "news@acme.test"),
                 ("users", "export", "--postoffice", "acme")):
        r = p.cli("--json", *what, check=False)
        assert r.returncode == 0, (what, r.stderr)
        try:
            out[" ".join(what)] = json.loads(r.stdout)
        except ValueError:   # CSV (users export)
            out[" ".join(what)] = r.stdout
    return out


def imap_login(p, user, pw):
    m = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=30)
    try:
        m.login(user, pw)
    except imaplib.IMAP4.error:
        m.logout()
        raise
    return m


def send(p, rcpt, subject):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail("sender@example.org", [rcpt],
                   f"From: sender@example.org\r\nTo: {rcpt}\r\n"
                   f"Subject: {subject}\r\n\r\nhello\r\n")


def wait_message(p, user, pw, subject, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            m = imap_login(p, user, pw)
        except (imaplib.IMAP4.error, OSError):
            time.sleep(0.5)
            continue
        m.select("INBOX")
        typ, data = m.search(None, "SUBJECT", f'"{subject}"')
        m.logout()
        if data and data[0].split():
            return len(data[0].split())
        time.sleep(0.5)
    return 0


def migrated(postern, pg, name):
    url = pg.create_db(name)
    r = postern.cli("db", "migrate-to", "postgresql", url, "--yes")
    assert "done" in r.stdout
    st = postern.cli("--json", "db", "status", json_out=False)
    assert json.loads(st.stdout)["engine"] == "postgresql"
    return url


def test_migrate_keeps_everything_and_serves_mail(postern, pg):
    token = populate(postern)
    before = snapshot(postern)
    db = sqlite3.connect(postern.root / "config" / "postern.db")
    hashes = dict(db.execute("SELECT name, password_hash FROM mailbox"))
    db.close()
    url = migrated(postern, pg, "keep")
    # every object, as the CLI shows it, is the same
    after = snapshot(postern)
    for k in before:
        assert before[k] == after[k], k
    # passwords moved as their hashes
    for name, h in hashes.items():
        assert pg.psql("keep", "SELECT password_hash FROM mailbox WHERE "
                       f"name = '{name}'") == h
    assert "alice-pw" not in hashes["alice"]
    # the SQLite file is no longer what the programs read
    db = sqlite3.connect(postern.root / "config" / "postern.db")
    db.execute("UPDATE mailbox SET quota_kb = 99 WHERE name = 'alice'")
    db.commit()
    db.close()
    assert "99" not in postern.cli("--json", "mailbox", "show",
                                   "alice@acme").stdout
    postern.start()
    m = imap_login(postern, "alice@acme", "alice-pw")
    m.logout()
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(postern, "alice@acme", "wrong-pw")
    send(postern, "alice@acme.test", "over-postgresql")
    assert wait_message(postern, "alice@acme", "alice-pw",
                        "over-postgresql") == 1
    # the API token still works (only its hash was stored)
    c = http.client.HTTPConnection("127.0.0.1", postern.port("http"),
                                   timeout=30)
    c.request("POST", "/jmap/api", body=json.dumps({
        "using": ["urn:ietf:params:jmap:core", "urn:postern:admin"],
        "methodCalls": [["Mailbox/get", {"ids": None}, "c0"],
                        ["Mailbox/query", {"filter": {"text": "ali"}},
                         "c1"]]}),
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    assert r.status == 200, body
    res = json.loads(body)["methodResponses"][0]
    assert res[0] == "Mailbox/get", res
    assert {"alice", "bob"} <= {m.get("name") for m in res[1]["list"]}, res
    res = json.loads(body)["methodResponses"][1]
    assert res[0] == "Mailbox/query", res
    # a new id continues after the copied ones
    postern.cli("mailbox", "add", "carol@acme", "--password", "carol-pw")
    assert int(pg.psql("keep", "SELECT count(DISTINCT id) FROM mailbox")) == 4


def test_cli_change_reaches_running_service(postern, pg):
    populate(postern)
    migrated(postern, pg, "notify")
    postern.start()
    m = imap_login(postern, "alice@acme", "alice-pw")
    m.select("INBOX")
    postern.cli("mailbox", "passwd", "alice@acme", "--password", "new-pw")
    # the old password is refused at once, the new one works
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(postern, "alice@acme", "alice-pw")
    imap_login(postern, "alice@acme", "new-pw").logout()
    # the running session logged in with the old password is closed: the
    # service heard of the change (NOTIFY) without polling the table
    deadline = time.time() + 20
    closed = False
    while time.time() < deadline and not closed:
        try:
            m.noop()
            time.sleep(0.5)
        except (imaplib.IMAP4.abort, OSError, imaplib.IMAP4.error):
            closed = True
    assert closed, "the session of a changed password stayed open"


def test_postgresql_down(postern, pg):
    srv = PgServer.start(free_port())   # our own: this test stops it
    try:
        populate(postern)
        postern.cli("db", "migrate-to", "postgresql", srv.create_db("down"),
                    "--yes")
        postern.start()
        send(postern, "alice@acme.test", "before-outage")
        assert wait_message(postern, "alice@acme", "alice-pw",
                            "before-outage") == 1
        srv.stop()
        # new logins fail, with a clear answer (not a crash, not a hang)
        with pytest.raises((imaplib.IMAP4.error, imaplib.IMAP4.abort)) as e:
            imap_login(postern, "alice@acme", "alice-pw")
        assert "unavailable" in str(e.value).lower() or \
            "try again" in str(e.value).lower() or \
            "temporar" in str(e.value).lower(), str(e.value)
        # SMTP: the message is refused for now (4xx) or taken and kept
        accepted = False
        try:
            send(postern, "alice@acme.test", "during-outage")
            accepted = True
        except smtplib.SMTPRecipientsRefused as e:
            code = list(e.recipients.values())[0][0]
            assert 400 <= code < 500, e.recipients
        except smtplib.SMTPResponseException as e:
            assert 400 <= e.smtp_code < 500, (e.smtp_code, e.smtp_error)
        # the CLI says what is wrong
        r = postern.cli("mailbox", "list", check=False)
        assert r.returncode != 0 and "PostgreSQL" in r.stderr, r.stderr
        srv.restart()
        imap_login(postern, "alice@acme", "alice-pw").logout()
        if accepted:   # what was taken during the outage arrives after it
            assert wait_message(postern, "alice@acme", "alice-pw",
                                "during-outage", timeout=180) == 1
        send(postern, "alice@acme.test", "after-outage")
        assert wait_message(postern, "alice@acme", "alice-pw",
                            "after-outage") == 1
        postern.stop()
    finally:
        postern.stop()
        srv.destroy()


def test_migration_interrupted_runs_again(postern, pg):
    populate(postern)
    # enough rows that the copy takes a while
    db = sqlite3.connect(postern.root / "config" / "postern.db")
    db.executemany("INSERT INTO login_failure (login, protocol, address, "
                   "country, first, last, count, reason) VALUES "
                   "(?, 'imap', '192.0.2.1', '', 1, 2, 1, 'password')",
                   [(f"user{i}@acme",) for i in range(30000)])
    db.commit()
    db.close()
    url = pg.create_db("interrupted")
    cmd = [str(BUILD / "postern"), "-d", str(postern.root), "db",
           "migrate-to", "postgresql", url, "--yes"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # kill it while it copies (its transaction is open)
    deadline = time.time() + 120
    seen = False
    while time.time() < deadline and proc.poll() is None:
        n = pg.psql("postgres", "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = 'postern-migrate' AND "
                    "xact_start IS NOT NULL")
        if n == "1":
            seen = True
            time.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert seen and proc.returncode == -signal.SIGKILL, \
        "the copy ended before it could be interrupted"
    # nothing changed: the data root still uses SQLite, PostgreSQL has no
    # row of the copy (its transaction was rolled back)
    assert not (postern.root / "config" / "database.conf").exists()
    assert json.loads(postern.cli("--json", "db", "status").stdout)[
        "engine"] == "sqlite"
    time.sleep(1)   # the server notices the lost connection
    assert pg.psql("interrupted", "SELECT count(*) FROM mailbox") == "0"
    assert pg.psql("interrupted", "SELECT count(*) FROM login_failure") == "0"
    # run again: complete
    before = snapshot(postern)
    postern.cli("db", "migrate-to", "postgresql", url, "--yes")
    assert pg.psql("interrupted", "SELECT count(*) FROM login_failure") == \
        "30000"
    after = snapshot(postern)
    for k in before:
        assert before[k] == after[k], k
    postern.start()
    imap_login(postern, "bob@acme", "bob-pw").logout()

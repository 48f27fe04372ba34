"""JMAP push and blobs over real HTTP (src/httpd/jmap-push.c, httpd's
streams and upload files): one long-lived EventSource stream sees the
StateChanges of an SMTP delivery (another process), an IMAP STORE and a
JMAP Email/set; pings, types, closeafter=state with Last-Event-ID,
HTTP/1.0 close-delimited streams, the per-account limit; uploads written
to a file as they arrive (larger than http.max_body, refused with the
RFC's limit error before anything is stored), downloads sent from the
message file, another account's blob not found. One server."""
import base64
import imaplib
import smtplib
import socket
import time
from email.message import EmailMessage

import pytest

from conftest import Postern
from jmap_util import Client, EventStream

ALICE_PW = "Al1ce-Push-Secret-31"
BOB_PW = "B0b-Push-Secret-82"
PER_ACCOUNT = 16          # JMAP_PUSH_PER_ACCOUNT


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("jmappush") / "root")
    p.init()
    p.cli("config", "set", "http.max_body", "256K")
    p.cli("config", "set", "http.max_upload", "2M")
    p.cli("config", "set", "http.max_connections_per_ip", "200")
    p.cli("postoffice", "add", "acme", "--password", "Pm-Push-Secret-4410")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", ALICE_PW)
    p.cli("mailbox", "add", "bob@acme", "--password", BOB_PW)
    p.start(services=["httpd", "imapd", "smtpd", "mta", "deliver"],
            timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def auth(login, pw):
    return "Basic " + base64.b64encode(f"{login}:{pw}".encode()).decode()


def alice(srv):
    j = Client(srv.port("http"), "alice@acme", ALICE_PW)
    j.session()
    return j


def message(subject, body="hello", attach=None):
    m = EmailMessage()
    m["From"] = "Carol <carol@example.org>"
    m["To"] = "alice@acme.test"
    m["Subject"] = subject
    m["Date"] = "Mon, 07 Dec 2026 03:00:00 +0000"
    m["Message-ID"] = f"<{abs(hash(subject))}@example.org>"
    m.set_content(body)
    if attach is not None:
        m.add_attachment(attach, maintype="application",
                         subtype="octet-stream", filename="data.bin")
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def state_change(es, acct, kind, old, timeout=30):
    """the next StateChange whose kind state differs from old"""
    deadline = time.time() + timeout
    while True:
        ev = es.next_state(max(0.1, deadline - time.time()))
        new = ev["changed"][acct].get(kind)
        if new is not None and new != old:
            return new


def test_one_stream_sees_smtp_imap_and_jmap_changes(srv):
    j = alice(srv)
    acct = j.account
    es = EventStream(srv.port("http"), j.auth, "types=*&closeafter=no&ping=0")
    assert es.status == 200
    assert es.headers["content-type"] == "text/event-stream"
    assert es.chunked and es.headers.get("connection") == "close"
    first = es.next_state()
    assert first["@type"] == "StateChange"
    assert set(first["changed"][acct]) >= {"Email", "Mailbox", "Thread"}
    email = first["changed"][acct]["Email"]
    took = {}

    # an SMTP delivery: smtpd, the MTA and deliver are other processes
    t0 = time.time()
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=30) as s:
        s.sendmail("sender@example.org", ["alice@acme.test"],
                   message("Pushed by SMTP"))
    email2 = state_change(es, acct, "Email", email)
    took["smtp"] = time.time() - t0
    ch = j.call("Email/changes", {"sinceState": email})[1]
    got = j.call("Email/get", {"ids": ch["created"],
                               "properties": ["subject"]})[1]["list"]
    assert [e["subject"] for e in got] == ["Pushed by SMTP"]
    eid = ch["created"][0]

    # an IMAP STORE in imapd
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=30)
    m.login("alice@acme", ALICE_PW)
    m.select("INBOX")
    t0 = time.time()
    typ, _ = m.store("1", "+FLAGS", "(\\Flagged)")
    assert typ == "OK"
    email3 = state_change(es, acct, "Email", email2)
    took["imap"] = time.time() - t0
    ch = j.call("Email/changes", {"sinceState": email2})[1]
    assert ch["updated"] == [eid]

    # a JMAP Email/set from another connection
    t0 = time.time()
    r = j.call("Email/set", {"update": {eid: {"keywords/$seen": True}}})[1]
    assert eid in r["updated"]
    state_change(es, acct, "Email", email3)
    took["jmap"] = time.time() - t0
    # and IMAP sees the JMAP change (the same store)
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0] and b"\\Flagged" in data[0]
    m.logout()
    es.close()
    print("push latency (s):", {k: round(v, 2) for k, v in took.items()})


def test_ping_types_and_closeafter(srv):
    j = alice(srv)
    acct = j.account
    port = srv.port("http")
    # types cuts the states; ping sends pings with the interval used
    es = EventStream(port, j.auth, "types=Mailbox&closeafter=no&ping=1")
    assert set(es.next_state()["changed"][acct]) == {"Mailbox"}
    name, data = es.next_event(30)
    assert name == "ping" and data["interval"] >= 1
    es.close()

    # closeafter=state without Last-Event-ID: the current states, then
    # the end of the response (the last chunk) and the close
    es = EventStream(port, j.auth, "types=*&closeafter=state&ping=0")
    es.next_state()
    assert es.wait_closed(30) and es.ended
    seen = es.last_id

    # with the Last-Event-ID of those states it waits for a change
    es = EventStream(port, j.auth, "types=*&closeafter=state&ping=0",
                     headers={"Last-Event-ID": seen})
    with pytest.raises(TimeoutError):
        es.next_state(1.5)
    inbox = [m for m in j.call("Mailbox/get", {"ids": None})[1]["list"]
             if m["role"] == "inbox"][0]["id"]
    r = j.call("Email/import", {"emails": {"k": {
        "blobId": upload(j, message("Imported for push")),
        "mailboxIds": {inbox: True}}}})[1]
    assert "k" in r["created"], r
    ev = es.next_state(30)
    assert ev["changed"][acct]["Email"] == r["newState"]
    assert es.wait_closed(30) and es.ended

    # HTTP/1.0: the stream is close-delimited, no chunks
    es = EventStream(port, j.auth, "types=Email&ping=0", version="1.0")
    assert es.status == 200 and not es.chunked
    assert "content-length" not in es.headers
    assert set(es.next_state()["changed"][acct]) == {"Email"}
    es.close()


def test_bad_parameters_and_the_account_limit(srv):
    j = alice(srv)
    port = srv.port("http")
    for q in ("ping=soon", "ping=-1", "closeafter=maybe",
              "types=" + "Email," * 200):
        r = j.request("GET", "/jmap/mail/eventsource/?" + q)
        assert r.status == 400, (q, r.status)
        assert r.getheader("Content-Type") == "application/problem+json"
    streams = [EventStream(port, j.auth, "types=*&ping=0")
               for _ in range(PER_ACCOUNT)]
    for es in streams:
        assert es.status == 200
        es.next_state()
    extra = EventStream(port, j.auth, "types=*&ping=0")
    assert extra.status == 429
    assert b"urn:ietf:params:jmap:error:limit" in extra.body
    extra.close()
    # another account is not affected
    bob = EventStream(port, auth("bob@acme", BOB_PW), "types=*&ping=0")
    assert bob.status == 200
    bob.close()
    for es in streams:
        es.close()

    # the server notices the clients left: the slots are free again
    def opens():
        es = EventStream(port, j.auth, "types=*&ping=0")
        es.close()
        return es.status == 200
    deadline = time.time() + 30
    while not opens():
        assert time.time() < deadline, "slots not freed"
        time.sleep(0.2)


def upload(j, data, ctype="message/rfc822"):
    r = j.request("POST", f"/jmap/mail/upload/{j.account}/", raw=data,
                  headers={"Content-Type": ctype})
    assert r.status == 201, (r.status, r.body)
    assert r.json["size"] == len(data)
    return r.json["blobId"]


def upload_files(srv):
    return sorted(p.name for p in srv.root.rglob("jmap-upload/*"))


def test_uploads_go_to_a_file_and_downloads_come_from_one(srv):
    j = alice(srv)
    port = srv.port("http")
    # larger than http.max_body (256K): an upload is not held in memory
    big = bytes(range(256)) * 6144                # 1.5 MB
    bid = upload(j, big, "application/octet-stream")
    r = j.request("GET", f"/jmap/mail/download/{j.account}/{bid}/x.bin"
                  "?accept=application/octet-stream")
    assert r.status == 200 and r.body == big
    assert int(r.getheader("Content-Length")) == len(big)
    # chunked uploads are written the same way
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in
                    (big[:70000], big[70000:300000])) + b"0\r\n\r\n"
    s.sendall((f"POST /jmap/mail/upload/{j.account}/ HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: {j.auth}\r\nTransfer-Encoding: chunked\r\n"
               "Content-Type: application/octet-stream\r\n"
               "Connection: close\r\n\r\n").encode() + body)
    resp = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        resp += b
    s.close()
    assert resp.startswith(b"HTTP/1.1 201"), resp[:200]
    assert b'"size":300000' in resp

    # over maxSizeUpload (2M): refused by Content-Length before the body
    before = upload_files(srv)
    assert j.session()["capabilities"][
        "urn:ietf:params:jmap:core"]["maxSizeUpload"] == 2 * 1024 * 1024
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall((f"POST /jmap/mail/upload/{j.account}/ HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: {j.auth}\r\nContent-Length: {3 << 20}\r\n"
               "Content-Type: application/octet-stream\r\n"
               "Expect: 100-continue\r\n\r\n").encode())
    resp = s.recv(65536)
    s.close()
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert b"urn:ietf:params:jmap:error:limit" in resp
    assert b'"limit":"maxSizeUpload"' in resp
    assert b"100 Continue" not in resp
    # and a chunked body that grows past it is cut off the same way
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall((f"POST /jmap/mail/upload/{j.account}/ HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: {j.auth}\r\nTransfer-Encoding: chunked\r\n"
               "\r\n").encode())
    resp = b""
    try:
        for _ in range(5):
            s.sendall(b"%x\r\n" % (1 << 20) + b"z" * (1 << 20) + b"\r\n")
    except OSError:
        pass
    s.settimeout(30)
    try:
        while b"\r\n\r\n" not in resp:
            b = s.recv(65536)
            if not b:
                break
            resp += b
    except OSError:
        pass
    s.close()
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert upload_files(srv) == before

    # a message with a large attachment, by IMAP: the whole message and
    # its decoded part come back as they are
    att = bytes((i * 7) % 251 for i in range(700 * 1024))
    raw = message("Large attachment", attach=att)
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=30)
    m.login("alice@acme", ALICE_PW)
    assert m.append("INBOX", "", None, raw)[0] == "OK"
    m.logout()
    q = j.call("Email/query", {"filter": {"text": "Large attachment"}})[1]
    e = j.call("Email/get", {"ids": q["ids"], "properties": [
        "blobId", "size", "attachments"]})[1]["list"][0]
    r = j.request("GET", f"/jmap/mail/download/{j.account}/{e['blobId']}/"
                  "m.eml?accept=message/rfc822")
    assert r.status == 200 and r.body == raw and e["size"] == len(raw)
    part = e["attachments"][0]
    r = j.request("GET", f"/jmap/mail/download/{j.account}/"
                  f"{part['blobId']}/data.bin?accept=application/x-thing")
    assert r.status == 200 and r.body == att
    assert r.getheader("Content-Type") == "application/x-thing"
    # HEAD: the length, no body
    r = j.request("HEAD", f"/jmap/mail/download/{j.account}/{e['blobId']}/"
                  "m.eml")
    assert r.status == 200 and r.body == b""
    assert int(r.getheader("Content-Length")) == len(raw)

    # another account's blob is not found, by either account id
    b = Client(port, "bob@acme", BOB_PW)
    b.session()
    for acc in (b.account, j.account):
        for blob in (e["blobId"], part["blobId"], bid):
            r = b.request("GET", f"/jmap/mail/download/{acc}/{blob}/x")
            assert r.status == 404, (acc, blob, r.status)

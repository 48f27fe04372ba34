"""DKIM signing (manual 5.4.4, RFC 6376, RFC 8463) checked by an independent
verifier, dkimpy (Debian python3-dkim): a domain and selector set up with
the CLI, mail sent over SMTP (submission with STARTTLS + AUTH, or a relay
network) to an external address whose MX (dnsmasq) is a local sink; the
bytes the sink received are verified with dkim.verify() against the TXT
record `postern dkim dns` printed. rsa-sha256 and ed25519-sha256,
relaxed/relaxed and simple/simple, l=, a footer added by the MTA, a list
post (signed with the list's domain), tampering, no active selector, key
rotation while running, and no signature for mail that did not originate
here."""
import re
import smtplib
import ssl
import time

import pytest

from test_mta import wait_for
from test_smtp_out import dns, setup_out, sinks  # noqa: F401 (fixtures)

dkim = pytest.importorskip("dkim", reason="python3-dkim (dkimpy) missing: "
                           "scripts/install-deps.sh installs it")

SERVICES = ["smtpd", "mta", "deliver", "smtp-out"]
T = 60


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def published(p, domain, selector=None):
    """{dns name: record} from the zone line `postern dkim dns` prints:
    NAME IN TXT "..." "..." (strings of at most 255 bytes, joined)"""
    args = ["dkim", "dns", domain] + ([selector] if selector else [])
    line = p.cli(*args).stdout.strip()
    m = re.match(r'^(\S+) IN TXT ((?:"[^"]*" ?)+)$', line)
    assert m, line
    strings = re.findall(r'"([^"]*)"', m.group(2))
    assert all(len(s) <= 255 for s in strings)
    return {m.group(1): "".join(strings)}


def dnsfunc(records):
    def lookup(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        rec = records.get(n if n.endswith(".") else n + ".")
        return rec.encode() if rec else None
    return lookup


def verify(data, records):
    return dkim.verify(data, dnsfunc=dnsfunc(records))


def sig_tags(data):
    """the tags of the first DKIM-Signature field (unfolded)"""
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    m = re.search(r"^DKIM-Signature:(.*?)(?=^\S)", head + "\r\nX:", re.M | re.S)
    assert m, "no DKIM-Signature field"
    v = re.sub(r"\s+", "", m.group(1))
    return dict(t.split("=", 1) for t in v.split(";") if t)


def submit(p, frm, rcpts, raw, login=("alice@acme", "alice-pw")):
    with smtplib.SMTP("127.0.0.1", p.port("submission"), timeout=60) as s:
        s.starttls(context=tls_ctx())
        s.login(*login)
        s.sendmail(frm, rcpts, raw.encode() if isinstance(raw, str) else raw)


def relay(p, frm, rcpts, raw):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail(frm, rcpts, raw.encode() if isinstance(raw, str) else raw)


def message(subject, frm="Alice <alice@acme.test>", to="ext@remote.test",
            body="Hello,\r\n\r\nthe  quarterly   numbers.\r\n\r\n\r\n",
            extra=""):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Tue, 24 Nov 2026 01:00:00 +0000\r\n"
            f"Message-ID: <{time.time_ns()}@acme.test>\r\n{extra}\r\n{body}")


def received(sink, subject, n=1):
    got = wait_for(lambda: [m["data"] for m in sink.messages
                            if f"Subject: {subject}".encode() in m["data"]
                            or subject.encode() in m["data"]] or None,
                   T, f"'{subject}' at the sink")
    return got[0]


@pytest.fixture
def out(populated, dns, sinks):  # noqa: F811
    sink = sinks()
    setup_out(populated, dns, sink)
    return populated, sink


def test_rsa_relaxed_submission_verifies_and_tampering_fails(out):
    p, sink = out
    r = p.cli("dkim", "selector", "add", "acme.test", "s2026", "--bits", "2048")
    assert "s2026._domainkey.acme.test. IN TXT" in r.stdout
    p.cli("domain", "set", "acme.test", "dkim_enabled=yes")
    records = published(p, "acme.test")
    assert list(records) == ["s2026._domainkey.acme.test."]
    p.start(services=SERVICES)
    submit(p, "alice@acme.test", ["ext@remote.test"], message("quarterly"))
    data = received(sink, "quarterly")
    tags = sig_tags(data)
    assert (tags["d"], tags["s"], tags["a"], tags["c"]) == \
        ("acme.test", "s2026", "rsa-sha256", "relaxed/relaxed")
    assert "l" not in tags and "i" not in tags
    h = tags["h"].split(":")
    # From signed and over-signed; Received (added in transit) is not
    assert h.count("from") == 2 and h.count("subject") == 2
    assert "received" not in h
    # the signature is on top, lines folded at 78 columns
    assert data.startswith(b"DKIM-Signature: v=1;")
    sig = data.split(b"\r\n\r\n")[0].split(b"\r\nReceived:")[0]
    assert max(len(l) for l in sig.split(b"\r\n")) <= 78
    assert verify(data, records)
    # SIZE= (RFC 1870) counts the signature too
    mail = [c for c in sink.commands if c.upper().startswith("MAIL FROM:")]
    assert f" SIZE={len(data)}" in mail[-1]
    # dkimpy really fails what is changed: body, a signed header, an added
    # (over-signed) Subject, the wrong key
    assert not verify(data.replace(b"quarterly   numbers", b"quarterly   NUMBERS"),
                      records)
    assert not verify(data.replace(b"Subject: quarterly", b"Subject: Quarterly"),
                      records)
    hdr, body = data.split(b"\r\n\r\n", 1)
    assert not verify(hdr + b"\r\nSubject: second\r\n\r\n" + body, records)
    other = p.cli("dkim", "selector", "add", "acme.test", "other")
    assert other.returncode == 0
    wrong = {"s2026._domainkey.acme.test.":
             published(p, "acme.test", "other")["other._domainkey.acme.test."]}
    assert not verify(data, wrong)
    # relaxed: white space changes in transit are forgiven
    assert verify(data.replace(b"the  quarterly", b"the quarterly"), records)
    log = p.log("smtp-out")
    assert "DKIM signed d=acme.test s=s2026" in log


def test_ed25519_simple_with_length_limit_over_relay_network(out):
    p, sink = out
    p.cli("config", "set", "smtp.relay_networks", "127.0.0.0/8")
    p.cli("dkim", "selector", "add", "acme.test", "ed1",
          "--algorithm", "ed25519-sha256", "--test")
    p.cli("domain", "set", "acme.test", "dkim_enabled=yes",
          "dkim_header_canon=simple", "dkim_body_canon=simple",
          "dkim_body_limit=20", "dkim_identity=yes")
    records = published(p, "acme.test")
    rec = records["ed1._domainkey.acme.test."]
    assert rec.startswith("v=DKIM1; k=ed25519; t=y; p=")
    p.start(services=SERVICES)
    relay(p, "alice@acme.test", ["ext@remote.test"],
          message("edsimple", body="0123456789abcdefghijKLMNOP\r\nmore\r\n"))
    data = received(sink, "edsimple")
    tags = sig_tags(data)
    assert (tags["a"], tags["c"], tags["l"], tags["i"]) == \
        ("ed25519-sha256", "simple/simple", "20", "alice@acme.test")
    assert verify(data, records)
    # l=: what follows the first 20 bytes is not covered...
    assert verify(data.replace(b"KLMNOP", b"klmnop"), records)
    # ...but the first 20 are, and simple forgives no white space
    assert not verify(data.replace(b"0123", b"9123"), records)
    assert not verify(data.replace(b"Subject: edsimple", b"Subject:  edsimple"),
                      records)


def test_footer_is_signed(out):
    p, sink = out
    p.cli("config", "set", "footer.scope", "global")
    p.cli("config", "set", "footer.text", "ACME: this mail is confidential.")
    p.cli("dkim", "selector", "add", "acme.test", "f1", "--bits", "1024")
    p.cli("domain", "set", "acme.test", "dkim_enabled=yes")
    records = published(p, "acme.test")
    p.start(services=SERVICES)
    submit(p, "alice@acme.test", ["ext@remote.test"], message("footered"))
    data = received(sink, "footered")
    assert b"ACME: this mail is confidential." in data
    assert verify(data, records)


def test_list_post_signed_by_the_list_domain(out):
    p, sink = out
    p.cli("postoffice", "add", "lists", "--password", "pm-secret2")
    p.cli("domain", "add", "lists.test", "--postoffice", "lists")
    p.cli("list", "add", "news@lists.test", "--postoffice", "lists",
          "--owner", "alice@acme.test")
    p.cli("list", "set", "news@lists.test", "subject_prefix=[news]")
    p.cli("list", "member", "add", "news@lists.test", "reader@remote.test")
    p.cli("config", "set", "http.public_url", "https://mail.lists.test")
    p.cli("dkim", "selector", "add", "lists.test", "ls1", "--algorithm",
          "ed25519-sha256")
    p.cli("domain", "set", "lists.test", "dkim_enabled=yes")
    records = published(p, "lists.test")
    p.start(services=SERVICES + ["listserv"])
    # an outside author: the copy is signed as the list, whose domain
    # changed it (subject tag, list fields) and sends it
    relay(p, "carol@outside.test", ["news@lists.test"],
          message("lists post", frm="Carol <carol@outside.test>",
                  to="news@lists.test"))
    data = received(sink, "[news] lists post")
    tags = sig_tags(data)
    assert tags["d"] == "lists.test" and tags["s"] == "ls1"
    h = tags["h"].split(":")
    assert "list-id" in h and "list-unsubscribe" in h
    # http.public_url is set: the copy carries the one-click fields, and
    # RFC 8058 section 4 wants both covered (over-signed: counted twice)
    head = data.split(b"\r\n\r\n")[0]
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click" in head
    assert b"<https://mail.lists.test/list/unsubscribe?" in head
    assert h.count("list-unsubscribe-post") == 2
    assert h.count("list-unsubscribe") == 2
    assert verify(data, records)
    assert "(list)" in p.log("smtp-out")


def test_no_active_selector_and_rotation_while_running(out):
    p, sink = out
    p.cli("domain", "set", "acme.test", "dkim_enabled=yes")
    p.start(services=SERVICES)
    submit(p, "alice@acme.test", ["ext@remote.test"], message("unsigned one"))
    submit(p, "alice@acme.test", ["ext@remote.test"], message("unsigned two"))
    for s in ("unsigned one", "unsigned two"):
        assert b"DKIM-Signature" not in received(sink, s)
    log = p.log("smtp-out")
    assert log.count("acme.test has dkim_enabled but no active selector") == 1
    # a selector added while running is used at once (no restart)
    p.cli("dkim", "selector", "add", "acme.test", "new1", "--bits", "1024")
    submit(p, "alice@acme.test", ["ext@remote.test"], message("after add"))
    data = received(sink, "after add")
    assert sig_tags(data)["s"] == "new1"
    assert verify(data, published(p, "acme.test"))
    # rotation: activate another, the next message uses it
    p.cli("dkim", "selector", "add", "acme.test", "new2",
          "--algorithm", "ed25519-sha256")
    assert sig_tags(data)["s"] == "new1"
    p.cli("dkim", "selector", "activate", "acme.test", "new2")
    submit(p, "alice@acme.test", ["ext@remote.test"], message("rotated"))
    data = received(sink, "rotated")
    assert sig_tags(data)["s"] == "new2"
    assert verify(data, published(p, "acme.test", "new2"))
    # the server-wide switch off: unsigned; on again: signed
    p.cli("config", "set", "dkim.sign", "no")
    submit(p, "alice@acme.test", ["ext@remote.test"], message("server off"))
    assert b"DKIM-Signature" not in received(sink, "server off")
    p.cli("config", "set", "dkim.sign", "yes")
    # dkim_enabled off: unsigned again
    p.cli("domain", "set", "acme.test", "dkim_enabled=no")
    submit(p, "alice@acme.test", ["ext@remote.test"], message("disabled"))
    assert b"DKIM-Signature" not in received(sink, "disabled")


def test_only_mail_originating_here_is_signed(out):
    p, sink = out
    p.cli("dkim", "selector", "add", "acme.test", "s1", "--bits", "1024")
    p.cli("domain", "set", "acme.test", "dkim_enabled=yes")
    # bob forwards his mail to an outside address
    p.cli("mailbox", "redirect", "add", "bob@acme", "bob@remote.test")
    p.cli("mailbox", "set", "bob@acme", "redirect_enabled=yes")
    # a second post office whose user tries to send as acme.test
    p.cli("postoffice", "add", "other", "--password", "pm-secret3")
    p.cli("domain", "add", "other.test", "--postoffice", "other")
    p.cli("mailbox", "add", "mallory@other", "--password", "mallory-pw")
    p.start(services=SERVICES)
    # an outside sender forging an acme.test From, forwarded by bob
    relay(p, "spoof@remote.test", ["bob@acme.test"],
          message("forged", frm="CEO <ceo@acme.test>", to="bob@acme.test"))
    assert b"DKIM-Signature" not in received(sink, "forged")
    # the sender policy refuses it in smtpd already (test_sender_policy.py)
    with pytest.raises(smtplib.SMTPDataError) as e:
        submit(p, "mallory@other.test", ["ext@remote.test"],
               message("cross tenant", frm="CEO <ceo@acme.test>"),
               login=("mallory@other", "mallory-pw"))
    assert e.value.smtp_code == 550 and b"ceo@acme.test" in e.value.smtp_error
    # and where the post office lets its users send as anyone, DKIM
    # still does not sign for another post office's domain
    p.cli("postoffice", "set", "other", "send_as=any")
    submit(p, "mallory@other.test", ["ext@remote.test"],
           message("cross tenant", frm="CEO <ceo@acme.test>"),
           login=("mallory@other", "mallory-pw"))
    assert b"DKIM-Signature" not in received(sink, "cross tenant")
    assert "not of its post office" in p.log("smtp-out")


# -- inbound verification (MTA, dkim.verify) ----------------------------------

# RFC 8463 appendix A keys and records (the RFC's signer is dkimpy here)
RFC_RSA_PEM = b"""-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi
Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM
KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB
AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm
6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe
zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy
6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc
uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy
WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd
WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a
licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst
o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe
uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL
-----END RSA PRIVATE KEY-----
"""
RFC_ED_SEED = b"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
RFC_RSA_REC = ("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQ"
               "oBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzC"
               "Nb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvH"
               "O9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB")
RFC_ED_REC = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


@pytest.fixture
def inbound(populated):
    from conftest import dnsmasq_start, dnsmasq_stop
    proc, port = dnsmasq_start([
        f"--txt-record=test._domainkey.signer.test,{RFC_RSA_REC}",
        f"--txt-record=brisbane._domainkey.signer.test,{RFC_ED_REC}",
    ])
    p = populated
    p.cli("config", "set", "dns.hosts", f"127.0.0.1:{port}")
    p.cli("config", "set", "dkim.verify", "yes")
    p.start(services=["smtpd", "mta", "deliver"])
    yield p
    p.stop()
    dnsmasq_stop(proc)


def signed(subject, alg="rsa", canon=(b"relaxed", b"relaxed"), selector=None,
           extra=""):
    raw = message(subject, frm="Joe <joe@signer.test>", to="bob@acme.test",
                  extra=extra).encode()
    if alg == "rsa":
        return dkim.sign(raw, (selector or "test").encode(), b"signer.test",
                         RFC_RSA_PEM, canonicalize=canon,
                         include_headers=[b"from", b"to", b"subject", b"date",
                                          b"message-id"]) + raw
    return dkim.sign(raw, (selector or "brisbane").encode(), b"signer.test",
                     RFC_ED_SEED, canonicalize=canon,
                     signature_algorithm=b"ed25519-sha256",
                     include_headers=[b"from", b"to", b"subject", b"date",
                                      b"message-id"]) + raw


def stored(p, subject):
    from test_mta import mailbox_msgs
    got = wait_for(lambda: [m for m in mailbox_msgs(p.root, "bob")
                            if f"Subject: {subject}" in m], T, subject)
    return got[0]


def auth_results(msg):
    head = msg.split("\r\n\r\n", 1)[0]
    return [re.sub(r"\s+", " ", f) for f in
            re.findall(r"^Authentication-Results:.*?(?=\r\n\S)", head + "\r\nX",
                       re.M | re.S)]


def test_inbound_verification_authentication_results(inbound):
    p = inbound
    host = p.cli("config", "get", "server.hostname").stdout.strip()
    rsa = signed("in rsa")
    assert rsa.startswith(b"DKIM-Signature:")
    relay(p, "joe@signer.test", ["bob@acme.test"], rsa)
    relay(p, "joe@signer.test", ["bob@acme.test"],
          signed("in ed", alg="ed", canon=(b"simple", b"simple")))
    relay(p, "joe@signer.test", ["bob@acme.test"],
          signed("in tampered").replace(b"quarterly", b"QUARTERLY"))
    relay(p, "joe@signer.test", ["bob@acme.test"],
          signed("in nokey", selector="nokey"))
    relay(p, "joe@signer.test", ["bob@acme.test"],
          message("in plain", frm="joe@signer.test", to="bob@acme.test",
                  extra=f"Authentication-Results: {host}; dkim=pass "
                        "header.d=forged.test\r\n"
                        f"Authentication-Results: (hi)\r\n {host} 1;\r\n"
                        " dkim=pass header.d=forged2.test\r\n"
                        f"Authentication-Results: {host}.other.example; x=y\r\n"
                        "Authentication-Results: other.example; spf=pass\r\n"))
    filler = "".join(f"X-Filler-{i}: {i}\r\n" for i in range(1500))
    relay(p, "joe@signer.test", ["bob@acme.test"],
          message("in filler", frm="joe@signer.test", to="bob@acme.test",
                  extra=filler + f"Authentication-Results: {host}; "
                  "dkim=pass header.d=forged3.test\r\n"))
    # mail from here (an authenticated submission) is not verified
    submit(p, "alice@acme.test", ["bob@acme.test"],
           message("in submitted", to="bob@acme.test"))
    assert auth_results(stored(p, "in submitted")) == []
    ar = auth_results(stored(p, "in rsa"))
    assert len(ar) == 1
    assert ar[0].startswith(f"Authentication-Results: {host}; dkim=pass "
                            "header.d=signer.test header.s=test "
                            "header.a=rsa-sha256 header.b=")
    ar = auth_results(stored(p, "in ed"))
    assert "dkim=pass header.d=signer.test header.s=brisbane " \
           "header.a=ed25519-sha256" in ar[0]
    ar = auth_results(stored(p, "in tampered"))
    assert "dkim=fail (body hash did not verify) header.d=signer.test" in ar[0]
    ar = auth_results(stored(p, "in nokey"))
    assert "dkim=permerror (no key record) header.d=signer.test " \
           "header.s=nokey" in ar[0]
    ar = auth_results(stored(p, "in plain"))
    # ours, dkim=none; the forged one in our name is gone, another's stays
    assert ar[0] == f"Authentication-Results: {host}; dkim=none"
    assert "forged.test" not in " ".join(ar)
    assert "forged2.test" not in " ".join(ar)
    assert "Authentication-Results: other.example; spf=pass" in ar
    assert f"Authentication-Results: {host}.other.example; x=y" in ar
    assert "removed 2 Authentication-Results field(s)" in p.log("mta")
    # no number of filler fields hides a forged one
    ar = auth_results(stored(p, "in filler"))
    assert ar[0] == f"Authentication-Results: {host}; dkim=permerror " \
        "(more than 1000 header fields)"
    assert len(ar) == 1 and "forged3" not in ar[0]
    # the delivered copy still verifies with dkimpy (fields added on top)
    recs = {"test._domainkey.signer.test.": RFC_RSA_REC}
    assert verify(stored(p, "in rsa").encode(), recs)


def test_cli_selectors_rules_and_errors(populated):
    p = populated

    def rc(*args):
        return p.cli(*args, check=False).returncode
    # the domain's dkim_algorithm is the default of new selectors
    p.cli("domain", "set", "acme.test", "dkim_algorithm=ed25519-sha256")
    p.cli("dkim", "selector", "add", "acme.test", "Sel-1")
    s = p.cli("dkim", "selector", "show", "acme.test", "sel-1", json_out=True)
    assert (s["selector"], s["algorithm"], s["bits"], s["active"]) == \
        ("sel-1", "ed25519-sha256", 256, True)
    assert "PRIVATE" not in p.cli("dkim", "selector", "show", "acme.test",
                                  "sel-1").stdout
    d = p.cli("dkim", "dns", "acme.test", json_out=True)
    assert d["name"] == "sel-1._domainkey.acme.test." and d["type"] == "TXT"
    assert d["record"].startswith("v=DKIM1; k=ed25519; p=")
    # a second selector is not active until activated; one active at most
    p.cli("dkim", "selector", "add", "acme.test", "r2", "--algorithm",
          "rsa-sha256", "--bits", "1024", "--granularity", "bob",
          "--notes", "next key")
    rows = p.cli("dkim", "selector", "list", "acme.test", json_out=True)
    assert [(r["selector"], r["active"]) for r in rows] == \
        [("r2", "no"), ("sel-1", "yes")]
    p.cli("dkim", "selector", "activate", "acme.test", "r2")
    rows = p.cli("dkim", "selector", "list", json_out=True)
    assert [(r["selector"], r["active"]) for r in rows] == \
        [("r2", "yes"), ("sel-1", "no")]
    p.cli("dkim", "selector", "set", "acme.test", "r2", "test_mode=yes")
    rec = p.cli("dkim", "dns", "acme.test", json_out=True)["record"]
    assert rec.startswith("v=DKIM1; k=rsa; t=y; g=bob; p=MIGf")
    # bad input: exit 2; exists: 4; not found: 3
    assert rc("dkim", "selector", "add", "acme.test", "bad_name") == 2
    assert rc("dkim", "selector", "add", "acme.test", "-x") == 2
    assert rc("dkim", "selector", "add", "acme.test", "x", "--bits", "512") == 2
    assert rc("dkim", "selector", "add", "acme.test", "x", "--algorithm",
              "ed25519-sha256", "--bits", "2048") == 2
    assert rc("dkim", "selector", "add", "acme.test", "x", "--algorithm",
              "rsa-sha1") == 2
    assert rc("dkim", "selector", "add", "acme.test", "y", "--granularity",
              "a;b") == 2
    assert rc("dkim", "selector", "set", "acme.test", "r2", "private_key=x") == 2
    assert rc("dkim", "selector", "add", "acme.test", "R2") == 4
    assert rc("dkim", "selector", "add", "nope.test", "s") == 3
    assert rc("dkim", "selector", "activate", "acme.test", "nope") == 3
    assert rc("dkim", "dns", "acme.test", "nope") == 3
    assert rc("dkim", "frobnicate") == 2
    # deleting the active one leaves none active
    p.cli("dkim", "selector", "delete", "acme.test", "r2", "--yes")
    assert rc("dkim", "dns", "acme.test") == 3
    assert rc("dkim", "dns", "acme.test", "sel-1") == 0
    # a domain's selectors go with it
    p.cli("domain", "del", "acme.test", "--yes")
    assert p.cli("dkim", "selector", "list", json_out=True) == []


def test_inbound_key_lookup_failure_is_temperror(populated):
    from conftest import free_port
    p = populated
    # nothing answers DNS there: the lookup fails, the mail is delivered
    p.cli("config", "set", "dns.hosts", f"127.0.0.1:{free_port()}")
    p.cli("config", "set", "dkim.verify", "yes")
    p.start(services=["smtpd", "mta", "deliver"])
    relay(p, "joe@signer.test", ["bob@acme.test"], signed("in nodns"))
    ar = auth_results(stored(p, "in nodns"))
    assert "dkim=temperror (key lookup failed) header.d=signer.test" in ar[0]


def test_pickup_lf_only_file_is_signed_as_sent(out):
    """a pickup file with bare LF line ends: smtp-out sends CRLF, and the
    signature covers what was sent"""
    p, sink = out
    p.cli("dkim", "selector", "add", "acme.test", "pk", "--bits", "1024")
    p.cli("domain", "set", "acme.test", "dkim_enabled=yes",
          "dkim_header_canon=simple", "dkim_body_canon=simple")
    records = published(p, "acme.test")
    p.start(services=SERVICES)
    body = ("From: Alice <alice@acme.test>\nTo: ext@remote.test\n"
            "Subject: picked up\n folded line\nMessage-ID: <pk1@acme.test>\n"
            "\n.leading dot\ntrailing space \n\n\n")
    pickup = p.root / "queue" / "pickup"
    (pickup / ".pk1").write_text(body)
    (pickup / ".pk1").rename(pickup / "pk1")
    data = received(sink, "picked up")
    assert b"\r\n folded line\r\n" in data
    assert re.search(rb"[^\r]\n", data) is None, "bare LF on the wire"
    assert sig_tags(data)["c"] == "simple/simple"
    assert verify(data, records)


def test_cli_import_existing_key(populated):
    """a key moved from another server (OpenDKIM's PEM) keeps its record"""
    p = populated
    pem = p.root / "moved.pem"
    pem.write_bytes(RFC_RSA_PEM)
    p.cli("dkim", "selector", "add", "acme.test", "test", "--key", pem)
    s = p.cli("dkim", "selector", "show", "acme.test", "test", json_out=True)
    assert (s["algorithm"], s["bits"]) == ("rsa-sha256", 1024)
    assert p.cli("dkim", "dns", "acme.test", json_out=True)["record"] == \
        RFC_RSA_REC
    assert p.cli("dkim", "selector", "add", "acme.test", "t2", "--key", pem,
                 "--algorithm", "ed25519-sha256", check=False).returncode == 2
    junk = p.root / "junk.pem"
    junk.write_text("not a key\n")
    assert p.cli("dkim", "selector", "add", "acme.test", "t3", "--key", junk,
                 check=False).returncode == 2
    assert p.cli("dkim", "selector", "add", "acme.test", "t4", "--key",
                 p.root / "missing.pem", check=False).returncode == 2

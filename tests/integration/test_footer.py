"""Footers / disclaimers (manual 5.2.5, 5.3.4): only on the copy for
external addresses of a local sender's mail, never on local copies nor on
remote senders' relayed mail; text and HTML parts edited in their own
transfer encoding with the MIME structure kept (checked with Python's
email package); a message without a text body, or whose text cannot take
the footer, gets it as a new part; broken HTML; the four scopes."""
import base64
import email
import email.policy
import smtplib

from test_mta import mailbox_msgs, queue_items, wait_for

SERVICES = ["smtpd", "mta", "deliver"]
FOOT = "Disclaimer:\nACME Corp: this mail is confidential."
HFOOT = "<p class=\"disc\">ACME Corp &amp; friends</p>"


def configure(p, scope="global", text=FOOT, html=HFOOT):
    p.cli("config", "set", "smtp.relay_networks", "127.0.0.0/8")
    p.cli("config", "set", "footer.scope", scope)
    p.cli("config", "set", "footer.text", text)
    p.cli("config", "set", "footer.html", html)


def send(p, frm, to, raw):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail(frm, to, raw.encode() if isinstance(raw, str) else raw)


def external(p, n=1):
    out = wait_for(lambda: len(queue_items(p.root, "smtp", "outgoing")) >= n
                   and queue_items(p.root, "smtp", "outgoing"), 60,
                   "external copy")
    return [(p.root / "queue/smtp/outgoing/new" / f"{q}.msg").read_bytes()
            for q, _ in out]


def parse(b):
    return email.message_from_bytes(b, policy=email.policy.default)


def hdr(frm, to, subject, extra=""):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@acme.test>\r\n{extra}")


def test_plain_external_only_not_local(populated):
    p = populated
    configure(p)
    p.start(services=SERVICES)
    raw = hdr("alice@acme.test", "ext@remote.test, bob@acme.test", "plain") + \
        "\r\nHello world.\r\n"
    send(p, "alice@acme.test", ["ext@remote.test", "bob@acme.test"], raw)
    ext, = external(p)
    assert b"ACME Corp: this mail is confidential." in ext
    assert ext.rstrip().endswith(b"confidential.")
    assert b"Hello world.\r\n\r\nDisclaimer:\r\nACME Corp" in ext
    local = wait_for(lambda: mailbox_msgs(p.root, "bob"), 60, "local copy")
    assert "ACME Corp" not in local[0], "no footer on local mail"
    # a remote sender's relayed mail: no footer
    raw2 = hdr("x@remote.test", "ext2@remote.test", "relayed") + "\r\nhi\r\n"
    send(p, "x@remote.test", ["ext2@remote.test"], raw2)
    outs = external(p, 2)
    relayed = [m for m in outs if b"relayed@" in m][0]
    assert b"ACME" not in relayed
    assert "footer (global) added to the body text" in p.log("mta")


def test_alternative_qp_and_base64_keep_structure(populated):
    p = populated
    configure(p)
    p.start(services=SERVICES)
    html = "<html><body><p>Bonjour \u00e9t\u00e9</p></body></html>"
    raw = (hdr("alice@acme.test", "ext@remote.test", "alt") +
           "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; "
           "boundary=\"BB\"\r\n\r\npreamble\r\n--BB\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
           "Bonjour =C3=A9t=C3=A9, a long line that goes on and on and on "
           "and =\r\non.\r\n--BB\r\n"
           "Content-Type: text/html; charset=utf-8\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" +
           base64.encodebytes(html.encode()).decode().replace("\n", "\r\n") +
           "--BB--\r\nepilogue\r\n")
    send(p, "alice@acme.test", ["ext@remote.test"], raw)
    ext, = external(p)
    m = parse(ext)
    assert m.get_content_type() == "multipart/alternative"
    parts = list(m.iter_parts())
    assert [x.get_content_type() for x in parts] == ["text/plain", "text/html"]
    assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert parts[1]["Content-Transfer-Encoding"] == "base64"
    plain = parts[0].get_content()
    assert plain.startswith("Bonjour \u00e9t\u00e9, a long line")
    assert plain.rstrip().endswith("ACME Corp: this mail is confidential.")
    h = parts[1].get_content()
    assert "Bonjour \u00e9t\u00e9" in h
    assert h.index(HFOOT) < h.lower().index("</body>"), "before </body>"
    for line in ext.split(b"\r\n"):
        assert len(line) <= 78, line


def test_no_text_part_and_broken_html_and_charsets(populated):
    p = populated
    configure(p, text="Caf\u00e9 footer")
    p.start(services=SERVICES)
    # no text part: a new part, the original kept byte for byte
    pdf = base64.encodebytes(b"%PDF-1.4 binary \x00\x01").decode() \
        .replace("\n", "\r\n")
    raw = (hdr("alice@acme.test", "ext@remote.test", "pdf") +
           "MIME-Version: 1.0\r\nContent-Type: application/pdf; name=a.pdf\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" + pdf)
    send(p, "alice@acme.test", ["ext@remote.test"], raw)
    ext, = external(p)
    m = parse(ext)
    assert m.get_content_type() == "multipart/mixed"
    a, f = list(m.iter_parts())
    assert a.get_content_type() == "application/pdf"
    assert a.get_content() == b"%PDF-1.4 binary \x00\x01"
    assert f.get_content_type() == "text/plain"
    assert f.get_content().strip() == "Caf\u00e9 footer"
    assert m["Subject"] == "pdf" and m["Message-ID"] == "<pdf@acme.test>"
    # a us-ascii 7bit text with a non-ASCII footer: a new part too
    raw = hdr("alice@acme.test", "ext@remote.test", "ascii") + "\r\nplain\r\n"
    send(p, "alice@acme.test", ["ext@remote.test"], raw)
    m = parse([x for x in external(p, 2) if b"ascii@" in x][0])
    body, f = list(m.iter_parts())
    assert body.get_content().strip() == "plain"
    assert f.get_content().strip() == "Caf\u00e9 footer"
    # broken HTML (no </body>): appended at the end
    p.cli("config", "set", "footer.text", FOOT)
    raw = (hdr("alice@acme.test", "ext@remote.test", "broken") +
           "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
           "\r\n<div><p>unclosed <b>tags\r\n")
    send(p, "alice@acme.test", ["ext@remote.test"], raw)
    b = [x for x in external(p, 3) if b"broken@" in x][0]
    m = parse(b)
    assert m.get_content_type() == "text/html"
    c = m.get_content()
    assert c.index("unclosed") < c.index(HFOOT)
    # a malformed multipart (no closing boundary): still delivered, footered
    raw = (hdr("alice@acme.test", "ext@remote.test", "malformed") +
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n"
           "\r\n--zz\r\nContent-Type: text/plain\r\n\r\ntext without end\r\n")
    send(p, "alice@acme.test", ["ext@remote.test"], raw)
    b = [x for x in external(p, 4) if b"malformed@" in x][0]
    assert b"text without end" in b and b"ACME Corp" in b


def test_scopes(populated):
    p = populated
    configure(p, scope="postoffice")
    p.cli("postoffice", "set", "acme", "footer_text=PO acme footer")
    p.start(services=SERVICES)

    def one(subject):
        raw = hdr("alice@acme.test", "ext@remote.test", subject) + "\r\nx\r\n"
        # count before sending: the copy may be routed before we look
        n = len(queue_items(p.root, "smtp", "outgoing")) + 1
        send(p, "alice@acme.test", ["ext@remote.test"], raw)
        return [x for x in external(p, n) if f"{subject}@".encode() in x][0]

    b = one("s1")
    assert b"PO acme footer" in b and b"ACME Corp" not in b
    p.cli("config", "set", "footer.scope", "postoffice+global")
    b = one("s2")
    assert b.index(b"PO acme footer") < b.index(b"ACME Corp")
    p.cli("config", "set", "footer.scope", "global")
    b = one("s3")
    assert b"PO acme footer" not in b and b"ACME Corp" in b
    p.cli("config", "set", "footer.scope", "none")
    b = one("s4")
    assert b"ACME" not in b and b"PO acme" not in b

"""HTTP file upload (XEP-0363): slixmpp finds upload.acme.test, gets a
slot and PUTs the file to httpd, bob GETs it back; the size limit
(<file-too-large/> with the limit) and the quota are refused over XMPP
and again by httpd; a slot reused, altered (another mailbox, another
size), expired or for another post office's service is refused; names
and types that could hurt are refused or served harmless."""
import asyncio
import re
import socket
import ssl
import urllib.error
import urllib.request

import pytest

from xmpp_util import (PW, Raw, loop, slix_start,  # noqa: F401 (loop)
                       slix_stop, xmpp_server)

slixmpp = pytest.importorskip(
    "slixmpp", reason="python3-slixmpp missing (scripts/install-deps.sh)")
pytest.importorskip(
    "aiohttp", reason="python3-aiohttp missing (scripts/install-deps.sh)")

T = 30
NS = "urn:xmpp:http:upload:0"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = xmpp_server(tmp_path_factory, start=False)
    p.cli("config", "set", "http.public_url",
          f"http://127.0.0.1:{p.port('http')}")
    # the PUT streams to a file (http.max_upload); http.max_body stays
    # at its 1 MB: a 10 MB upload held in memory would be refused
    p.cli("config", "set", "http.max_upload", "12M")
    p.cli("config", "set", "xmpp.upload_max_size", "11M")
    p.start(services=["xmppd", "httpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def run(loop, coro, timeout=90):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid):
        super().__init__(jid, PW[jid.split("@")[0]])
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0363")

    async def start(self, port):
        await slix_start(self, port)
        return self

    async def stop(self):
        await slix_stop(self)


def http(method, url, data=None, headers=None):
    """(status, body, headers) of a request with urllib"""
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=T) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def slot(c, tag, name, size, to="upload.acme.test", ctype=None):
    """a slot request over a raw stream: (put, get) or the error text"""
    ct = f" content-type='{ctype}'" if ctype else ""
    c.send(f"<iq type='get' id='{tag}' to='{to}'><request xmlns='{NS}' "
           f"filename='{name}' size='{size}'{ct}/></iq>")
    got = c.expect(rf"<iq [^>]*id='{tag}'.*?</iq>").group(0)
    m = re.search(r"<put url='([^']+)'.*<get url='([^']+)'", got)
    if not m:
        return got
    unq = lambda u: u.replace("&amp;", "&")  # noqa: E731
    return unq(m.group(1)), unq(m.group(2))


def test_slixmpp_upload_and_download_10mb(srv, loop):
    data = bytes(range(256)) * (10 * 4096)        # 10 MiB
    async def go():
        a = await Client("alice@acme.test").start(srv.port("xmpp"))
        # XEP-0363 3 discovery by hand: find_upload_service of Debian's
        # slixmpp passes coroutines to asyncio.wait (Python 3.11 refuses)
        items = await a["xep_0030"].get_items(jid="acme.test")
        found = None
        for jid, _, _ in items["disco_items"]["items"]:
            info = await a["xep_0030"].get_info(jid=jid)
            di = info["disco_info"]
            if ("store", "file") in [(i[0], i[1]) for i in di["identities"]] \
                    and NS in di["features"]:
                found = info
        assert found is not None and str(found["from"]) == "upload.acme.test"
        form = found["disco_info"].iterables[0]["values"]
        assert form["FORM_TYPE"] == [NS]
        # the limit from the service's form
        assert int(form["max-file-size"]) == 11 * 1024 * 1024
        a["xep_0363"].upload_service = found["from"]
        a["xep_0363"].max_file_size = int(form["max-file-size"])
        import io
        url = await a["xep_0363"].upload_file(
            "notes v1.bin", size=len(data), input_file=io.BytesIO(data),
            content_type="application/octet-stream")
        await a.stop()
        return url
    url = run(loop, go())
    assert url.startswith(f"http://127.0.0.1:{srv.port('http')}/chat/"
                          "upload/")
    assert url.endswith("/notes%20v1.bin")
    st, body, hdr = http("GET", url)
    assert st == 200 and body == data
    assert hdr["Content-Type"] == "application/octet-stream"
    assert hdr["Content-Disposition"].startswith("attachment")
    assert "sandbox" in hdr["Content-Security-Policy"]
    st, _, _ = http("GET", url[:-3] + "xyz")
    assert st == 404


def test_slot_checks_over_xmpp(srv):
    c = Raw(srv.port("xmpp"))
    c.login("bob", "acme.test")
    # disco: the service and its limit
    c.send("<iq type='get' id='d1' to='acme.test'><query xmlns='http://"
           "jabber.org/protocol/disco#items'/></iq>")
    assert "upload.acme.test" in c.expect(r"id='d1'.*?</iq>").group(0)
    got = slot(c, "s1", "big.iso", 11 * 1024 * 1024 + 1)
    assert "<not-acceptable" in got and "<file-too-large" in got
    assert f"<max-file-size>{11 * 1024 * 1024}</max-file-size>" in got
    for bad, tag in (("", "s2"), ("a/b", "s3"), ("..", "s4"),
                     ("x" * 201, "s5")):
        assert "<bad-request" in slot(c, tag, bad, 10)
    assert "<bad-request" in slot(c, "s6", "a.txt", "-1")
    assert "<bad-request" in slot(c, "s7", "a.txt", "0")
    assert "<bad-request" in slot(c, "s8", "a.txt", "99999999999999999999")
    # another post office's service is not for bob
    assert "<forbidden" in slot(c, "s9", "a.txt", 10,
                                to="upload.other.test")
    # the session goes on
    c.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
    c.expect(r"id='p1'")
    c.close()


def test_slot_used_once_and_bound_to_its_terms(srv):
    c = Raw(srv.port("xmpp"))
    c.login("carol", "acme.test")
    put, get = slot(c, "u1", "pic.png", 5, ctype="image/png")
    # another size in the URL, another mailbox: the key no longer fits
    st, _, _ = http("PUT", put.replace("size=5", "size=6"), b"123456")
    assert st == 403
    m = re.search(r"/chat/upload/(\d+)/", put)
    other = put.replace(f"/upload/{m.group(1)}/",
                        f"/upload/{int(m.group(1)) + 1}/")
    assert http("PUT", other, b"12345")[0] == 403
    assert http("PUT", put.split("&key=")[0] + "&key=" + "0" * 64,
                b"12345")[0] == 403
    assert http("PUT", put.split("?")[0], b"12345")[0] == 403
    # the body must be the slot's size
    assert http("PUT", put, b"1234")[0] == 400
    assert http("GET", get)[0] == 404         # nothing stored by those
    st, _, _ = http("PUT", put, b"\x89PNG!", {"Content-Type": "image/png"})
    assert st == 201
    st, body, hdr = http("GET", get)
    assert st == 200 and body == b"\x89PNG!"
    assert hdr["Content-Type"] == "image/png"
    assert hdr["Content-Disposition"].startswith("inline")
    assert hdr["X-Content-Type-Options"] == "nosniff"
    # reused: refused, the file unchanged
    assert http("PUT", put, b"XXXXX")[0] == 409
    assert http("GET", get)[1] == b"\x89PNG!"
    # HEAD and a page type served harmless
    assert http("HEAD", get)[0] == 200
    put2, get2 = slot(c, "u2", "x.html", 20, ctype="text/html")
    assert http("PUT", put2, b"<script>1</script>xx",
                {"Content-Type": "text/html"})[0] == 201
    st, _, hdr = http("GET", get2)
    assert hdr["Content-Type"] == "application/octet-stream"
    assert hdr["Content-Disposition"].startswith("attachment")
    # malformed paths
    for path in ("/chat/upload/", "/chat/upload/1/zz/x",
                 "/chat/upload/abc/" + "0" * 32 + "/x"):
        assert http("GET", f"http://127.0.0.1:{srv.port('http')}{path}"
                    )[0] == 404
    c.close()


def test_expired_slot_refused(srv):
    """an expiry in the past, signed by xmppd: only the time is wrong"""
    c = Raw(srv.port("xmpp"))
    c.login("alice", "acme.test", resource="exp")
    put, _ = slot(c, "e1", "late.txt", 3)
    # the key covers the expiry: moving it back breaks the key too, so
    # the refusal is 403 either way; what matters is no file stored
    exp = int(re.search(r"expires=(\d+)", put).group(1))
    assert http("PUT", put.replace(f"expires={exp}",
                                   f"expires={exp - 1000}"), b"abc")[0] == 403
    c.close()


def test_quota(srv):
    srv.cli("config", "set", "xmpp.upload_quota", "1M")
    try:
        c = Raw(srv.port("xmpp"))
        c.login("dave", "other.test")
        put, get = slot(c, "q1", "a.bin", 700 * 1024,
                        to="upload.other.test")
        put2, _ = slot(c, "q2", "b.bin", 700 * 1024, to="upload.other.test")
        assert http("PUT", put, b"a" * (700 * 1024))[0] == 201
        # the second slot was given before the first filled the quota:
        # httpd refuses it
        got = head_only(srv, put2, 700 * 1024)
        assert got.startswith(b"HTTP/1.1 507"), got
        st, body, _ = http("PUT", put2, b"b" * (700 * 1024))
        assert st == 507 and b"quota" in body
        # and xmppd gives no further slot
        got = slot(c, "q3", "c.bin", 700 * 1024, to="upload.other.test")
        assert "<resource-constraint" in got and "quota" in got
        assert http("GET", get)[0] == 200
        c.close()
    finally:
        srv.cli("config", "unset", "xmpp.upload_quota")


def head_only(srv, put, length, expect=True):
    """a PUT's header block alone (Expect: 100-continue): what httpd
    answers before any of the body"""
    target = put.split(str(srv.port("http")), 1)[1]
    s = socket.create_connection(("127.0.0.1", srv.port("http")), timeout=T)
    ex = "Expect: 100-continue\r\n" if expect else ""
    s.sendall(f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: "
              f"{length}\r\n{ex}\r\n".encode())
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    return got


def test_refused_before_the_body(srv):
    """the slot's checks answer the header block: no 100 Continue, no
    byte of the body read or stored"""
    c = Raw(srv.port("xmpp"))
    c.login("alice", "acme.test", resource="early")
    put, get = slot(c, "b1", "early.bin", 2 * 1024 * 1024)
    # the limit lowered after the slot was given: 413 at once
    srv.cli("config", "set", "xmpp.upload_max_size", "1M")
    try:
        got = head_only(srv, put, 2 * 1024 * 1024)
    finally:
        srv.cli("config", "set", "xmpp.upload_max_size", "11M")
    assert got.startswith(b"HTTP/1.1 413"), got
    assert b"100 Continue" not in got
    # a Content-Length other than the slot's: 400 at once
    got = head_only(srv, put, 2 * 1024 * 1024 - 1)
    assert got.startswith(b"HTTP/1.1 400"), got
    # a forged key: 403 at once
    got = head_only(srv, put.split("&key=")[0] + "&key=" + "0" * 64,
                    2 * 1024 * 1024)
    assert got.startswith(b"HTTP/1.1 403"), got
    # another method: 405, not an upload
    assert http("POST", put, b"e" * 10)[0] == 405
    # the right one: 100 Continue, then the body
    got = head_only(srv, put, 2 * 1024 * 1024)
    assert got.startswith(b"HTTP/1.1 100 Continue"), got
    assert http("GET", get)[0] == 404      # nothing stored by any of them
    data = b"e" * (2 * 1024 * 1024)
    assert http("PUT", put, data)[0] == 201
    # used: 409 before the body
    assert head_only(srv, put, len(data)).startswith(b"HTTP/1.1 409")
    assert http("GET", get)[1] == data
    c.close()


def test_over_http_max_upload_refused(srv):
    c = Raw(srv.port("xmpp"))
    c.login("erin", "other.test")
    put, _ = slot(c, "m1", "m.bin", 100, to="upload.other.test")
    # refused by its Content-Length, before the body: headers only
    got = head_only(srv, put, 13 * 1024 * 1024, expect=False)
    assert got.startswith(b"HTTP/1.1 413"), got
    # the session goes on
    c.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
    c.expect(r"id='p1'")
    c.close()

"""A post office's logos (manual 5.3.6 "may brand"; src/lib-admin/
branding.c, src/httpd/api-admin-branding.c, branding-http.c) over real
HTTP against a real httpd: a SYSADMIN uploads PNG/JPEG/SVG logos through
Branding/set, the login pages find them by the login's domain or the
Host, the image is served with its type, nosniff and a sandboxing CSP;
an ADMIN without webadmin_brand is refused, with it allowed for its own
post office only; bad types, forged content, scripted SVG, oversize
and bad base64 are refused naming the logo; the audit log names the
actor; deleting the post office removes its logos."""
import base64
import http.client
import json
import struct
import zlib

from test_api import Client, SYS_PW, ALPHA_PW, BETA_PW, web  # noqa: F401


def png(w=4, h=2):
    """a real PNG image"""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + \
            struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\0" + b"\x20\x54\xc5" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
       b'width="120" height="30"><rect width="120" height="30" fill="#2454c5"/>'
       b'<text x="6" y="20" fill="#fff">Alpha &amp; Co</text></svg>')


def logo(typ, data):
    return {"type": typ, "data": base64.b64encode(data).decode()}


def brand_set(c, po, patch):
    name, res, _ = c.call("Branding/set", {"update": {po: patch}})
    assert name == "Branding/set", res
    return res


def get(port, path, host=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers={"Host": host or f"127.0.0.1:{port}"})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def test_branding_upload_serve_and_limits(web):  # noqa: F811
    port = web.http
    # the fixture's http.max_body is 64K: a logo near 256 KB needs more
    web.stop()
    web.cli("config", "set", "http.max_body", "1M")
    web.start(services=["httpd"])
    sysc = Client(port)
    sysc.login("root@hq", SYS_PW)
    image = png()
    res = brand_set(sysc, "alpha", {"login": logo("image/png", image),
                                    "banner": logo("image/svg+xml", SVG)})
    assert "alpha" in res["updated"], res
    up = res["updated"]["alpha"]
    assert up["login"]["type"] == "image/png" and up["login"]["size"] == len(image)
    assert up["banner"]["type"] == "image/svg+xml"
    name, got, _ = sysc.call("Branding/get", {"ids": ["alpha", "beta", "nope"]})
    assert [o["id"] for o in got["list"]] == ["alpha", "beta"]
    assert got["notFound"] == ["nope"]
    assert got["list"][1]["login"] is None and got["list"][1]["banner"] is None
    url = got["list"][0]["login"]["url"]
    assert url.startswith("/api/branding/alpha/login?v=")

    # the image: its bytes, its type, nothing a browser could run
    r, body = get(port, url)
    assert r.status == 200 and body == image
    assert r.getheader("Content-Type") == "image/png"
    assert r.getheader("X-Content-Type-Options") == "nosniff"
    assert "sandbox" in r.getheader("Content-Security-Policy")
    assert "default-src 'none'" in r.getheader("Content-Security-Policy")
    r, body = get(port, "/api/branding/alpha/banner")
    assert r.status == 200 and body == SVG
    assert r.getheader("Content-Type") == "image/svg+xml"
    assert "sandbox" in r.getheader("Content-Security-Policy")
    for bad in ("/api/branding/alpha/favicon", "/api/branding/beta/login",
                "/api/branding/../config/login", "/api/branding/alpha/",
                "/api/branding//login"):
        r, _ = get(port, bad)
        assert r.status == 404, bad

    # the login pages' lookup: by the login's domain, never its mailbox
    for q in ("login=carol@alpha.test", "login=nobody@alpha.test",
              "login=x@alpha", "postoffice=alpha"):
        r, body = get(port, f"/api/branding?{q}")
        assert r.status == 200, q
        o = json.loads(body)
        assert o["postOffice"] == "alpha" and o["login"] == url, (q, o)
        assert o["banner"].startswith("/api/branding/alpha/banner?v=")
    for q in ("login=dave@beta.test", "login=x@nowhere.test", "login=",
              "postoffice=nope"):
        r, body = get(port, f"/api/branding?{q}")
        assert r.status == 200 and json.loads(body) == {}, (q, body)
    r, body = get(port, "/api/branding", host=f"alpha.test:{port}")
    assert json.loads(body)["postOffice"] == "alpha"

    # bad logos: refused naming the logo, nothing changed
    cases = [
        ({"login": logo("image/gif", b"GIF89a....")}, "login"),
        ({"login": logo("image/png", b"\xff\xd8\xff\xe0 jpeg")}, "login"),
        ({"login": logo("image/jpeg", image)}, "login"),
        ({"banner": logo("image/svg+xml", SVG.replace(b"</svg>",
                         b"<script>alert(1)</script></svg>"))}, "banner"),
        ({"banner": logo("image/svg+xml", SVG.replace(b"<rect",
                         b"<rect onload=\"alert(1)\""))}, "banner"),
        ({"banner": logo("image/svg+xml", SVG.replace(b"<rect",
                         b"<image href=\"https://evil.test/x.png\"/><rect"))}, "banner"),
        ({"banner": logo("image/svg+xml", b'<svg/onload="alert(1)"/>')}, "banner"),
        ({"banner": logo("image/svg+xml", b"<html><body>hi</body></html>")}, "banner"),
        ({"login": logo("image/png", image + b"\0" * (256 * 1024))}, "login"),
        ({"login": {"type": "image/png", "data": "%%%not base64%%%"}}, "login"),
        ({"login": "a string"}, "login"),
        ({"favicon": logo("image/png", image)}, "favicon"),
    ]
    for patch, prop in cases:
        res = brand_set(sysc, "alpha", patch)
        err = res["notUpdated"]["alpha"]
        assert err["type"] == "invalidProperties" and err["properties"] == [prop], \
            (patch.keys(), err)
    r, body = get(port, "/api/branding/alpha/login")
    assert body == image

    # an ADMIN: only with webadmin_brand, only its own post office
    a = Client(port)
    a.login("postmaster@alpha", ALPHA_PW)
    res = brand_set(a, "alpha", {"login": None})
    assert res["notUpdated"]["alpha"]["type"] == "forbidden", res
    assert "webadmin_brand" in res["notUpdated"]["alpha"]["description"]
    r, body = get(port, "/api/branding/alpha/login")
    assert r.status == 200
    web.cli("postoffice", "set", "alpha", "webadmin_brand=yes")
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"
    res = brand_set(a, "alpha", {"login": logo("image/jpeg", jpeg)})
    assert res["updated"]["alpha"]["login"]["type"] == "image/jpeg", res
    r, body = get(port, "/api/branding/alpha/login")
    assert body == jpeg and r.getheader("Content-Type") == "image/jpeg"
    res = brand_set(a, "beta", {"login": logo("image/png", image)})
    assert res["notUpdated"]["beta"]["type"] == "notFound", res
    name, got, _ = a.call("Branding/get", {"ids": None})
    assert [o["id"] for o in got["list"]] == ["alpha"]
    # null removes
    res = brand_set(a, "alpha", {"banner": None})
    assert res["updated"]["alpha"]["banner"] is None
    r, _ = get(port, "/api/branding/alpha/banner")
    assert r.status == 404

    # the audit log names who did it
    name, aud, _ = sysc.call("AuditEntry/query", {"filter": {"type": "Branding"}})
    rows = [(e["actor"], e["text"]) for e in aud["list"]]
    assert ("postmaster@alpha", "login=image/jpeg") in rows, rows
    assert ("postmaster@alpha", "banner=removed") in rows, rows
    assert ("root@hq", "login=image/png banner=image/svg+xml") in rows, rows
    assert "postmaster@alpha: Branding/set update alpha" in web.log("httpd")

    # the post office goes, its logos with it
    assert (web.root / "branding/alpha").is_dir()
    name, res, _ = sysc.call("PostOffice/set", {"destroy": ["alpha"]})
    assert res["destroyed"] == ["alpha"], res
    assert not (web.root / "branding/alpha").exists()
    r, _ = get(port, "/api/branding/alpha/login")
    assert r.status == 404

"""TOTP (RFC 6238) as the second factor of the web login (issue 17, item
1): enrolment at the first login after two-factor came on (secret,
otpauth URI and a QR code that zbarimg decodes), codes made by oathtool,
each code taken once, codes of other time steps refused, recovery codes
(each once), wrong codes throttled like wrong passwords, admin reset, the
'new IP address' challenge, and the secret sealed at rest. Real HTTP
(http.client) against a real posternd."""
import re
import shutil
import sqlite3
import subprocess
import time

import pytest

from conftest import Postern
from login_util import Web, oathtool

PW = "Boss-secret-8812"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("login-totp") / "root")
    p.init()
    p.cli("config", "set", "auth.max_failures", "4")
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-711")
    for name in ("boss", "chief", "head", "lead", "owner"):
        p.cli("mailbox", "add", f"{name}@acme", "--password", PW, "--type",
              "ADMIN")
    p.cli("mailbox", "add", "reader@acme", "--password", PW)
    p.start(services=["httpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def enrol(p, ident, src="127.0.0.1"):
    """enrol ident: its base32 secret and recovery codes"""
    w = Web(p.port("http"), src)
    r = w.login(ident, PW)
    assert r.status == 401, r.json
    assert r.json["type"].endswith("totpEnrolment")
    secret = r.json["secret"]
    r = w.login(ident, PW, oathtool(secret))
    assert r.status == 200, r.json
    return secret, r.json["recoveryCodes"]


def svg_to_pgm(svg, scale=4):
    """The served SVG's dark modules (path squares "Mx yh1v1h-1z" on a
    viewBox) as a binary PGM: ImageMagick here has no SVG renderer for
    zbarimg, so the test draws what a browser would."""
    m = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert m, svg[:200]
    w = int(m.group(1))
    dark = set()
    for x, y in re.findall(r"M(\d+) (\d+)h1v1h-1z", svg):
        dark.add((int(x), int(y)))
    assert dark, "no modules in the QR code"
    rows = bytearray()
    for y in range(w * scale):
        for x in range(w * scale):
            rows.append(0 if (x // scale, y // scale) in dark else 255)
    return f"P5 {w * scale} {w * scale} 255\n".encode() + bytes(rows)


def next_step_code(secret):
    """the code of the next time step (accepted: one step of skew)"""
    return oathtool(secret, time.time() + 30)


def test_enrolment_qr_and_codes(srv, tmp_path):
    p = srv
    p.cli("mailbox", "set", "boss@acme", "twofactor_mode=always")
    w = Web(p.port("http"))
    # without two-factor enrolment, the password alone is not enough
    r = w.login("boss@acme", PW)
    assert r.status == 401 and r.json["type"].endswith("totpEnrolment")
    assert w.cookie is None
    secret, uri = r.json["secret"], r.json["otpauthUri"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert uri.startswith("otpauth://totp/Postern:boss%40acme?") or \
        uri.startswith("otpauth://totp/Postern:boss@acme?")
    assert f"secret={secret}" in uri
    # the QR code carries the URI
    if shutil.which("zbarimg"):
        img = tmp_path / "qr.pgm"
        img.write_bytes(svg_to_pgm(r.json["qrSvg"]))
        out = subprocess.run(["zbarimg", "-q", "--raw", str(img)],
                             capture_output=True, text=True)
        assert out.stdout.strip() == uri, out.stderr
    # the same pending secret until it is confirmed
    r = w.login("boss@acme", PW)
    assert r.json["secret"] == secret
    # a wrong code does not enrol
    r = w.login("boss@acme", PW, "000000" if oathtool(secret) != "000000"
                else "111111")
    assert r.status == 401 and r.json["type"].endswith("totpEnrolment")
    code = oathtool(secret)
    r = w.login("boss@acme", PW, code)
    assert r.status == 200, r.json
    assert w.cookie is not None
    codes = r.json["recoveryCodes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    # now enrolled: the password alone asks for the code
    r = Web(p.port("http")).login("boss@acme", PW)
    assert r.status == 401 and r.json["type"].endswith("secondFactorRequired")
    # each code once: the one just used is refused
    r = Web(p.port("http")).login("boss@acme", PW, code)
    assert r.status == 401 and r.json["type"].endswith("secondFactorFailed")
    # a code of the next step is taken, after it the current one is old
    r = Web(p.port("http")).login("boss@acme", PW, next_step_code(secret))
    assert r.status == 200, r.json
    # a code from five minutes ago, or five minutes ahead, is refused
    for at in (time.time() - 300, time.time() + 300):
        r = Web(p.port("http")).login("boss@acme", PW, oathtool(secret, at))
        assert r.status == 401, r.json
    # the right code with a wrong password is a wrong password
    r = Web(p.port("http")).login("boss@acme", PW + "x", oathtool(secret))
    assert r.status == 401 and r.json["type"].endswith("loginFailed")
    # a recovery code works once
    r = Web(p.port("http")).login("boss@acme", PW, codes[0].lower())
    assert r.status == 200, r.json
    r = Web(p.port("http")).login("boss@acme", PW, codes[0])
    assert r.status == 401
    show = p.cli("mailbox", "twofactor", "show", "boss@acme", json_out=True)
    assert show["totp_enrolled"] and show["recovery_codes_left"] == 9
    # the secret is not stored in the clear
    con = sqlite3.connect(str(p.root / "config/postern.db"))
    (stored,) = con.execute("SELECT secret FROM totp t JOIN mailbox m ON "
                            "m.id = t.mailbox_id WHERE m.name = 'boss'"
                            ).fetchone()
    con.close()
    import base64
    raw = base64.b32decode(secret)
    assert secret not in stored and raw.hex() not in stored
    assert (p.root / "config/totp.key").stat().st_mode & 0o077 == 0
    # the web logins are in the login record
    seen = p.cli("mailbox", "logins", "boss@acme", json_out=True)
    assert any(s["protocol"] == "web" and s["address"] == "127.0.0.1"
               for s in seen)


def test_admin_reset_enrols_again(srv):
    p = srv
    p.cli("mailbox", "set", "chief@acme", "twofactor_mode=always")
    secret, _ = enrol(p, "chief@acme")
    r = p.cli("mailbox", "twofactor", "reset", "chief@acme", check=False)
    assert r.returncode == 2          # no terminal, no --yes
    p.cli("mailbox", "twofactor", "reset", "chief@acme", "--yes")
    r = Web(p.port("http")).login("chief@acme", PW, oathtool(secret))
    assert r.status == 401 and r.json["type"].endswith("totpEnrolment")
    assert r.json["secret"] != secret


def test_new_ip_challenge(srv):
    """twofactor_mode=new_ip: the code from another address than the last
    web login's (manual 5.5.9)"""
    p = srv
    p.cli("mailbox", "set", "head@acme", "twofactor_mode=new_ip")
    secret, recovery = enrol(p, "head@acme", "127.0.0.1")
    # a known address: no code asked
    r = Web(p.port("http"), "127.0.0.1").login("head@acme", PW)
    assert r.status == 200, r.json
    # a new one: the code
    r = Web(p.port("http"), "127.0.0.9").login("head@acme", PW)
    assert r.status == 401 and r.json["type"].endswith("secondFactorRequired")
    r = Web(p.port("http"), "127.0.0.9").login("head@acme", PW,
                                              next_step_code(secret))
    assert r.status == 200, r.json
    time.sleep(1.1)     # the record's times are seconds: .9 is later
    r = Web(p.port("http"), "127.0.0.9").login("head@acme", PW)
    assert r.status == 200, r.json
    # manual 5.5.9: "a different IP address than the last login": back
    # at the first address, the code is asked again
    r = Web(p.port("http"), "127.0.0.1").login("head@acme", PW)
    assert r.status == 401 and r.json["type"].endswith("secondFactorRequired")
    r = Web(p.port("http"), "127.0.0.1").login("head@acme", PW, recovery[0])
    assert r.status == 200, r.json
    # logins over other protocols do not count: the last web login's is
    # the address
    assert Web(p.port("http"), "127.0.0.1").login("head@acme",
                                                  PW).status == 200


def test_wrong_codes_are_throttled(srv):
    p = srv
    p.cli("mailbox", "set", "lead@acme", "twofactor_mode=always")
    src = "127.0.0.44"
    secret, _ = enrol(p, "lead@acme", src)
    w = Web(p.port("http"), src)
    good = next_step_code(secret)
    for i in range(4):
        bad = f"{(int(good) + 1 + i) % 1000000:06d}"
        r = w.login("lead@acme", PW, bad)
        assert r.status == 401, r.json
        # the password alone (the code asked) does not clear the count
        if i < 3:
            r = w.login("lead@acme", PW)
            assert r.status == 401 and \
                r.json["type"].endswith("secondFactorRequired")
    # auth.max_failures reached: even the right code is refused now
    r = w.login("lead@acme", PW, good)
    assert r.status == 429, r.json
    # another address is not affected
    r = Web(p.port("http"), "127.0.0.45").login("lead@acme", PW, good)
    assert r.status == 200, r.json


def test_wrong_codes_from_many_addresses_lock_the_mailbox(srv):
    p = srv
    p.cli("mailbox", "set", "owner@acme", "twofactor_mode=always")
    secret, _ = enrol(p, "owner@acme", "127.0.0.60")
    good = next_step_code(secret)
    n = 0
    for a in range(61, 65):              # 3 per address: none throttled
        for i in range(3):
            bad = f"{(int(good) + 1 + n) % 1000000:06d}"
            n += 1
            r = Web(p.port("http"), f"127.0.0.{a}").login("owner@acme", PW,
                                                          bad)
            assert r.status in (401, 429), r.json
    r = Web(p.port("http"), "127.0.0.70").login("owner@acme", PW, good)
    assert r.status == 429 and r.json["type"].endswith("secondFactorLocked")
    fails = p.cli("mailbox", "failed-logins", "--mailbox", "owner@acme",
                  json_out=True)
    assert sum(f["failures"] for f in fails) >= 10
    assert all(f["login"] == "owner@acme" for f in fails)


def test_webmail_login_is_a_web_login_with_the_second_factor(srv):
    """POST /jmap/mail/login runs the same web login as /api/login:
    protocol web, enrolment, recovery codes, the code asked, wrong codes
    throttled; a USER mailbox (webmail) logs in there, not at the admin"""
    p = srv
    port = p.port("http")
    p.cli("mailbox", "set", "reader@acme", "twofactor_mode=always")
    w = Web(port, "127.0.0.80", path="/jmap/mail/login")
    r = w.login("reader@acme", PW)
    assert r.status == 401 and r.json["type"].endswith("totpEnrolment"), \
        r.json
    assert w.cookie is None
    secret = r.json["secret"]
    assert f"secret={secret}" in r.json["otpauthUri"]
    r = w.login("reader@acme", PW, oathtool(secret))
    assert r.status == 200, r.json
    assert r.json["login"] == "reader@acme"
    assert len(r.json["recoveryCodes"]) == 10
    # the cookie is a webmail session
    s = w.post("/jmap/mail/session", None)
    assert s.status == 200 and s.json["username"] == "reader@acme"
    # the next login asks for the code; a wrong one fails; a recovery
    # code logs in once
    w2 = Web(port, "127.0.0.81", path="/jmap/mail/login")
    r = w2.login("reader@acme", PW)
    assert r.status == 401 and r.json["type"].endswith(
        "secondFactorRequired"), r.json
    good = next_step_code(secret)
    bad = f"{(int(good) + 1) % 1000000:06d}"
    r = w2.login("reader@acme", PW, bad)
    assert r.status == 401 and r.json["type"].endswith("secondFactorFailed")
    assert w2.cookie is None
    r = w2.login("reader@acme", PW, good)
    assert r.status == 200, r.json
    # the web login is recorded as "web", never as the API's Basic
    seen = p.cli("mailbox", "logins", "reader@acme", json_out=True)
    protos = {x["protocol"] for x in seen}
    assert protos == {"web"}, seen
    # the admin login admits no USER mailbox, before any second factor
    r = Web(port, "127.0.0.82").login("reader@acme", PW)
    assert r.status == 403 and r.json["type"].endswith("forbidden"), r.json
    # wrong codes at the webmail login count like wrong passwords
    # (auth.max_failures 4): then even the right code is refused
    w3 = Web(port, "127.0.0.83", path="/jmap/mail/login")
    good = next_step_code(secret)
    for i in range(4):
        r = w3.login("reader@acme", PW, f"{(int(good) + 2 + i) % 1000000:06d}")
        assert r.status == 401, r.json
    r = w3.login("reader@acme", PW, good)
    assert r.status == 429, r.json
    # JMAP Basic with the main password stays refused (app passwords only)
    import base64
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request("GET", "/jmap/mail/session", headers={
        "Authorization": "Basic " + base64.b64encode(
            f"reader@acme:{PW}".encode()).decode()})
    assert c.getresponse().status == 401
    c.close()


def admin_call(w, name, args):
    r = w.post("/jmap/api", {"using": ["urn:ietf:params:jmap:core",
                                       "urn:postern:admin"],
                             "methodCalls": [[name, args, "c0"]]})
    assert r.status == 200, r.json
    return r.json["methodResponses"][0][:2]


def test_admin_reset_from_the_web_admin(srv):
    """the web admin's TwoFactor/get and /set (the CLI's twofactor show
    and reset): the state of a mailbox of the admin's post office, a
    reset that makes the next login enrol again, devices forgotten; not
    for another post office's admin; bad arguments refused"""
    p = srv
    port = p.port("http")
    p.cli("postoffice", "add", "beta", "--password", "pm-secret-712")
    p.cli("mailbox", "add", "warden@acme", "--password", PW, "--type",
          "ADMIN")
    p.cli("mailbox", "add", "guard@beta", "--password", PW, "--type",
          "ADMIN")
    p.cli("mailbox", "add", "member@acme", "--password", PW)
    p.cli("mailbox", "set", "member@acme", "twofactor_mode=always")
    w = Web(port, "127.0.0.90", path="/jmap/mail/login")
    secret = w.login("member@acme", PW).json["secret"]
    assert w.login("member@acme", PW, oathtool(secret)).status == 200
    admin = Web(port, "127.0.0.91")
    assert admin.login("warden@acme", PW).status == 200
    name, res = admin_call(admin, "TwoFactor/get", {"mailbox": "member@acme"})
    assert name == "TwoFactor/get", res
    assert res["challenge"] == "always" and res["totpEnrolled"], res
    assert res["recoveryCodesLeft"] == 10 and res["type"] == "totp", res
    # another post office's admin does not reach it
    outsider = Web(port, "127.0.0.92")
    assert outsider.login("guard@beta", PW).status == 200
    for m, a in (("TwoFactor/get", {}), ("TwoFactor/set", {"reset": True})):
        name, res = admin_call(outsider, m, dict(a, mailbox="member@acme"))
        assert name == "error" and res["type"] == "notFound", res
    name, res = admin_call(admin, "TwoFactor/set", {"mailbox": "member@acme"})
    assert name == "error" and res["type"] == "invalidArguments", res
    name, res = admin_call(admin, "TwoFactor/set", {
        "mailbox": "member@acme", "reset": True, "forgetDevices": True})
    assert name == "error" and res["type"] == "invalidArguments", res
    name, res = admin_call(admin, "TwoFactor/set", {
        "mailbox": "member@acme", "forgetDevices": True})
    assert res["devicesForgotten"] == 0, res
    name, res = admin_call(admin, "TwoFactor/set", {
        "mailbox": "member@acme", "reset": True})
    assert res["reset"] is True, res
    name, res = admin_call(admin, "TwoFactor/get", {"mailbox": "member@acme"})
    assert not res["totpEnrolled"] and res["recoveryCodesLeft"] == 0, res
    # the next login enrols again, with a new secret
    r = Web(port, "127.0.0.90", path="/jmap/mail/login").login(
        "member@acme", PW, next_step_code(secret))
    assert r.status == 401 and r.json["type"].endswith("totpEnrolment")
    assert r.json["secret"] != secret

"""Passkeys (WebAuthn) at the web logins (issue 17, item 3), over real
HTTP against a real posternd, with a software authenticator
(passkey_util.py) for each algorithm the server takes (ES256, EdDSA,
RS256): registration with attestation "none", passwordless login at the
web admin and the webmail endpoints, a passkey as the second factor of a
two-factor mailbox, the owner's list/rename/remove, the admin's CLI, and
bad input: another origin, another rp id, a replayed or expired
challenge, a counter going backwards, no user verification, malformed
CBOR, another mailbox's key."""
import sqlite3

import pytest

from conftest import Postern
from login_util import Web
from passkey_util import UP, SoftKey, b64u, cbor

PW = "Pass-key-secret-6620"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("login-passkey") / "root")
    p.init()
    p.cli("config", "set", "auth.max_failures", "50")
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-711")
    for name in ("boss", "chief", "keeper"):
        p.cli("mailbox", "add", f"{name}@acme", "--password", PW, "--type",
              "ADMIN")
    p.cli("mailbox", "add", "reader@acme", "--password", PW)
    p.start(services=["httpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def web(p, path="/api/login", src="127.0.0.1"):
    """a client that uses the host name localhost (rp id localhost)"""
    port = p.port("http")
    return Web(port, src, path=path, host=f"localhost:{port}")


def origin(p):
    return f"http://localhost:{p.port('http')}"


def logged_in(p, ident, path="/api/login"):
    w = web(p, path)
    r = w.login(ident, PW)
    assert r.status == 200, r.json
    return w


def register(p, w, key, name, prefix="/api/passkey/"):
    r = w.post(prefix + "options", {"purpose": "register"})
    assert r.status == 200, r.json
    opts = r.json["publicKey"]
    return w.post(prefix + "register", {
        "name": name, "credential": key.register(opts, origin(p))})


def login_options(p, w, prefix="/api/passkey/"):
    r = w.post(prefix + "options", {"purpose": "login"})
    assert r.status == 200, r.json
    return r.json["publicKey"]


def test_register_and_passwordless_login_every_algorithm(srv):
    p = srv
    w = logged_in(p, "boss@acme")
    keys = {"phone": SoftKey(-7), "laptop": SoftKey(-8), "token": SoftKey(-257)}
    for name, key in keys.items():
        r = register(p, w, key, name)
        assert r.status == 200, r.json
    listed = w.post("/api/passkey/list", None).json["passkeys"]
    assert [(k["name"], k["alg"]) for k in listed] == [
        ("phone", "ES256"), ("laptop", "EdDSA"), ("token", "RS256")]
    # the creation options exclude the keys registered already and ask
    # for attestation none on the host name the browser used
    opts = w.post("/api/passkey/options", {"purpose": "register"}).json[
        "publicKey"]
    assert opts["rp"]["id"] == "localhost" and opts["attestation"] == "none"
    assert {c["id"] for c in opts["excludeCredentials"]} == {
        k.id for k in keys.values()}
    # each key logs in without a password, at both endpoints
    for path, prefix in (("/api/login", "/api/passkey/"),
                         ("/jmap/mail/login", "/jmap/mail/passkey/")):
        for name, key in keys.items():
            c = web(p, path)
            opts = login_options(p, c, prefix)
            assert opts["userVerification"] == "required"
            assert opts["allowCredentials"] == []
            r = c.login(None, None, passkey=key.assertion(opts, origin(p)))
            assert r.status == 200, (name, path, r.json)
            assert r.json["login"] == "boss@acme"
            assert c.cookie is not None
    # the web admin session works; the counters moved
    r = c.post("/jmap/mail/session", None)
    assert r.status == 200 and r.json["username"] == "boss@acme"
    listed = w.post("/api/passkey/list", None).json["passkeys"]
    assert all(k["signCount"] == 2 and k["lastUsed"] > 0 for k in listed)
    # a name twice is refused; rename and remove by the owner
    r = register(p, w, SoftKey(), "phone")
    assert r.status == 409, r.json
    pid = listed[0]["id"]
    r = w.post("/api/passkey/rename", {"id": pid, "name": "old phone"})
    assert r.status == 200 and r.json["passkeys"][0]["name"] == "old phone"
    r = w.post("/api/passkey/rename", {"id": pid, "name": "x\u0007"})
    assert r.status == 400
    r = w.post("/api/passkey/remove", {"id": pid})
    assert r.status == 200 and len(r.json["passkeys"]) == 2
    c = web(p)
    r = c.login(None, None, passkey=keys["phone"].assertion(
        login_options(p, c), origin(p)))
    assert r.status == 401 and r.json["type"].endswith("passkeyFailed")
    # another mailbox cannot remove boss's keys
    other = logged_in(p, "chief@acme")
    r = other.post("/api/passkey/remove", {"id": listed[1]["id"]})
    assert r.status == 404
    # the login record says web
    seen = p.cli("mailbox", "logins", "boss@acme", json_out=True)
    assert {s["protocol"] for s in seen} == {"web"}


def test_bad_assertions_are_refused(srv):
    p = srv
    w = logged_in(p, "keeper@acme")
    key = SoftKey()
    assert register(p, w, key, "main").status == 200
    c = web(p)

    def attempt(**kw):
        opts = login_options(p, c)
        return opts, c.login(None, None, passkey=key.assertion(
            opts, kw.pop("origin", origin(p)), **kw))

    # another origin; the challenge is used up by the attempt
    opts, r = attempt(origin="http://evil.test")
    assert r.status == 401 and "origin" in r.json["detail"], r.json
    r = c.login(None, None, passkey=key.assertion(opts, origin(p)))
    assert r.status == 401 and "challenge" in r.json["detail"], r.json
    # another port of the same host is another origin
    _, r = attempt(origin="http://localhost:1")
    assert r.status == 401
    # another relying party
    _, r = attempt(rp_id="evil.test")
    assert r.status == 401 and "relying party" in r.json["detail"]
    # a challenge of our own making
    _, r = attempt(challenge=b64u(b"x" * 32))
    assert r.status == 401 and "challenge" in r.json["detail"]
    # no user verification: not enough without a password
    _, r = attempt(flags=UP)
    assert r.status == 401 and "verification" in r.json["detail"]
    # a registration's clientData type
    _, r = attempt(type_="webauthn.create")
    assert r.status == 401 and "type" in r.json["detail"]
    # a good one, replayed: the challenge is gone
    opts, r = attempt()
    assert r.status == 200, r.json
    r = c.login(None, None, passkey=key.assertion(opts, origin(p)))
    assert r.status == 401 and "challenge" in r.json["detail"]
    # the counter going backwards (a cloned authenticator)
    _, r = attempt(counter=1)
    assert r.status == 401 and "counter" in r.json["detail"], r.json
    # a signature that is not the key's
    opts = login_options(p, c)
    a = key.assertion(opts, origin(p))
    a["response"]["signature"] = b64u(SoftKey().sign(b"other"))
    r = c.login(None, None, passkey=a)
    assert r.status == 401 and "signature" in r.json["detail"]
    # an expired challenge
    opts = login_options(p, c)
    con = sqlite3.connect(str(p.root / "config/postern.db"))
    con.execute("UPDATE passkey_challenge SET expires = 1 WHERE challenge = ?",
                (opts["challenge"],))
    con.commit()
    con.close()
    r = c.login(None, None, passkey=key.assertion(opts, origin(p)))
    assert r.status == 401 and "expired" in r.json["detail"]
    # malformed input: not base64url, not JSON
    opts = login_options(p, c)
    a = key.assertion(opts, origin(p))
    a["response"]["authenticatorData"] = "!!!"
    assert c.login(None, None, passkey=a).status == 401
    assert c.login(None, None, passkey="x").status == 400
    # after all that, the key still works
    _, r = attempt()
    assert r.status == 200, r.json
    # the failures are in the record, as failed logins from the address
    fails = p.cli("mailbox", "failed-logins", "--by", "address",
                  json_out=True)
    assert fails, fails


def test_bad_registrations_are_refused(srv):
    p = srv
    w = logged_in(p, "chief@acme")

    def reg(mangle=None, **kw):
        opts = w.post("/api/passkey/options", {"purpose": "register"}).json[
            "publicKey"]
        cred = SoftKey().register(opts, kw.pop("origin", origin(p)), **kw)
        if mangle:
            mangle(cred)
        return w.post("/api/passkey/register", {"name": "k", "credential":
                                                cred})

    def att(raw):
        def m(cred):
            cred["response"]["attestationObject"] = b64u(raw)
        return m

    r = reg(origin="https://evil.test")
    assert r.status == 400 and "origin" in r.json["detail"], r.json
    r = reg(rp_id="evil.test")
    assert r.status == 400 and "relying party" in r.json["detail"]
    r = reg(fmt="packed")
    assert r.status == 400 and "none" in r.json["detail"]
    # malformed CBOR: cut short, a map claiming a million entries,
    # indefinite lengths, deep nesting, trailing bytes, not a map
    for raw in (b"\xa3\x63fmt", b"\xba\x00\x0f\x42\x40", b"\xbf\xff",
                b"\x81" * 40, cbor({"fmt": "none"}) + b"\x00", cbor([1, 2]),
                b"", b"\xff"):
        r = reg(att(raw))
        assert r.status == 400, (raw, r.json)
        assert "CBOR" in r.json["detail"] or "attestation" in \
            r.json["detail"], r.json
    # authData cut short inside a good map; a COSE key of another curve
    r = reg(att(cbor({"fmt": "none", "attStmt": {}, "authData": b"\x00" * 40})))
    assert r.status == 400
    key = SoftKey()
    bad_cose = dict(key.cose())
    bad_cose[-1] = 2
    opts = w.post("/api/passkey/options", {"purpose": "register"}).json[
        "publicKey"]
    cred = key.register(opts, origin(p))
    import hashlib
    import json
    ad = (hashlib.sha256(b"localhost").digest() + bytes([0x45]) + bytes(4) +
          bytes(16) + (32).to_bytes(2, "big") + key.cred_id + cbor(bad_cose))
    cred["response"]["attestationObject"] = b64u(cbor(
        {"fmt": "none", "attStmt": {}, "authData": ad}))
    r = w.post("/api/passkey/register", {"name": "k", "credential": cred})
    assert r.status == 400 and "algorithm" in r.json["detail"], r.json
    # nothing was registered; no session, no registration
    assert w.post("/api/passkey/list", None).json["passkeys"] == []
    r = web(p).post("/api/passkey/options", {"purpose": "register"})
    assert r.status == 401
    # the register challenge cannot log in, nor a login one register
    opts = w.post("/api/passkey/options", {"purpose": "register"}).json[
        "publicKey"]
    k = SoftKey()
    assert w.post("/api/passkey/register", {"name": "a", "credential":
                  k.register(opts, origin(p))}).status == 200
    r = web(p).login(None, None, passkey=k.assertion(
        {"challenge": opts["challenge"], "rpId": "localhost"}, origin(p)))
    assert r.status == 401 and "challenge" in r.json["detail"]
    # an address for a host (passkeys need a name)
    r = Web(p.port("http")).post("/api/passkey/options", {"purpose": "login"})
    assert r.status == 400 and "host name" in r.json["detail"]
    json.dumps(r.json)


def test_passkey_as_second_factor_and_admin_reset(srv):
    p = srv
    ident = "reader@acme"
    w = logged_in(p, ident, "/jmap/mail/login")
    key = SoftKey()
    r = register(p, w, key, "phone", "/jmap/mail/passkey/")
    assert r.status == 200, r.json
    p.cli("mailbox", "set", ident, "twofactor_mode=always")
    c = web(p, "/jmap/mail/login")
    # with a passkey the mailbox is enrolled: no TOTP enrolment, the
    # answer carries the passkey request options for this mailbox
    r = c.login(ident, PW)
    assert r.status == 401 and r.json["type"].endswith(
        "secondFactorRequired"), r.json
    opts = r.json["passkey"]
    assert [x["id"] for x in opts["allowCredentials"]] == [key.id]
    # another mailbox's key is not this mailbox's second factor
    wb = logged_in(p, "boss@acme")
    other = SoftKey()
    assert register(p, wb, other, "spare").status == 200
    r = c.login(ident, PW, passkey=other.assertion(opts, origin(p)))
    assert r.status == 401 and r.json["type"].endswith("secondFactorFailed")
    # the mailbox's key, user presence enough
    opts = c.login(ident, PW).json["passkey"]
    r = c.login(ident, PW, passkey=key.assertion(opts, origin(p), flags=UP))
    assert r.status == 200, r.json
    # the password stays needed with it: a wrong one is a wrong password
    opts = c.login(ident, PW).json["passkey"]
    r = c.login(ident, PW + "x", passkey=key.assertion(opts, origin(p)))
    assert r.status == 401 and r.json["type"].endswith("loginFailed")
    # the admin's CLI: list, rename, reset (needs --yes)
    listed = p.cli("mailbox", "passkey", "list", ident, json_out=True)
    assert [k["name"] for k in listed] == ["phone"]
    p.cli("mailbox", "passkey", "rename", ident, str(listed[0]["id"]),
          "old phone")
    out = p.cli("mailbox", "passkey", "list", ident)
    assert "old phone" in out.stdout
    r = p.cli("mailbox", "passkey", "reset", ident, check=False)
    assert r.returncode == 2
    p.cli("mailbox", "passkey", "reset", ident, "--yes")
    assert p.cli("mailbox", "passkey", "list", ident, json_out=True) == []
    # without passkeys (and no TOTP) the login enrols TOTP again
    r = c.login(ident, PW)
    assert r.status == 401 and r.json["type"].endswith("totpEnrolment")
    p.cli("mailbox", "set", ident, "twofactor_mode=inherit")


def test_bad_second_factor_assertions_at_the_webmail(srv):
    """the passkey as the second factor at the webmail's login: an
    assertion for another origin, another challenge, a used challenge or
    a counter going backwards is refused, the password still right; the
    session survives (the right key logs in after)"""
    p = srv
    ident = "second@acme"
    p.cli("mailbox", "add", ident, "--password", PW)
    w = logged_in(p, ident, "/jmap/mail/login")
    key = SoftKey()
    assert register(p, w, key, "phone", "/jmap/mail/passkey/").status == 200
    p.cli("mailbox", "set", ident, "twofactor_mode=always")
    c = web(p, "/jmap/mail/login")

    def challenge():
        r = c.login(ident, PW)
        assert r.status == 401 and r.json["type"].endswith(
            "secondFactorRequired"), r.json
        return r.json["passkey"]

    def refused(r):
        assert r.status == 401 and r.json["type"].endswith(
            "secondFactorFailed"), r.json
        assert c.cookie is None

    refused(c.login(ident, PW, passkey=key.assertion(
        challenge(), "http://evil.test")))
    refused(c.login(ident, PW, passkey=key.assertion(
        challenge(), origin(p), challenge=b64u(b"y" * 32))))
    refused(c.login(ident, PW, passkey=key.assertion(
        challenge(), origin(p), rp_id="evil.test")))
    opts = challenge()
    good = key.assertion(opts, origin(p))
    r = c.login(ident, PW, passkey=good)
    assert r.status == 200, r.json
    c.cookie = None
    # the same assertion again: its challenge is used up
    refused(c.login(ident, PW, passkey=good))
    # a counter going backwards (a cloned key)
    refused(c.login(ident, PW, passkey=key.assertion(
        challenge(), origin(p), counter=1)))
    # the key still logs in
    r = c.login(ident, PW, passkey=key.assertion(challenge(), origin(p)))
    assert r.status == 200, r.json
    # the refusals are failed logins of the mailbox
    fails = p.cli("mailbox", "failed-logins", "--mailbox", ident,
                  json_out=True)
    assert sum(f["failures"] for f in fails) >= 5, fails
    p.cli("mailbox", "set", ident, "twofactor_mode=inherit")


def test_passwordless_login_can_be_turned_off(srv):
    p = srv
    w = logged_in(p, "boss@acme")
    key = SoftKey()
    assert register(p, w, key, "off-test").status == 200
    opts = login_options(p, web(p))
    p.cli("config", "set", "auth.passkey_login", "0")
    try:
        r = web(p).post("/api/passkey/options", {"purpose": "login"})
        assert r.status == 403
        r = web(p).login(None, None, passkey=key.assertion(opts, origin(p)))
        assert r.status == 403, r.json
    finally:
        p.cli("config", "unset", "auth.passkey_login")
    # postern diag reports the passkey policy state
    import json
    r = p.cli("diag", "--json", check=False)
    items = [i for sec in json.loads(r.stdout)["sections"]
             for i in sec["items"] if i["check"] == "Passkeys (WebAuthn)"]
    assert len(items) == 1, r.stdout[-2000:]
    assert "passwordless login on" in items[0]["value"], items


def admin_call(w, name, args):
    r = w.post("/jmap/api", {"using": ["urn:ietf:params:jmap:core",
                                       "urn:postern:admin"],
                             "methodCalls": [[name, args, "c0"]]})
    assert r.status == 200, r.json
    return r.json["methodResponses"][0][:2]


def test_admin_api_passkeys_and_failed_logins(srv):
    p = srv
    p.cli("postoffice", "add", "other", "--password", "pm-secret-712")
    p.cli("mailbox", "add", "warden@other", "--password", PW, "--type",
          "ADMIN")
    owner = logged_in(p, "chief@acme")
    keys = [SoftKey(), SoftKey()]
    for i, k in enumerate(keys):
        assert register(p, owner, k, f"api-{i}").status == 200
    mine = {k["name"]: k["id"] for k in owner.post(
        "/api/passkey/list", None).json["passkeys"]}
    admin = logged_in(p, "boss@acme")       # an ADMIN of acme
    name, res = admin_call(admin, "Passkey/get", {"mailbox": "chief@acme"})
    assert name == "Passkey/get", res
    assert {k["name"] for k in res["list"]} >= {"api-0", "api-1"}
    name, res = admin_call(admin, "Passkey/set", {
        "mailbox": "chief@acme", "destroy": [mine["api-0"], 999999]})
    assert res["destroyed"] == [mine["api-0"]], res
    assert "999999" in res["notDestroyed"]
    # another post office's admin does not see acme's mailboxes
    outsider = logged_in(p, "warden@other")
    name, res = admin_call(outsider, "Passkey/get", {"mailbox": "chief@acme"})
    assert name == "error" and res["type"] == "notFound", res
    name, res = admin_call(outsider, "Passkey/set", {"mailbox": "chief@acme",
                                                     "reset": True})
    assert name == "error" and res["type"] == "notFound", res
    # the admin's reset removes them all: the key no longer logs in
    name, res = admin_call(admin, "Passkey/set", {"mailbox": "chief@acme",
                                                  "reset": True})
    assert res["removed"] >= 1, res
    c = web(p)
    r = c.login(None, None, passkey=keys[1].assertion(login_options(p, c),
                                                      origin(p)))
    assert r.status == 401
    # failed-login statistics per address and per mailbox
    for _ in range(3):
        assert web(p, src="127.0.0.77").login("chief@acme", "Wrong-pass-1"
                                               ).status == 401
    name, res = admin_call(admin, "LoginFailure/query", {"by": "address"})
    rows = {x["address"]: x for x in res["list"]}
    assert rows["127.0.0.77"]["failures"] >= 3, res
    name, res = admin_call(admin, "LoginFailure/query", {
        "by": "mailbox", "mailbox": "chief@acme"})
    assert res["list"][0]["mailbox"] == "chief@acme"
    assert res["list"][0]["failures"] >= 3
    name, res = admin_call(admin, "LoginFailure/query", {})
    assert any(x["login"] == "chief@acme" and x["reason"]
               for x in res["list"]), res
    # the outsider's statistics hold none of acme's failures
    name, res = admin_call(outsider, "LoginFailure/query", {"by": "address"})
    assert "127.0.0.77" not in {x["address"] for x in res["list"]}, res
    name, res = admin_call(admin, "LoginFailure/query", {"by": "country"})
    assert name == "error" and res["type"] == "invalidArguments"
    # the CLI shows the same
    rows = p.cli("mailbox", "failed-logins", "--by", "mailbox", json_out=True)
    assert any(x["mailbox"] == "chief@acme" and x["failures"] >= 3
               for x in rows), rows

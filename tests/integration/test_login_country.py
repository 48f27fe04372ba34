"""Country policies for every login (issue 17, item 4; manual 5.3.7,
5.5.9): global, post office and mailbox levels, "block" and "allow",
over IMAP, POP3, SMTP AUTH and the web login; refusals logged with the
country; the country database is a .mmdb the test builds with Debian's
libmaxmind-db-writer-perl mapping loopback addresses to countries. A
missing or corrupt database: logins keep working where no policy needs
it, are refused where one does, and `postern diag` says so."""
import pytest

from conftest import Postern
from login_util import Web, imap_login, make_mmdb, pop_login, smtp_login

PW = "Geo-secret-3391"
NL, DE, FR, UNKNOWN = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("login-country")
    mmdb = base / "countries.mmdb"
    make_mmdb(mmdb, {"127.0.0.1/32": "NL", "127.0.0.2/32": "DE",
                     "127.0.0.3/32": "FR", "127.0.0.5/32": "FR"})
    p = Postern(base / "root")
    p.init()
    p.mmdb = mmdb
    p.cli("config", "set", "auth.geoip_db", str(mmdb))
    p.cli("config", "set", "smtp.require_tls_for_auth", "no")
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-811")
    p.cli("postoffice", "add", "zeta", "--password", "pm-secret-812")
    for ident in ("ann@acme", "ben@acme", "cat@zeta", "web@acme"):
        p.cli("mailbox", "add", ident, "--password", PW)
    p.cli("mailbox", "set", "web@acme", "type=ADMIN")
    p.start(services=["smtpd", "imapd", "pop3d", "httpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def imap(p, ident, src):
    return imap_login(p.port("imap"), ident, PW, src)


def test_global_block(srv):
    p = srv
    p.cli("config", "set", "auth.policy_mode", "block")
    p.cli("config", "set", "auth.policy_countries", "de, it")
    try:
        assert not imap(p, "ann@acme", DE)
        assert not pop_login(p.port("pop3"), "ann@acme", PW, DE)
        assert not smtp_login(p.port("submission"), "ann@acme", PW, DE)
        r = Web(p.port("http"), DE).login("web@acme", PW)
        assert r.status == 401, r.json
        assert imap(p, "ann@acme", FR)
        assert imap(p, "ann@acme", UNKNOWN)       # block: unknown passes
        assert Web(p.port("http"), FR).login("web@acme", PW).status == 200
        log = p.log("imapd")
        assert "country DE: refused: global country policy blocks DE" in log
        assert PW not in log
        fails = p.cli("mailbox", "failed-logins", "--mailbox", "ann@acme",
                      json_out=True)
        assert any(f["country"] == "DE" and f["address"] == DE and
                   "blocks DE" in f["reason"] for f in fails), fails
        seen = p.cli("mailbox", "logins", "ann@acme", json_out=True)
        assert any(s["address"] == FR and s["country"] == "FR" and
                   s["protocol"] == "imap" for s in seen), seen
    finally:
        p.cli("config", "set", "auth.policy_mode", "off")
    assert imap(p, "ann@acme", DE)


def test_post_office_allow_and_mailbox_block(srv):
    p = srv
    p.cli("postoffice", "set", "zeta", "authpolicy_mode=allow",
          "authpolicy_countries=FR,NL")
    try:
        assert imap(p, "cat@zeta", FR)
        assert imap(p, "cat@zeta", NL)
        assert not imap(p, "cat@zeta", DE)
        assert not imap(p, "cat@zeta", UNKNOWN)   # allow: unknown refused
        # another post office is not concerned
        assert imap(p, "ann@acme", DE)
        # the mailbox level adds its own
        p.cli("mailbox", "set", "cat@zeta", "authpolicy_mode=block",
              "authpolicy_countries=NL")
        assert not pop_login(p.port("pop3"), "cat@zeta", PW, NL)
        assert pop_login(p.port("pop3"), "cat@zeta", PW, FR)
        # the mailbox's policy leaves its neighbours alone
        p.cli("mailbox", "set", "ben@acme", "authpolicy_mode=allow",
              "authpolicy_countries=DE")
        assert imap(p, "ben@acme", DE) and not imap(p, "ben@acme", FR)
        assert imap(p, "ann@acme", FR)
    finally:
        p.cli("postoffice", "set", "zeta", "authpolicy_mode=off")
        p.cli("mailbox", "set", "cat@zeta", "authpolicy_mode=off")
        p.cli("mailbox", "set", "ben@acme", "authpolicy_mode=off")


def geo_items(p):
    """postern diag's items about the country database"""
    import json
    r = p.cli("--json", "diag", "--no-dns", "--no-network", check=False)
    diag = json.loads(r.stdout)
    return [i for s in diag["sections"] for i in s["items"]
            if "auth.geoip_db" in i["check"]]


def diag_items(p, check):
    import json
    r = p.cli("--json", "diag", "--no-dns", "--no-network", check=False)
    return [i for s in json.loads(r.stdout)["sections"] for i in s["items"]
            if i["check"] == check]


def test_missing_or_corrupt_database(srv, tmp_path):
    p = srv
    bad = tmp_path / "corrupt.mmdb"
    bad.write_bytes(b"\x00garbage" * 100)
    for path in (str(tmp_path / "missing.mmdb"), str(bad)):
        p.cli("config", "set", "auth.geoip_db", path)
        try:
            # no policy needs it: logins work
            assert imap(p, "ann@acme", DE)
            items = geo_items(p)
            assert items and items[0]["status"] == "warning", items
            # a policy needs it: refused (fail closed), and diag says so
            p.cli("mailbox", "set", "ann@acme", "authpolicy_mode=block",
                  "authpolicy_countries=IT")
            assert not imap(p, "ann@acme", FR)
            assert imap(p, "ben@acme", FR)
            items = geo_items(p)
            assert items[0]["status"] == "error", items
            assert "refused: mailbox country policy: the country " \
                "database (auth.geoip_db)" in p.log("imapd")
        finally:
            p.cli("mailbox", "set", "ann@acme", "authpolicy_mode=off")
    p.cli("config", "set", "auth.geoip_db", str(p.mmdb))
    items = geo_items(p)
    assert items[0]["status"] == "ok", items


def test_bad_country_list_is_refused(srv):
    r = srv.cli("mailbox", "set", "ann@acme", "authpolicy_countries=Germany",
                check=False)
    assert r.returncode == 2 and "two-letter" in r.stderr


def test_new_country_challenge(srv):
    """twofactor_mode=new_country: the web login asks for the code from
    another country than the last web login's (manual 5.5.9), not from
    another address of that country"""
    from login_util import oathtool
    import time
    p = srv
    p.cli("mailbox", "add", "nomad@acme", "--password", PW, "--type",
          "ADMIN")
    p.cli("mailbox", "set", "nomad@acme", "twofactor_mode=new_country")
    p.cli("config", "set", "auth.geoip_db", str(p.mmdb))
    w = Web(p.port("http"), NL)
    r = w.login("nomad@acme", PW)
    assert r.json["type"].endswith("totpEnrolment"), r.json
    secret = r.json["secret"]
    r = w.login("nomad@acme", PW, oathtool(secret))
    assert r.status == 200, r.json
    recovery = r.json["recoveryCodes"]
    # NL again: no code
    assert Web(p.port("http"), NL).login("nomad@acme", PW).status == 200
    # FR is new: the code is asked, then FR is known
    r = Web(p.port("http"), FR).login("nomad@acme", PW)
    assert r.status == 401 and r.json["type"].endswith("secondFactorRequired")
    r = Web(p.port("http"), FR).login("nomad@acme", PW,
                                     oathtool(secret, time.time() + 30))
    assert r.status == 200, r.json
    assert Web(p.port("http"), FR).login("nomad@acme", PW).status == 200
    # another address of FR, the last login's country: no code (a
    # second later: the record's times are seconds)
    time.sleep(1.1)
    assert Web(p.port("http"), "127.0.0.5").login("nomad@acme",
                                                  PW).status == 200
    # back in NL: another country than the last login's (manual 5.5.9)
    r = Web(p.port("http"), NL).login("nomad@acme", PW)
    assert r.status == 401 and r.json["type"].endswith("secondFactorRequired")
    r = Web(p.port("http"), NL).login("nomad@acme", PW, recovery[0])
    assert r.status == 200, r.json
    # an address the database does not know: always asked
    r = Web(p.port("http"), UNKNOWN).login("nomad@acme", PW)
    assert r.status == 401 and r.json["type"].endswith("secondFactorRequired")
    seen = p.cli("mailbox", "logins", "nomad@acme", json_out=True)
    assert {(s["protocol"], s["country"]) for s in seen} >= {
        ("web", "NL"), ("web", "FR")}
    # without a usable database no country is known: postern diag says
    # the code is asked at every web login, and it is
    p.cli("config", "set", "auth.geoip_db", str(p.root / "missing.mmdb"))
    try:
        items = diag_items(p, 'Two-factor "new country" challenge')
        assert len(items) == 1 and items[0]["status"] == "warning", items
        assert "asked at every web login" in items[0]["value"], items
        r = Web(p.port("http"), NL).login("nomad@acme", PW)
        assert r.status == 401 and \
            r.json["type"].endswith("secondFactorRequired")
    finally:
        p.cli("config", "set", "auth.geoip_db", str(p.mmdb))
    assert diag_items(p, 'Two-factor "new country" challenge') == []
    p.cli("mailbox", "set", "nomad@acme", "twofactor_mode=inherit")

"""The postern CLI through the real binary: every command and verb, the
success paths and the error paths (exit codes, messages, and the state of
the config store afterwards)."""
import json
import os
import sqlite3
import subprocess
import time
import warnings

import pytest

from conftest import BUILD, LISTENERS

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt    # libxcrypt: yescrypt, bcrypt and SHA-512-crypt hashes

EXIT_USAGE, EXIT_NOTFOUND, EXIT_EXISTS, EXIT_PARTIAL = 2, 3, 4, 5
EXIT_NOROOT, EXIT_BUSY = 6, 7


def db(p):
    """A read-only view of the data root's config store."""
    return sqlite3.connect(f"file:{p.root}/config/postern.db?mode=ro", uri=True)


def q(p, sql, *args):
    c = db(p)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def one(p, sql, *args):
    rows = q(p, sql, *args)
    return rows[0][0] if rows else None


def fails(p, code, *args, msg=None):
    r = p.cli(*args, check=False)
    assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("postern: "), r.stderr
    assert "Sanitizer" not in r.stderr, r.stderr
    if msg is not None:
        assert msg.lower() in r.stderr.lower(), r.stderr
    return r


def raw(p, *args):
    """stdout as bytes (exports end lines with CRLF)."""
    r = subprocess.run([str(BUILD / "postern"), "-d", str(p.root)] + list(args),
                       capture_output=True, env=p.env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def pw_ok(p, ident, password):
    name, po = ident.split("@")
    h = one(p, "SELECT m.password_hash FROM mailbox m JOIN postoffice p ON "
            "p.id = m.postoffice_id WHERE m.name = ? AND p.name = ?", name, po)
    return h is not None and crypt.crypt(password, h) == h


# -- init, the data root --------------------------------------------------

def test_init_idempotent(postern):
    postern.cli("config", "set", "mailbox.default_quota", "50")
    before = (postern.root / "certs/default.crt").read_bytes()
    r = postern.cli("init")
    assert "data root ready" in r.stdout
    assert postern.cli("config", "get", "mailbox.default_quota").stdout.strip() == "51200"
    assert (postern.root / "certs/default.crt").read_bytes() == before
    for d in ("config", "store", "queue", "certs", "log", "run"):
        assert (postern.root / d).is_dir()
    assert "services" in (postern.root / "host.conf").read_text()
    assert one(postern, "PRAGMA user_version") >= 1
    assert one(postern, "PRAGMA journal_mode") == "wal"


def test_missing_data_root(tmp_path):
    exe = str(BUILD / "postern")
    env = dict(os.environ)
    env.pop("POSTERN_DIR", None)
    r = subprocess.run([exe, "-d", str(tmp_path / "nowhere"), "postoffice", "list"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == EXIT_NOROOT
    assert "no Postern data root" in r.stderr and "init" in r.stderr
    assert not (tmp_path / "nowhere").exists()
    r = subprocess.run([exe, "postoffice", "list"], capture_output=True, text=True,
                       env=env)
    assert r.returncode == EXIT_NOROOT and "POSTERN_DIR" in r.stderr
    # POSTERN_DIR works like -d
    env["POSTERN_DIR"] = str(tmp_path / "viaenv")
    r = subprocess.run([exe, "init"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and (tmp_path / "viaenv/config/postern.db").exists()


@pytest.mark.parametrize("content", [b"", b"this is not a database\n" * 20,
                                     b"SQLite format 3\0" + b"\xff" * 4000])
def test_not_sqlite(tmp_path, content):
    root = tmp_path / "bad"
    (root / "config").mkdir(parents=True)
    (root / "config/postern.db").write_bytes(content)
    exe = str(BUILD / "postern")
    for args in (["postoffice", "list"], ["config", "set", "smtp.listen", "127.0.0.1:25"],
                 ["init"]):
        r = subprocess.run([exe, "-d", str(root)] + args, capture_output=True, text=True)
        if content == b"":
            # an empty file is a valid empty SQLite database: init migrates it
            continue
        assert r.returncode == EXIT_NOROOT, (args, r.stderr)
        assert "config database" in r.stderr and str(root) in r.stderr
        assert "ERROR: AddressSanitizer" not in r.stderr
    if content != b"":
        assert (root / "config/postern.db").read_bytes() == content


def test_locked(populated):
    c = sqlite3.connect(f"{populated.root}/config/postern.db", isolation_level=None,
                        timeout=1)
    c.execute("BEGIN IMMEDIATE")
    try:
        fails(populated, EXIT_BUSY, "domain", "add", "x.test", "--postoffice", "acme",
              msg="locked")
        # readers are not blocked (WAL), nor is a listing that would
        # refresh the size cache
        out = populated.cli("--json", "domain", "list").stdout
        assert [d["name"] for d in json.loads(out)] == ["acme.test"]
        t = time.time()
        lst = populated.cli("mailbox", "list", "--sizes", "exact", json_out=True)
        assert time.time() - t < 4.5     # the busy timeout is 5 s
        assert len(lst) == 3 and all(m["size_bytes"] is not None for m in lst)
    finally:
        c.execute("ROLLBACK")
        c.close()
    assert one(populated, "SELECT count(*) FROM domain WHERE name = 'x.test'") == 0
    populated.cli("domain", "add", "x.test", "--postoffice", "acme")


def test_read_only_database(postern):
    """chmod does not stop root: run the CLI as nobody on a read-only store."""
    postern.cli("postoffice", "add", "acme", "--password", "pw")
    for dirpath, dirs, files in os.walk(postern.root):
        os.chmod(dirpath, 0o755)
    path = postern.root / "config/postern.db"
    os.chmod(path, 0o444)
    parent = postern.root.parent
    saved = []
    while parent != parent.parent:
        saved.append((parent, parent.stat().st_mode))
        os.chmod(parent, parent.stat().st_mode | 0o005)
        parent = parent.parent
    try:
        base = [str(BUILD / "postern"), "-d", str(postern.root)]
        if os.geteuid() == 0:
            # as the data root's owner: the CLI refuses any other user
            for dirpath, dirs, files in os.walk(postern.root):
                for n in [dirpath] + [os.path.join(dirpath, f) for f in files]:
                    os.lchown(n, 65534, 65534)
            base = ["setpriv", "--reuid=nobody", "--regid=nogroup",
                    "--clear-groups"] + base
        env = postern.env
        r = subprocess.run(base + ["domain", "add", "x.test", "--postoffice", "acme"],
                           capture_output=True, text=True, env=env)
        assert r.returncode in (1, EXIT_NOROOT), r.stderr
        assert "read-only" in r.stderr, r.stderr
        os.chmod(postern.root / "config", 0o777 if os.geteuid() == 0 else 0o755)
        r = subprocess.run(base + ["config", "set", "smtp.listen", "127.0.0.1:2"],
                           capture_output=True, text=True, env=env)
        assert r.returncode in (1, EXIT_NOROOT), r.stderr
        assert "read-only" in r.stderr, r.stderr
    finally:
        os.chmod(postern.root / "config", 0o750)
        os.chmod(path, 0o644)
        for d, mode in saved:
            os.chmod(d, mode)
    assert one(postern, "SELECT count(*) FROM domain") == 0


# -- usage -----------------------------------------------------------------

COMMANDS = ["init", "config", "postoffice", "domain", "mailbox", "address",
            "group", "list", "users", "status"]


def test_help_everywhere(postern):
    r = postern.cli("--help")
    assert r.returncode == 0 and "Exit codes" in r.stdout
    for c in COMMANDS:
        r = postern.cli(c, "--help")
        assert r.returncode == 0 and "usage: postern" in r.stdout, c
    assert "mailbox.auto_address" in postern.cli("config", "--help").stdout
    assert "allow_address_login" in postern.cli("postoffice", "--help").stdout
    assert "catchall_address" in postern.cli("domain", "--help").stdout
    assert "prevent_auth" in postern.cli("mailbox", "--help").stdout
    assert "moderated" in postern.cli("list", "--help").stdout
    assert postern.cli("--version").stdout.startswith("postern ")


def test_usage_errors(populated):
    p = populated
    fails(p, EXIT_USAGE, "frobnicate", msg="unknown command")
    fails(p, EXIT_USAGE, "--frob", "postoffice", "list", msg="unknown option")
    fails(p, EXIT_USAGE, "postoffice", "list", "--frob", msg="unknown option --frob")
    fails(p, EXIT_USAGE, "postoffice", "frob", "x", msg="unknown postoffice command")
    fails(p, EXIT_USAGE, "mailbox", "add", "carol@acme", "--password", msg="needs a value")
    fails(p, EXIT_USAGE, "mailbox", "add", "carol@acme", msg="password")
    fails(p, EXIT_USAGE, "mailbox", "add", "carol", "--password", "x")
    fails(p, EXIT_USAGE, "domain", "add", "x.test")
    fails(p, EXIT_USAGE, "config", "set", "smtp.listen")
    fails(p, EXIT_USAGE, "mailbox", "del", "alice@acme", "bob@acme", msg="one too many")
    fails(p, EXIT_USAGE, "domain", "del", "acme.test", "x.test")
    fails(p, EXIT_USAGE, "postoffice", "del", "acme", "other")
    fails(p, EXIT_USAGE, "mailbox", "passwd", "alice@acme", "pw")
    assert one(p, "SELECT count(*) FROM mailbox") == 3
    assert one(p, "SELECT count(*) FROM domain") == 1
    # without a command or a verb: the help, exit 0 (issue 12: one rule,
    # like docker; a wrong or incomplete verb stays exit 2)
    r = p.cli(check=False)
    assert r.returncode == 0 and "usage: postern" in r.stdout
    for c in ["config", "postoffice", "domain", "dkim", "mailbox", "address",
              "group", "list", "popretrieval", "users", "queue", "filter",
              "messages", "welcome", "token"]:
        r = p.cli(c, check=False)
        assert r.returncode == 0 and r.stdout == p.cli(c, "--help").stdout, c


# -- config ------------------------------------------------------------------

def test_config_listeners(postern):
    p = postern
    for name in LISTENERS:
        key = f"{name}.listen"
        assert p.cli("config", "get", key).stdout.strip() == f"127.0.0.1:{p.port(name)}"
        p.cli("config", "set", key, "127.0.0.1:2525, [::1]:2526")
        assert p.cli("config", "get", key).stdout.strip() == "127.0.0.1:2525,[::1]:2526"
        bads = ["localhost:25", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
                "1.2.3:25", "[::1:25", "x", "127.0.0.1:25;127.0.0.1:26"]
        # every bad form on one listener, one on the others (they share
        # the parser)
        for bad in bads if name == "smtp" else bads[:1]:
            fails(p, EXIT_USAGE, "config", "set", key, bad, msg=key)
        assert p.cli("config", "get", key).stdout.strip() == "127.0.0.1:2525,[::1]:2526"
        p.cli("config", "unset", key)
    listed = {s["name"]: s for s in p.cli("config", "list", json_out=True)}
    for name in LISTENERS:
        assert listed[f"{name}.listen"]["default"] is True


def test_config_types(postern):
    p = postern
    cases = [("mailbox.default_quota", "2G", "2097152"),
             ("mailbox.default_quota", "unlimited", "0"),
             ("mailbox.auto_address", "off", "0"),
             ("mailbox.auto_address", "YES", "1"),
             ("mailbox.list_sizes", "EXACT", "exact"),
             ("mailbox.size_cache_age", "15m", "900"),
             ("smtp.max_recipients", "100", "100"),
             ("smtp.notification_address", "Admin@Example.COM", "admin@example.com"),
             ("smarthost.host", "relay.example.com:587", "relay.example.com:587"),
             ("password.scheme", "bcrypt", "bcrypt"),
             ("dns.hosts", "127.0.0.1:53 ::1", "127.0.0.1:53 ::1")]
    for key, value, stored in cases:
        p.cli("config", "set", key, value)
        assert p.cli("config", "get", key).stdout.strip() == stored, key
        assert one(p, "SELECT value FROM setting WHERE name = ?", key) == stored
    bad = [("mailbox.default_quota", "-1"), ("mailbox.default_quota", "lots"),
           ("mailbox.auto_address", "maybe"), ("mailbox.list_sizes", "some"),
           ("mailbox.size_cache_age", "5y"), ("smtp.max_recipients", "0"),
           ("smtp.max_recipients", "100001"), ("smtp.max_recipients", "1e3"),
           ("smtp.notification_address", "not an address"),
           ("smarthost.host", "relay:99999"), ("password.scheme", "md5"),
           ("server.hostname", "a\nb"), ("server.hostname", "x" * 300)]
    for key, value in bad:
        before = one(p, "SELECT value FROM setting WHERE name = ?", key)
        fails(p, EXIT_USAGE, "config", "set", key, value, msg=key)
        assert one(p, "SELECT value FROM setting WHERE name = ?", key) == before
    fails(p, EXIT_NOTFOUND, "config", "get", "no.such", msg="unknown setting")
    fails(p, EXIT_NOTFOUND, "config", "set", "no.such", "1", msg="unknown setting")
    fails(p, EXIT_NOTFOUND, "config", "unset", "no.such")
    p.cli("config", "unset", "password.scheme")
    assert p.cli("config", "get", "password.scheme").stdout.strip() == "yescrypt"
    p.cli("config", "set", "smarthost.password", "s3cret")
    shown = p.cli("config", "list").stdout
    assert "s3cret" not in shown and "********" in shown
    # get masks a secret too; it is still stored (smtp-out must send it)
    assert p.cli("config", "get", "smarthost.password").stdout.strip() == "********"
    assert p.cli("config", "get", "smarthost.password",
                 json_out=True)["value"] is True
    assert one(p, "SELECT value FROM setting WHERE name = ?",
               "smarthost.password") == "s3cret"
    j = {s["name"]: s for s in p.cli("config", "list", json_out=True)}
    assert j["smarthost.password"]["value"] is True
    assert j["mailbox.default_quota"]["value"] == 0
    assert j["mailbox.auto_address"]["value"] is True
    assert j["smtp.max_recipients"]["default"] is False
    g = p.cli("config", "get", "smtp.max_recipients", json_out=True)
    assert g == {"name": "smtp.max_recipients", "value": "100"}
    # several pairs in one `set`: all stored, or (one refused) none
    p.cli("config", "set", "smtp.max_recipients", "200", "mailbox.list_sizes", "none")
    assert one(p, "SELECT value FROM setting WHERE name = ?", "smtp.max_recipients") == "200"
    assert one(p, "SELECT value FROM setting WHERE name = ?", "mailbox.list_sizes") == "none"
    fails(p, EXIT_USAGE, "config", "set", "smtp.max_recipients", "300",
          "mailbox.list_sizes", "some", msg="nothing was changed")
    assert one(p, "SELECT value FROM setting WHERE name = ?", "smtp.max_recipients") == "200"
    fails(p, EXIT_USAGE, "config", "set", "smtp.max_recipients", "300",
          "mailbox.list_sizes", msg="NAME VALUE [NAME VALUE ...]")


# -- post offices ----------------------------------------------------------

def test_postoffice(postern):
    p = postern
    p.cli("postoffice", "add", "acme", "--password", "pm-secret")
    assert pw_ok(p, "postmaster@acme", "pm-secret")
    assert not pw_ok(p, "postmaster@acme", "wrong")
    mb = p.cli("mailbox", "show", "postmaster@acme", json_out=True)
    assert mb["type"] == "ADMIN" and mb["quota_kb"] == 0
    assert (p.root / "store/acme/postmaster/new").is_dir()
    fails(p, EXIT_EXISTS, "postoffice", "add", "acme", "--password", "x",
          msg="already exists")
    fails(p, EXIT_EXISTS, "postoffice", "add", "ACME", "--password", "x")
    fails(p, EXIT_USAGE, "postoffice", "add", "beta", "--password", "")
    fails(p, EXIT_USAGE, "postoffice", "add", "beta", msg="password")
    assert one(p, "SELECT count(*) FROM postoffice WHERE name = 'beta'") == 0
    r = p.cli("postoffice", "add", "beta", "--random-password")
    line = r.stdout.strip()
    assert line.startswith("postmaster@beta password: ")
    assert pw_ok(p, "postmaster@beta", line.split(": ", 1)[1])
    r = p.cli("postoffice", "add", "gamma", "--password-file", "-", input="from-stdin\n")
    assert pw_ok(p, "postmaster@gamma", "from-stdin")
    lst = p.cli("postoffice", "list", json_out=True)
    assert [x["name"] for x in lst] == ["acme", "beta", "gamma"]
    assert lst[0] == {"name": "acme", "disabled": False, "domains": 0, "mailboxes": 1}
    assert "acme" in p.cli("postoffice", "list").stdout
    p.cli("postoffice", "set", "acme", "allow_address_login=yes", "usage_threshold=1G")
    s = p.cli("postoffice", "show", "acme", json_out=True)
    assert s["allow_address_login"] is True and s["usage_threshold_kb"] == 1048576
    assert "allow_address_login" in p.cli("postoffice", "show", "acme").stdout
    # one bad setting: nothing of the command is kept
    fails(p, EXIT_USAGE, "postoffice", "set", "acme", "disabled=yes",
          "usage_threshold=huge")
    assert p.cli("postoffice", "show", "acme", json_out=True)["disabled"] is False
    fails(p, EXIT_USAGE, "postoffice", "set", "acme", "nosuch=1", msg="no setting")
    fails(p, EXIT_USAGE, "postoffice", "set", "acme", msg="nothing to set")
    fails(p, EXIT_USAGE, "postoffice", "set", "acme", "usage_notify_mailbox=nobody")
    fails(p, EXIT_NOTFOUND, "postoffice", "show", "nope", msg="does not exist")
    fails(p, EXIT_NOTFOUND, "postoffice", "set", "nope", "disabled=yes")
    fails(p, EXIT_NOTFOUND, "postoffice", "del", "nope", "--yes")
    # delete: store and every object go
    p.cli("domain", "add", "beta.test", "--postoffice", "beta")
    p.cli("mailbox", "add", "x@beta", "--password", "pw")
    p.cli("postoffice", "del", "beta", "--yes")
    assert not (p.root / "store/beta").exists()
    assert one(p, "SELECT count(*) FROM domain WHERE name = 'beta.test'") == 0
    assert one(p, "SELECT count(*) FROM mailbox m WHERE NOT EXISTS (SELECT 1 FROM "
               "postoffice p WHERE p.id = m.postoffice_id)") == 0
    assert one(p, "SELECT count(*) FROM address WHERE address LIKE '%beta.test'") == 0
    p.cli("postoffice", "del", "gamma", "--keep-data", "--yes")
    assert (p.root / "store/gamma/postmaster").is_dir()


@pytest.mark.parametrize("bad", ["", "a" * 65, "bad name", "..", "a/b", ".hidden",
                                 "-x", "a..b", "ünï"])
def test_invalid_names(postern, bad):
    p = postern
    fails(p, EXIT_USAGE, "postoffice", "add", bad, "--password", "x")
    assert one(p, "SELECT count(*) FROM postoffice") == 0
    assert list((p.root / "store").iterdir()) == []


def test_invalid_names_mailbox_domain(populated):
    p = populated
    for bad in ["", "a" * 65, "b c", "..", "a/b", "../etc", ".x"]:
        fails(p, EXIT_USAGE, "mailbox", "add", f"{bad}@acme", "--password", "x")
    for bad in ["", "acme", "a..test", "-a.test", "a/b.test", "../x.test",
                ("x" * 64) + ".test", "a b.test"]:
        fails(p, EXIT_USAGE, "domain", "add", bad, "--postoffice", "acme")
    assert one(p, "SELECT count(*) FROM mailbox") == 3
    assert one(p, "SELECT count(*) FROM domain") == 1
    assert sorted(x.name for x in (p.root / "store/acme").iterdir()) == \
        ["alice", "bob", "postmaster"]


def test_set_quota(populated):
    p = populated
    r = p.cli("postoffice", "set-quota", "acme", "500")
    assert "3 mailboxes" in r.stdout
    assert {x for (x,) in q(p, "SELECT quota_kb FROM mailbox")} == {500 * 1024}
    j = p.cli("postoffice", "set-quota", "acme", "1G", json_out=True)
    assert j == {"mailboxes": 3, "quota_kb": 1048576}
    fails(p, EXIT_USAGE, "postoffice", "set-quota", "acme", "-5")
    fails(p, EXIT_USAGE, "postoffice", "set-quota", "acme", "lots")
    fails(p, EXIT_NOTFOUND, "postoffice", "set-quota", "nope", "5")
    # only current mailboxes (manual 5.3.9.8)
    p.cli("mailbox", "add", "new@acme", "--password", "x")
    assert p.cli("mailbox", "show", "new@acme", json_out=True)["quota_kb"] == 0


# -- domains -----------------------------------------------------------------

def test_domain(populated):
    p = populated
    p.cli("postoffice", "add", "other", "--password", "x")
    fails(p, EXIT_EXISTS, "domain", "add", "acme.test", "--postoffice", "other")
    fails(p, EXIT_EXISTS, "domain", "add", "ACME.test", "--postoffice", "acme")
    fails(p, EXIT_NOTFOUND, "domain", "add", "x.test", "--postoffice", "nope")
    p.cli("domain", "add", "Beta.Test", "--postoffice", "acme")
    lst = p.cli("domain", "list", json_out=True)
    assert [d["name"] for d in lst] == ["acme.test", "beta.test"]
    assert lst[0]["addresses"] == 2 and lst[0]["postoffice"] == "acme"
    assert p.cli("domain", "list", "--postoffice", "other", json_out=True) == []
    s = p.cli("domain", "show", "acme.test", json_out=True)
    assert s["disabled"] is False and s["catchall_address"] == ""
    p.cli("domain", "set", "acme.test", "catchall_address=alice", "abuse_address=bob@acme.test")
    s = p.cli("domain", "show", "acme.test", json_out=True)
    assert s["catchall_address"] == "alice" and s["abuse_address"] == "bob@acme.test"
    fails(p, EXIT_USAGE, "domain", "set", "acme.test", "catchall_address=nobody")
    fails(p, EXIT_USAGE, "domain", "set", "acme.test", "postmaster_address=",
          msg="mandatory")
    fails(p, EXIT_USAGE, "domain", "set", "acme.test", "smarthost=bad host")
    fails(p, EXIT_USAGE, "domain", "set", "acme.test", "dkim_algorithm=md5")
    fails(p, EXIT_NOTFOUND, "domain", "show", "nope.test")
    # blacklist (manual 5.4.3)
    p.cli("domain", "blacklist", "add", "acme.test", "Spam.Example")
    fails(p, EXIT_EXISTS, "domain", "blacklist", "add", "acme.test", "spam.example")
    fails(p, EXIT_USAGE, "domain", "blacklist", "add", "acme.test", "not a domain")
    fails(p, EXIT_NOTFOUND, "domain", "blacklist", "add", "nope.test", "x.example")
    bl = p.cli("domain", "blacklist", "list", "acme.test", json_out=True)
    assert bl == [{"domain": "spam.example"}]
    p.cli("domain", "blacklist", "del", "acme.test", "spam.example")
    fails(p, EXIT_NOTFOUND, "domain", "blacklist", "del", "acme.test", "spam.example")
    # delete: its addresses go, the mailboxes stay
    p.cli("domain", "del", "beta.test", "--yes")
    assert one(p, "SELECT count(*) FROM address WHERE address LIKE '%@beta.test'") == 0
    fails(p, EXIT_NOTFOUND, "domain", "del", "beta.test", "--yes")
    assert one(p, "SELECT count(*) FROM mailbox") == 4


# -- mailboxes ---------------------------------------------------------------

def test_mailbox_add(populated):
    p = populated
    p.cli("domain", "add", "acme2.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "Carol@acme", "--password", "c-pw", "--quota", "25",
          "--friendly-name", "Carol C", "--type", "admin")
    m = p.cli("mailbox", "show", "carol@acme", json_out=True)
    assert m["quota_kb"] == 25600 and m["type"] == "ADMIN"
    assert m["friendly_name"] == "Carol C"
    assert m["addresses"] == ["carol@acme.test", "carol@acme2.test"]
    assert pw_ok(p, "Carol@acme", "c-pw")
    assert (p.root / "store/acme/carol/cur").is_dir()
    fails(p, EXIT_EXISTS, "mailbox", "add", "carol@acme", "--password", "x")
    fails(p, EXIT_NOTFOUND, "mailbox", "add", "x@nope", "--password", "x")
    fails(p, EXIT_USAGE, "mailbox", "add", "d@acme", "--password", "x", "--quota", "big")
    fails(p, EXIT_USAGE, "mailbox", "add", "d@acme", "--password", "x", "--type", "ROOT")
    fails(p, EXIT_USAGE, "mailbox", "add", "d@acme", "--password", "x" * 1025)
    assert one(p, "SELECT count(*) FROM mailbox WHERE name = 'd'") == 0
    # auto addresses off (setting) and per mailbox
    p.cli("config", "set", "mailbox.auto_address", "no")
    p.cli("mailbox", "add", "dave@acme", "--password", "x")
    assert p.cli("mailbox", "show", "dave@acme", json_out=True)["addresses"] == []
    p.cli("config", "set", "mailbox.auto_address", "yes")
    p.cli("mailbox", "add", "erin@acme", "--password", "x", "--no-auto-address")
    assert p.cli("mailbox", "show", "erin@acme", json_out=True)["addresses"] == []
    # default quota
    p.cli("config", "set", "mailbox.default_quota", "100")
    p.cli("mailbox", "add", "fay@acme", "--password", "x")
    assert p.cli("mailbox", "show", "fay@acme", json_out=True)["quota_kb"] == 102400
    # an address taken by a group is left alone
    p.cli("group", "add", "gus@acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "gus@acme", "--password", "x")
    assert p.cli("mailbox", "show", "gus@acme", json_out=True)["addresses"] == \
        ["gus@acme2.test"]
    r = p.cli("mailbox", "add", "hal@acme", "--random-password")
    line = r.stdout.strip()
    assert line.startswith("hal@acme password: ")
    assert pw_ok(p, "hal@acme", line.split(": ", 1)[1])


def test_mailbox_set_passwd_del(populated):
    p = populated
    p.cli("mailbox", "set", "bob@acme", "disabled=yes", "quota=2G", "reply_to=Bob@Acme.test",
          "autoresponder_start=2030-01-02 10:00")
    m = p.cli("mailbox", "show", "bob@acme", json_out=True)
    assert m["disabled"] is True and m["quota_kb"] == 2097152
    assert m["reply_to"] == "bob@acme.test" and m["autoresponder_start"] == 1893578400
    fails(p, EXIT_USAGE, "mailbox", "set", "bob@acme", "type=ROOT")
    fails(p, EXIT_USAGE, "mailbox", "set", "bob@acme", "friendly_name=a\nb")
    fails(p, EXIT_USAGE, "mailbox", "set", "bob@acme", "autoresponder_end=tomorrow")
    fails(p, EXIT_NOTFOUND, "mailbox", "set", "nobody@acme", "disabled=yes")
    fails(p, EXIT_USAGE, "mailbox", "set", "bob", "disabled=yes")
    text = p.cli("mailbox", "show", "bob@acme").stdout
    assert "bob@acme.test" in text and "2 GB" in text
    p.cli("mailbox", "passwd", "bob@acme", "--password", "new-pw")
    assert pw_ok(p, "bob@acme", "new-pw") and not pw_ok(p, "bob@acme", "bob-pw")
    r = p.cli("mailbox", "passwd", "bob@acme", "--random-password")
    assert pw_ok(p, "bob@acme", r.stdout.strip().split(": ", 1)[1])
    fails(p, EXIT_NOTFOUND, "mailbox", "passwd", "zed@acme", "--password", "x")
    fails(p, EXIT_USAGE, "mailbox", "passwd", "bob@acme", "--password", "")
    # the scheme is a setting
    p.cli("config", "set", "password.scheme", "sha512-crypt")
    p.cli("mailbox", "passwd", "alice@acme", "--password", "a2")
    assert one(p, "SELECT password_hash FROM mailbox WHERE name = 'alice'").startswith("$6$")
    assert pw_ok(p, "alice@acme", "a2")
    # del removes the store and the addresses, --keep-data keeps the store
    (p.root / "store/acme/bob/new/1.msg").write_text("x")
    p.cli("mailbox", "del", "bob@acme", "--yes")
    assert not (p.root / "store/acme/bob").exists()
    assert one(p, "SELECT count(*) FROM address WHERE address = 'bob@acme.test'") == 0
    fails(p, EXIT_NOTFOUND, "mailbox", "del", "bob@acme", "--yes")
    p.cli("mailbox", "del", "alice@acme", "--keep-data", "--yes")
    assert (p.root / "store/acme/alice/cur").is_dir()
    fails(p, EXIT_USAGE, "mailbox", "del", "postmaster@acme", "--yes", msg="postmaster")
    assert one(p, "SELECT count(*) FROM mailbox WHERE name = 'postmaster'") == 1


def test_mailbox_list_sizes(populated):
    p = populated
    lst = p.cli("mailbox", "list", json_out=True)
    assert [m["mailbox"] for m in lst] == ["alice@acme", "bob@acme", "postmaster@acme"]
    assert lst[0]["addresses"] == 1 and lst[0]["type"] == "USER"
    (p.root / "store/acme/alice/new/1.eml").write_bytes(b"x" * 3000)
    exact = {m["name"]: m["size_bytes"] for m in
             p.cli("mailbox", "list", "--sizes", "exact", json_out=True)}
    assert exact["alice"] >= 3000 and exact["bob"] < 3000
    assert one(p, "SELECT size_bytes FROM mailbox WHERE name = 'alice'") == exact["alice"]
    # cached: a fresh cache is used as is ...
    (p.root / "store/acme/alice/new/2.eml").write_bytes(b"y" * 5000)
    cached = {m["name"]: m["size_bytes"] for m in
              p.cli("mailbox", "list", "--sizes", "cached", json_out=True)}
    assert cached["alice"] == exact["alice"]
    # ... and refreshed when older than mailbox.size_cache_age
    p.cli("config", "set", "mailbox.size_cache_age", "0s")
    cached = {m["name"]: m["size_bytes"] for m in
              p.cli("mailbox", "list", "--sizes", "cached", json_out=True)}
    assert cached["alice"] >= 8000
    none = p.cli("mailbox", "list", "--sizes", "none", json_out=True)
    assert all(m["size_bytes"] is None for m in none)
    assert "NA" in p.cli("mailbox", "list", "--sizes", "none").stdout
    p.cli("config", "set", "mailbox.list_sizes", "none")
    assert "NA" in p.cli("mailbox", "list").stdout
    fails(p, EXIT_USAGE, "mailbox", "list", "--sizes", "approx")
    fails(p, EXIT_NOTFOUND, "mailbox", "list", "--postoffice", "nope")
    assert p.cli("mailbox", "list", "--postoffice", "acme", json_out=True)


def test_redirects(populated):
    p = populated
    for i in range(25):
        p.cli("mailbox", "redirect", "add", "bob@acme", f"r{i}@ext.example")
    fails(p, EXIT_USAGE, "mailbox", "redirect", "add", "bob@acme", "r25@ext.example",
          msg="25")
    lst = p.cli("mailbox", "redirect", "list", "bob@acme", json_out=True)
    assert len(lst) == 25 and lst[0] == {"address": "r0@ext.example"}
    p.cli("mailbox", "redirect", "del", "bob@acme", "r0@ext.example")
    fails(p, EXIT_NOTFOUND, "mailbox", "redirect", "del", "bob@acme", "r0@ext.example")
    p.cli("mailbox", "redirect", "add", "bob@acme", "r25@ext.example")
    fails(p, EXIT_USAGE, "mailbox", "redirect", "add", "alice@acme", "not-an-address")
    fails(p, EXIT_NOTFOUND, "mailbox", "redirect", "add", "zed@acme", "x@e.example")
    p.cli("mailbox", "redirect", "add", "alice@acme", "x@e.example")
    fails(p, EXIT_EXISTS, "mailbox", "redirect", "add", "alice@acme", "X@E.example")
    rt = p.cli("mailbox", "show", "bob@acme", json_out=True)["redirect_to"]
    assert len(rt) == 25 and "r0@ext.example" not in rt and rt == sorted(rt)


def test_address(populated):
    p = populated
    p.cli("postoffice", "add", "other", "--password", "x")
    p.cli("domain", "add", "other.test", "--postoffice", "other")
    p.cli("address", "add", "Sales@ACME.test", "--mailbox", "bob@acme")
    assert "sales@acme.test" in p.cli("mailbox", "show", "bob@acme", json_out=True)["addresses"]
    lst = p.cli("address", "list", "--mailbox", "bob@acme", json_out=True)
    assert {a["address"] for a in lst} == {"bob@acme.test", "sales@acme.test"}
    assert all(a["target"] == "bob@acme" for a in lst)
    fails(p, EXIT_USAGE, "address", "add", "x@other.test", "--mailbox", "bob@acme",
          msg="not a domain of the post office")
    fails(p, EXIT_USAGE, "address", "add", "x@unknown.test", "--mailbox", "bob@acme")
    fails(p, EXIT_EXISTS, "address", "add", "alice@acme.test", "--mailbox", "bob@acme")
    fails(p, EXIT_USAGE, "address", "add", "a b@acme.test", "--mailbox", "bob@acme")
    fails(p, EXIT_NOTFOUND, "address", "add", "y@acme.test", "--mailbox", "zed@acme")
    fails(p, EXIT_USAGE, "address", "add", "y@acme.test")
    assert one(p, "SELECT count(*) FROM address WHERE address LIKE 'x@%'") == 0
    p.cli("address", "del", "sales@acme.test")
    fails(p, EXIT_NOTFOUND, "address", "del", "sales@acme.test")
    p.cli("group", "add", "team@acme.test", "--postoffice", "acme")
    fails(p, EXIT_USAGE, "address", "del", "team@acme.test", msg="group")
    assert {a["address"] for a in p.cli("address", "list", "--postoffice", "acme",
                                       json_out=True)} == \
        {"alice@acme.test", "bob@acme.test", "team@acme.test"}


# -- groups and lists ----------------------------------------------------------

def test_group(populated, tmp_path):
    p = populated
    p.cli("postoffice", "add", "other", "--password", "x")
    p.cli("domain", "add", "other.test", "--postoffice", "other")
    p.cli("group", "add", "staff@acme.test", "--postoffice", "acme", "--name", "Staff")
    fails(p, EXIT_EXISTS, "group", "add", "staff@acme.test", "--postoffice", "acme")
    fails(p, EXIT_EXISTS, "group", "add", "bob@acme.test", "--postoffice", "acme")
    fails(p, EXIT_USAGE, "group", "add", "g@other.test", "--postoffice", "acme")
    fails(p, EXIT_NOTFOUND, "group", "add", "g@acme.test", "--postoffice", "nope")
    p.cli("group", "member", "add", "staff@acme.test", "Bob@acme.test")
    p.cli("group", "member", "add", "staff@acme.test", "friend@ext.example")
    fails(p, EXIT_EXISTS, "group", "member", "add", "staff@acme.test", "bob@acme.test")
    fails(p, EXIT_USAGE, "group", "member", "add", "staff@acme.test", "staff@acme.test")
    fails(p, EXIT_USAGE, "group", "member", "add", "staff@acme.test", "nope")
    fails(p, EXIT_NOTFOUND, "group", "member", "add", "nope@acme.test", "a@b.example")
    assert p.cli("group", "member", "list", "staff@acme.test", json_out=True) == \
        [{"address": "bob@acme.test"}, {"address": "friend@ext.example"}]
    p.cli("group", "member", "del", "staff@acme.test", "friend@ext.example")
    fails(p, EXIT_NOTFOUND, "group", "member", "del", "staff@acme.test", "friend@ext.example")
    p.cli("group", "set", "staff@acme.test", "name=The Staff", "disabled=yes")
    s = p.cli("group", "show", "staff@acme.test", json_out=True)
    assert s["name"] == "The Staff" and s["disabled"] is True
    fails(p, EXIT_USAGE, "group", "set", "staff@acme.test", "name=")
    f = tmp_path / "members.csv"
    f.write_text("a@ext.example\n\nnot an address\nb@ext.example,ignored\nbob@acme.test\n")
    r = p.cli("group", "import", "staff@acme.test", str(f), check=False)
    assert r.returncode == EXIT_PARTIAL
    assert "line 3" in r.stderr and "line 5" in r.stderr
    members = {m["address"] for m in p.cli("group", "member", "list", "staff@acme.test",
                                          json_out=True)}
    assert members == {"bob@acme.test", "a@ext.example", "b@ext.example"}
    f.write_text("c@ext.example\nbad one\n")
    r = p.cli("group", "import", "staff@acme.test", str(f), "--atomic", check=False)
    assert r.returncode == EXIT_PARTIAL
    assert one(p, "SELECT count(*) FROM grp_member WHERE address = 'c@ext.example'") == 0
    f.write_bytes(b"\xef\xbb\xbfc@ext.example\r\n")
    assert p.cli("--json", "group", "member", "import", "staff@acme.test",
                 str(f)).returncode == 0
    fails(p, EXIT_USAGE, "group", "import", "staff@acme.test", str(tmp_path / "none"))
    lst = p.cli("group", "list", json_out=True)
    assert lst == [{"address": "staff@acme.test", "name": "The Staff", "postoffice": "acme",
                    "status": "disabled", "members": 4}]
    p.cli("group", "del", "staff@acme.test", "--yes")
    assert one(p, "SELECT count(*) FROM address WHERE address = 'staff@acme.test'") == 0
    assert one(p, "SELECT count(*) FROM grp_member") == 0
    fails(p, EXIT_NOTFOUND, "group", "del", "staff@acme.test", "--yes")


def test_list(populated, tmp_path):
    p = populated
    fails(p, EXIT_USAGE, "list", "add", "news@acme.test", "--postoffice", "acme",
          "--owner", "Postmaster@mx.postern.test", msg="system notification address")
    p.cli("config", "set", "smtp.notification_address", "notices@acme.test")
    fails(p, EXIT_USAGE, "list", "add", "news@acme.test", "--postoffice", "acme",
          "--owner", "notices@acme.test", msg="moderator")
    assert one(p, "SELECT count(*) FROM list") == 0
    p.cli("list", "add", "news@acme.test", "--postoffice", "acme", "--owner", "bob@acme.test")
    fails(p, EXIT_EXISTS, "list", "add", "news@acme.test", "--postoffice", "acme")
    fails(p, EXIT_USAGE, "list", "set", "news@acme.test", "owner=notices@acme.test")
    assert p.cli("list", "show", "news@acme.test", json_out=True)["owner"] == "bob@acme.test"
    p.cli("list", "set", "news@acme.test", "moderated=yes", "subject_prefix=[news]",
          "bounce_limit=3")
    s = p.cli("list", "show", "news@acme.test", json_out=True)
    assert s["moderated"] is True and s["subject_prefix"] == "[news]" and s["bounce_limit"] == 3
    fails(p, EXIT_USAGE, "list", "set", "news@acme.test", "bounce_limit=0")
    p.cli("list", "member", "add", "news@acme.test", "zed@ext.example", "--name", "Zed, Z")
    fails(p, EXIT_EXISTS, "list", "member", "add", "news@acme.test", "zed@ext.example")
    f = tmp_path / "m.csv"
    f.write_text('amy@ext.example,"Amy, A"\nbad\nbea@ext.example\n')
    r = p.cli("list", "member", "import", "news@acme.test", str(f), check=False)
    assert r.returncode == EXIT_PARTIAL and "line 2" in r.stderr
    out = p.cli("list", "member", "export", "news@acme.test").stdout
    assert out == 'amy@ext.example,"Amy, A"\nbea@ext.example,\nzed@ext.example,"Zed, Z"\n'
    lst = p.cli("list", "member", "list", "news@acme.test", json_out=True)
    assert [m["address"] for m in lst] == ["amy@ext.example", "bea@ext.example",
                                           "zed@ext.example"]
    p.cli("list", "member", "del", "news@acme.test", "bea@ext.example")
    fails(p, EXIT_NOTFOUND, "list", "member", "del", "news@acme.test", "bea@ext.example")
    assert p.cli("list", "list", json_out=True)[0]["status"] == "moderated"
    p.cli("list", "del", "news@acme.test", "--yes")
    assert one(p, "SELECT count(*) FROM list_member") == 0
    assert one(p, "SELECT count(*) FROM address WHERE kind = 'list'") == 0


# -- users import / export ------------------------------------------------------

def test_users_import(populated, tmp_path):
    p = populated
    p.cli("postoffice", "add", "other", "--password", "x")
    p.cli("domain", "add", "other.test", "--postoffice", "other")
    hashed = crypt.crypt("hashed-pw", crypt.mksalt(crypt.METHOD_SHA512))
    f = tmp_path / "users.csv"
    f.write_text("emailaddress,password,quota,friendly name\n"
                 "ann@acme.test,ann-pw,5,\"Ann, A\"\n"
                 "not an address,x\n"
                 "ben@newdom.test,,10,Ben\n"
                 "cat@other.test,x\n"
                 f"dee@acme.test,{{SHA512-CRYPT}}{hashed},,Dee\n"
                 "eve@acme.test,pw,lots\n"
                 "alice@acme.test,dup\n"
                 "fox@acme.test,pw,1,a,b\n"
                 "\"unterminated,x\n")
    before = one(p, "SELECT count(*) FROM mailbox")
    r = p.cli("users", "import", str(f), "--postoffice", "acme", "--atomic",
              "--create-domains", check=False)
    assert r.returncode == EXIT_PARTIAL and "nothing kept" in r.stderr
    assert one(p, "SELECT count(*) FROM mailbox") == before
    assert one(p, "SELECT count(*) FROM domain WHERE name = 'newdom.test'") == 0
    assert not (p.root / "store/acme/ann").exists()     # no store left behind
    out = tmp_path / "pw.txt"
    r = p.cli("--json", "users", "import", str(f), "--postoffice", "acme",
              "--passwords-out", str(out), "--create-domains", check=False)
    assert r.returncode == EXIT_PARTIAL
    res = json.loads(r.stdout)
    assert res["total"] == 9 and res["imported"] == 3 and res["failed"] == 6
    assert [e["line"] for e in res["errors"]] == [3, 5, 7, 8, 9, 10]
    errs = {e["line"]: e["error"] for e in res["errors"]}
    assert "belongs to post office 'other'" in errs[5]
    assert "already exists" in errs[8]
    for line in (3, 5, 7, 8, 9, 10):
        assert f"line {line}:" in r.stderr
    assert pw_ok(p, "ann@acme", "ann-pw")
    assert (p.root / "store/acme/ann/new").is_dir()
    assert not (p.root / "store/acme/eve").exists()
    m = p.cli("mailbox", "show", "ann@acme", json_out=True)
    assert m["quota_kb"] == 5120 and m["friendly_name"] == "Ann, A"
    assert one(p, "SELECT postoffice_id FROM domain WHERE name = 'newdom.test'") == \
        one(p, "SELECT id FROM postoffice WHERE name = 'acme'")
    assert "ben@newdom.test" in p.cli("mailbox", "show", "ben@acme", json_out=True)["addresses"]
    gen = out.read_text().strip().split(",")
    assert gen[0] == "ben@newdom.test" and pw_ok(p, "ben@acme", gen[1])
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert one(p, "SELECT password_hash FROM mailbox WHERE name = 'dee'") == hashed
    assert pw_ok(p, "dee@acme", "hashed-pw")
    assert one(p, "SELECT count(*) FROM mailbox WHERE name IN ('eve', 'fox', 'cat')") == 0
    # a spreadsheet's byte order mark and header, CRLF
    f.write_bytes(b"\xef\xbb\xbfemailaddress,password\r\nkim@acme.test,kim-pw\r\n")
    p.cli("users", "import", str(f), "--postoffice", "acme")
    assert pw_ok(p, "kim@acme", "kim-pw")
    # defaults from the command line; TSV
    f.write_text("gil@acme.test\thash-less\nhal@acme.test\n")
    p.cli("users", "import", str(f), "--postoffice", "acme", "--tsv",
          "--password", "common", "--quota", "7")
    assert pw_ok(p, "gil@acme", "hash-less") and pw_ok(p, "hal@acme", "common")
    assert p.cli("mailbox", "show", "hal@acme", json_out=True)["quota_kb"] == 7168
    f.write_text("ivy@unknown.test,x\n")
    r = p.cli("users", "import", str(f), "--postoffice", "acme", check=False)
    assert r.returncode == EXIT_PARTIAL and "line 1: domain 'unknown.test'" in r.stderr
    assert "--create-domains" in r.stderr
    fails(p, EXIT_NOTFOUND, "users", "import", str(f), "--postoffice", "nope")
    fails(p, EXIT_USAGE, "users", "import", str(tmp_path / "missing.csv"),
          "--postoffice", "acme", msg="cannot read")
    fails(p, EXIT_USAGE, "users", "import", str(f))
    # progress on a terminal
    import pty
    f.write_text("".join(f"p{i}@acme.test,{hashed if i % 2 else 'pw'}\n"
                         for i in range(120)))
    master, slave = pty.openpty()
    try:
        r = subprocess.run([str(BUILD / "postern"), "-d", str(p.root), "users", "import",
                            str(f), "--postoffice", "acme"], stderr=slave,
                           stdout=subprocess.PIPE, env=p.env, timeout=120)
        os.close(slave)
        slave = None
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert r.returncode == 0
    assert b"hashing passwords: 120/120\r\n" in out
    assert b"importing: 50/120" in out and b"importing: 120/120" in out
    assert b"120 imported, 0 failed" in out
    # stdin, and random passwords to stdout
    r = p.cli("users", "import", "-", "--postoffice", "acme", input="jay@acme.test\n")
    addr, pw = r.stdout.strip().split(",")
    assert addr == "jay@acme.test" and pw_ok(p, "jay@acme", pw)
    # a row that fails in the database gets no password handed out
    r = p.cli("users", "import", "-", "--postoffice", "acme", input="jay@acme.test\n",
              check=False)
    assert r.returncode == EXIT_PARTIAL and r.stdout == ""
    assert "already exists" in r.stderr


def test_users_export_round_trip(populated, tmp_path):
    p = populated
    p.cli("mailbox", "set", "alice@acme", "quota=1500K", 'friendly_name=Alice "Al" A')
    p.cli("mailbox", "set", "bob@acme", "quota=3G", "friendly_name=Bob, B")
    csv1 = raw(p, "users", "export", "--postoffice", "acme").decode()
    lines = csv1.split("\r\n")
    assert lines[-1] == "" and len(lines) == 3      # postmaster is left out
    assert lines[0].startswith("alice@acme.test,{CRYPT}$y$")
    assert lines[0].endswith(',1500K,"Alice ""Al"" A"')
    assert lines[1].endswith(',3072,"Bob, B"')
    hdr = raw(p, "users", "export", "--postoffice", "acme", "--header", "--format", "tsv",
              "--fields", "emailaddress,quota,mailbox,type,disabled").decode()
    assert hdr.split("\r\n")[:2] == ["emailaddress\tquota\tmailbox\ttype\tdisabled",
                                     "alice@acme.test\t1500K\talice\tUSER\tno"]
    fails(p, EXIT_USAGE, "users", "export", "--postoffice", "acme", "--fields", "secret")
    fails(p, EXIT_USAGE, "users", "export", "--postoffice", "acme", "--format", "xml")
    fails(p, EXIT_NOTFOUND, "users", "export", "--postoffice", "nope")
    dest = tmp_path / "out.csv"
    p.cli("users", "export", "--postoffice", "acme", "--output", str(dest))
    assert dest.read_bytes().decode() == csv1
    # into a new post office: the same bytes come back, logins keep working
    p.cli("postoffice", "add", "copy", "--password", "x")
    p.cli("domain", "del", "acme.test", "--yes")
    p.cli("domain", "add", "acme.test", "--postoffice", "copy")
    p.cli("users", "import", str(dest), "--postoffice", "copy")
    assert raw(p, "users", "export", "--postoffice", "copy").decode() == csv1
    assert pw_ok(p, "alice@copy", "alice-pw") and pw_ok(p, "bob@copy", "bob-pw")


def test_users_export_mailbox_without_address(populated, tmp_path):
    """A mailbox with no address exports as its login name@postoffice;
    that imports back as a mailbox without addresses, not as a new domain
    named like the post office."""
    p = populated
    p.cli("mailbox", "add", "noaddr@acme", "--password", "noaddr-pw",
          "--no-auto-address")
    out = raw(p, "users", "export", "--postoffice", "acme").decode()
    assert "\r\nnoaddr@acme," in "\r\n" + out
    dest = tmp_path / "u.csv"
    dest.write_text(out)
    p.cli("postoffice", "add", "copy", "--password", "x")
    r = p.cli("users", "import", str(dest), "--postoffice", "copy",
              "--no-create-domains", check=False)
    # alice and bob fail (acme.test belongs to acme), noaddr imports
    assert r.returncode == 5
    assert one(p, "SELECT count(*) FROM domain WHERE name = 'acme'") == 0
    assert one(p, "SELECT count(*) FROM mailbox m JOIN postoffice o ON "
               "o.id = m.postoffice_id WHERE o.name = 'copy' AND "
               "m.name = 'noaddr'") == 1
    assert one(p, "SELECT count(*) FROM address a JOIN mailbox m ON "
               "m.id = a.target_id AND a.kind = 'mailbox' WHERE "
               "m.name = 'noaddr'") == 0
    assert pw_ok(p, "noaddr@copy", "noaddr-pw")


# -- status without posternd ------------------------------------------------

def test_status_not_running(postern):
    r = postern.cli("status", check=False)
    assert r.returncode == 1 and "not running" in r.stdout
    r = postern.cli("--json", "status", check=False)
    assert r.returncode == 1 and json.loads(r.stdout) == {"running": False, "services": []}

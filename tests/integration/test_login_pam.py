"""PAM per post office (issue 17, item 5; manual 5.3.3 "integrated
authentication"), without root: the services run under Debian's
libpam-wrapper (LD_PRELOAD, PAM_WRAPPER_SERVICE_DIR) with pam_matrix's
password file as the PAM service; a mailbox is made at the first
successful PAM login when the post office says so; pam_only refuses the
Postern password; a hanging PAM module (pam_exec running sleep) fails the
login within auth.pam_timeout instead of hanging the service."""
import os
import time
from pathlib import Path

import pytest

from conftest import Postern
from login_util import imap_login, pop_login, smtp_login

LIB = Path("/usr/lib/x86_64-linux-gnu")
WRAPPER = LIB / "libpam_wrapper.so"
MATRIX = LIB / "pam_wrapper/pam_matrix.so"
PAM_EXEC = LIB / "security/pam_exec.so"
LOCAL_PW = "Local-secret-6620"
PAM_PW = "Pam-secret-4417"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    if not WRAPPER.exists() or not MATRIX.exists():
        pytest.skip("libpam-wrapper missing (scripts/install-deps.sh)")
    base = tmp_path_factory.mktemp("login-pam")
    pamd = base / "pam.d"
    pamd.mkdir()
    passdb = base / "passdb"
    passdb.write_text(f"frank:{PAM_PW}:postern-test\n"
                      f"gina:{PAM_PW}:postern-test\n"
                      f"hal:{PAM_PW}:postern-test\n")
    for kind in ("auth", "account"):
        with open(pamd / "postern-test", "a") as f:
            f.write(f"{kind} required {MATRIX} passdb={passdb}\n")
    (pamd / "postern-hang").write_text(
        f"auth required {PAM_EXEC} /bin/sleep 30\n"
        f"account required {MATRIX} passdb={passdb}\n")
    p = Postern(base / "root")
    p.init()
    p.cli("config", "set", "smtp.require_tls_for_auth", "no")
    p.cli("config", "set", "auth.pam_timeout", "2")
    p.cli("postoffice", "add", "corp", "--password", "pm-secret-911")
    p.cli("postoffice", "set", "corp", "pam_enabled=yes",
          "pam_service=postern-test", "pam_autocreate=yes")
    p.cli("postoffice", "add", "slow", "--password", "pm-secret-912")
    p.cli("postoffice", "set", "slow", "pam_enabled=yes",
          "pam_service=postern-hang", "pam_only=yes")
    p.cli("mailbox", "add", "frank@corp", "--password", LOCAL_PW)
    p.cli("mailbox", "add", "ivan@slow", "--password", LOCAL_PW)
    p.env.update({
        "LD_PRELOAD": str(WRAPPER),
        "PAM_WRAPPER": "1",
        "PAM_WRAPPER_SERVICE_DIR": str(pamd),
        # ASan refuses RTLD_DEEPBIND; libpam_wrapper 1.1.4 reads this name
        "UID_WRAPPER_DISABLE_DEEPBIND": "1",
        "PAM_WRAPPER_DISABLE_DEEPBIND": "1",
        # the wrapper is preloaded before ASan's runtime in the sanitized
        # build; ASan still works
        "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
        ":verify_asan_link_order=0",
    })
    p.start(services=["smtpd", "imapd", "pop3d"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def test_pam_or_postern_password(srv):
    p = srv
    assert imap_login(p.port("imap"), "frank@corp", PAM_PW)
    assert imap_login(p.port("imap"), "frank@corp", LOCAL_PW)
    assert pop_login(p.port("pop3"), "frank@corp", PAM_PW)
    assert smtp_login(p.port("submission"), "frank@corp", PAM_PW)
    assert not imap_login(p.port("imap"), "frank@corp", "Wrong-secret-11")
    # pam_only: the Postern password no longer works
    p.cli("postoffice", "set", "corp", "pam_only=yes")
    try:
        assert not imap_login(p.port("imap"), "frank@corp", LOCAL_PW)
        assert imap_login(p.port("imap"), "frank@corp", PAM_PW)
    finally:
        p.cli("postoffice", "set", "corp", "pam_only=no")


def test_mailbox_made_at_first_pam_login(srv):
    p = srv
    r = p.cli("mailbox", "show", "gina@corp", check=False)
    assert r.returncode == 3
    # a wrong password makes nothing
    assert not imap_login(p.port("imap"), "gina@corp", "Wrong-secret-22")
    assert p.cli("mailbox", "show", "gina@corp", check=False).returncode == 3
    assert imap_login(p.port("imap"), "gina@corp", PAM_PW)
    p.cli("mailbox", "show", "gina@corp")
    assert "made at its first PAM login" in p.log("imapd")
    # the new mailbox works: it can select its INBOX and log in again
    from login_util import IMAP
    c = IMAP(p.port("imap"))
    c.login("gina@corp", PAM_PW)
    assert c.select("INBOX")[0] == "OK"
    c.logout()
    # without pam_autocreate, unknown names stay unknown
    p.cli("postoffice", "set", "corp", "pam_autocreate=no")
    assert not imap_login(p.port("imap"), "hal@corp", PAM_PW)
    assert p.cli("mailbox", "show", "hal@corp", check=False).returncode == 3


def test_hanging_pam_module_is_bounded(srv):
    p = srv
    t0 = time.monotonic()
    assert not imap_login(p.port("imap"), "ivan@slow", LOCAL_PW)
    assert time.monotonic() - t0 < 25     # not the module's 30 s
    assert "did not answer in time" in p.log("imapd")
    # the service goes on serving others
    assert imap_login(p.port("imap"), "frank@corp", PAM_PW)

"""ManageSieve (RFC 5804) with a raw client: greeting capabilities,
STARTTLS, AUTHENTICATE PLAIN, the script commands, literals, limits;
a script put over ManageSieve filters mail delivered over SMTP; and
sieve-connect, a real client, when it is installed."""
import base64
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from test_mta import mailbox_msgs, wait_for

T = 60


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=T)
        self.f = self.sock.makefile("rb")

    def line(self):
        ln = self.f.readline()
        assert ln, "connection closed"
        return ln.decode(errors="replace").rstrip("\r\n")

    def response(self):
        """lines up to OK/NO/BYE; literals read whole"""
        lines = []
        while True:
            ln = self.line()
            if ln.endswith("}") and "{" in ln:
                n = int(ln[ln.rindex("{") + 1:-1].rstrip("+"))
                data = self.f.read(n).decode()
                lines.append(ln[:ln.rindex("{")] + data)
                continue
            lines.append(ln)
            if ln.split(" ", 1)[0] in ("OK", "NO", "BYE"):
                return lines

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.response()

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r[-1].startswith("OK"), r
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.f = self.sock.makefile("rb")
        return self.response()   # the capabilities again

    def login(self, user, pw):
        tok = base64.b64encode(f"\0{user}\0{pw}".encode()).decode()
        return self.cmd(f'AUTHENTICATE "PLAIN" "{tok}"')

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


@pytest.fixture
def ms(populated):
    populated.start(services=["managesieve", "smtpd", "mta", "deliver"])
    return populated


def test_greeting_tls_auth_and_scripts(ms):
    c = Client(ms.port("managesieve"))
    greet = c.response()
    assert greet[-1].startswith("OK")
    caps = "\n".join(greet)
    assert '"IMPLEMENTATION" "Postern' in caps and '"VERSION" "1.0"' in caps
    assert '"STARTTLS"' in caps and '"SASL" ""' in caps, "no PLAIN in clear"
    assert "fileinto" in caps and "vacation" in caps and "imap4flags" in caps
    r = c.login("alice@acme", "alice-pw")
    assert r[-1].startswith("NO (ENCRYPT-NEEDED)")
    assert c.cmd("LISTSCRIPTS")[-1].startswith("NO")
    caps2 = c.starttls()
    assert '"SASL" "PLAIN"' in "\n".join(caps2) and '"STARTTLS"' not in \
        "\n".join(caps2)
    assert c.login("alice@acme", "wrong")[-1].startswith("NO")
    assert c.login("alice@acme", "alice-pw")[-1].startswith("OK")
    assert c.cmd("LISTSCRIPTS") == ["OK \"Listscripts completed\""]
    assert c.cmd('HAVESPACE "a" 1000')[-1].startswith("OK")
    assert c.cmd('HAVESPACE "a" 99999999')[-1].startswith("NO (QUOTA/MAXSIZE)")
    script = 'require "fileinto";\r\nif header :contains "subject" "ms" ' \
             '{ fileinto "ViaMS"; }\r\n'
    r = c.cmd(f'PUTSCRIPT "filters" {{{len(script)}+}}\r\n{script}')
    assert r[-1].startswith("OK"), r
    # a synchronizing literal from the client is taken too
    r = c.cmd(f'PUTSCRIPT "other" {{6}}\r\nkeep;\n')
    assert r[-1].startswith("OK"), r
    bad = 'require "fileinto";\r\nfileinto "x" "y";\r\n'
    r = c.cmd(f'PUTSCRIPT "bad" {{{len(bad)}+}}\r\n{bad}')
    assert r[-1].startswith('NO "2:1: fileinto takes 1 positional'), r
    r = c.cmd(f'CHECKSCRIPT {{{len(bad)}+}}\r\n{bad}')
    assert r[-1].startswith('NO "2:1:'), r
    assert c.cmd('CHECKSCRIPT "keep;"')[-1].startswith("OK")
    assert c.cmd('SETACTIVE "nope"')[-1].startswith("NO (NONEXISTENT)")
    assert c.cmd('SETACTIVE "filters"')[-1].startswith("OK")
    r = c.cmd("LISTSCRIPTS")
    assert '"filters" ACTIVE' in r and '"other"' in r and r[-1].startswith("OK")
    r = c.cmd('GETSCRIPT "filters"')
    assert r[0] == script and r[-1].startswith("OK"), r
    assert c.cmd('DELETESCRIPT "filters"')[-1].startswith("NO (ACTIVE)")
    assert c.cmd('RENAMESCRIPT "other" "filters"')[-1].startswith(
        "NO (ALREADYEXISTS)")
    assert c.cmd('RENAMESCRIPT "filters" "main"')[-1].startswith("OK")
    r = c.cmd("LISTSCRIPTS")
    assert '"main" ACTIVE' in r, r
    assert c.cmd("NOOP \"t1\"")[-1] == 'OK (TAG "t1") "Done"'
    # the CLI sees the same scripts
    out = ms.cli("filter", "list", "alice@acme").stdout
    assert out == "main (active)\nother\n"
    # and deliver runs the active one
    m = smtplib.SMTP("127.0.0.1", ms.port("smtp"), timeout=T)
    m.sendmail("x@remote.test", ["alice@acme.test"],
               b"Subject: via ms\r\n\r\nhello\r\n")
    m.quit()
    folder = Path(ms.root) / "store/acme/alice/.ViaMS"
    wait_for(lambda: folder.is_dir() and any(
        (folder / s).is_dir() and list((folder / s).iterdir())
        for s in ("new", "cur")), T, "filed by the ManageSieve script")
    assert c.cmd('DELETESCRIPT "other"')[-1].startswith("OK")
    assert c.cmd('SETACTIVE ""')[-1].startswith("OK")
    assert c.cmd('DELETESCRIPT "main"')[-1].startswith("OK")
    assert c.cmd("UNAUTHENTICATE")[-1].startswith("OK")
    assert c.cmd("LISTSCRIPTS")[-1].startswith("NO")
    assert c.cmd("LOGOUT")[-1].startswith("OK")
    c.close()


def test_sasl_continuation_and_limits(ms):
    c = Client(ms.port("managesieve"))
    c.response()
    c.starttls()
    c.send('AUTHENTICATE "PLAIN"\r\n')
    assert c.line() == '""'
    tok = base64.b64encode(b"\0bob@acme\0bob-pw").decode()
    c.send(f'{{{len(tok)}+}}\r\n{tok}\r\n')
    assert c.response()[-1].startswith("OK")
    # a literal over the script limit: BYE, connection closed
    c.send('PUTSCRIPT "big" {2000000+}\r\n')
    r = c.response()
    assert r[-1].startswith("BYE"), r
    c.close()
    # before login, literals are small
    c = Client(ms.port("managesieve"))
    c.response()
    c.send("CAPABILITY {100000+}\r\n")
    assert c.response()[-1].startswith("BYE")
    c.close()
    # bad commands: NO, then BYE after ten
    c = Client(ms.port("managesieve"))
    c.response()
    for i in range(9):
        assert c.cmd("FROB")[-1].startswith("NO")
    assert c.cmd("FROB")[-1].startswith("NO")
    assert c.line().startswith("BYE")
    c.close()
    # a line without end: BYE past the limit
    c = Client(ms.port("managesieve"))
    c.response()
    c.send("NOOP " + "x" * 20000)
    assert c.response()[-1].startswith(("NO", "BYE"))
    c.close()


@pytest.mark.skipif(shutil.which("sieve-connect") is None,
                    reason="sieve-connect not installed")
def test_sieve_connect_client(ms, tmp_path):
    script = tmp_path / "mine.sieve"
    script.write_text('require "fileinto";\nif true { fileinto "Z"; }\n')
    pw = tmp_path / "pw"
    pw.write_text("alice-pw\n")
    base = ["sieve-connect", "--server", "127.0.0.1", "--port",
            str(ms.port("managesieve")), "--user", "alice@acme",
            "--passwordfd", "3", "--noclearauth", "--nosslverify",
            "--authmech", "PLAIN"]

    def run(*args):
        # the password on descriptor 3
        return subprocess.run(["sh", "-c", 'exec 3<"$0"; exec "$@"', str(pw)]
                              + base + list(args), capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    r = run("--upload", "--localsieve", str(script), "--remotesieve", "mine")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("--activate", "--remotesieve", "mine")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("--list")
    assert r.returncode == 0 and "mine" in r.stdout, r.stdout + r.stderr
    assert "mine (active)" in ms.cli("filter", "list", "alice@acme").stdout
    dl = tmp_path / "back.sieve"
    r = run("--download", "--remotesieve", "mine", "--localsieve", str(dl))
    assert r.returncode == 0, r.stdout + r.stderr
    assert dl.read_text() == script.read_text()


def test_client_not_reading_its_answers(ms):
    """GETSCRIPTs pipelined by a client that reads nothing: the server
    stops reading past 2 MB of queued answers and goes on once they are
    read; every answer arrives whole."""
    c = Client(ms.port("managesieve"))
    c.response()
    c.starttls()
    assert c.login("alice@acme", "alice-pw")[-1].startswith("OK")
    script = "# " + "x" * 400000 + "\r\nkeep;\r\n"
    r = c.cmd(f'PUTSCRIPT "big" {{{len(script)}+}}\r\n{script}')
    assert r[-1].startswith("OK"), r
    c.send('GETSCRIPT "big"\r\n' * 20)
    time.sleep(2)
    for i in range(20):
        r = c.response()
        assert r[0] == script and r[-1].startswith("OK"), (i, r[-1])
    assert c.cmd("LOGOUT")[-1].startswith("OK")
    c.close()

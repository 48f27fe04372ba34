"""XEP-0215 external service discovery: with chat.turn.* set, xmppd
hands out STUN/TURN services and TURN credentials in coturn's REST API
scheme; a real coturn (Debian), started here with the same secret,
grants an allocation with them (turnutils_uclient relays packets) and
refuses altered ones. Without chat.turn.host the service is not
offered."""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import free_port
from xmpp_util import Raw, srv  # noqa: F401 (srv: the fixture)

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
UCLIENT = shutil.which("turnutils_uclient") or "/usr/bin/turnutils_uclient"
SECRET = "turn-shared-secret-of-the-test"


@pytest.fixture(scope="module")
def coturn(tmp_path_factory):
    if not (os.access(TURNSERVER, os.X_OK) and os.access(UCLIENT, os.X_OK)):
        pytest.skip("coturn missing (scripts/install-deps.sh installs it)")
    d = tmp_path_factory.mktemp("coturn")
    port = free_port()
    lo = free_port()
    proc = subprocess.Popen([
        TURNSERVER, "-n", "--listening-ip=127.0.0.1",
        f"--listening-port={port}", "--relay-ip=127.0.0.1",
        f"--min-port={lo}", f"--max-port={lo + 20}",
        "--use-auth-secret", f"--static-auth-secret={SECRET}",
        "--realm=acme.test", "--no-tls", "--no-dtls", "--no-cli",
        "--allow-loopback-peers", f"--pidfile={d}/pid",
        f"--log-file={d}/turn.log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    assert proc.poll() is None, "turnserver exited"
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def services(srv, user="alice"):
    r = Raw(srv.port("xmpp"))
    r.login(user, "acme.test")
    r.send("<iq type='get' id='d1' to='acme.test'><query xmlns="
           "'http://jabber.org/protocol/disco#info'/></iq>")
    info = r.expect(r"<iq[^>]*id='d1'.*?</iq>").group(0)
    r.send("<iq type='get' id='e1' to='acme.test'><services "
           "xmlns='urn:xmpp:extdisco:2'/></iq>")
    m = r.expect(r"<iq[^>]*id='e1'.*?</iq>").group(0)
    r.close()
    return info, m


def uclient(port, user, password):
    return subprocess.run([UCLIENT, "-y", "-n", "2", "-m", "1", "-u", user,
                           "-w", password, "-p", str(port), "127.0.0.1"],
                          capture_output=True, text=True, timeout=60)


def test_turn_credentials_coturn_accepts(srv, coturn):
    info, m = services(srv)
    assert "urn:xmpp:extdisco:2" not in info
    assert "<service-unavailable" in m and "chat.turn.host" in m
    srv.cli("config", "set", "chat.turn.host", "127.0.0.1")
    srv.cli("config", "set", "chat.turn.port", str(coturn))
    srv.cli("config", "set", "chat.turn.secret", SECRET)
    info, m = services(srv)
    assert "urn:xmpp:extdisco:2" in info
    turns = re.findall(r"<service [^>]*type='turn'[^>]*/>", m)
    assert len(turns) == 2, m
    t = turns[0]
    attr = dict(re.findall(r"(\w+)='([^']*)'", t))
    assert attr["host"] == "127.0.0.1" and attr["port"] == str(coturn)
    assert attr["username"].endswith(":alice@acme.test")
    expires = int(attr["username"].split(":")[0])
    assert time.time() < expires <= time.time() + 86400 + 5
    assert "type='stun'" in m
    ok = uclient(coturn, attr["username"], attr["password"])
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert "tot_recv_bytes ~ 0," not in ok.stdout + ok.stderr
    # an altered password, or another user's name with it: refused
    bad = uclient(coturn, attr["username"], attr["password"][:-2] + "AA")
    assert bad.returncode != 0
    other = attr["username"].replace("alice", "bob")
    bad = uclient(coturn, other, attr["password"])
    assert bad.returncode != 0

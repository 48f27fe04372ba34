"""Helpers of the XMPP tests: one data root with xmppd per test module,
and a raw XMPP client over a real socket for the bad-input cases."""
import asyncio
import base64
import re
import socket
import ssl
import time

import pytest

from conftest import Postern

T = 30
NS_STREAM = "http://etherx.jabber.org/streams"
PW = {"alice": "Chat-secret-1", "bob": "Chat-secret-2",
      "carol": "Chat-secret-3", "dave": "Chat-secret-4",
      "erin": "Chat-secret-5"}


def xmpp_server(tmp_path_factory, start=True):
    """acme (acme.test: alice, bob, carol) and other (other.test: dave,
    erin), posternd running xmppd only (not started: start=False);
    returns the Postern."""
    p = Postern(tmp_path_factory.mktemp("xmpp") / "root")
    p.init()        # conftest gives xmpp and xmpps free loopback ports
    p.cli("postoffice", "add", "acme", "--password", "Postmaster-pw-1")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("postoffice", "add", "other", "--password", "Postmaster-pw-2")
    p.cli("domain", "add", "other.test", "--postoffice", "other")
    for user, po in (("alice", "acme"), ("bob", "acme"), ("carol", "acme"),
                     ("dave", "other"), ("erin", "other")):
        p.cli("mailbox", "add", f"{user}@{po}", "--password", PW[user])
    if start:
        p.start(services=["xmppd"])
    return p


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """one xmppd per test module (import this fixture into the module)"""
    p = xmpp_server(tmp_path_factory)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


@pytest.fixture(scope="module")
def loop():
    """an asyncio loop for the slixmpp clients of a test module"""
    lp = asyncio.new_event_loop()
    asyncio.set_event_loop(lp)
    yield lp
    pending = asyncio.all_tasks(lp)
    for t in pending:
        t.cancel()
    lp.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    lp.close()


async def slix_start(client, port):
    """connect a slixmpp client to xmppd on port and wait for its session
    (a failed login raises)"""
    fut = asyncio.get_event_loop().create_future()
    client.add_event_handler(
        "session_start", lambda _: fut.done() or fut.set_result(True))
    client.add_event_handler(
        "failed_auth", lambda _: fut.done() or fut.set_exception(
            AssertionError("login failed")))
    client.connect(address=("127.0.0.1", port))
    await asyncio.wait_for(fut, T)
    return client


async def slix_stop(client):
    fut = asyncio.get_event_loop().create_future()
    client.add_event_handler(
        "disconnected", lambda _: fut.done() or fut.set_result(True))
    client.disconnect()
    await asyncio.wait_for(fut, T)


def header(domain):
    return (f"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            f"xmlns:stream='{NS_STREAM}' to='{domain}' version='1.0'>")


class Raw:
    """A byte-level XMPP client: send text, wait for a pattern."""

    def __init__(self, port, tls=False, rcvbuf=None):
        if rcvbuf:
            # before connecting, so that the window stays small
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(T)
            self.sock.connect(("127.0.0.1", port))
        else:
            self.sock = socket.create_connection(("127.0.0.1", port),
                                                 timeout=T)
        if tls:
            self.wrap()
        self.data = b""
        self.all = b""       # everything received, for stanza counts

    def wrap(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname="acme.test")

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def expect(self, pattern, timeout=T):
        """read until pattern (a regex) matches what was received since
        the last match; returns the match"""
        rx = re.compile(pattern, re.S)
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.data.decode(errors="replace"))
            if m:
                text = self.data.decode(errors="replace")
                self.data = text[m.end():].encode()
                return m
            if time.time() > deadline:
                raise AssertionError(f"no {pattern!r} in {self.data[-2000:]!r}")
            self.sock.settimeout(max(0.1, deadline - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError(
                    f"closed before {pattern!r}; got {self.data[-2000:]!r}")
            self.data += chunk
            self.all += chunk

    def closed(self, timeout=T):
        """True once the server closed the connection (reading the rest)"""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.1, deadline - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLError):
                return True
            if not chunk:
                return True
            self.data += chunk
        return False

    def stream_error(self, cond):
        self.expect(r"<stream:error><" + cond +
                    r" xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
        assert self.closed(), "the stream error did not close the stream"

    def login(self, user, domain, password=None, resource="raw"):
        self.send(header(domain))
        self.expect(r"<stream:features>.*?</stream:features>")
        cred = base64.b64encode(
            f"\0{user}\0{password or PW[user]}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                  f"mechanism='PLAIN'>{cred}</auth>")
        self.expect(r"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
        self.send(header(domain))
        # ours is empty, Prosody's holds <required/>
        self.expect(r"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/?>")
        self.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:"
                  f"ns:xmpp-bind'><resource>{resource}</resource></bind></iq>")
        m = self.expect(r"<jid>([^<]+)</jid>")
        self.jid = m.group(1)
        return self.jid

    def login_refused(self, user, domain, password):
        """SASL PLAIN with these credentials must get <failure> with
        <not-authorized/> (at once, not after a timeout); returns it"""
        self.send(header(domain))
        self.expect(r"<stream:features>.*?</stream:features>")
        cred = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                  f"mechanism='PLAIN'>{cred}</auth>")
        m = self.expect(r"<(success|failure)\b.*?(/>|</failure>)")
        assert m.group(1) == "failure" and "not-authorized" in m.group(0), \
            m.group(0)
        return m.group(0)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

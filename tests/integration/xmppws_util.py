"""A WebSocket client of our own over a real socket (RFC 6455 4.1 client
handshake, masked frames) for XMPP over WebSocket (RFC 7395) through
httpd: test_xmpp_websocket.py and the webmail chat tests."""
import base64
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import struct
import time

T = 30
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"


def webmail_cookie(port, login, password):
    """the webmail session cookie of a login (/jmap/mail/login)"""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=T)
    c.request("POST", "/jmap/mail/login", json.dumps(
        {"login": login, "password": password}),
        {"Content-Type": "application/json", "X-Postern-CSRF": "1"})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
    cookie = r.getheader("Set-Cookie").split(";")[0].split("=", 1)[1]
    c.close()
    return cookie


def frame(op, payload, fin=True, mask=True, rsv=0, length=None):
    """one client frame (masked unless told); length forces the header's
    length field (a lie about the payload)"""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv << 4 | op
    mb = 0x80 if mask else 0
    if n < 126:
        h = bytes([b0, mb | n])
    elif n < 65536:
        h = bytes([b0, mb | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, mb | 127]) + struct.pack(">Q", n)
    if not mask:
        return h + payload
    key = os.urandom(4)
    return h + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


class HandshakeRefused(Exception):
    def __init__(self, status, head):
        super().__init__(f"{status}: {head!r}")
        self.status = status
        self.head = head


class WS:
    """An XMPP-over-WebSocket client: connect() does the HTTP upgrade;
    send() one text frame; recv() the next frame (op, payload)."""

    def __init__(self, port, origin=None, cookie=None, protocol="xmpp",
                 version="13", key=None, tls=False, path="/xmpp-websocket",
                 upgrade=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=T)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock, server_hostname="acme.test")
        self.buf = b""
        key = key or base64.b64encode(os.urandom(16)).decode()
        h = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        if upgrade:
            h += ["Upgrade: websocket", "Connection: Upgrade"]
        h += [f"Sec-WebSocket-Key: {key}",
              f"Sec-WebSocket-Version: {version}"]
        if protocol:
            h.append(f"Sec-WebSocket-Protocol: {protocol}")
        if origin:
            h.append(f"Origin: {origin}")
        if cookie:
            h.append(f"Cookie: postern_session={cookie}")
        self.sock.sendall(("\r\n".join(h) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        head = head.decode()
        status = int(head.split(" ")[1]) if " " in head else 0
        self.head = head
        if status != 101:
            raise HandshakeRefused(status, head)
        want = base64.b64encode(hashlib.sha1(
            (key + GUID).encode()).digest()).decode()
        assert f"Sec-WebSocket-Accept: {want}" in head, head
        assert "Sec-WebSocket-Protocol: xmpp" in head, head

    def raw(self, data):
        self.sock.sendall(data)

    def send(self, text):
        self.sock.sendall(frame(1, text))

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(0.1, deadline - time.time()))
            if time.time() > deadline:
                raise TimeoutError("no frame in time")
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk

    def recv(self, timeout=T):
        """(op, payload bytes) of the next server frame; server frames
        must be unmasked, and ours are never fragmented"""
        deadline = time.time() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "a masked frame from the server"
        assert b0 & 0x80, "a fragmented frame from the server"
        n, off = b1 & 0x7f, 2
        if n == 126:
            self._need(4, deadline)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(off + n, deadline)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0f, payload

    def expect(self, pattern, timeout=T):
        """text frames until one matches pattern: the match (every frame
        seen is kept in self.seen)"""
        deadline = time.time() + timeout
        rx = re.compile(pattern, re.S)
        self.seen = getattr(self, "seen", [])
        while True:
            op, p = self.recv(max(0.1, deadline - time.time()))
            if op == 1:
                text = p.decode()
                self.seen.append(text)
                m = rx.search(text)
                if m:
                    return m
            elif op == 8:
                raise AssertionError(f"closed ({p!r}) before {pattern!r}; "
                                     f"saw {self.seen[-5:]!r}")

    def close_code(self, timeout=T):
        """read frames until the close frame: its code (then the socket
        must close)"""
        deadline = time.time() + timeout
        self.seen = getattr(self, "seen", [])
        while True:
            op, p = self.recv(max(0.1, deadline - time.time()))
            if op == 1:
                self.seen.append(p.decode())
            if op == 8:
                code = struct.unpack(">H", p[:2])[0] if len(p) >= 2 else None
                return code

    def closed(self, timeout=T):
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
        return False

    def open(self, domain="acme.test"):
        self.send(f"<open xmlns='{NS_FRAMING}' to='{domain}' version='1.0'/>")
        self.expect(r"^<open xmlns='" + NS_FRAMING + "'")
        return self.expect(r"^<stream:features xmlns:stream=")

    def login_plain(self, user, password, domain="acme.test", resource="ws"):
        self.open(domain)
        cred = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                  f"mechanism='PLAIN'>{cred}</auth>")
        self.expect(r"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
        return self.bind(domain, resource)

    def bind(self, domain="acme.test", resource="ws"):
        self.open(domain)
        self.send("<iq type='set' id='b1' xmlns='jabber:client'><bind "
                  "xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"
                  f"{resource}</resource></bind></iq>")
        self.jid = self.expect(r"<jid>([^<]+)</jid>").group(1)
        return self.jid

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

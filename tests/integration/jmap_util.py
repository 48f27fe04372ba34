"""Helpers of the JMAP tests: a JMAP client over http.client and an
EventSource reader over a raw socket (chunked or close-delimited)."""
import base64
import http.client
import json
import socket
import time

CORE = "urn:ietf:params:jmap:core"
MAIL = "urn:ietf:params:jmap:mail"
USING = [CORE, MAIL]


class Client:
    """JMAP with Basic credentials, one connection a request."""

    def __init__(self, port, login, password):
        self.port = port
        raw = f"{login}:{password}".encode()
        self.auth = "Basic " + base64.b64encode(raw).decode()
        self.account = None

    def request(self, method, path, body=None, headers=None, raw=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = {"Authorization": self.auth}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        r.body = r.read()
        c.close()
        try:
            r.json = json.loads(r.body) if r.body else None
        except ValueError:
            r.json = None
        return r

    def session(self):
        r = self.request("GET", "/jmap/mail/session")
        assert r.status == 200, (r.status, r.body)
        self.account = r.json["primaryAccounts"][MAIL]
        return r.json

    def api(self, calls, using=USING, expect=200):
        r = self.request("POST", "/jmap/mail/api",
                         {"using": using, "methodCalls": calls})
        assert r.status == expect, (r.status, r.body)
        return r.json

    def call(self, name, args, using=USING):
        if self.account is None:
            self.session()
        args = dict(args)
        args.setdefault("accountId", self.account)
        return self.api([[name, args, "c0"]], using=using)[
            "methodResponses"][0]


class EventStream:
    """GET an event source and read its events as they come."""

    def __init__(self, port, auth, query, version="1.1", headers=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall((f"GET /jmap/mail/eventsource/?{query} HTTP/"
                           f"{version}\r\nHost: localhost\r\nAuthorization: "
                           f"{auth}\r\nAccept: text/event-stream\r\n{extra}"
                           "\r\n").encode())
        self.raw = b""
        self.text = ""           # decoded body not yet parsed into events
        self.ended = False       # the last chunk, or the close
        self.closed = False
        while b"\r\n\r\n" not in self.raw:
            self._recv(30)
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding") == "chunked"
        if "content-length" in self.headers:
            n = int(self.headers["content-length"])
            while len(self.raw) < n:
                self._recv(30)
            self.body = self.raw[:n]

    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        b = self.sock.recv(65536)
        if not b:
            self.closed = True
            raise EOFError("closed by the server")
        self.raw += b

    def _decode(self):
        while True:
            if not self.chunked:
                self.text += self.raw.decode()
                self.raw = b""
                return
            if b"\r\n" not in self.raw:
                return
            size_line, rest = self.raw.split(b"\r\n", 1)
            n = int(size_line.split(b";")[0], 16)
            if len(rest) < n + 2:
                return
            assert rest[n:n + 2] == b"\r\n", "bad chunk framing"
            if n == 0:
                self.ended = True
            self.text += rest[:n].decode()
            self.raw = rest[n + 2:]

    def next_event(self, timeout=30):
        """the next event as (name, data): data parsed as JSON"""
        deadline = time.time() + timeout
        while True:
            self._decode()
            if "\n\n" in self.text:
                block, self.text = self.text.split("\n\n", 1)
                name, data, eid = "message", [], None
                for ln in block.split("\n"):
                    if ln.startswith(":"):
                        continue
                    k, _, v = ln.partition(":")
                    v = v[1:] if v.startswith(" ") else v
                    if k == "event":
                        name = v
                    elif k == "data":
                        data.append(v)
                    elif k == "id":
                        eid = v
                if not data:
                    continue
                self.last_id = eid
                return name, json.loads("\n".join(data))
            if self.ended:
                raise EOFError("the stream ended")
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no event")
            try:
                self._recv(left)
            except socket.timeout:
                raise TimeoutError("no event")

    def next_state(self, timeout=30):
        """the next StateChange (pings skipped)"""
        deadline = time.time() + timeout
        while True:
            name, data = self.next_event(max(0.1, deadline - time.time()))
            if name == "state":
                return data

    def wait_closed(self, timeout=30):
        """read to the end: True when the server closed the connection"""
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                self._recv(max(0.1, deadline - time.time()))
        except EOFError:
            self._decode()
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        self.sock.close()

"""Outbound SMTP (issue 3, item 4): postern-smtp-out against a real dnsmasq
serving MX/A records on loopback and small asyncio SMTP servers ("sinks")
playing the remote MX and smart hosts. Items are injected into queue
smtp/outgoing by writing queue files per src/lib-queue/queue.h, so these
tests do not depend on the MTA.

MX records cannot carry a port: the test-only setting smtp.out_port points
MX delivery at the sink's port."""
import asyncio
import base64
import email
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Postern, dnsmasq_start, dnsmasq_stop, free_port


# -- queue files -----------------------------------------------------------

def _esc(v):
    if v is None:
        return " -"
    out = []
    for b in v.encode():
        if b <= 0x20 or b == 0x25 or b == 0x7F:
            out.append("%%%02X" % b)
        else:
            out.append(chr(b))
    return " =" + "".join(out)


def _unesc(tok):
    if tok == "-":
        return None
    assert tok.startswith("=")
    raw = tok[1:].encode()
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25:
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode()


def inject(root, sender, rcpts, body, *, arrival=None, smtputf8=False,
           ret=None, envid=None, notify=0, orcpt=None, auth=None,
           delay_notified=0, bulk=False, body_type=None):
    """Write one committed item into queue/smtp/outgoing; its id."""
    qid = "%08X%08X" % (int(time.time()), random.getrandbits(32))
    q = Path(root) / "queue" / "smtp" / "outgoing"
    for d in ("tmp", "new", "cur"):
        (q / d).mkdir(parents=True, exist_ok=True)
    env = ["POSTERN-ENV 1", f"id ={qid}",
           f"arrival {int(arrival if arrival is not None else time.time())}",
           "sender" + _esc(sender), "auth" + _esc(auth),
           "client" + _esc("127.0.0.1") + _esc("client.test"),
           "body" + _esc(body_type), f"smtputf8 {1 if smtputf8 else 0}",
           "envid" + _esc(envid), "ret" + _esc(ret), "hops 0",
           f"bulk {1 if bulk else 0}", f"delay-notified {delay_notified}"]
    for r in rcpts:
        env.append("rcpt" + _esc(r) + _esc(orcpt) + f" {notify} 0 0 0 - -")
    env.append("end")
    if isinstance(body, str):
        body = body.encode()
    (q / "tmp" / f"{qid}.msg").write_bytes(body)
    (q / "tmp" / f"{qid}.env").write_text("\n".join(env) + "\n")
    os.rename(q / "tmp" / f"{qid}.msg", q / "new" / f"{qid}.msg")
    os.rename(q / "tmp" / f"{qid}.env", q / "new" / f"{qid}.env")
    return qid


def read_env(path):
    """Parse an envelope file: dict with 'sender', 'rcpts' (list of dicts)."""
    env = {"rcpts": []}
    for line in Path(path).read_text().splitlines()[1:]:
        parts = line.split(" ")
        key = parts[0]
        if key == "rcpt":
            env["rcpts"].append({
                "address": _unesc(parts[1]), "orcpt": _unesc(parts[2]),
                "notify": int(parts[3]), "status": int(parts[4]),
                "attempts": int(parts[5]), "next": int(parts[6]),
                "error": _unesc(parts[7]), "extra": _unesc(parts[8])})
        elif key in ("sender", "auth", "envid", "ret", "body"):
            env[key] = _unesc(parts[1])
        elif key in ("arrival", "hops", "bulk", "delay-notified", "smtputf8"):
            env[key] = int(parts[1])
    return env


def queue_items(root, conn, direction, sub="new"):
    d = Path(root) / "queue" / conn / direction / sub
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.env"))


def dsns(root):
    """The notices smtp-out queued into smtp/inbound: (env, message)."""
    out = []
    d = Path(root) / "queue" / "smtp" / "inbound" / "new"
    for e in sorted(d.glob("*.env")) if d.is_dir() else []:
        msg = email.message_from_bytes(e.with_suffix(".msg").read_bytes())
        out.append((read_env(e), msg))
    return out


def report_fields(msg):
    """The per-recipient field groups of a multipart/report."""
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            groups = part.get_payload()
            return [dict(g.items()) for g in groups]
    raise AssertionError("no message/delivery-status part")


def wait_for(cond, timeout=15, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# -- DNS -------------------------------------------------------------------

@pytest.fixture(scope="module")
def dns():
    proc, port = dnsmasq_start([
        "--mx-host=remote.test,mx.remote.test,10",
        "--host-record=mx.remote.test,127.0.0.1",
        "--host-record=amx.test,127.0.0.1",          # no MX: A fallback
        "--mx-host=nullmx.test,.,0",                  # RFC 7505
        "--mx-host=twomx.test,dead.twomx.test,10",    # refuses connections
        "--mx-host=twomx.test,live.twomx.test,20",
        "--host-record=dead.twomx.test,127.0.0.2",
        "--host-record=live.twomx.test,127.0.0.1",
        "--mx-host=greet.test,busy.greet.test,10",    # greets with 421
        "--mx-host=greet.test,ok.greet.test,20",
        "--host-record=busy.greet.test,127.0.0.3",
        "--host-record=ok.greet.test,127.0.0.1",
        "--mx-host=loop.test,mx.postern.test,10",     # this host is the MX
        "--mx-host=far.test,mx.far.test,10",          # a second Postern
        "--host-record=mx.far.test,127.0.0.2",
    ])
    yield port
    dnsmasq_stop(proc)


# -- the remote SMTP server --------------------------------------------------

class Sink:
    """A minimal ESMTP server in a thread. rcpt(addr, n) gives the reply to
    the n-th RCPT for addr (n from 1)."""

    def __init__(self, host="127.0.0.1", ext=("PIPELINING", "8BITMIME",
                 "SIZE 10000000", "DSN", "SMTPUTF8"), tls=None, auth=None,
                 rcpt=None, stall_after_dot=False, greeting="220 sink ESMTP",
                 port=None):
        self.host, self.port = host, port or free_port()
        self.ext, self.tls, self.auth = list(ext), tls, auth
        self.rcpt = rcpt or (lambda a, n: "250 2.1.5 ok")
        self.stall_after_dot = stall_after_dot
        self.greeting = greeting
        self.connections = 0
        self.commands = []
        self.messages = []       # dicts: mail, rcpts, data, tls, auth
        self.stalled = []        # bodies whose final reply never came
        self.rcpt_count = {}
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def main():
            self.server = await asyncio.start_server(self._session, self.host,
                                                     self.port)
            self.ready.set()
        self.loop.run_until_complete(main())
        self.loop.run_forever()

    def stop(self):
        async def _shutdown():
            self.server.close()
            tasks = [t for t in asyncio.all_tasks()
                     if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()
        asyncio.run_coroutine_threadsafe(_shutdown(), self.loop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()

    async def _session(self, reader, writer):
        self.connections += 1
        st = {"tls": False, "auth": None, "mail": None, "rcpts": []}

        def send(s):
            writer.write(s.encode() + b"\r\n")
        try:
            send(self.greeting)
            if not self.greeting.startswith("220"):
                await writer.drain()
                writer.close()
                return
            for _ in range(1000):
                line = await asyncio.wait_for(reader.readline(), 30)
                if not line:
                    break
                cmd = line.decode("utf-8", "replace").rstrip("\r\n")
                self.commands.append(cmd if not cmd.upper().startswith("AUTH")
                                     else cmd.split(" ")[0] + " " + cmd.split(" ")[1])
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    lines = ["sink greets " + cmd[5:]] + self.ext
                    if self.tls and not st["tls"]:
                        lines.append("STARTTLS")
                    if self.auth:
                        lines.append("AUTH PLAIN LOGIN")
                    for i, l in enumerate(lines):
                        send(("250 " if i == len(lines) - 1 else "250-") + l)
                elif verb == "STARTTLS" and self.tls:
                    send("220 2.0.0 go ahead")
                    await writer.drain()
                    await writer.start_tls(self.tls)
                    st = {"tls": True, "auth": None, "mail": None, "rcpts": []}
                elif verb == "AUTH" and self.auth:
                    parts = cmd.split(" ")
                    if parts[1].upper() == "PLAIN":
                        resp = parts[2] if len(parts) > 2 else None
                        if resp is None:
                            send("334 ")
                            resp = (await reader.readline()).decode().strip()
                        _, u, p = base64.b64decode(resp).decode().split("\0")
                    else:
                        send("334 VXNlcm5hbWU6")
                        u = base64.b64decode(await reader.readline()).decode()
                        send("334 UGFzc3dvcmQ6")
                        p = base64.b64decode(await reader.readline()).decode()
                    if (u, p) == self.auth:
                        st["auth"] = u
                        send("235 2.7.0 ok")
                    else:
                        send("535 5.7.8 bad credentials")
                elif verb == "MAIL":
                    if self.auth and not st["auth"]:
                        send("530 5.7.0 authentication required")
                        continue
                    st["mail"], st["rcpts"] = cmd[5:], []
                    send("250 2.1.0 ok")
                elif verb == "RCPT":
                    addr = cmd[cmd.index("<") + 1:cmd.index(">")]
                    n = self.rcpt_count[addr] = self.rcpt_count.get(addr, 0) + 1
                    rep = self.rcpt(addr, n)
                    if rep.startswith("2"):
                        st["rcpts"].append(cmd[5:])
                    send(rep)
                elif verb == "DATA":
                    if not st["rcpts"]:
                        send("554 5.5.1 no valid recipients")
                        continue
                    send("354 go")
                    await writer.drain()
                    data = []
                    while True:
                        l = await asyncio.wait_for(reader.readline(), 30)
                        if l in (b".\r\n", b""):
                            break
                        data.append(l[1:] if l.startswith(b".") else l)
                    if self.stall_after_dot:
                        self.stalled.append(b"".join(data))
                        await asyncio.sleep(30)
                        break
                    self.messages.append({"mail": st["mail"], "rcpts": st["rcpts"],
                                          "data": b"".join(data), "tls": st["tls"],
                                          "auth": st["auth"]})
                    st["mail"], st["rcpts"] = None, []
                    send("250 2.0.0 queued")
                elif verb == "RSET":
                    st["mail"], st["rcpts"] = None, []
                    send("250 2.0.0 ok")
                elif verb == "QUIT":
                    send("221 2.0.0 bye")
                    await writer.drain()
                    break
                elif verb == "NOOP":
                    send("250 ok")
                else:
                    send("502 5.5.2 not implemented")
                await writer.drain()
        except (asyncio.TimeoutError, ConnectionError, asyncio.CancelledError,
                ssl.SSLError, OSError, ValueError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass


@pytest.fixture
def sinks():
    started = []

    def make(**kw):
        s = Sink(**kw).start()
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()


def setup_out(p, dns_port, sink, **settings):
    """Point smtp-out at dnsmasq and the sink, apply settings, start it."""
    base = {"dns.hosts": f"127.0.0.1:{dns_port}",
            "smtp.out_port": str(sink.port) if sink else "25",
            "queue.retry_schedule": "1s",
            "smtp.out_timeout": "5"}
    base.update(settings)
    for k, v in base.items():
        p.cli("config", "set", k, v)


def start_out(p):
    p.start(services=["smtp-out"])


MSG = ("From: alice@acme.test\r\nTo: bob@remote.test\r\nSubject: hi\r\n"
       "Message-ID: <m1@acme.test>\r\n\r\nhello\r\n.hidden dot line\r\n"
       "..two dots\r\nend\r\n")


def out_empty(p):
    return not queue_items(p.root, "smtp", "outgoing") and \
        not queue_items(p.root, "smtp", "outgoing", "cur")


# -- tests -------------------------------------------------------------------

def test_mx_delivery_reuses_one_connection(postern, dns, sinks):
    sink = sinks()
    setup_out(postern, dns, sink)
    a = inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG)
    b = inject(postern.root, "alice@acme.test", ["carol@remote.test", "dan@remote.test"],
               MSG.replace("m1@", "m2@"), body_type="8BITMIME")
    start_out(postern)
    wait_for(lambda: len(sink.messages) == 2, what="two messages")
    wait_for(lambda: out_empty(postern), what="queue empty")
    assert sink.connections == 1, sink.commands
    assert "RSET" in sink.commands
    assert sink.commands[0] == "EHLO mx.postern.test"
    m1, m2 = sorted(sink.messages, key=lambda m: len(m["rcpts"]))
    assert m1["mail"].startswith("FROM:<alice@acme.test>")
    assert "SIZE=" in m1["mail"] and "BODY=" not in m1["mail"]
    assert "BODY=8BITMIME" in m2["mail"]
    assert sorted(r.split(">")[0] for r in m2["rcpts"]) == \
        ["TO:<carol@remote.test", "TO:<dan@remote.test"]
    # dot-stuffing round trip: the body arrives exactly as queued
    assert m1["data"] == MSG.encode()
    log = postern.log("smtp-out")
    for qid in (a, b):
        assert f"{qid}: to=<" in log
    assert "relay=mx.remote.test[127.0.0.1]" in log and "status=sent" in log
    assert not dsns(postern.root)


def test_a_fallback_and_next_mx(postern, dns, sinks):
    sink = sinks()
    setup_out(postern, dns, sink)
    inject(postern.root, "alice@acme.test", ["x@amx.test"], MSG)
    inject(postern.root, "alice@acme.test", ["y@twomx.test"], MSG)
    start_out(postern)
    wait_for(lambda: len(sink.messages) == 2, what="both delivered")
    wait_for(lambda: out_empty(postern), what="queue empty")
    log = postern.log("smtp-out")
    assert "relay=amx.test[127.0.0.1]" in log            # implicit MX
    assert "dead.twomx.test[127.0.0.2]" in log           # tried first, refused
    assert "relay=live.twomx.test[127.0.0.1]" in log


def test_busy_greeting_tries_next_mx(postern, dns, sinks):
    ok = sinks()
    # the same port on another address: MX records carry no port
    busy = sinks(host="127.0.0.3", port=ok.port, greeting="421 4.3.2 too busy")
    setup_out(postern, dns, ok)
    inject(postern.root, "alice@acme.test", ["x@greet.test"], MSG)
    start_out(postern)
    wait_for(lambda: ok.messages, what="delivery by the second MX")
    # the sink has the message before smtp-out has read its 250 and logged
    wait_for(lambda: "relay=ok.greet.test[127.0.0.1]" in postern.log("smtp-out"),
             what="the delivery logged")
    assert busy.connections == 1
    log = postern.log("smtp-out")
    assert "busy.greet.test[127.0.0.3]" in log and "421 4.3.2 too busy" in log


def test_retry_after_4xx_then_success(postern, dns, sinks):
    sink = sinks(rcpt=lambda a, n: "451 4.7.1 greylisted" if n == 1 else "250 ok")
    setup_out(postern, dns, sink)
    qid = inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG)
    start_out(postern)
    wait_for(lambda: len(sink.messages) == 1, timeout=20, what="delivery on retry")
    wait_for(lambda: out_empty(postern), what="queue empty")
    assert sink.rcpt_count["bob@remote.test"] == 2
    log = postern.log("smtp-out")
    assert f"{qid}: to=<bob@remote.test> relay=mx.remote.test" in log
    assert "status=deferred (451 4.7.1 greylisted)" in log
    assert not dsns(postern.root)


def test_deferred_state_kept_in_envelope(postern, dns, sinks):
    sink = sinks(rcpt=lambda a, n: "452 4.2.2 mailbox full")
    setup_out(postern, dns, sink, **{"queue.retry_schedule": "1h"})
    qid = inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG)
    start_out(postern)
    env_path = postern.root / "queue/smtp/outgoing/new" / f"{qid}.env"
    env = wait_for(lambda: env_path.exists() and read_env(env_path)["rcpts"][0]["attempts"] == 1
                   and read_env(env_path), what="deferred envelope")
    r = env["rcpts"][0]
    assert r["status"] == 2                      # RCPT_DEFERRED
    assert r["error"] == "452 4.2.2 mailbox full"
    assert 3500 < r["next"] - time.time() <= 3600
    time.sleep(1.5)                              # not retried before its time
    assert sink.rcpt_count["bob@remote.test"] == 1


def test_permanent_failure_bounces_at_once(postern, dns, sinks):
    sink = sinks(rcpt=lambda a, n: "550 5.1.1 no such user" if a.startswith("nobody") else "250 ok")
    setup_out(postern, dns, sink)
    qid = inject(postern.root, "alice@acme.test", ["nobody@remote.test", "bob@remote.test"],
                 MSG, envid="ENV-7", orcpt="rfc822;Nobody@Remote.test")
    start_out(postern)
    notices = wait_for(lambda: dsns(postern.root), what="bounce")
    wait_for(lambda: out_empty(postern), what="queue empty")
    assert len(sink.messages) == 1 and len(sink.messages[0]["rcpts"]) == 1
    env, msg = notices[0]
    assert env["sender"] == "" and env["bulk"] == 1
    assert [r["address"] for r in env["rcpts"]] == ["alice@acme.test"]
    assert msg["To"] == "<alice@acme.test>"
    assert msg["From"] == "Mail Delivery System <postmaster@mx.postern.test>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    fields = report_fields(msg)
    assert fields[0]["Reporting-MTA"] == "dns; mx.postern.test"
    assert fields[0]["Original-Envelope-Id"] == "ENV-7"
    rc = fields[1]
    assert rc["Final-Recipient"] == "rfc822; nobody@remote.test"
    assert rc["Original-Recipient"] == "rfc822;Nobody@Remote.test"
    assert rc["Action"] == "failed" and rc["Status"] == "5.1.1"
    assert rc["Remote-MTA"].startswith("dns; mx.remote.test")
    assert rc["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user"
    assert len(fields) == 2                      # bob was delivered: not listed
    orig = [p for p in msg.walk() if p.get_content_type() == "message/rfc822"]
    assert orig and b"hello" in orig[0].as_bytes()
    assert f"{qid}: bounce notice queued as" in postern.log("smtp-out")


def test_null_mx_and_unknown_domain_bounce(postern, dns, sinks):
    sink = sinks()
    setup_out(postern, dns, sink)
    inject(postern.root, "alice@acme.test", ["a@nullmx.test"], MSG, ret="HDRS")
    start_out(postern)
    notices = wait_for(lambda: dsns(postern.root), what="bounce")
    rc = report_fields(notices[0][1])[1]
    assert rc["Status"] == "5.1.10"
    # RET=HDRS: only the header comes back
    types = [p.get_content_type() for p in notices[0][1].walk()]
    assert "text/rfc822-headers" in types and "message/rfc822" not in types
    assert not sink.messages


def test_bounce_of_a_bounce_goes_to_badmail(postern, dns, sinks):
    sinks_ = sinks(rcpt=lambda a, n: "550 5.1.1 gone")
    setup_out(postern, dns, sinks_)
    qid = inject(postern.root, "", ["x@remote.test"], MSG)
    start_out(postern)
    reason = postern.root / "queue" / "badmail" / f"{qid}.reason"
    # the reason is written first, then the message and envelope move
    wait_for(lambda: (postern.root / "queue/badmail" / f"{qid}.env").exists(),
             what="bad mail")
    text = reason.read_text()
    assert "cannot be returned" in text and "550 5.1.1 gone" in text
    assert (postern.root / "queue" / "badmail" / f"{qid}.msg").exists()
    assert not dsns(postern.root)
    assert out_empty(postern)


def test_bounce_after_expiry(postern, dns, sinks):
    sink = sinks(rcpt=lambda a, n: "451 4.4.5 try later")
    setup_out(postern, dns, sink, **{"queue.bounce_after": "3600"})
    inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG,
           arrival=time.time() - 7200)
    start_out(postern)
    notices = wait_for(lambda: dsns(postern.root), what="expiry bounce")
    wait_for(lambda: out_empty(postern), what="queue empty")
    rc = report_fields(notices[0][1])[1]
    assert rc["Action"] == "failed"
    assert "gave up after 2 hours" in rc["Diagnostic-Code"]
    assert "status=expired" in postern.log("smtp-out")


def test_one_delay_notice(postern, dns, sinks):
    sink = sinks(rcpt=lambda a, n: "451 4.4.5 try later")
    setup_out(postern, dns, sink, **{"queue.delay_notice_after": "300"})
    qid = inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG,
                 arrival=time.time() - 600)
    start_out(postern)
    notices = wait_for(lambda: dsns(postern.root), what="delay notice")
    # keep retrying (schedule 1s): still only one notice
    wait_for(lambda: sink.rcpt_count.get("bob@remote.test", 0) >= 3, what="retries")
    assert len(dsns(postern.root)) == 1
    env, msg = notices[0]
    rc = report_fields(msg)[1]
    assert rc["Action"] == "delayed" and rc["Status"] == "4.4.5"
    assert "Will-Retry-Until" in rc
    types = [p.get_content_type() for p in msg.walk()]
    assert "text/rfc822-headers" in types
    q = postern.root / "queue/smtp/outgoing"
    envs = list(q.glob(f"*/{qid}.env"))
    assert envs and read_env(envs[0])["delay-notified"] > 0


def test_smtputf8_needed_but_not_offered(postern, dns, sinks):
    sink = sinks(ext=("PIPELINING", "8BITMIME"))
    setup_out(postern, dns, sink)
    inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG, smtputf8=True)
    start_out(postern)
    notices = wait_for(lambda: dsns(postern.root), what="bounce")
    assert report_fields(notices[0][1])[1]["Status"] == "5.6.7"
    assert not sink.messages


def test_starttls_used_when_offered(postern, dns, sinks):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(postern.root / "certs/default.crt", postern.root / "certs/default.key")
    sink = sinks(tls=ctx)
    setup_out(postern, dns, sink)
    inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG)
    start_out(postern)
    wait_for(lambda: sink.messages, what="delivery")
    assert sink.messages[0]["tls"] is True
    assert sink.commands.count("EHLO mx.postern.test") == 2   # again after TLS
    assert "TLS with mx.remote.test" in postern.log("smtp-out")


def test_big_message_over_tls_and_address_literal(postern, dns, sinks):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(postern.root / "certs/default.crt", postern.root / "certs/default.key")
    sink = sinks(tls=ctx)
    setup_out(postern, dns, sink)
    lines = "".join(f"{'.' if i % 7 == 0 else ''}line {i} " + "x" * 70 + "\r\n"
                    for i in range(40000))         # about 3 MB, many leading dots
    big = MSG.replace("hello\r\n", lines)
    inject(postern.root, "alice@acme.test", ["bob@[127.0.0.1]"], big)
    start_out(postern)
    wait_for(lambda: sink.messages, timeout=30, what="big delivery")
    assert sink.messages[0]["tls"]
    assert sink.messages[0]["data"] == big.encode()
    assert "via address literal 127.0.0.1" in postern.log("smtp-out")


def test_global_smarthost_with_auth(postern, dns, sinks):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(postern.root / "certs/default.crt", postern.root / "certs/default.key")
    relay = sinks(tls=ctx, auth=("relayuser", "s3cret pass"))
    setup_out(postern, dns, None, **{
        "smarthost.host": f"127.0.0.1:{relay.port}", "smarthost.auth": "1",
        "smarthost.user": "relayuser", "smarthost.password": "s3cret pass"})
    inject(postern.root, "alice@acme.test", ["someone@far-away.example"], MSG)
    start_out(postern)
    wait_for(lambda: relay.messages, what="relayed")
    m = relay.messages[0]
    assert m["tls"] and m["auth"] == "relayuser"
    log = postern.log("smtp-out")
    assert "via smart host 127.0.0.1" in log
    assert "s3cret" not in log                     # never log the password


def test_smarthost_auth_failure_defers(postern, dns, sinks):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(postern.root / "certs/default.crt", postern.root / "certs/default.key")
    relay = sinks(tls=ctx, auth=("relayuser", "right"))
    setup_out(postern, dns, None, **{
        "smarthost.host": f"127.0.0.1:{relay.port}", "smarthost.auth": "1",
        "smarthost.user": "relayuser", "smarthost.password": "wrong",
        "queue.retry_schedule": "1h"})
    qid = inject(postern.root, "alice@acme.test", ["someone@far-away.example"], MSG)
    start_out(postern)
    env_path = postern.root / "queue/smtp/outgoing/new" / f"{qid}.env"
    env = wait_for(lambda: env_path.exists() and read_env(env_path)["rcpts"][0]["attempts"] == 1
                   and read_env(env_path), what="deferred")
    assert env["rcpts"][0]["status"] == 2
    assert "authentication to smart host" in env["rcpts"][0]["error"]
    assert not dsns(postern.root) and not relay.messages


def test_postoffice_and_domain_smarthosts(populated, dns, sinks):
    p = populated
    po_relay = sinks()
    dom_relay = sinks()
    mx = sinks()
    setup_out(p, dns, mx)
    p.cli("postoffice", "set", "acme", f"smarthost=127.0.0.1:{po_relay.port}")
    p.cli("postoffice", "add", "other", "--password", "pw")
    p.cli("domain", "add", "other.test", "--postoffice", "other")
    p.cli("domain", "add", "backup.test", "--postoffice", "other")
    p.cli("domain", "set", "backup.test", f"smarthost=127.0.0.1:{dom_relay.port}")
    # acme's sender: its post office smart host
    inject(p.root, "alice@acme.test", ["x@remote.test"], MSG)
    # other's sender: no post office smart host, so MX
    inject(p.root, "bob@other.test", ["y@remote.test"], MSG)
    # the recipient domain acts as smart host: wins over everything
    inject(p.root, "alice@acme.test", ["z@backup.test"], MSG)
    p.start(services=["smtp-out"])
    wait_for(lambda: po_relay.messages and mx.messages and dom_relay.messages,
             what="three routes")
    assert "x@remote.test" in po_relay.messages[0]["rcpts"][0]
    assert "y@remote.test" in mx.messages[0]["rcpts"][0]
    assert "z@backup.test" in dom_relay.messages[0]["rcpts"][0]
    log = p.log("smtp-out")
    assert "via post office smart host" in log and "via domain smart host" in log


def test_stalled_remote_times_out_and_defers(postern, dns, sinks):
    sink = sinks(stall_after_dot=True)
    setup_out(postern, dns, sink, **{"smtp.out_timeout": "2",
                                     "queue.retry_schedule": "1h"})
    qid = inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG)
    t0 = time.time()
    start_out(postern)
    env_path = postern.root / "queue/smtp/outgoing/new" / f"{qid}.env"
    env = wait_for(lambda: env_path.exists() and read_env(env_path)["rcpts"][0]["attempts"] == 1
                   and read_env(env_path), what="deferred after timeout")
    assert time.time() - t0 < 12
    r = env["rcpts"][0]
    assert r["status"] == 2 and "timeout" in r["error"]
    assert not dsns(postern.root)


def test_dsn_params_passed_and_success_notice(postern, dns, sinks):
    # a next hop with DSN gets NOTIFY/ORCPT/RET/ENVID; one without it
    # makes smtp-out send a "relayed" notice for NOTIFY=SUCCESS
    with_dsn = sinks()
    setup_out(postern, dns, with_dsn)
    inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG,
           notify=2 | 4, orcpt="rfc822;bob@remote.test", ret="HDRS", envid="E1")
    start_out(postern)
    wait_for(lambda: with_dsn.messages, what="delivery")
    m = with_dsn.messages[0]
    assert "RET=HDRS" in m["mail"] and "ENVID=E1" in m["mail"]
    assert "NOTIFY=SUCCESS,FAILURE" in m["rcpts"][0]
    assert "ORCPT=rfc822;bob@remote.test" in m["rcpts"][0]
    assert not dsns(postern.root)
    postern.stop()
    no_dsn = sinks(ext=("PIPELINING",))
    postern.cli("config", "set", "smtp.out_port", str(no_dsn.port))
    inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG, notify=2)
    postern.start(services=["smtp-out"])
    notices = wait_for(lambda: dsns(postern.root), what="relayed notice")
    assert "NOTIFY" not in no_dsn.messages[0]["rcpts"][0]
    assert report_fields(notices[0][1])[1]["Action"] == "relayed"


def test_unreachable_mx_defers(postern, dns, sinks):
    # nothing listens on the port: connection refused on every MX
    setup_out(postern, dns, None, **{"smtp.out_port": str(free_port()),
                                     "queue.retry_schedule": "1h"})
    qid = inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG)
    start_out(postern)
    env_path = postern.root / "queue/smtp/outgoing/new" / f"{qid}.env"
    env = wait_for(lambda: env_path.exists() and read_env(env_path)["rcpts"][0]["attempts"] == 1
                   and read_env(env_path), what="deferred")
    assert env["rcpts"][0]["status"] == 2
    assert env["rcpts"][0]["error"].startswith("451 4.4.")


def test_sigkill_mid_delivery_loses_nothing(postern, dns, sinks):
    sink = sinks(stall_after_dot=True)
    setup_out(postern, dns, sink, **{"smtp.out_timeout": "60"})
    qid = inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG)
    start_out(postern)
    wait_for(lambda: sink.stalled, what="message sent, reply pending")
    cur = postern.root / "queue/smtp/outgoing/cur" / f"{qid}.env"
    assert cur.exists()                        # claimed while in flight
    pid = json.loads((postern.root / "run/smtp-out.json").read_text())["pid"]
    sink.stall_after_dot = False
    os.kill(pid, signal.SIGKILL)
    # posternd restarts it; recovery puts the item back and it goes out
    wait_for(lambda: sink.messages, timeout=20, what="redelivery after SIGKILL")
    wait_for(lambda: out_empty(postern), what="queue empty")
    assert sink.messages[0]["data"] == MSG.encode()
    assert len(sink.messages) == 1


def test_many_messages_each_delivered_once(postern, dns, sinks):
    sink = sinks()
    setup_out(postern, dns, sink)
    start_out(postern)
    n = int(os.environ.get("SMTP_OUT_MANY", "200"))
    t0 = time.time()
    for i in range(n):
        dom = "remote.test" if i % 2 else "amx.test"
        inject(postern.root, "alice@acme.test", [f"u{i}@{dom}"],
               MSG.replace("m1@acme.test", f"bulk{i}@acme.test"))
    wait_for(lambda: len(sink.messages) >= n, timeout=40, what=f"{n} deliveries")
    wait_for(lambda: out_empty(postern), what="queue empty")
    elapsed = time.time() - t0
    ids = sorted(m["data"].split(b"Message-ID: <")[1].split(b">")[0]
                 for m in sink.messages)
    assert ids == sorted(f"bulk{i}@acme.test".encode() for i in range(n))
    # connections are reused: far fewer than messages
    assert sink.connections < n / 4, sink.connections
    print(f"\n{n} messages in {elapsed:.2f} s ({n / elapsed:.0f}/s), "
          f"{sink.connections} connections")


def test_envelope_cannot_inject_commands(postern, dns, sinks):
    sink = sinks()
    setup_out(postern, dns, sink)
    inject(postern.root, "alice@acme.test",
           ["evil@remote.test>\r\nRCPT TO:<victim@remote.test", "ok@remote.test"], MSG)
    bad = inject(postern.root, "x@acme.test>\r\nRSET", ["y@remote.test"], MSG)
    start_out(postern)
    notices = wait_for(lambda: dsns(postern.root), what="bounce")
    wait_for(lambda: out_empty(postern), what="queue empty")
    assert report_fields(notices[0][1])[1]["Status"] == "5.1.3"
    assert len(sink.messages) == 1
    assert not any("victim" in c or c == "RSET" for c in sink.commands)
    assert (postern.root / "queue/badmail" / f"{bad}.reason").exists()


def _mailbox(root, po, mb):
    out = []
    for sub in ("new", "cur"):
        d = Path(root) / "store" / po / mb / sub
        if d.is_dir():
            out += [p.read_bytes() for p in sorted(d.iterdir())]
    return out


def test_end_to_end_to_a_second_postern(populated, dns, tmp_path):
    """alice submits through A's smtpd; A's MTA routes to smtp-out, which
    finds far.test's MX (a second Postern on 127.0.0.2) through dnsmasq.
    The remote is down first (deferred), then up (delivered to bob's
    mailbox there); an unknown remote user bounces back into alice's
    mailbox through A's MTA and post office."""
    a = populated
    b = Postern(tmp_path / "far")
    b.init()
    port = free_port()
    b.cli("config", "set", "smtp.listen", f"127.0.0.2:{port}")
    b.cli("postoffice", "add", "far", "--password", "pm-far")
    b.cli("domain", "add", "far.test", "--postoffice", "far")
    b.cli("mailbox", "add", "bob@far", "--password", "bob-far")
    setup_out(a, dns, None, **{"smtp.out_port": str(port)})
    a.start(services=["smtpd", "mta", "deliver", "smtp-out"])
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        import smtplib
        with smtplib.SMTP("127.0.0.1", a.port("submission"), timeout=10) as s:
            s.starttls(context=ctx)
            s.login("alice@acme", "alice-pw")
            s.sendmail("alice@acme.test", ["bob@far.test"],
                       "From: alice@acme.test\r\nTo: bob@far.test\r\n"
                       "Subject: across\r\nMessage-ID: <e2e@acme.test>\r\n\r\n"
                       "over the wire\r\n.leading dot\r\n")
        # the remote is down: deferred, kept in A's queue
        wait_for(lambda: "status=deferred" in a.log("smtp-out"), timeout=20,
                 what="deferral while the remote is down")
        b.start(services=["smtpd", "mta", "deliver"])
        got = wait_for(lambda: _mailbox(b.root, "far", "bob"), timeout=20,
                       what="delivery to the second Postern")
        assert b"Message-ID: <e2e@acme.test>" in got[0]
        assert b"\r\n.leading dot\r\n" in got[0]
        wait_for(lambda: not queue_items(a.root, "smtp", "outgoing") and
                 not queue_items(a.root, "smtp", "outgoing", "cur"),
                 what="A's queue empty")
        # an unknown user there: 550 at RCPT, bounce to alice's mailbox
        with smtplib.SMTP("127.0.0.1", a.port("submission"), timeout=10) as s:
            s.starttls(context=ctx)
            s.login("alice@acme", "alice-pw")
            s.sendmail("alice@acme.test", ["nobody@far.test"],
                       "Subject: lost\r\nMessage-ID: <e2e2@acme.test>\r\n\r\nx\r\n")
        bounce = wait_for(lambda: [m for m in _mailbox(a.root, "acme", "alice")
                                   if b"multipart/report" in m], timeout=20,
                          what="bounce in alice's mailbox")
        text = bounce[0].decode(errors="replace")
        assert "Final-Recipient: rfc822; nobody@far.test" in text
        assert "Action: failed" in text and "Status: 5.1.1" in text
        assert "Remote-MTA: dns; mx.far.test" in text
        assert "<e2e2@acme.test>" in text
    finally:
        b.stop()
    assert not b.sanitizer_reports()


def test_message_over_remote_size_limit_bounces(postern, dns, sinks):
    sink = sinks(ext=("PIPELINING", "SIZE 100"))
    setup_out(postern, dns, sink)
    inject(postern.root, "alice@acme.test", ["bob@remote.test"], MSG + "x" * 200 + "\r\n")
    start_out(postern)
    notices = wait_for(lambda: dsns(postern.root), what="bounce")
    rc = report_fields(notices[0][1])[1]
    assert rc["Status"] == "5.3.4" and "exceeds the remote limit of 100" in rc["Diagnostic-Code"]
    assert not sink.messages and not any(c.startswith("MAIL") for c in sink.commands)


def test_server_without_pipelining(postern, dns, sinks):
    sink = sinks(ext=("8BITMIME",),
                 rcpt=lambda a, n: "550 5.1.1 no" if a.startswith("no") else "250 ok")
    setup_out(postern, dns, sink)
    inject(postern.root, "alice@acme.test", ["a@remote.test", "no1@remote.test"], MSG)
    inject(postern.root, "alice@acme.test", ["no2@remote.test"], MSG)   # no DATA at all
    inject(postern.root, "alice@acme.test", ["b@remote.test"], MSG)
    start_out(postern)
    wait_for(lambda: len(sink.messages) == 2 and len(dsns(postern.root)) == 2,
             what="two deliveries, two bounces")
    assert sink.connections == 1
    # three transactions on one connection; DATA is skipped for the one
    # whose only recipient was refused
    assert sink.commands.count("RSET") == 2 and sink.commands.count("DATA") == 2
    assert sink.commands[1].startswith("MAIL FROM:<alice@acme.test>")


def test_sigterm_mid_transaction_keeps_known_outcomes(postern, dns, sinks):
    sink = sinks(stall_after_dot=True,
                 rcpt=lambda a, n: "550 5.1.1 no" if a.startswith("no") else "250 ok")
    setup_out(postern, dns, sink, **{"smtp.out_timeout": "60"})
    qid = inject(postern.root, "alice@acme.test", ["no@remote.test", "ok@remote.test"], MSG)
    start_out(postern)
    wait_for(lambda: sink.stalled, what="waiting for the final reply")
    postern.stop()
    env = read_env(postern.root / "queue/smtp/outgoing/new" / f"{qid}.env")
    no, ok = env["rcpts"]
    assert no["status"] == 3 and no["extra"] == "bounced"    # failed, bounced
    assert ok["status"] == 0                                  # unknown: retried
    assert len(dsns(postern.root)) == 1


def test_mx_pointing_at_this_host_bounces(postern, dns, sinks):
    sink = sinks()
    setup_out(postern, dns, sink)
    inject(postern.root, "alice@acme.test", ["x@loop.test"], MSG)
    start_out(postern)
    notices = wait_for(lambda: dsns(postern.root), what="bounce")
    rc = report_fields(notices[0][1])[1]
    assert rc["Status"] == "5.4.6" and "loops back to myself" in rc["Diagnostic-Code"]
    assert sink.connections == 0

"""Inbound SMTP policy: DNS block lists, reverse DNS in Received, time
limits for DATA/BDAT and sessions, IDN recipients. A real dnsmasq
(conftest.dnsmasq_start) answers the test zones; clients connect from
different loopback addresses (127.0.0.x) with smtplib and raw sockets.
smtp.check_loopback makes smtpd check loopback clients, which it skips
otherwise."""
import smtplib
import socket
import time

import pytest

from conftest import Postern, dnsmasq_start, dnsmasq_stop, free_port
from test_smtpd import Raw, inbound, parse_env, queued_id

DOMAIN = "acme.test"


def rev(ip, zone):
    return ".".join(reversed(ip.split("."))) + "." + zone


def rev6_loopback(zone):
    return ".".join(["1"] + ["0"] * 31) + "." + zone


@pytest.fixture(scope="module")
def dns():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))            # a DNS server that never answers
    proc, port = dnsmasq_start([
        # bl.test lists 127.0.0.2 with a reason (RFC 5782 test entry)
        f"--address=/{rev('127.0.0.2', 'bl.test')}/127.0.0.2",
        f"--txt-record={rev('127.0.0.2', 'bl.test')},Listed:  see\t"
        "http://bl.test/q?127.0.0.2 caf\u00e9",
        # an error code of the list (Spamhaus: public resolver refused)
        f"--address=/{rev('127.0.0.3', 'bl.test')}/127.255.255.254",
        # an answer outside 127/8 (a hijacked NXDOMAIN)
        f"--address=/{rev('127.0.0.4', 'bl.test')}/10.0.0.4",
        # bl2.test lists 127.0.0.5 without a TXT reason
        f"--address=/{rev('127.0.0.5', 'bl2.test')}/127.0.0.10",
        # IPv6 ::1 listed in bl.test (nibbles)
        f"--address=/{rev6_loopback('bl.test')}/127.0.0.2",
        # down.test: its server never answers; closed.test: nobody there
        f"--server=/down.test/127.0.0.1#{silent.getsockname()[1]}",
        f"--server=/closed.test/127.0.0.1#{free_port()}",
        # reverse DNS: 127.0.0.7 confirmed, 127.0.0.8 a PTR that lies
        "--host-record=good.client.test,127.0.0.7",
        "--ptr-record=8.0.0.127.in-addr.arpa,liar.client.test",
        "--address=/liar.client.test/127.0.0.99",
        # SPF (RFC 7208) records; the client is 127.0.0.6
        "--txt-record=pass.spf.test,v=spf1 ip4:127.0.0.0/24 -all",
        "--txt-record=pass.spf.test,some other text",
        "--txt-record=fail.spf.test,v=spf1 ip4:192.0.2.0/24 ip6:::1 -all",
        "--txt-record=soft.spf.test,v=spf1 include:inc.spf.test ~all",
        "--txt-record=inc.spf.test,v=spf1 a:host.spf.test -all",
        "--host-record=host.spf.test,127.0.0.99",
        "--txt-record=mx.spf.test,v=spf1 mx/24 -all",
        "--mx-host=mx.spf.test,mail.mx.spf.test,10",
        "--host-record=mail.mx.spf.test,127.0.0.200",
        "--txt-record=loop.spf.test,v=spf1 include:loop.spf.test -all",
        "--txt-record=void.spf.test,v=spf1 a:n1.spf.test a:n2.spf.test "
        "a:n3.spf.test +all",
        "--txt-record=redir.spf.test,v=spf1 redirect=pass.spf.test",
        "--txt-record=exists.spf.test,v=spf1 exists:%{ir}.ex.spf.test -all",
        f"--address=/{rev('127.0.0.6', 'ex.spf.test')}/127.0.0.2",
        "--txt-record=two.spf.test,v=spf1 +all",
        "--txt-record=two.spf.test,v=spf1 -all",
        "--txt-record=bad.spf.test,v=spf1 ip4:127.0.0.1/33 +all",
        "--txt-record=neutral.spf.test,v=spf1 ?all",
        "--txt-record=ptr.spf.test,v=spf1 ptr:client.test -all",
        "--local=/127.in-addr.arpa/",
        "--local=/ip6.arpa/",
    ])
    yield port
    dnsmasq_stop(proc)
    silent.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, dns):
    p = Postern(tmp_path_factory.mktemp("policy") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret")
    p.cli("domain", "add", DOMAIN, "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", "alice-pw")
    p.cli("mailbox", "add", "bob@acme", "--password", "bob-pw")
    p.ports["smtp6"] = free_port()
    p.cli("config", "set", "smtp.listen",
          f"127.0.0.1:{p.port('smtp')},[::1]:{p.ports['smtp6']}")
    for k, v in {"dns.hosts": f"127.0.0.1:{dns}",
                 "smtp.dnsbl": "bl.test bl2.test",
                 "smtp.dns_timeout": "8s",
                 "smtp.check_loopback": "yes",
                 "smtp.require_tls_for_auth": "no"}.items():
        p.cli("config", "set", k, v)
    p.start(services=["smtpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def smtp_from(srv, source):
    return smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=30,
                        local_hostname="client.test",
                        source_address=(source, 0))


def raw_from(srv, source):
    sock = socket.create_connection(("127.0.0.1", srv.port("smtp")), 30,
                                    source_address=(source, 0))
    r = Raw(None, sock)
    r.sock.settimeout(30)
    assert r.reply()[0] == 220
    return r


def wait_log(srv, text, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in srv.log("smtpd"):
            return True
        time.sleep(0.1)
    return False


# -- DNS block lists ---------------------------------------------------------

def test_listed_client_refused_at_rcpt_but_postmaster_gets_through(srv):
    s = smtp_from(srv, "127.0.0.2")
    s.ehlo()
    assert s.mail("sender@example.org")[0] == 250
    code, text = s.rcpt(f"alice@{DOMAIN}")
    assert code == 554, text
    text = text.decode()
    assert text.startswith("5.7.1 ") and "bl.test" in text, text
    assert "[127.0.0.2]" in text
    # the TXT reason, cleaned of control bytes
    assert text.endswith("Listed: see http://bl.test/q?127.0.0.2 caf??"), text
    # RFC 5321 4.5.1: postmaster still receives
    assert s.rcpt(f"postmaster@{DOMAIN}")[0] == 250
    assert s.rcpt(f"PostMaster@{DOMAIN}")[0] == 250
    code, resp = s.data(b"Subject: let me in\r\n\r\nplease\r\n")
    assert code == 250, resp
    env = parse_env((inbound(srv) / f"{queued_id(resp)}.env").read_text())
    assert [r["address"] for r in env["rcpts"]] == [f"postmaster@{DOMAIN}"]
    s.quit()
    log = srv.log("smtpd")
    assert "client [127.0.0.2] listed by bl.test (127.0.0.2)" in log
    assert "refused to=<alice@acme.test>" in log


def test_listed_without_reason_second_zone(srv):
    s = smtp_from(srv, "127.0.0.5")
    s.ehlo()
    s.mail("")
    code, text = s.rcpt(f"bob@{DOMAIN}")
    assert code == 554
    assert text.decode().endswith("blocked using bl2.test"), text
    # the session goes on: RSET, NOOP, QUIT work
    assert s.rset()[0] == 250
    assert s.noop()[0] == 250
    s.quit()


def test_error_codes_and_bogus_answers_are_not_listings(srv):
    for ip, logged in (("127.0.0.3", "127.255.255.254 is an error code"),
                       ("127.0.0.4", "10.0.0.4 outside 127.0.0.0/8")):
        s = smtp_from(srv, ip)
        s.ehlo()
        s.mail("x@example.org")
        assert s.rcpt(f"alice@{DOMAIN}")[0] == 250
        s.quit()
        assert wait_log(srv, logged), srv.log("smtpd")[-3000:]


def test_dns_failure_fails_open_and_is_logged(srv):
    # down.test never answers: after smtp.dns_timeout the client goes on;
    # closed.test fails (dnsmasq's upstream is not there)
    srv.cli("config", "set", "smtp.dnsbl", "down.test closed.test bl.test")
    srv.cli("config", "set", "smtp.dns_timeout", "2s")
    try:
        s = smtp_from(srv, "127.0.0.6")
        s.ehlo()
        s.mail("x@example.org")
        assert s.rcpt(f"alice@{DOMAIN}")[0] == 250
        s.quit()
        # a listing that did answer still counts
        s = smtp_from(srv, "127.0.0.2")
        s.ehlo()
        s.mail("x@example.org")
        assert s.rcpt(f"alice@{DOMAIN}")[0] == 554
        s.quit()
    finally:
        srv.cli("config", "set", "smtp.dnsbl", "bl.test bl2.test")
        srv.cli("config", "set", "smtp.dns_timeout", "8s")
    assert wait_log(srv, "dnsbl down.test: no answer in time: not listed")
    log = srv.log("smtpd")
    assert ("dnsbl closed.test: DNS failure" in log or
            "dnsbl closed.test: no answer in time: not listed" in log), log


def test_auth_and_relay_networks_exempt(srv):
    s = smtp_from(srv, "127.0.0.2")
    s.ehlo()
    s.login("alice@acme", "alice-pw")
    s.mail(f"alice@{DOMAIN}")
    assert s.rcpt(f"bob@{DOMAIN}")[0] == 250
    s.quit()
    srv.cli("config", "set", "smtp.relay_networks", "127.0.0.2/32")
    try:
        s = smtp_from(srv, "127.0.0.2")
        s.ehlo()
        s.mail("x@example.org")
        assert s.rcpt(f"bob@{DOMAIN}")[0] == 250
        s.quit()
    finally:
        srv.cli("config", "unset", "smtp.relay_networks")


def test_pipelined_commands_wait_for_the_verdict_in_order(srv):
    r = raw_from(srv, "127.0.0.2")
    r.send("EHLO client.test\r\nMAIL FROM:<x@example.org>\r\n"
           f"RCPT TO:<alice@{DOMAIN}>\r\nRCPT TO:<postmaster@{DOMAIN}>\r\n"
           f"RCPT TO:<bob@{DOMAIN}>\r\nDATA\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 250
    assert r.reply()[0] == 554
    assert r.reply()[0] == 250
    assert r.reply()[0] == 554
    assert r.reply()[0] == 354
    r.send("Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 221
    r.close()


def test_ipv6_client_checked_by_nibbles(srv):
    try:
        sock = socket.create_connection(("::1", srv.ports["smtp6"]), 10)
    except OSError:
        pytest.skip("no IPv6 loopback")
    r = Raw(None, sock)
    assert r.reply()[0] == 220
    assert r.cmd("EHLO client.test")[0] == 250
    assert r.cmd("MAIL FROM:<>")[0] == 250
    code, text = r.cmd(f"RCPT TO:<alice@{DOMAIN}>")
    assert code == 554 and "[::1]" in text and "bl.test" in text, text
    r.close()


def test_client_leaving_while_lookups_run(srv):
    """Sessions that go away before the answers: nothing leaks or crashes
    (the sanitizers watch the log)."""
    for i in range(20):
        sock = socket.create_connection(("127.0.0.1", srv.port("smtp")), 10,
                                        source_address=("127.0.0.6", 0))
        sock.sendall(b"EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice@acme.test>\r\n")
        sock.close()
    s = smtp_from(srv, "127.0.0.9")
    assert s.noop()[0] == 250
    s.quit()


# -- reverse DNS in Received ---------------------------------------------------

@pytest.mark.parametrize("source,name", [
    ("127.0.0.7", "good.client.test"),     # PTR and A agree
    ("127.0.0.8", "unknown"),              # PTR names a host that is elsewhere
    ("127.0.0.9", "unknown"),              # no PTR
])
def test_received_names_forward_confirmed_reverse_dns(srv, source, name):
    s = smtp_from(srv, source)
    s.ehlo("helo.name.test")
    s.mail("x@example.org")
    assert s.rcpt(f"alice@{DOMAIN}")[0] == 250
    code, resp = s.data(b"Subject: rdns\r\n\r\nbody\r\n")
    assert code == 250
    s.quit()
    msg = (inbound(srv) / f"{queued_id(resp)}.msg").read_bytes()
    # (below the Received-SPF field: example.org has no SPF answer here)
    first = [h for h in msg.decode().split("\r\n")
             if h.startswith("Received: ")][0]
    assert first == f"Received: from helo.name.test ({name} [{source}])", msg
    assert wait_log(srv, f"reverse DNS of [{source}]: " +
                    (name if name != "unknown" else "unknown"))


# -- time limits ----------------------------------------------------------------

def read_until_closed(sock, limit=60):
    """Everything the server sends until it closes (bounded)."""
    data = b""
    deadline = time.time() + limit
    sock.settimeout(2)
    while time.time() < deadline:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"not closed: {data!r}")


def trickle(srv, start, step, settings):
    """Open a session, run the start commands, then send one piece per
    second (within smtp.timeout) until the server closes; its output."""
    for k, v in settings.items():
        srv.cli("config", "set", k, v)
    try:
        r = raw_from(srv, "127.0.0.1")
        for line, code in start:
            assert r.cmd(line)[0] == code
        r.sock.settimeout(1)
        deadline = time.time() + 60
        data = b""
        closed = False
        while time.time() < deadline:
            try:
                r.send(step)
            except OSError:
                break
            next_send = time.time() + 1
            while time.time() < next_send:
                try:
                    r.sock.settimeout(max(0.01, next_send - time.time()))
                    chunk = r.sock.recv(4096)
                    if not chunk:
                        closed = True
                        break
                    data += chunk
                except socket.timeout:
                    pass
                except OSError:     # reset: a piece sent after the close
                    closed = True
                    break
            if closed:
                break
        r.close()
        return data
    finally:
        for k in settings:
            srv.cli("config", "unset", k)


def test_data_trickled_byte_by_byte_is_cut_at_data_timeout(srv):
    before = len(list(inbound(srv).glob("*.env")))
    out = trickle(srv, [("EHLO client.test", 250), ("MAIL FROM:<>", 250),
                        (f"RCPT TO:<alice@{DOMAIN}>", 250), ("DATA", 354)],
                  b"x", {"smtp.timeout": "10s", "smtp.data_timeout": "10s"})
    assert out.startswith(b"421 4.4.2 "), out
    assert len(list(inbound(srv).glob("*.env"))) == before
    assert wait_log(srv, "message not complete within smtp.data_timeout")


def test_bdat_chunks_trickled_are_cut_at_data_timeout(srv):
    out = trickle(srv, [("EHLO client.test", 250), ("MAIL FROM:<>", 250),
                        (f"RCPT TO:<alice@{DOMAIN}>", 250)],
                  b"BDAT 1\r\nx", {"smtp.data_timeout": "10s"})
    # each chunk is acknowledged, then the limit ends the transaction
    assert out.count(b"250 2.0.0 ") >= 2, out
    assert b"421 4.4.2 " in out and out.endswith(b"\r\n"), out


def test_session_lifetime_is_bounded(srv):
    out = trickle(srv, [("EHLO client.test", 250)], b"NOOP\r\n",
                  {"smtp.max_session_time": "10s"})
    assert out.count(b"250 2.0.0 Ok") >= 2, out
    assert out.endswith(b"421 4.4.2 mx.postern.test Error: timeout "
                        b"exceeded\r\n"), out
    assert wait_log(srv, "reached smtp.max_session_time")


def test_junk_commands_become_errors(srv):
    r = raw_from(srv, "127.0.0.1")
    assert r.cmd("EHLO client.test")[0] == 250
    r.send("NOOP\r\n" * 60 + "RSET\r\n" * 40 + "VRFY x\r\n" * 20)
    codes = []
    for _ in range(120):
        try:
            codes.append(r.reply()[0])
        except EOFError:
            break
        if codes[-1] == 421:
            break
    # 100 free, then each is an error: the 10th error closes
    assert codes[:100] == [250] * 100
    assert codes[-1] == 421 and len(codes) == 111, codes
    r.close()


# -- IDN --------------------------------------------------------------------------

def test_idn_recipient_domains_match_in_either_form(srv):
    # configured as an A-label; and configured in UTF-8 (kept as A-label)
    srv.cli("domain", "add", "xn--bcher-kva.test", "--postoffice", "acme")
    srv.cli("domain", "add", "m\u00fcnchen.test", "--postoffice", "acme")
    shown = srv.cli("domain", "list").stdout
    assert "xn--mnchen-3ya.test" in shown, shown
    srv.cli("address", "add", "carol@xn--bcher-kva.test", "--mailbox",
            "bob@acme")
    r = raw_from(srv, "127.0.0.1")
    assert r.cmd("EHLO client.test")[0] == 250
    assert r.cmd("MAIL FROM:<x@example.org> SMTPUTF8")[0] == 250
    code, text = r.cmd("RCPT TO:<carol@B\u00fccher.test>")
    assert code == 250, text
    assert r.cmd("RCPT TO:<postmaster@m\u00fcnchen.test>")[0] == 250
    assert r.cmd("RCPT TO:<abuse@xn--mnchen-3ya.test>")[0] == 250
    # hosted, so unknown users are 550 (not relay denied)
    code, text = r.cmd("RCPT TO:<nobody@b\u00fccher.test>")
    assert code == 550 and "5.1.1" in text, text
    # not hosted: relay rules as for any remote domain
    assert r.cmd("RCPT TO:<x@\u00e9t\u00e9.test>")[0] == 554
    # IDNA2008 refuses symbols
    code, text = r.cmd("RCPT TO:<x@\u2665.test>")
    assert code == 553 and "5.1.2" in text, text
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: idn\r\n\r\nhi\r\n.\r\n")
    code, text = r.reply()
    assert code == 250, text
    env = parse_env((inbound(srv) / f"{queued_id(text)}.env").read_text())
    # queued in the form the MTA's address map lookup finds
    assert [x["address"] for x in env["rcpts"]] == [
        "carol@xn--bcher-kva.test", "postmaster@xn--mnchen-3ya.test",
        "abuse@xn--mnchen-3ya.test"]
    # a UTF-8 domain needs SMTPUTF8 (RFC 6531)
    assert r.cmd("MAIL FROM:<x@example.org>")[0] == 250
    code, text = r.cmd("RCPT TO:<carol@b\u00fccher.test>")
    assert code == 553 and "5.6.7" in text, text
    r.close()


# -- SPF ---------------------------------------------------------------------------

@pytest.mark.parametrize("sender,result,why", [
    ("a@pass.spf.test", "pass", "designates 127.0.0.6 as permitted sender"),
    ("a@fail.spf.test", "fail", "does not designate 127.0.0.6"),
    ("a@soft.spf.test", "softfail", "does not designate"),
    ("a@mx.spf.test", "pass", "designates"),
    ("a@redir.spf.test", "pass", "designates"),
    ("a@exists.spf.test", "pass", "designates"),
    ("a@neutral.spf.test", "neutral", "neither permitted nor denied"),
    ("a@nospf.test", "none", "no SPF record for nospf.test"),
    ("a@loop.spf.test", "permerror", "more than 10 DNS lookups"),
    ("a@void.spf.test", "permerror", "more than 2 void lookups"),
    ("a@two.spf.test", "permerror", "more than one SPF record"),
    ("a@bad.spf.test", "permerror", "bad cidr length"),
    ("", "pass", "postmaster@pass.spf.test"),      # null sender: the HELO
])
def test_spf_recorded_in_received_spf(srv, sender, result, why):
    s = smtp_from(srv, "127.0.0.6")
    s.ehlo("pass.spf.test")
    assert s.mail(sender)[0] == 250
    assert s.rcpt(f"alice@{DOMAIN}")[0] == 250     # never refused
    code, resp = s.data(b"Subject: spf\r\n\r\nbody\r\n")
    assert code == 250, resp
    s.quit()
    msg = (inbound(srv) / f"{queued_id(resp)}.msg").read_bytes().decode()
    head = msg.split("\r\n")
    assert head[0].startswith(f"Received-SPF: {result} (mx.postern.test: "), msg
    assert why in head[0], head[0]
    env_from = sender or "postmaster@pass.spf.test"
    assert head[1] == (f"\tclient-ip=127.0.0.6; envelope-from=\"{env_from}\"; "
                       "helo=pass.spf.test;"), head[1]
    assert head[2].startswith("Received: from pass.spf.test ("), head[2]
    assert wait_log(srv, f"spf={result} from=<{sender}>") or \
        result == "none"


@pytest.mark.parametrize("source,result", [
    ("127.0.0.7", "pass"),        # good.client.test, forward-confirmed
    ("127.0.0.8", "fail"),        # liar.client.test: not confirmed
])
def test_spf_ptr_uses_the_confirmed_name(srv, source, result):
    # pipelined right after the greeting: SPF waits for the reverse DNS
    r = raw_from(srv, source)
    r.send("EHLO helo.test\r\nMAIL FROM:<a@ptr.spf.test>\r\n"
           f"RCPT TO:<alice@{DOMAIN}>\r\nDATA\r\n")
    assert [r.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    r.send("Subject: ptr\r\n\r\nx\r\n.\r\n")
    code, text = r.reply()
    assert code == 250
    r.close()
    msg = (inbound(srv) / f"{queued_id(text)}.msg").read_bytes().decode()
    assert msg.startswith(f"Received-SPF: {result} "), msg


def test_spf_not_for_authenticated_or_relay_clients(srv):
    # a sender outside alice's addresses needs send_as=any (the sender
    # policy, test_sender_policy.py)
    srv.cli("mailbox", "set", "alice@acme", "send_as=any")
    try:
        s = smtp_from(srv, "127.0.0.6")
        s.ehlo()
        s.login("alice@acme", "alice-pw")
        s.mail("a@fail.spf.test")
        s.rcpt(f"bob@{DOMAIN}")
        code, resp = s.data(b"Subject: x\r\n\r\nx\r\n")
        assert code == 250
        s.quit()
    finally:
        srv.cli("mailbox", "set", "alice@acme", "send_as=inherit")
    msg = (inbound(srv) / f"{queued_id(resp)}.msg").read_bytes()
    assert b"Received-SPF" not in msg


def test_smtp_out_finds_the_mx_of_a_utf8_domain(postern):
    """A queued recipient whose domain is in UTF-8 (from the pickup
    directory, say): smtp-out's MX lookup asks DNS for the A-label."""
    from test_smtp_out import Sink, inject, setup_out, wait_for
    proc, port = dnsmasq_start([
        "--mx-host=xn--bcher-kva.test,mx.xn--bcher-kva.test,10",
        "--host-record=mx.xn--bcher-kva.test,127.0.0.1"])
    sink = Sink().start()
    try:
        setup_out(postern, port, sink)
        qid = inject(postern.root, "alice@acme.test", ["bob@bXXcher.test"],
                     "From: alice@acme.test\r\nSubject: idn\r\n\r\nhi\r\n",
                     smtputf8=True)
        # the envelope keeps UTF-8 as raw bytes (inject writes ASCII)
        env = postern.root / "queue/smtp/outgoing/new" / f"{qid}.env"
        env.write_bytes(env.read_bytes().replace(b"bXXcher",
                                                 "b\u00fccher".encode()))
        postern.start(services=["smtp-out"])
        wait_for(lambda: sink.messages, what="delivery to the IDN's MX")
        assert sink.messages[0]["rcpts"][0].startswith(
            "TO:<bob@b\u00fccher.test>"), sink.messages
        assert "relay=mx.xn--bcher-kva.test[127.0.0.1]" in \
            postern.log("smtp-out")
    finally:
        postern.stop()
        sink.stop()
        dnsmasq_stop(proc)

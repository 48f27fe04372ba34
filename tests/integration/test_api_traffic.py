"""The traffic counters and their per-minute ring (src/lib/traffic.c, the
sampling in posternd, Traffic/get in src/httpd/api-admin-traffic.c) over
real HTTP against a real posternd running every mail service: mail sent
over SMTP moves "in", local delivery "delivered", a remote server's 250
"out" and its 550 "bounced"; the ring file keeps its size; an ADMIN and a
bad argument are refused."""
import smtplib
import ssl

from test_api import Client, SYS_PW, ALPHA_PW
from test_mta import wait_for
from test_smtp_out import dns, setup_out, sinks  # noqa: F401 (fixtures)

SLOT = 8 + 8 * 8 + 12 * 8 + 8        # struct traffic_slot
RING_SIZE = 16 + 1440 * SLOT          # header + a day of minutes


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def traffic(c, **args):
    name, res, _ = c.call("Traffic/get", args)
    assert name == "Traffic/get", res
    return res["list"][0]


def sums(t):
    return {k: sum(v for v in t["series"][k] if v is not None)
            for k in ("in", "out", "delivered", "bounced")}


def test_smtp_moves_the_traffic_counters(postern, dns, sinks):  # noqa: F811
    p = postern
    sink = sinks(rcpt=lambda a, n: "550 5.1.1 no such user"
                 if a.startswith("nobody") else "250 ok")
    setup_out(p, dns, sink)
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("mailbox", "add", "root@hq", "--password", SYS_PW, "--type",
          "SYSADMIN")
    p.cli("postoffice", "add", "alpha", "--password", ALPHA_PW)
    p.cli("domain", "add", "alpha.test", "--postoffice", "alpha")
    p.cli("mailbox", "add", "carol@alpha", "--password", "Kx9-Secret-55c")
    p.start(services=["smtpd", "mta", "deliver", "smtp-out", "httpd"])
    c = Client(p.port("http"))
    c.login("root@hq", SYS_PW)

    # posternd samples once a minute, the first time at its first tick
    ring = p.root / "run/traffic.ring"
    wait_for(lambda: ring.exists(), timeout=10, what="the first sample")
    t0 = traffic(c)
    assert t0["minutes"] == 1440 and t0["step"] == 60
    assert set(t0["queues"]) >= {"smtp/inbound", "smtp/outgoing",
                                 "sf/outgoing", "badmail"}
    for k in ("in", "out", "delivered", "bounced"):
        assert len(t0["series"][k]) == 1440
    # the current minute has its sample: a number, not null
    assert t0["series"]["in"][-1] is not None, t0["series"]["in"][-5:]
    before, totals0 = sums(t0), t0["totals"]

    # in + delivered: a message from outside to a local mailbox
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=30) as s:
        s.sendmail("ext@remote.test", ["carol@alpha.test"],
                   b"From: ext@remote.test\r\nSubject: t1\r\n\r\nhi\r\n")
    # in + out + bounced: a submission to two remote recipients, one
    # refused by the remote server
    with smtplib.SMTP("127.0.0.1", p.port("submission"), timeout=30) as s:
        s.starttls(context=tls_ctx())
        s.login("carol@alpha", "Kx9-Secret-55c")
        s.sendmail("carol@alpha.test", ["bob@remote.test", "nobody@remote.test"],
                   b"From: carol@alpha.test\r\nSubject: t2\r\n\r\nhi\r\n")

    def moved():
        t = traffic(c)
        d = {k: v - before[k] for k, v in sums(t).items()}
        # the bounce notice to carol is delivered too: 2 delivered
        return t if (d["in"] >= 2 and d["out"] >= 1 and d["bounced"] >= 1
                     and d["delivered"] >= 2) else None
    t1 = wait_for(moved, timeout=30, what="the counters to move")
    d = {k: v - before[k] for k, v in sums(t1).items()}
    assert d == {"in": 2, "out": 1, "delivered": 2, "bounced": 1}, \
        (d, p.log("smtp-out"), p.log("deliver"))
    assert {k: t1["totals"][k] - totals0[k] for k in d} == d
    assert len(sink.messages) == 1

    # the ring holds a day of minutes and no more
    assert ring.stat().st_size == RING_SIZE
    # fewer minutes: the last ones
    t5 = traffic(c, minutes=5)
    assert len(t5["series"]["in"]) == 5
    assert t5["start"] == t1["start"] + (1440 - 5) * 60 or \
        t5["start"] > t1["start"] + (1440 - 5) * 60      # a minute passed
    # queue lengths: numbers where a sample is
    q = t1["queues"]["smtp/outgoing"]
    assert q[-1] is not None and q[-1] >= 0

    # bad arguments and an ADMIN
    for bad in (0, 1441, "60", -1):
        name, res, _ = c.call("Traffic/get", {"minutes": bad})
        assert name == "error" and res["type"] == "invalidArguments", res
        assert res["properties"] == ["minutes"]
    a = Client(p.port("http"))
    a.login("postmaster@alpha", ALPHA_PW)
    name, res, _ = a.call("Traffic/get", {})
    assert name == "error" and res["type"] == "forbidden", res
    assert "SYSADMIN" in res["description"]


def test_ring_survives_a_restart_and_counters_keep_growing(postern):
    """the counters file outlives the services: after a restart the
    totals go on from where they were, and the ring keeps the minutes
    sampled before"""
    p = postern
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("domain", "add", "hq.test", "--postoffice", "hq")
    p.cli("mailbox", "add", "root@hq", "--password", SYS_PW, "--type",
          "SYSADMIN")
    p.start(services=["smtpd", "mta", "deliver", "httpd"])
    c = Client(p.port("http"))
    c.login("root@hq", SYS_PW)
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=30) as s:
        s.sendmail("ext@remote.test", ["root@hq.test"],
                   b"Subject: a\r\n\r\nhi\r\n")
    wait_for(lambda: traffic(c)["totals"]["delivered"] >= 1, timeout=20,
             what="delivery")
    first = traffic(c)["totals"]
    p.stop()
    p.start(services=["smtpd", "mta", "deliver", "httpd"])
    c = Client(p.port("http"))
    c.login("root@hq", SYS_PW)
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=30) as s:
        s.sendmail("ext@remote.test", ["root@hq.test"],
                   b"Subject: b\r\n\r\nhi\r\n")
    wait_for(lambda: traffic(c)["totals"]["delivered"] >= first["delivered"] + 1,
             timeout=20, what="delivery after the restart")
    t = traffic(c)
    assert t["totals"]["in"] == first["in"] + 1
    # both messages are in the series (a sample of the first start's
    # minute and one of the second's)
    assert sum(v for v in t["series"]["in"] if v is not None) == 2, (t["series"]["in"][-3:], first, t["totals"])

"""Queue/query's page without a text filter (src/httpd/api-admin-queue.c):
the items are found by name, sorted newest first by their ids (which
begin with the time they were queued) and only the page's envelopes are
read; the total and the per-queue counts cover every item; a text search
still reads them all."""
import time
from pathlib import Path

from test_api import Client, SYS_PW, web  # noqa: F401


def put(root, qid, n):
    q = Path(root) / "queue" / "smtp" / "outgoing"
    for d in ("tmp", "new", "cur"):
        (q / d).mkdir(parents=True, exist_ok=True)
    env = ["POSTERN-ENV 1", f"id ={qid}", f"arrival {int(time.time())}",
           "sender =s@alpha.test", "auth -", "client =127.0.0.1 -", "body -",
           "smtputf8 0", "envid -", "ret -", "hops 0", "bulk 0",
           "delay-notified 0", f"rcpt =r{n}@far{n % 7}.test - 0 2 3 9999999999 - -",
           "end"]
    (q / "new" / f"{qid}.msg").write_bytes(b"Subject: q\r\n\r\nx\r\n")
    (q / "new" / f"{qid}.env").write_text("\n".join(env) + "\n")


def test_queue_page_reads_only_its_items(web):  # noqa: F811
    t0 = int(time.time()) - 1000
    ids = ["%08X%08X" % (t0 + i, 0xABC00000 + i) for i in range(120)]
    for n, qid in enumerate(ids):
        put(web.root, qid, n)
    c = Client(web.http)
    c.login("root@hq", SYS_PW)
    newest = list(reversed(ids))
    r = c.call("Queue/query", {"limit": 50, "position": 50})[1]
    assert r["ids"] == newest[50:100] and r["total"] == 120
    assert [o["id"] for o in r["list"]] == r["ids"]
    assert r["list"][0]["recipients"][0]["address"] == f"r{69}@far{69 % 7}.test"
    assert r["byQueue"] == {"smtp/outgoing": 120}
    r = c.call("Queue/query", {"limit": 0})[1]
    assert r["ids"] == [] and r["total"] == 120
    r = c.call("Queue/query", {"limit": 50, "position": 100,
                               "filter": {"queue": "smtp/outgoing"}})[1]
    assert r["ids"] == newest[100:]
    r = c.call("Queue/query", {"filter": {"queue": "sf/outgoing"}})[1]
    assert r["ids"] == [] and r["total"] == 0
    r = c.call("Queue/query", {"position": 121})
    assert r[0] == "error" and r[1]["properties"] == ["position"]
    # an envelope that is not readable shows on its page with the error
    # (it is read only there)
    (web.root / "queue/smtp/outgoing/new" / f"{ids[-1]}.env").write_text("junk\n")
    r = c.call("Queue/query", {"limit": 1})[1]
    assert r["ids"] == [ids[-1]] and "error" in r["list"][0]
    # a text search reads every envelope
    r = c.call("Queue/query", {"filter": {"text": "@far3.test"}, "limit": 500})[1]
    assert sorted(r["ids"]) == sorted(ids[n] for n in range(120) if n % 7 == 3)

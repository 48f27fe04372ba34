"""Mailbox/query's text search over the trigram index of names and
display names (schema v14, mailbox_search): what it finds is what a
substring match of the rows finds, whichever road the query takes (the
index for a text of 3 characters or more with at most 5,000 matches,
else LIKE in the page's order); the index follows every change of the
rows (the CLI, the API, SQL written straight into the store, deletions
of mailboxes and of a whole post office)."""
import sqlite3
import time

import pytest

from conftest import Postern
from test_api import Client

SYS_PW = "Rt-Secret-8812"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("search") / "root")
    p.init()
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("mailbox", "add", "root@hq", "--password", SYS_PW, "--type",
          "SYSADMIN")
    p.cli("postoffice", "add", "acme", "--password", "Ap-Secret-9931")
    p.cli("postoffice", "add", "big", "--password", "Bg-Secret-4417")
    p.cli("mailbox", "add", "alice@acme", "--password", "Al-Secret-1188",
          "--friendly-name", 'Alice "Ally" Ørsted')
    p.cli("mailbox", "add", "bob@acme", "--password", "Bo-Secret-2299")
    # 6,000 rows written with SQL, as the bench does: the triggers index them
    con = sqlite3.connect(p.root / "config" / "postern.db")
    po = con.execute("SELECT id FROM postoffice WHERE name = 'big'").fetchone()[0]
    h = con.execute("SELECT password_hash FROM mailbox WHERE name = 'bob'"
                    ).fetchone()[0]
    con.executemany(
        "INSERT INTO mailbox (postoffice_id, name, created, password_hash,"
        " friendly_name) VALUES (?, ?, ?, ?, ?)",
        ((po, f"user{i:05d}", int(time.time()), h, f"Member {i}")
         for i in range(6000)))
    con.commit()
    con.close()
    p.start(services=["httpd"])
    try:
        yield p
    finally:
        p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def search(c, text, **kw):
    args = dict({"filter": {"text": text}, "calculateTotal": True,
                 "limit": 50}, **kw)
    name, r, _ = c.call("Mailbox/query", args)
    assert name == "Mailbox/query", r
    return r


def test_search_finds_substrings_by_either_road(srv):
    c = Client(srv.port("http"))
    c.login("root@hq", SYS_PW)
    # the index: few matches; case folded (beyond ASCII too); quotes
    r = search(c, "user0420")
    assert r["total"] == 10 and r["ids"] == [f"user0420{i}@big"
                                             for i in range(10)], r
    assert search(c, "USER0420")["total"] == 10
    assert search(c, "ally")["ids"] == ["alice@acme"]
    assert search(c, '"Ally"')["ids"] == ["alice@acme"]
    assert search(c, "ørsted")["ids"] == ["alice@acme"]
    assert search(c, "member 5999")["ids"] == ["user05999@big"]
    assert search(c, "nobody-has-this")["total"] == 0
    # a post office's only, and a page after the first
    assert search(c, "user0420", filter={"text": "user0420",
                                         "postOffice": "acme"})["total"] == 0
    r = search(c, "user0420", position=5, limit=3)
    assert r["ids"] == ["user04205@big", "user04206@big", "user04207@big"]
    # keyset paging on the same road
    r = search(c, "user0420", anchor="user04203@big", anchorOffset=1, limit=2)
    assert r["ids"] == ["user04204@big", "user04205@big"] and \
        r["position"] == 4, r
    # LIKE: a text of 2 characters, and one matching more than 5,000
    r = search(c, "ic")
    assert r["ids"] == ["alice@acme"], r
    r = search(c, "user0", limit=5)
    assert r["total"] == 6000 and r["ids"][0] == "user00000@big", r
    r = search(c, "member", sort=[{"property": "name", "isAscending": False}],
               limit=2)
    assert r["total"] == 6000 and r["ids"] == ["user05999@big",
                                               "user05998@big"], r
    # 100% and _ are text, not patterns, on both roads
    assert search(c, "%")["total"] == 0 and search(c, "us_r")["total"] == 0


def test_index_follows_changes(srv):
    c = Client(srv.port("http"))
    c.login("root@hq", SYS_PW)
    srv.cli("mailbox", "set", "bob@acme", "friendly_name=Roberto Zed")
    assert search(c, "roberto")["ids"] == ["bob@acme"]
    name, r, _ = c.call("Mailbox/set", {"update": {"bob@acme": {
        "friendly_name": "Bobby Quux"}}})
    assert "bob@acme" in r["updated"], r
    assert search(c, "roberto")["total"] == 0
    assert search(c, "bobby q")["ids"] == ["bob@acme"]
    srv.cli("mailbox", "add", "zelda@acme", "--password", "Ze-Secret-7731")
    assert search(c, "zelda")["ids"] == ["zelda@acme"]
    srv.cli("mailbox", "del", "zelda@acme", "--yes")
    assert search(c, "zelda")["total"] == 0
    # a post office deleted with its 6,000 mailboxes: gone from the index
    srv.cli("postoffice", "del", "big", "--yes")
    assert search(c, "user0420")["total"] == 0
    assert search(c, "member")["total"] == 0
    con = sqlite3.connect(srv.root / "config" / "postern.db")
    try:
        assert con.execute("INSERT INTO mailbox_search(mailbox_search, rank) "
                           "VALUES ('integrity-check', 1)") is not None
    finally:
        con.close()

"""The CLI administration tasks the web admin API gained in issue 15's
coverage pass, over real HTTP against a real httpd: a domain's blacklist
(manual 5.4.3), member import of groups and lists (5.6.1.2) within the
ADMIN's webadmin_max_list_addresses, the global filters (SYSADMIN only,
the CLI's validation naming the field), POP retrieval status and run
(the service's trigger file), chat sessions and the chat archive,
#creationId references within one /set and across calls, and keyset
paging (anchor) of groups, lists and list members. Each change is in the
audit log; names with markup come back as the same text."""
import json
import sqlite3
import time

import pytest

from test_api import Client

SYS_PW = "Sy-Secret-4821"
ALPHA_PW = "Ap-Secret-9931"
BETA_PW = "Bt-Secret-7714"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    from conftest import Postern
    p = Postern(tmp_path_factory.mktemp("cov") / "root")
    p.init()
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("mailbox", "add", "root@hq", "--password", SYS_PW, "--type",
          "SYSADMIN")
    p.cli("postoffice", "add", "alpha", "--password", ALPHA_PW)
    p.cli("postoffice", "add", "beta", "--password", BETA_PW)
    p.cli("domain", "add", "alpha.test", "--postoffice", "alpha")
    p.cli("domain", "add", "beta.test", "--postoffice", "beta")
    p.cli("mailbox", "add", "carol@alpha", "--password", "Kx9-Secret-55c")
    p.cli("mailbox", "add", "dave@beta", "--password", "Kx9-Secret-66d")
    p.cli("postoffice", "set", "alpha", "webadmin_edit_domains=yes",
          "webadmin_edit_lists=yes", "webadmin_max_list_addresses=5")
    p.start(services=["httpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def sysadmin(web):
    c = Client(web.port("http"))
    c.login("root@hq", SYS_PW)
    return c


def alpha(web):
    c = Client(web.port("http"))
    c.login("postmaster@alpha", ALPHA_PW)
    return c


def beta(web):
    c = Client(web.port("http"))
    c.login("postmaster@beta", BETA_PW)
    return c


def audit(web, typ):
    h = sqlite3.connect(str(web.root / "config/audit.db"))
    rows = h.execute("SELECT actor, object, op, text FROM audit WHERE type = ?"
                     " ORDER BY id", (typ,)).fetchall()
    h.close()
    return rows


def test_domain_blacklist(web):
    a = alpha(web)
    r = a.call("Domain/set", {"update": {"alpha.test": {
        "blacklistAdd": ["Spam.Example", "junk.example"]}}})[1]
    assert r["updated"] == {"alpha.test": None}, r
    got = a.call("Domain/get", {"ids": ["alpha.test"],
                                "properties": ["blacklist"]})[1]["list"][0]
    assert got["blacklist"] == ["junk.example", "spam.example"]
    # the CLI sees the same rows
    out = web.cli("--json", "domain", "blacklist", "list", "alpha.test")
    assert [x["domain"] for x in json.loads(out.stdout)] == \
        ["junk.example", "spam.example"]
    # bad input names the property; nothing of the update is kept
    r = a.call("Domain/set", {"update": {"alpha.test": {
        "blacklistAdd": ["ok.example", "not a domain"]}}})[1]
    e = r["notUpdated"]["alpha.test"]
    assert e["type"] == "invalidProperties"
    assert e["properties"] == ["blacklistAdd"]
    assert "blacklistAdd[1]" in e["description"]
    r = a.call("Domain/set", {"update": {"alpha.test": {
        "blacklistAdd": ["spam.example"]}}})[1]
    assert r["notUpdated"]["alpha.test"]["type"] == "alreadyExists"
    r = a.call("Domain/set", {"update": {"alpha.test": {
        "blacklistAdd": "x.example"}}})[1]
    assert r["notUpdated"]["alpha.test"]["properties"] == ["blacklistAdd"]
    got = a.call("Domain/get", {"ids": ["alpha.test"],
                                "properties": ["blacklist"]})[1]["list"][0]
    assert "ok.example" not in got["blacklist"]
    r = a.call("Domain/set", {"update": {"alpha.test": {
        "blacklistRemove": ["junk.example"]}}})[1]
    assert "alpha.test" in r["updated"]
    # another post office's admin: notFound
    r = beta(web).call("Domain/set", {"update": {"alpha.test": {
        "blacklistAdd": ["x.example"]}}})[1]
    assert r["notUpdated"]["alpha.test"]["type"] == "notFound"
    # nor its own without webadmin_edit_domains (off by default)
    r = beta(web).call("Domain/set", {"update": {"beta.test": {
        "blacklistAdd": ["x.example"]}}})[1]
    assert r["notUpdated"]["beta.test"]["type"] == "forbidden"
    assert any("blacklistAdd" in t for _, _, _, t in audit(web, "Domain"))


def test_member_import(web):
    a = alpha(web)
    r = a.call("Group/set", {"create": {"g": {
        "address": "staff@alpha.test", "postOffice": "alpha"}}})[1]
    assert "g" in r["created"], r
    csv = ("\ufeffa@ext.example\n\nnot an address\n# a comment\n"
           "b@ext.example,ignored\n")
    r = a.call("Group/set", {"update": {"staff@alpha.test": {
        "importMembers": {"csv": csv}}}})[1]
    s = r["updated"]["staff@alpha.test"]["importMembers"]
    assert s["imported"] == 2 and s["failed"] == 1, s
    assert s["errors"][0]["line"] == 3 and s["errors"][0]["message"]
    got = a.call("Group/get", {"ids": ["staff@alpha.test"]})[1]["list"][0]
    assert sorted(got["members"]) == ["a@ext.example", "b@ext.example"]
    # atomic: one bad line keeps nothing, the errors say which
    r = a.call("Group/set", {"update": {"staff@alpha.test": {
        "importMembers": {"csv": "c@ext.example\nbad one\n",
                          "atomic": True}}}})[1]
    e = r["notUpdated"]["staff@alpha.test"]
    assert e["properties"] == ["importMembers"] and e["errors"][0]["line"] == 2
    got = a.call("Group/get", {"ids": ["staff@alpha.test"]})[1]["list"][0]
    assert "c@ext.example" not in got["members"]
    r = a.call("Group/set", {"update": {"staff@alpha.test": {
        "importMembers": "a@b.example"}}})[1]
    assert r["notUpdated"]["staff@alpha.test"]["properties"] == \
        ["importMembers"]
    # a list within webadmin_max_list_addresses (5): 6 is refused whole
    r = a.call("List/set", {"create": {"l": {
        "address": "news@alpha.test", "postOffice": "alpha",
        "owner": "carol@alpha.test"}}})[1]
    assert "l" in r["created"], r
    six = "".join(f"m{i}@ext.example,Member <b>{i}</b>\n" for i in range(6))
    r = a.call("List/set", {"update": {"news@alpha.test": {
        "importMembers": {"csv": six}}}})[1]
    e = r["notUpdated"]["news@alpha.test"]
    assert e["type"] == "overQuota" and e["properties"] == ["importMembers"]
    r = a.call("List/set", {"update": {"news@alpha.test": {
        "importMembers": {"csv": six.split("\n", 1)[1]}}}})[1]
    assert r["updated"]["news@alpha.test"]["importMembers"]["imported"] == 5
    got = a.call("List/get", {"ids": ["news@alpha.test"]})[1]["list"][0]
    names = {m["address"]: m["name"] for m in got["members"]}
    assert names["m1@ext.example"] == "Member <b>1</b>"   # text, as typed
    texts = [t for _, o, _, t in audit(web, "List") if o == "news@alpha.test"]
    assert any("importMembers imported=5" in t for t in texts), texts
    assert not any("m1@ext.example" in t for t in texts)  # not the file


def test_global_filters(web):
    s = sysadmin(web)
    r = alpha(web).call("GlobalFilter/get", {})
    assert r[0] == "error" and r[1]["type"] == "forbidden"
    r = alpha(web).call("GlobalFilter/set", {"create": {"x": {
        "criterion": "all", "action": "delete"}}})
    assert r[0] == "error" and r[1]["type"] == "forbidden"
    r = s.call("GlobalFilter/set", {"create": {
        "f1": {"criterion": "sender", "pattern": "*@spam.test",
               "action": "reject"},
        "f2": {"criterion": "size-over", "pattern": "10M",
               "action": "add-header", "argument": "X-Big: <yes>",
               "position": 1, "enabled": False}}})[1]
    assert set(r["created"]) == {"f1", "f2"}, r
    f1, f2 = r["created"]["f1"]["id"], r["created"]["f2"]["id"]
    got = s.call("GlobalFilter/get", {})[1]["list"]
    assert [g["id"] for g in got] == [f2, f1]
    assert got[0]["argument"] == "X-Big: <yes>" and got[0]["enabled"] is False
    # the CLI lists the same rules
    out = json.loads(web.cli("--json", "filter", "global", "list").stdout)
    assert [str(x["id"]) for x in out] == [f2, f1]
    # the CLI's checks, the field named
    for v, prop in (({"criterion": "nope", "action": "delete"}, "criterion"),
                    ({"criterion": "all", "action": "explode"}, "action"),
                    ({"criterion": "sender", "action": "delete"}, "pattern"),
                    ({"criterion": "size-over", "pattern": "big",
                      "action": "delete"}, "pattern"),
                    ({"criterion": "header", "pattern": "x",
                      "action": "delete"}, "header"),
                    ({"criterion": "all", "action": "redirect",
                      "argument": "not an address"}, "argument"),
                    ({"criterion": "all", "action": "delete",
                      "colour": "red"}, "colour"),
                    ({"criterion": 7, "action": "delete"}, "criterion")):
        r = s.call("GlobalFilter/set", {"create": {"k": v}})[1]
        assert r["notCreated"]["k"]["properties"] == [prop], (v, r)
    # move, switch on, then delete; a missing one is notFound
    r = s.call("GlobalFilter/set", {"update": {
        f1: {"position": 1}, f2: {"enabled": True}}})[1]
    assert set(r["updated"]) == {f1, f2}, r
    got = s.call("GlobalFilter/get", {})[1]["list"]
    assert [g["id"] for g in got] == [f1, f2] and got[1]["enabled"]
    r = s.call("GlobalFilter/set", {"update": {f1: {"criterion": "all"}},
                                    "destroy": [f2, "999999", "x"]})[1]
    assert r["notUpdated"][f1]["properties"] == ["criterion"]
    assert r["destroyed"] == [f2]
    assert r["notDestroyed"]["999999"]["type"] == "notFound"
    assert [g["id"] for g in s.call("GlobalFilter/get", {})[1]["list"]] == [f1]
    ops = [(o, op) for _, o, op, _ in audit(web, "GlobalFilter")]
    assert (f1, "create") in ops and (f2, "destroy") in ops


def test_pop_retrieval_status_and_run(web):
    a = alpha(web)
    r = a.call("Mailbox/set", {"update": {"carol@alpha": {"popAdd": {
        "host": "pop.example", "username": "carol", "password": "x-Secret"}}}})
    assert "carol@alpha" in r[1]["updated"], r
    web.cli("mailbox", "add", "erin@beta", "--password", "Kx9-Secret-77e")
    web.cli("popretrieval", "add", "erin@beta", "--host", "pop.beta.example",
            "--user", "erin", "--password", "pw")
    q = a.call("PopRetrieval/query", {})[1]
    assert [x["mailbox"] for x in q["list"]] == ["carol@alpha"], q
    acc = q["list"][0]
    assert acc["lastRun"] == 0 and acc["host"] == "pop.example"
    assert "password" not in acc
    every = sysadmin(web).call("PopRetrieval/query", {})[1]
    assert every["total"] == 2
    other = [x["id"] for x in every["list"] if x["mailbox"] == "erin@beta"][0]
    pr = web.root / "queue" / "pr"
    r = a.call("PopRetrieval/run", {"ids": [acc["id"], other, "x"]})[1]
    assert r["started"] == [acc["id"]]
    assert r["notStarted"][other]["type"] == "notFound"
    assert r["notStarted"]["x"]["type"] == "notFound"
    assert (pr / f"run.{acc['id']}").exists()
    assert not (pr / f"run.{other}").exists()
    # an ADMIN's run of everything: each account of its post office
    (pr / f"run.{acc['id']}").unlink()
    r = a.call("PopRetrieval/run", {})[1]
    assert r["started"] == [acc["id"]] and (pr / f"run.{acc['id']}").exists()
    r = sysadmin(web).call("PopRetrieval/run", {})[1]
    assert r["started"] == "all" and (pr / "run.all").exists()
    web.cli("postoffice", "set", "alpha", "webadmin_edit_mailboxes=no")
    try:
        r = a.call("PopRetrieval/run", {"ids": [acc["id"]]})[1]
        assert r["notStarted"][acc["id"]]["type"] == "forbidden"
    finally:
        web.cli("postoffice", "set", "alpha", "webadmin_edit_mailboxes=yes")
    r = a.call("PopRetrieval/query", {"filter": {"mailbox": "erin@beta"}})
    assert r[0] == "error" and r[1]["properties"] == ["filter"]
    assert ("*", "run") in [(o, op) for _, o, op, _ in
                            audit(web, "PopRetrieval")]


def test_chat_sessions_and_archive(web):
    s = sysadmin(web)
    r = s.call("ChatSession/get", {})[1]
    assert r["running"] is False and r["list"] == []
    r = alpha(web).call("ChatArchive/get", {})
    assert r[0] == "error" and r[1]["type"] == "forbidden"
    r = s.call("ChatArchive/get", {})[1]
    assert r["messages"] == 0 and r["retentionDays"] >= 0
    r = s.call("ChatArchive/prune", {"olderThanDays": -1})
    assert r[0] == "error" and r[1]["properties"] == ["olderThanDays"]
    r = s.call("ChatArchive/prune", {"olderThanDays": 30, "dryRun": True})[1]
    assert r == {"accountId": "admin", "messages": 0, "dryRun": True}
    r = s.call("ChatArchive/prune", {"olderThanDays": 30})[1]
    assert r["messages"] == 0 and r["dryRun"] is False
    assert audit(web, "ChatArchive")[-1][2] == "destroy"


def test_creation_ids(web):
    s = sysadmin(web)
    # within one /set: the update and destroy name the create's key
    r = s.call("Group/set", {"create": {"g1": {
        "address": "team@beta.test", "postOffice": "beta"}},
        "update": {"#g1": {"name": "The <i>team</i>"}},
        "destroy": ["#nope"]})[1]
    assert r["created"]["g1"]["id"] == "team@beta.test"
    assert r["updated"] == {"team@beta.test": None}, r
    assert r["notDestroyed"]["#nope"]["type"] == "notFound"
    # across calls: a post office, its domain and mailbox, a group of it
    out = s.api([
        ["PostOffice/set", {"create": {"p": {"name": "gamma",
                                             "password": "Gm-Secret-4411"}}},
         "0"],
        ["Domain/set", {"create": {"d": {"name": "gamma.test",
                                         "postOffice": "#p"}}}, "1"],
        ["Mailbox/set", {"create": {"m": {"name": "zed", "postOffice": "#p",
                                          "password": "Zd-Secret-9812"}}},
         "2"],
        ["Mailbox/set", {"update": {"#m": {"friendly_name": "Zed"}}}, "3"],
        ["Mailbox/get", {"ids": ["#m"], "properties": ["friendly_name"]},
         "4"]])["methodResponses"]
    assert out[1][1]["created"]["d"]["id"] == "gamma.test", out
    assert out[2][1]["created"]["m"]["id"] == "zed@gamma"
    assert out[3][1]["updated"] == {"zed@gamma": None}
    assert out[4][1]["list"][0]["friendly_name"] == "Zed"
    g = s.call("Group/get", {"ids": ["team@beta.test"]})[1]["list"][0]
    assert g["name"] == "The <i>team</i>"


def test_keyset_paging(web):
    s = sysadmin(web)
    names = [f"k{i:02d}@beta.test" for i in range(12)]
    s.call("Group/set", {"create": {str(i): {"address": n,
                                             "postOffice": "beta"}
                                    for i, n in enumerate(names)}})
    s.call("List/set", {"create": {"l": {
        "address": "big@beta.test", "postOffice": "beta",
        "owner": "dave@beta.test",
        "addMembers": [f"p{i:02d}@ext.example" for i in range(12)]}}})
    for method, flt, want in (
            ("Group/query", {"postOffice": "beta", "text": "k"}, names),
            ("ListMember/query", {"list": "big@beta.test"},
             [f"p{i:02d}@ext.example" for i in range(12)])):
        seen, anchor = [], None
        for _ in range(10):
            args = {"filter": flt, "limit": 5}
            if anchor:
                args.update(anchor=anchor, anchorOffset=1)
            r = s.call(method, args)[1]
            assert "ids" in r, r
            if not r["ids"]:
                break
            assert r["position"] == len(seen)
            seen += r["ids"]
            anchor = r["ids"][-1]
        assert seen == want, (method, seen)
        r = s.call(method, {"filter": flt, "anchor": "zz@nowhere.test"})
        assert r[0] == "error" and r[1]["type"] == "anchorNotFound"
    r = s.call("Group/query", {"sort": [{"property": "name"}],
                               "anchor": names[0]})
    assert r[0] == "error" and r[1]["properties"] == ["anchor"]
    r = s.call("List/query", {"filter": {"postOffice": "beta"}, "limit": 1})
    r2 = s.call("List/query", {"filter": {"postOffice": "beta"},
                               "anchor": r[1]["ids"][0], "anchorOffset": 0})
    assert r2[1]["ids"][0] == r[1]["ids"][0]
    # members of another post office's list: notFound for its admin
    r = alpha(web).call("ListMember/query",
                        {"filter": {"list": "big@beta.test"}})
    assert r[0] == "error" and r[1]["properties"] == ["filter"]
    r = s.call("ListMember/query", {"filter": {"list": "big@beta.test"},
                                    "limit": 2, "calculateTotal": True})[1]
    assert r["total"] == 12 and r["list"][0]["address"] == "p00@ext.example"


def test_queue_keyset(web):
    from test_api_queue_page import put
    t0 = int(time.time()) - 500
    ids = ["%08X%08X" % (t0 + i, 0xABD00000 + i) for i in range(30)]
    for n, qid in enumerate(ids):
        put(web.root, qid, n)
    s = sysadmin(web)
    newest = list(reversed(ids))
    r = s.call("Queue/query", {"limit": 10})[1]
    assert r["ids"] == newest[:10]
    # two new items arrive: the page after the anchor does not shift
    for n, qid in enumerate(["%08X%08X" % (t0 + 100 + i, 0xABE00000 + i)
                             for i in range(2)]):
        put(web.root, qid, n)
    r2 = s.call("Queue/query", {"limit": 10, "anchor": r["ids"][-1],
                                "anchorOffset": 1})[1]
    assert r2["ids"] == newest[10:20] and r2["position"] == 12
    # the anchor left the queue (delivered): the next page still follows
    gone = newest[19]
    for ext in ("env", "msg"):
        (web.root / "queue/smtp/outgoing/new" / f"{gone}.{ext}").unlink()
    r3 = s.call("Queue/query", {"limit": 10, "anchor": gone,
                                "anchorOffset": 1})[1]
    assert r3["ids"] == newest[20:30]
    r = s.call("Queue/query", {"anchor": 5})
    assert r[0] == "error" and r[1]["properties"] == ["anchor"]
    r = s.call("Queue/query", {"anchor": gone, "filter": {"text": "far"}})
    assert r[0] == "error" and r[1]["type"] == "anchorNotFound"


def test_pages_in_chromium(web, tmp_path):
    """tests/browser/webadmin-coverage.mjs: the new tasks in the page, at
    1280 and 390 px (the phone's menu button), screenshots kept in
    <build>/screenshots/."""
    import os
    import shutil
    import subprocess
    from conftest import BUILD, ROOT
    if not os.access("/usr/bin/chromium", os.X_OK):
        pytest.skip("chromium is not installed (scripts/install-deps.sh)")
    s = sysadmin(web)
    s.call("Group/set", {"create": {"g": {"address": "crew@alpha.test",
                                          "postOffice": "alpha"}}})
    s.call("PostOffice/set", {"create": {"o": {"name": "omega",
                                               "password": "Om-Secret-5521"}}})
    web.cli("mailbox", "add", "fred@alpha", "--password", "Kx9-Secret-88f")
    web.cli("popretrieval", "add", "fred@alpha", "--host", "pop.example",
            "--user", "fred", "--password", "pw")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = dict(os.environ, BASE=f"http://127.0.0.1:{web.port('http')}",
               SYS=f"root@hq:{SYS_PW}", SHOTS=str(shots),
               WEB_MODULES=str(ROOT / "web" / "node_modules"))
    r = subprocess.run(["node", str(ROOT / "tests/browser/"
                                    "webadmin-coverage.mjs")],
                       env=env, capture_output=True, text=True, timeout=240)
    stable = BUILD / "screenshots"
    stable.mkdir(exist_ok=True)
    for f in shots.glob("*.png"):
        shutil.copy(f, stable / f.name)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert "webadmin coverage browser test: ok" in r.stdout
    rows = audit(web, "PostOffice")
    assert ("omega", "destroy") in [(o, op) for _, o, op, _ in rows]

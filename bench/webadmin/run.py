#!/usr/bin/env python3
"""bench/webadmin/run.py [BUILD] - the web admin API at 100,000 mailboxes.

Makes a data root with post offices p0..p9 of 10,000 mailboxes each (rows
inserted with SQL, sharing one real password hash: hashing 100,000
passwords would take an hour and measure yescrypt, not the list), starts
postern-httpd alone, logs in as a SYSADMIN and times, over real HTTP:
the mailbox list's first page (all post offices, and one), a search, a
deep page, and the admin page's load (every file it fetches: bytes and
time); then drops the trigram index of names (schema v14) and times the
searches again, as every search ran before it. Prints a Markdown table
for bench/RESULTS.md."""
import http.client
import json
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import httpd_alone  # noqa: E402

BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
N_PO, PER_PO, RUNS = 10, 10000, 20
USING = ["urn:ietf:params:jmap:core", "urn:postern:admin"]


def main():
    root, hp = httpd_alone.make_root(
        BUILD, "postern-bench-web-", "hq", "Hq-Bench-Pw-1234", "root@hq",
        "Rt-Bench-Pw-5678", "--type", "SYSADMIN")
    con = sqlite3.connect(f"{root}/config/postern.db")
    h = con.execute("SELECT password_hash FROM mailbox WHERE name = 'root'"
                    ).fetchone()[0]
    now = int(time.time())
    t0 = time.time()
    for p in range(N_PO):
        con.execute("INSERT INTO postoffice (name, created) VALUES (?, ?)",
                    (f"p{p}", now))
        po = con.execute("SELECT id FROM postoffice WHERE name = ?",
                         (f"p{p}",)).fetchone()[0]
        con.executemany(
            "INSERT INTO mailbox (postoffice_id, name, created, password_hash,"
            " friendly_name, quota_kb) VALUES (?, ?, ?, ?, ?, ?)",
            ((po, f"user{i:05d}", now, h, f"User {i} of p{p}", i % 5000)
             for i in range(PER_PO)))
    con.commit()
    con.close()
    fill = time.time() - t0
    proc = httpd_alone.start(BUILD, root, hp)
    try:
        c, hdr = httpd_alone.login(hp, "/api/login", "root@hq",
                                   "Rt-Bench-Pw-5678", timeout=60)

        def api(calls):
            c.request("POST", "/jmap/api", json.dumps(
                {"using": USING, "methodCalls": calls}), hdr)
            r = c.getresponse()
            body = r.read()
            assert r.status == 200, body
            return json.loads(body)

        def page(args):
            # the total as the page shows it, unless the case turns it off
            args = dict({"calculateTotal": True}, **args)
            return [["Mailbox/query", dict(args, limit=25), "q"],
                    ["Mailbox/get", {"#ids": {"resultOf": "q",
                                              "name": "Mailbox/query",
                                              "path": "/ids"},
                                     "properties": ["name", "postOffice",
                                                    "type", "quota_kb",
                                                    "disabled",
                                                    "friendly_name"]}, "g"]]

        cases = [
            ("first page, all 100,001 mailboxes, by name", page({})),
            ("first page of one post office (10,000)",
             page({"filter": {"postOffice": "p7"}})),
            ("search 'user0420' in all", page({"filter": {"text": "user0420"}})),
            ("search 'user0420' in one post office",
             page({"filter": {"postOffice": "p7", "text": "user0420"}})),
            ("search 'User 4200 of' (display names) in all",
             page({"filter": {"text": "User 4200 of"}})),
            ("search 'user0' in all (every mailbox matches)",
             page({"filter": {"text": "user0"}})),
            ("page 2000 of 4000 (OFFSET 49,975), all",
             page({"position": 49975})),
            ("page 2000 by keyset (anchor, anchorOffset 1), all",
             None),
            ("first page, all, calculateTotal false",
             page({"calculateTotal": False})),
            ("search 'user0420' in all, calculateTotal false",
             page({"filter": {"text": "user0420"}, "calculateTotal": False})),
            ("sorted by quota, descending, first page",
             page({"sort": [{"property": "quota_kb",
                             "isAscending": False}]})),
        ]
        pid = json.loads(Path(f"{root}/run/httpd.json").read_text())["pid"]
        tick = os.sysconf("SC_CLK_TCK")

        def cpu_ms():
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) * 1000 / tick

        # the keyset page starts after the id at position 49,974
        anchor = api([["Mailbox/query", {"position": 49974, "limit": 1},
                       "a"]])["methodResponses"][0][1]["ids"][0]
        cases = [(n, c if c is not None else
                  page({"anchor": anchor, "anchorOffset": 1}))
                 for n, c in cases]
        # the same searches without the trigram index (schema v14): the
        # LIKE road every search took before, in the same run
        def drop_index():
            con = sqlite3.connect(f"{root}/config/postern.db")
            con.executescript("DROP TRIGGER mailbox_search_ai;"
                              "DROP TRIGGER mailbox_search_ad;"
                              "DROP TRIGGER mailbox_search_au;"
                              "DROP TABLE mailbox_search;")
            con.close()
        cases += [(None, None)] + [
            (n + ", without the trigram index", c) for n, c in cases
            if "search" in n]
        rows = []
        for name, calls in cases:
            if name is None:
                drop_index()
                continue
            api(calls)   # warm
            ts = []
            c0 = cpu_ms()
            for _ in range(RUNS):
                t = time.perf_counter()
                out = api(calls)
                ts.append((time.perf_counter() - t) * 1000)
            cpu = (cpu_ms() - c0) / RUNS
            total = out["methodResponses"][0][1].get("total", "-")
            got = len(out["methodResponses"][1][1]["list"])
            rows.append((name, statistics.median(ts), max(ts), cpu, total, got))
        # the admin page: index, CSS, modules, the session probe
        files = ["/admin/", "/admin/style.css", "/admin/app.js",
                 "/admin/api.js", "/admin/ui.js", "/admin/objects.js",
                 "/admin/domains.js", "/admin/mailbox.js", "/admin/tools.js",
                 "/admin/vendor/preact.js",
                 "/admin/vendor/hooks.js", "/admin/vendor/htm.js",
                 "/admin/favicon.svg"]
        t = time.perf_counter()
        nbytes = 0
        for f in files:
            c.request("GET", f)
            r = c.getresponse()
            nbytes += len(r.read())
        page_ms = (time.perf_counter() - t) * 1000
    finally:
        httpd_alone.stop(proc, 20)
    print(f"fill: {N_PO * PER_PO} mailbox rows in {fill:.1f} s; "
          f"load {os.getloadavg()[0]:.2f}\n")
    print("| request (query + get of 25, one HTTP request) | median | max | httpd CPU | total | rows |")
    print("|---|---|---|---|---|---|")
    for name, med, mx, cpu, total, got in rows:
        print(f"| {name} | {med:.1f} ms | {mx:.1f} ms | {cpu:.1f} ms | {total} | {got} |")
    print(f"\nadmin page: {len(files)} files, {nbytes} bytes uncompressed, "
          f"{page_ms:.1f} ms over one keep-alive connection")


main()

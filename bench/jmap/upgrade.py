#!/usr/bin/env python3
"""bench/jmap/upgrade.py BUILD N - the cost of the query index upgrade from
version 6 to 7 (email_backfill reads every header for the header text)
at N messages: one mailbox filled as bench/jmap/query.py does (its
helpers are taken from it), indexed, the index put back to version 6
(the new columns and index dropped), then the first JMAP request
after: server CPU of posternd and its processes (schedstat)."""
import base64, http.client, json, os, shutil, socket, sqlite3, subprocess, sys, tempfile, time
from pathlib import Path
sys.argv = [sys.argv[0]] + sys.argv[1:]
BUILD = Path(sys.argv[1]).resolve(); N = int(sys.argv[2])
PW = "Qz-Sample-Pw-5678"
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]
src = open("bench/jmap/query.py").read().split("def main():")[0]
src = src.replace("BUILD = Path", "_B = Path").replace("N = int", "_N = int")
exec(src)
tmp = tempfile.mkdtemp(prefix="postern-upg-"); root = f"{tmp}/root"
cli(root, "init", "--hostname", "bench.test"); hp = port()
cli(root, "config", "set", "http.listen", f"127.0.0.1:{hp}")
for svc in ("https", "smtp", "submission", "smtps", "pop3", "pop3s", "imap", "imaps", "managesieve"):
    cli(root, "config", "set", f"{svc}.listen", "")
cli(root, "postoffice", "add", "hq", "--password", "Kx-Office-Pw-1234")
cli(root, "mailbox", "add", "bench@hq", "--password", PW)
hdr = {"Content-Type": "application/json", "Authorization": "Basic " + base64.b64encode(f"bench@hq:{PW}".encode()).decode()}
def start():
    p = subprocess.Popen([str(BUILD / "posternd"), "-d", root, "--services", "httpd"], stderr=subprocess.DEVNULL)
    for _ in range(300):
        try: socket.create_connection(("127.0.0.1", hp), 1).close(); break
        except OSError: time.sleep(0.1)
    return p
def api(c, calls):
    c.request("POST", "/jmap/mail/api", json.dumps({"using": USING, "methodCalls": calls}), hdr)
    r = c.getresponse(); b = r.read(); assert r.status == 200, b; return json.loads(b)
try:
    p = start(); c = http.client.HTTPConnection("127.0.0.1", hp, timeout=600)
    api(c, [["Mailbox/get", {"accountId": "a1", "ids": None}, "m"]]) if False else None
    c.request("GET", "/jmap/mail/session", headers=hdr); s = json.loads(c.getresponse().read())
    acct = s["primaryAccounts"]["urn:ietf:params:jmap:mail"]
    api(c, [["Mailbox/get", {"accountId": acct, "ids": None}, "m"]])
    db = next(Path(root).rglob("postern-index.db")); fill(db.parent)
    api(c, [["Mailbox/get", {"accountId": acct, "ids": None}, "m"]])
    p.terminate(); p.wait(20)
    con = sqlite3.connect(db); con.execute("DROP INDEX msg_htext")
    for col in ("hfrom", "hto", "hsubject", "htext"): con.execute(f"ALTER TABLE msg DROP COLUMN {col}")
    con.execute("PRAGMA user_version=6"); con.commit(); con.close()
    p = start(); c = http.client.HTTPConnection("127.0.0.1", hp, timeout=600)
    c0 = server_cpu_ns(p.pid); t = time.time()
    api(c, [["Mailbox/get", {"accountId": acct, "ids": None}, "m"]])
    print(f"{N} messages: first request after the 6->7 downgrade: {(time.time()-t)*1000:.0f} ms wall, "
          f"{(server_cpu_ns(p.pid)-c0)/1e6:.0f} ms server CPU; load {os.getloadavg()[0]:.2f}")
    c0 = server_cpu_ns(p.pid)
    api(c, [["Mailbox/get", {"accountId": acct, "ids": None}, "m"]])
    print(f"next request: {(server_cpu_ns(p.pid)-c0)/1e6:.1f} ms server CPU")
    con = sqlite3.connect(db); print(con.execute("SELECT user_version FROM pragma_user_version").fetchone(), con.execute("SELECT count(*), sum(htext=1) FROM msg").fetchone()); con.close()
finally:
    p.terminate(); p.wait(20); shutil.rmtree(tmp, ignore_errors=True)

"""Nodes of a cluster on one real PostgreSQL store (docs/CLUSTER.md,
src/lib-config/cluster.c, src/posternd/node.c): two posternd on
127.0.0.1 and 127.0.0.2 register and beat; a third with a name in use
refuses clearly; a node killed with -9 turns dead after
cluster.node_timeout and its leases expire; its own data root takes the
name back at once; drain releases leases keeping the fence; a clean stop
removes the node. Skipped without PostgreSQL's server binaries."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import BUILD, Postern
from pg_util import needs_postgresql, pg, use_postgresql  # noqa: F401 (pg: a fixture)

pytestmark = needs_postgresql


def node(tmp_path, url, name, address):
    p = Postern(tmp_path / name / "root")
    use_postgresql(p.root, url)
    p.init()
    with open(p.root / "host.conf", "a") as f:
        f.write(f"node = {name.split('-')[0]}\nnode_address = {address}\n")
    return p


def status(p):
    return p.cli("cluster", "status", json_out=True)


def wait_node(p, name, state, timeout=20):
    """node name reaches state (bounded: the timeout is 2 s in the test)"""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if {n["name"]: n["state"] for n in status(p)["nodes"]}.get(name) == \
                state:
            return True
        time.sleep(0.3)
    return False


def kill9(p):
    """posternd and its services, as a crash of the host would"""
    st = json.loads((p.root / "run/status.json").read_text())
    p.proc.send_signal(signal.SIGKILL)
    p.proc.wait()
    for s in st["services"]:
        if s["pid"] > 0:
            try:
                os.kill(s["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_sqlite_has_no_cluster(postern):
    out = postern.cli("cluster", "status").stdout
    assert "SQLite" in out and "none running" in out
    r = postern.cli("cluster", "drain", "nowhere", "--yes", check=False)
    assert r.returncode == 3 and "no node 'nowhere'" in r.stderr


def test_two_nodes_same_name_takeover_drain(tmp_path, pg):
    url = pg.create_db("cluster1")
    a = node(tmp_path, url, "n1", "127.0.0.1")
    b = node(tmp_path, url, "n2", "127.0.0.2")
    a.cli("config", "set", "cluster.node_timeout", "2")
    a.cli("postoffice", "add", "acme", "--password", "pw")
    a.cli("mailbox", "add", "alice@acme", "--password", "pw")
    a.start(["deliver"])
    b.start(["deliver"])
    try:
        st = status(b)
        assert st["store"] == "postgresql"
        nodes = {n["name"]: n for n in st["nodes"]}
        assert set(nodes) == {"n1", "n2"}
        assert nodes["n1"]["address"] == "127.0.0.1"
        assert nodes["n2"]["address"] == "127.0.0.2"
        assert all(n["state"] == "alive" for n in nodes.values())

        # a second node named n1 (another data root) refuses, naming it
        c = node(tmp_path, url, "n1-other", "127.0.0.3")
        r = subprocess.run([str(BUILD / "posternd"), "-d", str(c.root),
                            "--services", "deliver"], capture_output=True,
                           text=True, timeout=60, env=c.env)
        assert r.returncode == 1
        assert "node name 'n1' is taken" in r.stderr, r.stderr
        assert "host.conf: node = NAME" in r.stderr

        # the heartbeat goes on past the timeout
        time.sleep(2.5)
        assert {n["name"]: n["state"] for n in status(a)["nodes"]} == \
            {"n1": "alive", "n2": "alive"}

        # alice's mailbox leased to n1 (as a service of n1 takes it)
        pg.psql("cluster1", "INSERT INTO mailbox_lease SELECT m.id, 'n1', "
                "n.instance, 1, 0 FROM mailbox m, node n WHERE n.name = 'n1' "
                "AND m.name = 'alice'")
        leases = status(b)["leases"]
        assert [(l["mailbox"], l["node"], l["fence"], l["state"])
                for l in leases] == [("alice", "n1", 1, "held")]

        # n1's host dies: after the timeout it is dead, its lease expired
        kill9(a)
        assert wait_node(b, "n1", "dead")
        assert status(b)["leases"][0]["state"] == "expired"
        # now the other data root may take the name n1
        r = subprocess.run([str(BUILD / "posternd"), "-d", str(c.root),
                            "--services", " "], capture_output=True,
                           text=True, timeout=60, env=c.env)
        assert r.returncode == 1 and "node name" not in r.stderr, r.stderr
        assert "no services to run" in r.stderr

        # drain: the lease is released, its fence kept for the next taker
        r = b.cli("cluster", "drain", "n1", check=False)
        assert r.returncode == 2 and "--yes" in r.stderr
        assert b.cli("cluster", "drain", "n1", "--yes").stdout.strip() == \
            "node 'n1': 1 leases released"
        assert [(l["fence"], l["state"]) for l in status(b)["leases"]] == \
            [(1, "released")]

        # n1's own data root comes back at once (same root: no wait)
        (a.root / "run/status.json").unlink()   # the killed run's
        a.start(["deliver"])
        assert wait_node(b, "n1", "alive")

        # a clean stop leaves the cluster
        b.stop()
        assert [n["name"] for n in status(a)["nodes"]] == ["n1"]
    finally:
        a.stop()
        b.stop()
    for p in (a, b):
        assert not p.sanitizer_reports(), p.sanitizer_reports()

"""A real PostgreSQL server for the tests of the PostgreSQL config store
(docs/CLUSTER.md): initdb in a temporary folder, listening only on a
loopback port from conftest's port helper, stopped by its PID.

    pg = PgServer.start(free_port())
    url = pg.create_db("t1")      # postgresql://postern@127.0.0.1:PORT/t1
    ...
    pg.stop()

initdb refuses to run as root: as root the server runs as the 'postgres'
user (or 'nobody') from a folder of its own under /tmp.

Running part of the suite on PostgreSQL: with POSTERN_TEST_PG=1 and this
module loaded as a plugin, every data root conftest makes is created on a
database of one shared server instead of config/postern.db:

    POSTERN_TEST_PG=1 POSTERN_BUILD=$PWD/build-san /usr/bin/python3 -m pytest \\
        -p pg_util -q -p no:cacheprovider tests/integration/test_cli.py

There a test that reads the store with sqlite3.connect(ROOT/config/postern.db)
reads the data root's PostgreSQL database instead (python3-psycopg2; '?'
placeholders, PRAGMA user_version), and the tests of SQLite's own file
(SQLITE_ONLY) are skipped with the reason.
"""
import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

def _pgbin():
    if os.environ.get("POSTERN_PGBIN"):
        return Path(os.environ["POSTERN_PGBIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit()
                   else 0)
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PGBIN = _pgbin()

# tests that start their own PostgreSQL: skipped, saying why, without one
needs_postgresql = pytest.mark.skipif(
    not (PGBIN / "initdb").exists(),
    reason=f"no PostgreSQL server ({PGBIN}/initdb; Debian: postgresql)")


def _demote_to():
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user")


class PgServer:
    def __init__(self, port, folder, proc, user):
        self.port = port
        self.folder = folder
        self.proc = proc
        self.user = user

    @classmethod
    def start(cls, port, timeout=60):
        user = _demote_to()
        folder = Path(tempfile.mkdtemp(prefix="postern-pg-"))
        os.chmod(folder, 0o755)
        data = folder / "data"
        sock = folder / "sock"
        sock.mkdir()
        pre = None
        if user is not None:
            os.chown(folder, user.pw_uid, user.pw_gid)
            os.chown(sock, user.pw_uid, user.pw_gid)

            def pre():
                os.setgid(user.pw_gid)
                os.setgroups([])
                os.setuid(user.pw_uid)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C"}
        r = subprocess.run([str(PGBIN / "initdb"), "-D", str(data), "-U",
                            "postern", "--auth=trust", "-E", "UTF8",
                            "--locale=C", "--no-sync"],
                           preexec_fn=pre, env=env, capture_output=True,
                           text=True, timeout=120, cwd=str(folder))
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{r.stdout}\n{r.stderr}")
        log = open(folder / "server.log", "w")
        if user is not None:
            os.chown(folder / "server.log", user.pw_uid, user.pw_gid)
        proc = subprocess.Popen(
            [str(PGBIN / "postgres"), "-D", str(data), "-p", str(port),
             "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={sock}",
             "-c", "fsync=off", "-c", "max_connections=200"],
            preexec_fn=pre, env=env, stdout=log, stderr=subprocess.STDOUT,
            cwd=str(folder))
        log.close()
        srv = cls(port, folder, proc, user)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("postgres exited:\n" + srv.log())
            r = subprocess.run([str(PGBIN / "pg_isready"), "-h", "127.0.0.1",
                                "-p", str(port)], capture_output=True)
            if r.returncode == 0:
                return srv
            time.sleep(0.2)
        srv.stop()
        raise RuntimeError("postgres did not start:\n" + srv.log())

    def log(self):
        try:
            return (self.folder / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def url(self, db="postgres"):
        return f"postgresql://postern@127.0.0.1:{self.port}/{db}"

    def psql(self, db, sql):
        psql = PGBIN / "psql"
        r = subprocess.run([str(psql) if psql.exists() else "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-d", self.url(db), "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"psql {sql}: {r.stderr}")
        return r.stdout.strip()

    def create_db(self, name):
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def pause(self):
        """SIGSTOP: a server that hangs (slow) rather than refuses"""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)   # fast shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, timeout=60):
        """start again on the same folder and port (after stop)"""
        assert self.proc is None
        data = self.folder / "data"
        pre = None
        user = self.user
        if user is not None:
            def pre():
                os.setgid(user.pw_gid)
                os.setgroups([])
                os.setuid(user.pw_uid)
        log = open(self.folder / "server.log", "a")
        self.proc = subprocess.Popen(
            [str(PGBIN / "postgres"), "-D", str(data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={self.folder / 'sock'}",
             "-c", "fsync=off", "-c", "max_connections=200"],
            preexec_fn=pre, env={"PATH": "/usr/bin:/bin", "LANG": "C"},
            stdout=log, stderr=subprocess.STDOUT, cwd=str(self.folder))
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = subprocess.run([str(PGBIN / "pg_isready"), "-h", "127.0.0.1",
                                "-p", str(self.port)], capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("postgres did not restart:\n" + self.log())

    def destroy(self):
        self.stop()
        keep = os.environ.get("POSTERN_TEST_PG_LOG")
        if keep:   # the server's log (each failed statement) for a look
            shutil.copyfile(self.folder / "server.log", keep)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pg():
    """a PostgreSQL server of the test module's own"""
    import conftest
    srv = PgServer.start(conftest.free_port())
    yield srv
    srv.destroy()


def use_postgresql(root: Path, url: str):
    """point a data root (before 'postern init') at a PostgreSQL database"""
    (root / "config").mkdir(parents=True, exist_ok=True)
    conf = root / "config" / "database.conf"
    conf.write_text(f"url = {url}\n")
    os.chmod(conf, 0o600)


# -- plugin: the suite's data roots on PostgreSQL (POSTERN_TEST_PG=1) -----
_shared = None
_count = 0


def _shared_server():
    global _shared
    if _shared is None:
        import conftest
        _shared = PgServer.start(conftest.free_port())
        atexit.register(_shared.destroy)
    return _shared


# tests of the SQLite file itself: its locks, its permissions, its pragmas
SQLITE_ONLY = {
    "test_cli.py::test_locked": "SQLite's write lock (PostgreSQL has row locks)",
    "test_cli.py::test_read_only_database": "a read-only SQLite file",
    "test_cli.py::test_init_idempotent": "SQLite's journal mode",
}


class _PgCursor:
    def __init__(self, cur):
        self.cur = cur

    def fetchall(self):
        return [tuple(r) for r in self.cur.fetchall()] \
            if self.cur.description else []

    def fetchone(self):
        r = self.cur.fetchone() if self.cur.description else None
        return tuple(r) if r is not None else None

    def __iter__(self):
        return iter(self.fetchall())

    @property
    def rowcount(self):
        return self.cur.rowcount


class PgAsSqlite:
    """what the tests use of a sqlite3 connection, on the data root's
    PostgreSQL database (autocommit, as sqlite3 with isolation_level=None)"""

    def __init__(self, url):
        import psycopg2
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True

    @staticmethod
    def _sql(sql):
        import re
        sql = re.sub(r"(?i)^\s*PRAGMA\s+user_version\s*;?\s*$",
                     "SELECT version FROM postern_schema", sql)
        sql = sql.replace("%", "%%")
        sql = re.sub(r"\?(\d*)", lambda m: "%s", sql)
        return re.sub(r"(?i)\bLIKE\b", "ILIKE", sql)

    def execute(self, sql, args=()):
        cur = self.conn.cursor()
        cur.execute(self._sql(sql), tuple(args))
        return _PgCursor(cur)

    def commit(self):
        pass

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _store_url(database):
    """the PostgreSQL URL of a data root's config/postern.db, or None"""
    path = str(database)
    if path.startswith("file:"):
        path = path[5:].split("?", 1)[0]
    if not path.endswith("/config/postern.db"):
        return None
    conf = Path(path).parent / "database.conf"
    if not conf.exists():
        return None
    for line in conf.read_text().splitlines():
        if line.strip().startswith("url"):
            return line.split("=", 1)[1].strip()
    return None


def pytest_collection_modifyitems(config, items):
    if os.environ.get("POSTERN_TEST_PG") != "1":
        return
    for item in items:
        for name, why in SQLITE_ONLY.items():
            if item.nodeid.endswith(name) or \
                    item.nodeid.split("[")[0].endswith(name):
                item.add_marker(pytest.mark.skip(
                    reason=f"SQLite only on POSTERN_TEST_PG=1: {why}"))


def pytest_configure(config):
    if os.environ.get("POSTERN_TEST_PG") != "1":
        return
    import sqlite3
    plain_connect = sqlite3.connect

    def connect(database, *args, **kwargs):
        url = _store_url(database)
        if url is not None:
            return PgAsSqlite(url)
        return plain_connect(database, *args, **kwargs)
    sqlite3.connect = connect
    import conftest
    plain_init = conftest.Postern.init

    def init(self):
        global _count
        _count += 1
        srv = _shared_server()
        url = srv.create_db(f"t{os.getpid()}_{_count}")
        use_postgresql(self.root, url)
        plain_init(self)
    conftest.Postern.init = init

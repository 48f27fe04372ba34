"""A service started with a low soft limit of open files (a shell's or a
service manager's 1024) takes its hard limit: every client connection is a
descriptor, and imapd must hold more of them than the soft limit."""
import imaplib
import resource
import socket

import pytest

SOFT = 64          # far below what the clients below need
CLIENTS = 150


def test_imapd_holds_more_connections_than_its_soft_fd_limit(populated):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1024:
        pytest.skip(f"hard RLIMIT_NOFILE {hard}: too low to show the raise")
    populated.cli("config", "set", "imap.max_connections_per_ip", "1000")
    populated.cli("config", "set", "imap.max_userip_connections", "1000")
    # posternd and imapd inherit the soft limit at fork
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, hard))
    try:
        populated.start(["imapd"])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    pid = populated.status()["services"][0]["pid"]
    limits = open(f"/proc/{pid}/limits").read()
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    assert line.split()[3] == line.split()[4], line   # soft == hard
    assert "open files limit raised from 64" in populated.log("imapd")

    socks = []
    try:
        for _ in range(CLIENTS):
            s = socket.create_connection(("127.0.0.1", populated.port("imap")),
                                         timeout=20)
            f = s.makefile("rb")
            socks.append((s, f))
            assert f.readline().startswith(b"* OK"), "no greeting"
        # every one of them is served, the first and the last alike
        for i, (s, f) in enumerate(socks):
            s.sendall(f"n{i} NOOP\r\n".encode())
            assert f.readline().startswith(f"n{i} OK".encode())
        # and a login still opens the mailbox (index, files) past the limit
        c = imaplib.IMAP4("127.0.0.1", populated.port("imap"), timeout=20)
        c.login("alice@acme", "alice-pw")
        assert c.select("INBOX")[0] == "OK"
        c.logout()
    finally:
        for s, f in socks:
            f.close()
            s.close()

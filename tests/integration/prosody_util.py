"""Prosody (Debian) as the reference server of the XMPP tests: one
private instance per test module on free loopback ports, its own data
directory, started and stopped by PID; skipped without Prosody
(scripts/install-deps.sh installs it, not started)."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from xmpp_util import PW

PROSODY = shutil.which("prosody") or "/usr/bin/prosody"
PROSODYCTL = shutil.which("prosodyctl") or "/usr/bin/prosodyctl"


def prosody_run(d, c2s, users, modules, body, s2s=None, head="",
                log_level="warn"):
    """a generator for a module fixture: Prosody in directory d with its
    client port c2s (and s2s port s2s, else no s2s module), the users
    (user, host) registered with xmpp_util's passwords, modules enabled
    beside roster, saslauth, disco, ping and posix, and body (VirtualHost
    and Component lines) after the common settings; head goes first
    (Lua run before the settings). Yields the directory (its
    prosody.log); stopped after."""
    if not os.access(PROSODY, os.X_OK):
        pytest.skip("prosody missing (scripts/install-deps.sh installs it)")
    (d / "data").mkdir(exist_ok=True)
    mods = ["roster", "saslauth", "disco", "ping", "posix"] + list(modules)
    disabled = ["admin_socket"] + ([] if s2s else ["s2s"])
    certs = f'certificates = "{d}/certs"\n' if (d / "certs").is_dir() else ""
    cfg = d / "prosody.cfg.lua"
    cfg.write_text(head + f"""
run_as_root = true
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
{certs}c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ {s2s or ""} }}
s2s_direct_tls_ports = {{ }}
https_ports = {{ }}
interfaces = {{ "127.0.0.1" }}
use_ipv6 = false
authentication = "internal_hashed"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = {{ {"; ".join(f'"{m}"' for m in mods)} }}
modules_disabled = {{ {"; ".join(f'"{m}"' for m in disabled)} }}
log = {{ {{ levels = {{ min = "{log_level}" }}, to = "file",
          filename = "{d}/prosody.log" }} }}
""" + body)
    env = dict(os.environ, PROSODY_CONFIG=str(cfg))
    for user, host in users:
        subprocess.run([PROSODYCTL, "--config", str(cfg), "register", user,
                        host, PW[user]], check=True, env=env,
                       capture_output=True, timeout=60)
    proc = subprocess.Popen([PROSODY, "--config", str(cfg), "-F"], env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log = d / "prosody.log"
    deadline = time.time() + 30
    while time.time() < deadline:
        assert proc.poll() is None, "prosody exited: " + (
            log.read_text(errors="replace")[-2000:] if log.exists() else "")
        try:
            socket.create_connection(("127.0.0.1", c2s), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    try:
        yield d
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

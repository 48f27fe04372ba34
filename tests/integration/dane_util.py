"""DNSSEC on loopback for the DANE tests: zones signed at test time with
ldns-signzone (ldnsutils), served by Debian's unbound as auth-zones and
validated by the same unbound against trust anchors the test makes (no
root anchor: a zone without one is insecure). Nothing leaves loopback."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import free_port

UNBOUND = "/usr/sbin/unbound"


def tools_or_skip():
    for t in (UNBOUND, shutil.which("ldns-signzone"),
              shutil.which("ldns-keygen")):
        if not t or not os.access(t, os.X_OK):
            pytest.skip("unbound or ldnsutils missing "
                        "(scripts/install-deps.sh installs them)")


def zone_text(origin, records):
    """a zone file: SOA, NS and the given "name TTL? TYPE data" lines
    (names relative to origin, or absolute with a final dot)"""
    head = [f"$ORIGIN {origin}.", "$TTL 300",
            f"@ IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300",
            f"@ IN NS ns.{origin}.", "ns IN A 127.0.0.1"]
    return "\n".join(head + list(records)) + "\n"


def sign(d, origin, text):
    """sign the zone with a fresh ECDSA P-256 key: the signed file and
    the DNSKEY trust anchor (as a file of its own)"""
    (d / f"{origin}.zone").write_text(text)
    r = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", origin],
                       cwd=d, check=True, capture_output=True, text=True)
    base = r.stdout.strip()
    subprocess.run(["ldns-signzone", "-n", f"{origin}.zone", base], cwd=d,
                   check=True, capture_output=True)
    anchor = d / f"{origin}.anchor"
    shutil.copy(d / f"{base}.key", anchor)
    return d / f"{origin}.zone.signed", anchor


def rewrite(signed, owner, rtype, new_rdata, old_rdata=None):
    """replace one record's data in the signed file: other data makes its
    RRSIG fail (bogus); the same bytes in RFC 3597 form ("\\# 2 0301")
    keep it valid (ldns prints a malformed TLSA that unbound cannot
    read)"""
    out = []
    done = False
    for line in signed.read_text().splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == owner and f[3] == rtype and not done \
                and (old_rdata is None or " ".join(f[4:]) == old_rdata):
            line = "\t".join(f[:4]) + "\t" + new_rdata
            done = True
        out.append(line)
    assert done, f"{owner} {rtype} not in {signed}"
    signed.write_text("\n".join(out) + "\n")


class Unbound:
    """unbound on a loopback port: each zone an auth-zone for upstream
    (so the validator sees its answers), trust anchors for the signed
    ones"""

    def __init__(self, d, zones, anchors):
        self.port = free_port()
        self.dir = d
        conf = ["server:", f"  interface: 127.0.0.1@{self.port}",
                "  do-daemonize: no", '  username: ""', '  chroot: ""',
                f'  directory: "{d}"', '  pidfile: ""', "  use-syslog: no",
                f'  logfile: "{d}/unbound.log"', "  verbosity: 1",
                "  val-log-level: 2", "  do-ip6: no",
                "  access-control: 127.0.0.0/8 allow",
                '  module-config: "validator iterator"',
                "  qname-minimisation: no", "  cache-max-ttl: 0",
                "  cache-max-negative-ttl: 0", "  prefetch: no",
                '  root-hints: ""', "  harden-referral-path: no",
                "  do-not-query-localhost: no",
                # RFC 6761 names are answered NXDOMAIN by default
                '  local-zone: "test." nodefault']
        for a in anchors:
            conf.append(f'  trust-anchor-file: "{a}"')
        for origin, path in zones:
            conf += ["auth-zone:", f"  name: {origin}",
                     f'  zonefile: "{path}"', "  for-downstream: no",
                     "  for-upstream: yes", "  fallback-enabled: no"]
        (d / "unbound.conf").write_text("\n".join(conf) + "\n")
        subprocess.run([UNBOUND, "-c", str(d / "unbound.conf"), "-V"],
                       check=False, capture_output=True)
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c",
                                      str(d / "unbound.conf")],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self._wait()

    def _wait(self):
        import socket
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("unbound exited:\n" + self.log())
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.settimeout(0.5)
                s.connect(("127.0.0.1", self.port))
                return
            except OSError:
                time.sleep(0.1)
            finally:
                s.close()
        raise AssertionError("unbound did not listen:\n" + self.log())

    def log(self):
        try:
            return (self.dir / "unbound.log").read_text()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

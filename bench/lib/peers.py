"""Side-by-side benchmark peers, all on loopback ports of their own:

  Postern          a data root in a temp dir, posternd from a build dir
  PostfixDovecot   a private Postfix instance (postfix -c DIR) delivering by
                   LMTP into a private Dovecot instance (dovecot -c FILE),
                   which also serves IMAP and POP3 from the same Maildirs

Both get the same domain (bench.test) and mailboxes (user0..userN-1, password
'Load-Secret-1': the password policy wants 8 characters, neither the mailbox's nor the post office's name). Durability is the default of each: both fsync a message before they
answer 250. Everything is stopped by PID; nothing outside the temp dirs is
touched except that Postfix and Dovecot run as their Debian users."""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "bench.test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def count_files(dirs):
    n = 0
    for d in dirs:
        try:
            n += len(os.listdir(d))
        except FileNotFoundError:
            pass
    return n


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def children_of(pid):
    """pid and all its descendants."""
    out = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    for k in kids:
        out += children_of(int(k))
    return out


class Postern:
    name = "Postern"

    def __init__(self, users, build=None, services=None, settings=None):
        self.settings = settings or {}
        self.build = Path(build or os.environ.get("POSTERN_BUILD") or ROOT / "build")
        self.dir = Path(tempfile.mkdtemp(prefix="bench-postern-"))
        self.root = self.dir / "root"
        self.users = users
        self.services = services
        self.ports = {}
        self.proc = None

    def cli(self, *args):
        subprocess.run([str(self.build / "postern"), "-d", str(self.root)] +
                       [str(a) for a in args], check=True,
                       stdout=subprocess.DEVNULL)

    def start(self):
        self.cli("init", "--hostname", "bench.postern.test")
        for name in ("smtp", "submission", "smtps", "pop3", "pop3s", "imap",
                     "imaps", "http", "https", "managesieve"):
            self.ports[name] = free_port()
            self.cli("config", "set", f"{name}.listen",
                     f"127.0.0.1:{self.ports[name]}")
        self.cli("config", "set", "password.scheme", "sha512-crypt")
        # one load client on one address: lift the per-address limits
        for key in ("smtp.max_connections_per_ip", "imap.max_connections_per_ip",
                    "pop3.max_connections_per_ip",
                    "imap.max_userip_connections",
                    "pop3.max_userip_connections",
                    "smtp.max_userip_connections"):
            self.cli("config", "set", key, "100000")
        for key, value in self.settings.items():
            self.cli("config", "set", key, value)
        self.cli("postoffice", "add", "bench", "--password", "Mx-Secret-pm1")
        self.cli("domain", "add", DOMAIN, "--postoffice", "bench")
        csv = self.dir / "users.csv"
        csv.write_text("".join(f"user{i}@{DOMAIN},Load-Secret-1\n" for i in range(self.users)))
        self.cli("users", "import", csv, "--postoffice", "bench")
        cmd = [str(self.build / "posternd"), "-d", str(self.root)]
        if self.services:
            cmd += ["--services", " ".join(self.services)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.ports["smtp"] if not self.services or "smtpd" in self.services
                  else self.ports["imap"])
        time.sleep(0.5)

    def smtp_port(self):
        return self.ports["smtp"]

    def imap_port(self):
        return self.ports["imap"]

    def pop3_port(self):
        return self.ports["pop3"]

    def login(self, i):
        return f"user{i}@bench"

    def maildir(self, i):
        return self.root / "store" / "bench" / f"user{i}"

    def new_dirs(self):
        return [self.maildir(i) / "new" for i in range(self.users)] + \
               [self.maildir(i) / "cur" for i in range(self.users)]

    def server_pids(self, service):
        st = json.loads((self.root / "run/status.json").read_text())
        out = []
        for s in st["services"]:
            if s["name"] == service and s["pid"]:
                out += children_of(s["pid"])   # with its worker processes
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostfixDovecot:
    name = "Postfix+Dovecot"

    def __init__(self, users, dovecot_extra=""):
        self.users = users
        self.dovecot_extra = dovecot_extra   # appended to dovecot.conf
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pfdc-"))
        os.chmod(self.dir, 0o755)
        self.ports = {n: free_port() for n in ("smtp", "lmtp", "imap", "pop3")}
        self.mail = self.dir / "mail"
        self.dovecot_pid = None
        self.vmail = pwd.getpwnam("dovenull")

    def _dovecot_conf(self):
        d = self.dir / "dovecot"
        (d / "run").mkdir(parents=True)
        (d / "state").mkdir()
        self.mail.mkdir(exist_ok=True)
        os.chown(self.mail, self.vmail.pw_uid, self.vmail.pw_gid)
        users = d / "users"
        users.write_text("".join(f"user{i}@{DOMAIN}:{{PLAIN}}Load-Secret-1\n"
                                 for i in range(self.users)))
        conf = d / "dovecot.conf"
        conf.write_text(f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = bench-{os.getpid()}
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {self.vmail.pw_uid}
mail_location = maildir:{self.mail}/%u
mail_uid = {self.vmail.pw_uid}
mail_gid = {self.vmail.pw_gid}
default_process_limit = 10000
default_client_limit = 10000
passdb {{
  driver = passwd-file
  args = username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid={self.vmail.pw_uid} gid={self.vmail.pw_gid} home={self.mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {self.ports['imap']}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.ports['pop3']}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.ports['lmtp']}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
service imap {{
  process_limit = 10000
}}
service anvil {{
  client_limit = 50000
}}
service auth {{
  client_limit = 50000
}}
{self.dovecot_extra}
""")
        return conf

    def _postfix_conf(self):
        p = self.dir / "postfix"
        (p / "etc").mkdir(parents=True)
        for f in ("master.cf",):
            shutil.copy(f"/etc/postfix/{f}", p / "etc" / f)
        master = (p / "etc/master.cf").read_text().splitlines()
        out = []
        for line in master:
            if line.startswith("smtp      inet"):
                line = line.replace("smtp      inet", f"127.0.0.1:{self.ports['smtp']} inet", 1)
            out.append(line)
        (p / "etc/master.cf").write_text("\n".join(out) + "\n")
        (p / "etc/main.cf").write_text(f"""
compatibility_level = 3.6
queue_directory = {p}/spool
data_directory = {p}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.postfix.test
mydestination =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = static:OK
virtual_transport = lmtp:inet:127.0.0.1:{self.ports['lmtp']}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = {p}/maillog
maillog_file_prefixes = {p}
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
lmtp_destination_concurrency_limit = 50
virtual_destination_concurrency_limit = 50
default_destination_concurrency_limit = 50
""")
        return p / "etc"

    def start_dovecot(self):
        """The private Dovecot alone (bench/imap/imaptest.py needs no
        Postfix)."""
        conf = self._dovecot_conf()
        # dovecot daemonizes: its child keeps inherited pipes open, so no
        # capture here; errors are in its log
        r = subprocess.run(["dovecot", "-c", str(conf)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode:
            raise RuntimeError("dovecot failed to start: " +
                               (self.dir / "dovecot/dovecot.log").read_text()[-2000:])
        wait_port(self.ports["lmtp"])
        # the master's pid: the process whose command line names our config
        for _ in range(100):
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if cmd[:1] == [b"/usr/sbin/dovecot"] and str(conf).encode() in cmd:
                    self.dovecot_pid = int(pid)
            if self.dovecot_pid:
                break
            time.sleep(0.1)

    def start(self):
        self.start_dovecot()
        self.postfix_etc = self._postfix_conf()
        (self.dir / "postfix/spool").mkdir()
        (self.dir / "postfix/data").mkdir()
        pf = pwd.getpwnam("postfix")
        os.chown(self.dir / "postfix/data", pf.pw_uid, pf.pw_gid)
        subprocess.run(["postfix", "-c", str(self.postfix_etc), "post-install",
                        "create-missing"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = subprocess.run(["postfix", "-c", str(self.postfix_etc), "start"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode:
            raise RuntimeError("postfix failed to start: " +
                               (self.dir / "postfix/maillog").read_text()[-2000:])
        wait_port(self.ports["smtp"])

    def smtp_port(self):
        return self.ports["smtp"]

    def imap_port(self):
        return self.ports["imap"]

    def pop3_port(self):
        return self.ports["pop3"]

    def login(self, i):
        return f"user{i}@{DOMAIN}"

    def maildir(self, i):
        return self.mail / f"user{i}@{DOMAIN}"

    def new_dirs(self):
        return [self.maildir(i) / "new" for i in range(self.users)] + \
               [self.maildir(i) / "cur" for i in range(self.users)]

    def server_pids(self, service):
        """The Dovecot processes serving a protocol (login + mail)."""
        if not self.dovecot_pid:
            return []
        out = []
        for pid in children_of(self.dovecot_pid):
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if comm.startswith(service) or comm == f"{service}-login":
                out.append(pid)
        return out

    def stop(self):
        if getattr(self, "postfix_etc", None):
            subprocess.run(["postfix", "-c", str(self.postfix_etc), "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.dovecot_pid:
            try:
                os.kill(self.dovecot_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            for _ in range(100):
                try:
                    os.kill(self.dovecot_pid, 0)
                    time.sleep(0.1)
                except ProcessLookupError:
                    break
        shutil.rmtree(self.dir, ignore_errors=True)

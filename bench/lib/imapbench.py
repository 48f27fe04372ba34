"""What the IMAP benchmarks (bench/imap/run.py, idle.py, mbox_size.py)
share: the two peers as they set them up, and the filling of their
Maildirs before a server starts."""
import os
import pwd
import time

import peers


def chown_tree(path, owner):
    """Give path and everything below it to owner (a pwd entry)."""
    for dirpath, dirs, files in os.walk(path):
        os.chown(dirpath, owner.pw_uid, owner.pw_gid)
        for f in files:
            os.chown(os.path.join(dirpath, f), owner.pw_uid, owner.pw_gid)


def fill(peer, users, messages, make, owner=None):
    """Write make(i) for i < messages into the Maildir new/ of every
    mailbox (the server sees new mail at its first look); with owner,
    the mailbox's folder and all in it become owner's (Dovecot's)."""
    t = int(time.time()) - 86400
    for u in range(users):
        md = peer.maildir(u)
        for sub in ("new", "cur", "tmp"):
            (md / sub).mkdir(parents=True, exist_ok=True)
        for i in range(messages):
            data = make(i)
            (md / "new" / f"{t + i}.M{i}P1.bench,S={len(data)}").write_bytes(data)
        if owner:
            chown_tree(md.parent, owner)


def postern(users, services, settings=None):
    """Postern serving users mailboxes with services (["imapd", ...])."""
    return peers.Postern(users, services=services, settings=settings)


def dovecot(users, dovecot_extra=""):
    """The Postfix + Dovecot peer, named "Dovecot", and the user its
    Maildirs must belong to (dovenull, which its IMAP processes run as)."""
    d = peers.PostfixDovecot(users, dovecot_extra=dovecot_extra)
    d.name = "Dovecot"
    return d, pwd.getpwnam("dovenull")

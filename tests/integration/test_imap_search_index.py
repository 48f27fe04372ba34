"""SEARCH SUBJECT answered from the index's header text (lib-store
store_text_uids) and the implicit \\Seen of FETCH BODY[] written the way
STORE's writes go (src/imapd/writer.c). Real imaplib clients over TCP.

The index keeps each Subject field's value unfolded, outer blanks
trimmed, RFC 2047 words decoded, ASCII letters lowered; SEARCH reads the
files for what the index cannot decide (a header past the 64 KB the store
reads, a string ending in a blank, ""). The answers must be those of
reading every file, whichever way each message goes.
"""
import imaplib
import sqlite3
import threading

from test_imap import imap  # noqa: F401 (fixture)


def client(p):
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=30)
    c.login("alice@acme", "alice-pw")
    return c


def msg(subject_lines, body="body\r\n", pad=0):
    head = "From: a@example.org\r\nTo: alice@acme.test\r\n"
    if pad:
        # a header past the 64 KB the store reads: no text in the index
        head += "".join(f"X-Pad: {'p' * 990}\r\n" for _ in range(pad))
    head += "".join(subject_lines)
    return (head + "\r\n" + body).encode()


MESSAGES = [
    msg(["Subject: Invoice 778 for March\r\n"]),                     # 1
    msg(["Subject: =?UTF-8?Q?Caf=C3=A9_invoice_778?=\r\n"]),         # 2
    msg(["Subject: quarterly\r\n report 778\r\n"]),                 # 3 folded
    msg(["Subject: first\r\n", "Subject: second INVOICE 778\r\n"]),  # 4 two
    msg(["Subject: padded invoice 778\r\n"], pad=70),                # 5 > 64 KB
    msg(["Subject: tail   \r\n"]),                                   # 6 trailing
    msg([]),                                                         # 7 none
    msg(["Subject: nothing to see\r\n"]),                            # 8
]


def search(c, *crit):
    typ, data = c.search(None, *crit)
    assert typ == "OK", data
    return sorted(int(x) for x in data[0].split())


def test_search_subject_index_matches_files(imap):
    c = client(imap)
    for m in MESSAGES:
        assert c.append("INBOX", None, None, m)[0] == "OK"
    c.select("INBOX")
    assert search(c, "SUBJECT", '"invoice 778"') == [1, 2, 4, 5]
    assert search(c, "SUBJECT", "INVOICE") == [1, 2, 4, 5]
    assert search(c, "SUBJECT", '"quarterly report"') == [3]
    assert search(c, "SUBJECT", "second") == [4]
    assert search(c, "SUBJECT", "padded") == [5]           # the file's
    assert search(c, "HEADER", "subject", "PADDED") == [5]
    assert search(c, "SUBJECT", '"tail "') == [6]          # blanks kept
    assert search(c, "SUBJECT", '""') == [1, 2, 3, 4, 5, 6, 8]
    assert search(c, "NOT", "SUBJECT", "invoice") == [3, 6, 7, 8]
    assert search(c, "OR", "SUBJECT", "tail", "SUBJECT", "quarterly") == [3, 6]
    assert search(c, "SUBJECT", "invoice", "SUBJECT", "march") == [1]
    typ, data = c.search("UTF-8", "SUBJECT", "café".encode())
    assert typ == "OK" and data[0].split() == [b"2"]
    # and again (a second statement on the same cached query)
    assert search(c, "SUBJECT", '"invoice 778"') == [1, 2, 4, 5]
    c.logout()


def test_implicit_seen_waits_for_the_lock_not_the_loop(imap):
    """FETCH BODY[] while another connection holds the index's write
    lock: the FETCH waits (its \\Seen queued with the mailbox's writes),
    another session is served meanwhile, and the FETCH then carries FLAGS
    (\\Seen) as RFC 3501 6.4.5 asks; the other session sees the flag."""
    a, b = client(imap), client(imap)
    for i in range(3):
        assert a.append("INBOX", None, None, msg([f"Subject: s{i}\r\n"]))[0] == "OK"
    a.select("INBOX")
    b.select("INBOX")
    db = sqlite3.connect(str(imap.root / "store" / "acme" / "alice" /
                             "postern-index.db"), timeout=5,
                         isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    out = {}

    def fetch():
        out["r"] = a.fetch("2", "(BODY[])")
    t = threading.Thread(target=fetch)
    try:
        t.start()
        t.join(0.5)
        assert t.is_alive(), "FETCH BODY[] answered with the lock taken"
        # the loop is not held: b is served
        typ, data = b.fetch("1:3", "(FLAGS)")
        assert typ == "OK" and len(data) == 3
        assert b.noop()[0] == "OK"
    finally:
        db.execute("ROLLBACK")
        db.close()
    t.join(30)
    assert not t.is_alive()
    typ, data = out["r"]
    assert typ == "OK", data
    assert b"\\Seen" in data[0][0], data[0][0]
    typ, data = b.fetch("2", "(FLAGS)")
    assert typ == "OK" and b"\\Seen" in data[0], data
    typ, data = a.fetch("1,3", "(FLAGS)")
    assert all(b"\\Seen" not in d for d in data), data
    a.logout()
    b.logout()

#!/usr/bin/python3
"""SMTP benchmark: N messages at concurrency C against Postern and against
Postfix + Dovecot LMTP, in one run, on loopback. Measures the time until
every message is in its mailbox (messages/s) and the SMTP transaction
latency (MAIL FROM to the 250 after DATA; p50/p99).

usage: bench/smtp/run.py [-n 2000] [-c 50] [--users 50] [--size 2048]
                         [--only postern|postfix] [--results bench/RESULTS.md]
"""
import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import peers  # noqa: E402


def make_body(size, i):
    head = (f"From: load@client.test\r\nTo: user@bench.test\r\n"
            f"Subject: bench message {i}\r\nMessage-ID: <bench{i}@client.test>\r\n\r\n")
    line = "The quick brown fox jumps over the lazy dog 0123456789.\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return (head + body).encode()


async def expect(reader, code):
    while True:
        line = await reader.readline()
        if not line:
            raise RuntimeError("connection closed")
        if line[3:4] != b"-":
            if not line.startswith(code):
                raise RuntimeError(f"expected {code!r}, got {line!r}")
            return line


async def client(port, jobs, users, size, latencies, errors):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await expect(reader, b"220")
    writer.write(b"EHLO load.client.test\r\n")
    await expect(reader, b"250")
    while jobs:
        i = jobs.pop()
        t0 = time.perf_counter()
        try:
            writer.write(b"MAIL FROM:<load@client.test>\r\n")
            await expect(reader, b"250")
            writer.write(f"RCPT TO:<user{i % users}@bench.test>\r\n".encode())
            await expect(reader, b"250")
            writer.write(b"DATA\r\n")
            await expect(reader, b"354")
            writer.write(make_body(size, i) + b".\r\n")
            await expect(reader, b"250")
            latencies.append(time.perf_counter() - t0)
        except RuntimeError as e:
            errors.append(str(e))
            break
    writer.write(b"QUIT\r\n")
    try:
        await asyncio.wait_for(reader.read(), 5)
    except asyncio.TimeoutError:
        pass
    writer.close()


async def load(port, n, c, users, size):
    jobs = list(range(n))
    latencies, errors = [], []
    await asyncio.gather(*(client(port, jobs, users, size, latencies, errors)
                           for _ in range(c)))
    return latencies, errors


def bench(peer, n, c, size):
    try:
        peer.start()
        before = peers.count_files(peer.new_dirs())
        t0 = time.perf_counter()
        latencies, errors = asyncio.run(load(peer.smtp_port(), n, c, peer.users, size))
        t_accept = time.perf_counter() - t0
        deadline = time.time() + 600
        delivered = 0
        while time.time() < deadline:
            delivered = peers.count_files(peer.new_dirs()) - before
            if delivered >= len(latencies):
                break
            time.sleep(0.05)
        t_all = time.perf_counter() - t0
        lat = sorted(latencies)
        return {
            "peer": peer.name, "sent": n, "accepted": len(latencies),
            "delivered": delivered, "errors": errors[:3],
            "accept_rate": len(latencies) / t_accept if t_accept else 0,
            "delivered_rate": delivered / t_all if t_all else 0,
            "p50_ms": 1000 * statistics.median(lat) if lat else 0,
            "p99_ms": 1000 * lat[int(len(lat) * 0.99) - 1] if lat else 0,
        }
    finally:
        peer.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--only")
    ap.add_argument("--set", action="append", default=[],
                    help="a Postern setting for the run, name=value")
    ap.add_argument("--results")
    a = ap.parse_args()
    rows = []
    if a.only in (None, "postern"):
        settings = dict(kv.split("=", 1) for kv in a.set)
        rows.append(bench(peers.Postern(a.users, services=["smtpd", "mta", "deliver"],
                                        settings=settings), a.n, a.c, a.size))
    if a.only in (None, "postfix"):
        rows.append(bench(peers.PostfixDovecot(a.users), a.n, a.c, a.size))
    table = ["| server | messages | accepted/s | delivered/s | p50 ms | p99 ms | errors |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['peer']} | {r['accepted']}/{r['sent']} (in mailboxes: "
                     f"{r['delivered']}) | {r['accept_rate']:.0f} | "
                     f"{r['delivered_rate']:.0f} | {r['p50_ms']:.1f} | "
                     f"{r['p99_ms']:.1f} | {'; '.join(r['errors']) or '-'} |")
    text = "\n".join(table)
    print(f"SMTP: {a.n} messages of {a.size} bytes, concurrency {a.c}, "
          f"{a.users} mailboxes\n{text}")
    if a.results:
        p = Path(a.results)
        old = p.read_text() if p.exists() else "# Benchmark results\n"
        start, end = "<!-- smtp -->", "<!-- /smtp -->"
        block = (f"{start}\n## SMTP in to mailbox\n\n`bench/smtp/run.py -n {a.n} -c {a.c} "
                 f"--users {a.users} --size {a.size}` on {time.strftime('%Y-%m-%d')}, "
                 f"2 cores, loopback, both fsync before 250.\n\n{text}\n{end}")
        if start in old:
            old = old[:old.index(start)] + block + old[old.index(end) + len(end):]
        else:
            old = old.rstrip() + "\n\n" + block + "\n"
        p.write_text(old)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""SMTP in to mailbox as curves, not points: delivered messages/s (and
MB/s) over SMTP concurrency and message size, Postern and Postfix +
Dovecot in the same run (bench/lib/peers.py; the load is bench/smtp/run.py's).

Sizes are decimal (10 MB = 10,000,000 bytes: Postfix's default
message_size_limit is 10,240,000). Each peer is started once and takes the points one after the other: for
each message size and concurrency, n messages (bounded by --budget-mb of
data and --max-n), timed until the last is in its mailbox. A point with
fewer messages than clients runs with n clients (the "clients" column).
Bounded: every point stops at --point-seconds, the sweep at --max-seconds
(the points not reached are left out and said so).

usage: bench/smtp/sweep.py [--conc 1,10,50,100,200]
                           [--sizes 1000,100000,1000000,10000000]
                           [--budget-mb 60] [--max-n 600] [--users 50]
                           [--only postern|postfix] [--png FILE]
                           [--results bench/RESULTS.md]
"""
import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "lib"))
sys.path.insert(0, str(HERE))
import peers  # noqa: E402
import run  # noqa: E402


def point(peer, n, c, size, point_seconds):
    before = peers.count_files(peer.new_dirs())
    t0 = time.perf_counter()
    try:
        latencies, errors = asyncio.run(asyncio.wait_for(
            run.load(peer.smtp_port(), n, c, peer.users, size), point_seconds))
    except asyncio.TimeoutError:
        return None
    t_accept = time.perf_counter() - t0
    deadline = time.time() + point_seconds
    delivered = 0
    while time.time() < deadline:
        delivered = peers.count_files(peer.new_dirs()) - before
        if delivered >= len(latencies):
            break
        time.sleep(0.05)
    t_all = time.perf_counter() - t0
    lat = sorted(latencies)
    return {
        "n": n, "clients": c, "size": size, "accepted": len(latencies),
        "delivered": delivered, "errors": errors[:2],
        "accept_rate": len(latencies) / t_accept if t_accept else 0,
        "rate": delivered / t_all if t_all else 0,
        "mbps": delivered * size / t_all / 1e6 if t_all else 0,
        "p50_ms": 1000 * statistics.median(lat) if lat else 0,
        "p99_ms": 1000 * lat[max(0, int(len(lat) * 0.99) - 1)] if lat else 0,
        "load": os.getloadavg()[0],
    }


def sweep(peer, concs, sizes, a, stop_at):
    rows, skipped = [], 0
    try:
        peer.start()
        for size in sizes:
            done = set()
            for c in concs:
                if time.time() > stop_at:
                    skipped += 1
                    continue
                n = max(1, min(a.max_n, int(a.budget_mb * 1e6 // size)))
                # one message per client when that stays near the budget
                if n < c and c * size <= 4 * a.budget_mb * 1e6:
                    n = min(c, a.max_n)
                if (n, min(c, n)) in done:
                    continue    # the point above already (too big for c)
                done.add((n, min(c, n)))
                r = point(peer, n, min(c, n), size, a.point_seconds)
                if r is None:
                    skipped += 1
                    continue
                r["peer"] = peer.name
                r["want_c"] = c
                rows.append(r)
                print(f"{peer.name}: {size} B x {n} at {min(c, n)} clients: "
                      f"{r['rate']:.0f} msg/s, {r['mbps']:.1f} MB/s, load "
                      f"{r['load']:.1f}", flush=True)
    finally:
        peer.stop()
    return rows, skipped


def human(size):
    for unit, f in (("MB", 1000000), ("KB", 1000)):
        if size >= f:
            return f"{size / f:g} {unit}"
    return f"{size} B"


def table(rows):
    out = ["| size | clients | server | messages | delivered/s | MB/s | p50 ms "
           "| p99 ms | load | errors |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["size"], r["clients"], r["peer"])):
        out.append(f"| {human(r['size'])} | {r['clients']} | {r['peer']} | "
                   f"{r['delivered']}/{r['n']} | {r['rate']:.0f} | "
                   f"{r['mbps']:.1f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | "
                   f"{r['load']:.1f} | {'; '.join(r['errors']) or '-'} |")
    return "\n".join(out)


def plot(rows, sizes, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib (python3-matplotlib, scripts/install-deps.sh): "
              "no PNG written")
        return False
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for k, size in enumerate(sizes):
        for peer, style in (("Postern", "-o"), ("Postfix+Dovecot", "--s")):
            pts = sorted((r["clients"], r["rate"]) for r in rows
                         if r["size"] == size and r["peer"] == peer)
            if pts:
                axes[0].plot([p[0] for p in pts], [p[1] for p in pts], style,
                             color=f"C{k}", label=f"{peer}, {human(size)}")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("SMTP clients")
    axes[0].set_ylabel("delivered messages/s")
    axes[0].legend(fontsize=7)
    axes[0].set_title("by concurrency")
    for peer, style in (("Postern", "-o"), ("Postfix+Dovecot", "--s")):
        best = {}
        for r in rows:
            if r["peer"] == peer:
                best[r["size"]] = max(best.get(r["size"], 0), r["mbps"])
        pts = sorted(best.items())
        if pts:
            axes[1].plot([p[0] / 1000 for p in pts], [p[1] for p in pts],
                         style, label=peer)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("message size, KB")
    axes[1].set_ylabel("delivered MB/s (best over concurrency)")
    axes[1].legend(fontsize=8)
    axes[1].set_title("by message size")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conc", default="1,10,50,100,200")
    ap.add_argument("--sizes", default="1000,100000,1000000,10000000")
    ap.add_argument("--budget-mb", type=float, default=60,
                    help="message data per point, MB")
    ap.add_argument("--max-n", type=int, default=600)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--point-seconds", type=int, default=180)
    ap.add_argument("--max-seconds", type=int, default=2400,
                    help="the whole sweep, both peers")
    ap.add_argument("--only")
    ap.add_argument("--png", default=str(HERE / "sweep.png"))
    ap.add_argument("--results")
    a = ap.parse_args()
    concs = [int(x) for x in a.conc.split(",")]
    sizes = [int(x) for x in a.sizes.split(",")]
    t0 = time.time()
    peers_run = []
    if a.only in (None, "postern"):
        peers_run.append(peers.Postern(a.users, services=["smtpd", "mta", "deliver"]))
    if a.only in (None, "postfix"):
        peers_run.append(peers.PostfixDovecot(a.users))
    rows, skipped = [], 0
    for i, p in enumerate(peers_run):
        # each peer gets its share of the time left
        share = (a.max_seconds - (time.time() - t0)) / (len(peers_run) - i)
        r, s = sweep(p, concs, sizes, a, time.time() + share)
        rows += r
        skipped += s
    text = table(rows)
    note = (f"{skipped} points not run (time bound)" if skipped else
            "every point run")
    print(text)
    print(note)
    png = plot(rows, sizes, a.png)
    if a.results:
        p = Path(a.results)
        old = p.read_text()
        start, end = "<!-- sweep -->", "<!-- /sweep -->"
        block = (f"{start}\n## SMTP in to mailbox: curves\n\n`bench/smtp/sweep.py "
                 f"--conc {a.conc} --sizes {a.sizes} --budget-mb {a.budget_mb:g} "
                 f"--max-n {a.max_n}` on {time.strftime('%Y-%m-%d %H:%M')} UTC, "
                 f"2 cores shared, loopback, both fsync before 250; load "
                 f"average at each point in the last column; {note}.\n\n"
                 + (f"![curves]({os.path.relpath(a.png, p.parent)})\n\n"
                    if png else "")
                 + f"{text}\n{end}")
        if start in old:
            old = old[:old.index(start)] + block + old[old.index(end) + len(end):]
        else:
            old = old.rstrip() + "\n\n" + block + "\n"
        p.write_text(old)


if __name__ == "__main__":
    main()

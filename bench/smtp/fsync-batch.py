#!/usr/bin/python3
"""What a group commit saves on this disk, without any server: N small
files (2 KB, a queue envelope's size) made durable one by one (write,
fsync, rename, fsync the directory: the queue's sequence) against in
batches of B (write all, fdatasync each, rename each, one directory
fsync), in a directory under /var/tmp. Three rounds, ms per file.

usage: bench/smtp/fsync-batch.py [N] [B]"""
import os
import shutil
import sys
import tempfile
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 320
B = int(sys.argv[2]) if len(sys.argv) > 2 else 32
DATA = b"x" * 2048


def fsync_dir(d):
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def one_by_one(d, tag):
    t = time.perf_counter()
    for i in range(N):
        p = f"{d}/{tag}{i}"
        fd = os.open(p + ".t", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        os.write(fd, DATA)
        os.fsync(fd)
        os.close(fd)
        os.rename(p + ".t", p)
        fsync_dir(d)
    return time.perf_counter() - t


def batched(d, tag):
    t = time.perf_counter()
    for s in range(0, N, B):
        fds = []
        for i in range(s, min(N, s + B)):
            p = f"{d}/{tag}{i}"
            fd = os.open(p + ".t", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            os.write(fd, DATA)
            fds.append((fd, p))
        for fd, p in fds:
            os.fdatasync(fd)
            os.close(fd)
        for fd, p in fds:
            os.rename(p + ".t", p)
        fsync_dir(d)
    return time.perf_counter() - t


def main():
    d = tempfile.mkdtemp(dir="/var/tmp", prefix="fsync-batch-")
    try:
        for r in range(3):
            a = one_by_one(d, f"a{r}_")
            b = batched(d, f"b{r}_")
            print(f"{N} files: one by one {1e3 * a / N:.2f} ms/file, batches "
                  f"of {B} {1e3 * b / N:.2f} ms/file ({a / b:.1f}x); load "
                  f"{os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()

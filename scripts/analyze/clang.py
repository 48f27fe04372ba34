#!/usr/bin/python3
"""clang's static analyzer over src/ (scripts/analyze.sh): clang --analyze
on each source of a compile database, once each, in JOBS processes.

Each file's findings are cached under the hash of its preprocessed text,
the clang version and the checker options (CACHE, default
<build>/analyze-cache), so a rerun analyzes only what changed; a fresh
checkout analyzes everything. Prints "file:line: description [checker]"
per finding, then the summary line; exit 1 on a finding not listed in
scripts/analyze/clang-known.txt ("file: description" lines, each with
its reason), 2 when a file could not be analyzed.

usage: clang.py COMPILE_COMMANDS.json [JOBS]
"""
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time

CHECKS = ["-fno-color-diagnostics", "-Xclang",
          "-analyzer-disable-checker=deadcode.DeadStores"]
FINDING = re.compile(r"^(.*?):(\d+):\d+: warning: (.*?)(?: \[([\w.-]+)\])?$")


def args_of(e):
    a = e.get("arguments") or shlex.split(e["command"])
    out, skip = [], False
    for x in a[1:]:
        if skip:
            skip = False
            continue
        if x in ("-o", "-MQ", "-MF", "-MT"):
            skip = True
            continue
        if x in ("-c", "-MD", "-MMD", "-fcolor-diagnostics") \
                or x.startswith("-fsanitize") \
                or x.startswith("-W") or x == e["file"]:
            continue
        out.append(x)
    return out


def analyze(e, cache, version):
    os.chdir(e["directory"])
    args = args_of(e)
    cpp = subprocess.run(["clang", "-E", "-P"] + args + [e["file"]],
                         capture_output=True)
    if cpp.returncode != 0:
        return e["file"], None, 0.0, cpp.stderr.decode(errors="replace")[-400:]
    key = hashlib.sha256(version + " ".join(CHECKS + args).encode() +
                         cpp.stdout).hexdigest()
    path = os.path.join(cache, key)
    try:
        with open(path) as f:
            return e["file"], json.load(f), 0.0, None
    except (OSError, ValueError):
        pass
    t0 = time.time()
    r = subprocess.run(["clang", "--analyze", "-o", "/dev/null"] + CHECKS +
                       args + [e["file"]], capture_output=True)
    took = time.time() - t0
    if r.returncode != 0:
        return e["file"], None, took, r.stderr.decode(errors="replace")[-400:]
    found = []
    for line in r.stderr.decode(errors="replace").splitlines():
        m = FINDING.match(line)
        if m:
            f = os.path.normpath(os.path.join(e["directory"], m.group(1)))
            f = re.sub(r".*/src/", "src/", f)
            found.append([f, int(m.group(2)), m.group(3), m.group(4) or ""])
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(found, f)
    os.rename(tmp, path)
    return e["file"], found, took, None


def main():
    cdb = os.path.abspath(sys.argv[1])
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    cache = os.environ.get("CACHE") or os.path.join(os.path.dirname(cdb),
                                                    "analyze-cache")
    os.makedirs(cache, exist_ok=True)
    version = subprocess.run(["clang", "--version"], capture_output=True
                             ).stdout.split(b"\n")[0]
    seen, todo = set(), []
    for e in json.load(open(cdb)):
        f = os.path.normpath(os.path.join(e["directory"], e["file"]))
        if "/src/" in f and f not in seen and os.path.exists(f):
            seen.add(f)
            todo.append(e)
    known = set()
    try:
        for line in open(os.path.join(top, "scripts/analyze/clang-known.txt")):
            if line.strip() and not line.startswith("#"):
                known.add(line.strip())
    except OSError:
        pass
    found, failed, analyzed, t0 = [], [], 0, time.time()
    with concurrent.futures.ProcessPoolExecutor(jobs) as ex:
        for f, res, took, err in ex.map(analyze, todo, [cache] * len(todo),
                                        [version] * len(todo)):
            if res is None:
                failed.append((f, err))
                continue
            analyzed += took > 0
            found.extend(res)
    new = 0
    for f, line, desc, checker in sorted(set(map(tuple, found))):
        k = "%s: %s" % (f, desc) in known
        new += not k
        print("%s:%d: %s [%s]%s" % (f, line, desc, checker,
                                    " (known)" if k else ""))
    for f, err in failed:
        print("%s: not analyzed: %s" % (f, err.strip()))
    print("clang analyzer: %d findings (%d known, listed in "
          "scripts/analyze/clang-known.txt); %d files, %d analyzed now, "
          "the rest cached; %.0f s" % (new, len(found) - new, len(todo),
                                       analyzed, time.time() - t0))
    sys.exit(2 if failed else 1 if new else 0)


if __name__ == "__main__":
    main()

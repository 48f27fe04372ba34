#!/usr/bin/env python3
"""gen-man.py - a man page from the help text a program prints, at build
time, so the page says what `--help` says.

    gen-man.py postern  SECTION VERSION BINARY OUT   (+ each COMMAND --help)
    gen-man.py posternd SECTION VERSION BINARY OUT
"""
import os
import re
import subprocess
import sys

name, section, version, binary, out = sys.argv[1:6]
# the help text is the same under the sanitizers; leaks at exit are not
# this script's business
env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0", POSTERN_DIR="")


def help_of(*args):
    r = subprocess.run([binary, *args], capture_output=True, text=True,
                       env=env, timeout=60)
    if r.returncode != 0:
        sys.exit(f"gen-man: {binary} {' '.join(args)} exited {r.returncode}")
    # posternd prints its usage on standard error
    return r.stdout or r.stderr


def roff(text):
    """text as lines of a no-fill block, escaped for roff"""
    lines = []
    for line in text.rstrip("\n").split("\n"):
        line = line.replace("\\", "\\e").replace("-", "\\-")
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return ".nf\n" + "\n".join(lines) + "\n.fi\n"


summary = {
    "postern": "administer a Postern mail server data root",
    "posternd": "run the Postern mail services",
}[name]
top = help_of("--help")
page = [f'.TH {name.upper()} {section} "" "Postern {version}" "Postern"',
        ".SH NAME", f"{name} \\- {summary}", ".SH SYNOPSIS"]
usage = top.split("\n", 1)[0].replace("usage: ", "")
page.append(roff(usage))
page += [".SH DESCRIPTION", roff(top.split("\n", 1)[1].strip("\n"))]
if name == "postern":
    page.append(".SH COMMANDS")
    commands = re.findall(r"^  (\w+) +", top.split("Commands:", 1)[1], re.M)
    for c in commands:
        page += [f".SS {c}", roff(help_of(c, "--help"))]
        if c == "mailbox":   # login security (cmd-loginsec.c)
            page += [".SS mailbox app-password, twofactor, logins, "
                     "failed-logins", roff(help_of(c, "app-password",
                                                   "--help"))]
    page += [".SH ENVIRONMENT", ".TP", ".B POSTERN_DIR",
             "the data root when \\-d is not given"]
page += [".SH FILES", ".TP", ".I /var/lib/postern",
         "the data root of the installed service (postern.service)",
         ".SH SEE ALSO",
         "postern(1)" if name == "posternd" else "posternd(8)"]
with open(out, "w") as f:
    f.write("\n".join(page) + "\n")

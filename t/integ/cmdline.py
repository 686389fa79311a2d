#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""cmdline: both programs take --help and --version, and share one meaning
of the exit status: 0 ok, 1 a runtime failure, 2 a usage error.

- `fulcrum --help`, `-h`, `fulcrum-stat --help`: the usage on stdout, exit 0;
- `--version`, `-v`: "NAME VERSION" on stdout, exit 0;
- an unknown option or a stray argument: a message and the usage on
  stderr, exit 2 (not 1, which means "it ran and failed");
- `fulcrum -c` of an invalid file, `fulcrum-stat` with no instance: exit 1.
"""
import os
import re
import subprocess

import fctest as t

t.require_fulcrum()
d = t.tmpdir("fctest-cmdline-")


def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=10)
    out, err = p.stdout.decode(), p.stderr.decode()
    t.note(f"$ {' '.join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv))}"
           f"  -> exit {p.returncode}, {len(out)} bytes out, {len(err)} bytes err")
    return p.returncode, out, err


for prog, name in ((t.FULCRUM, "fulcrum"), (t.FULCRUM_STAT, "fulcrum-stat")):
    for opt in ("--help", "-h"):
        with t.step(f"{name} {opt}: usage on stdout, exit 0"):
            rc, out, err = run([prog, opt])
            t.check(rc == 0, "exit 0", f"got {rc}: {err}")
            t.check(out.startswith("usage: " + name), "stdout starts with the usage",
                    out)
            t.check("--version" in out, "the usage names --version", out)
    for opt in ("--version", "-v"):
        with t.step(f"{name} {opt}: the version on stdout, exit 0"):
            rc, out, err = run([prog, opt])
            t.check(rc == 0, "exit 0", f"got {rc}: {err}")
            t.check(re.match(rf"{re.escape(name)} \d+\.\d+\.\d+", out) is not None,
                    f'stdout starts with "{name} X.Y.Z"', out)
    for bad in (["--bogus"], ["-Z"], ["stray-argument"]):
        with t.step(f"{name} {' '.join(bad)}: usage error, exit 2"):
            rc, out, err = run([prog] + bad)
            t.check(rc == 2, "exit 2", f"got {rc}")
            t.check("usage: " + name in err, "the usage on stderr", err)
            t.check(out == "", "nothing on stdout", out)

with t.step("fulcrum -c of an invalid file: exit 1, not 2"):
    path = os.path.join(d, "bad.conf")
    with open(path, "w") as f:
        f.write("listeners = ( { name = \"x\"; } );\n")
    rc, out, err = run([t.FULCRUM, "-c", "-f", path])
    t.check(rc == 1, "exit 1", f"got {rc}")
    t.check("bad.conf:1" in err, "the error names bad.conf:1", err)

with t.step("fulcrum --check --file FILE: the long options work"):
    rc, out, err = run([t.FULCRUM, "--check", "--file", path])
    t.check(rc == 1 and "bad.conf:1" in err, "the same check, exit 1", f"{rc} {err}")

with t.step("fulcrum-stat -n of no instance: exit 1"):
    rc, out, err = run([t.FULCRUM_STAT, "-n", "0123456789abcdef"])
    t.check(rc == 1, "exit 1", f"got {rc}: {err}")

t.finish()

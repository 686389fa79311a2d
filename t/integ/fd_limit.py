#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""fd_limit: when the master cannot raise the open-files limit as far as
global.maxconn needs, its warning gives the limit it really has, read back
from the kernel, not the one it asked for (issue 20).

As root, maxconn = 1000000 asks for 2001024 descriptors, above the kernel's
fs.nr_open (1048576 by default): setrlimit() fails and the limit stays as
it was.  The warning must print that limit (the one /proc/PID/limits shows
for the master), and fulcrum still serves.
"""
import os

import fctest as t

WANT = 2 * 1000000 + 1024

if os.geteuid() != 0:
    t.skip("needs root: as another user the limit is raised to the hard limit, "
           "which always works")
with open("/proc/sys/fs/nr_open") as f:
    if int(f.read()) >= WANT:
        t.skip(f"fs.nr_open allows {WANT} open files: nothing fails")

a = t.Backend("a")
port = t.free_port()
conf = f"""
global: {{ workers = 1; maxconn = 1000000; }};
listeners = ( {{ name = "web"; bind = [ "127.0.0.1:{port}" ];
  servers = ( {{ name = "a"; address = "{a.addr}"; }} ); }} );
"""


def soft_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return None


with t.Fulcrum(conf, name="fd_limit") as fc:
    m = fc.wait_log(r"open files limited to (\d+), global.maxconn 1000000 "
                    r"needs about (\d+)", 2.0)
    t.check(m is not None, "the master warns that the limit is too low",
            fc.log_text()[-500:])
    if m:
        real = soft_limit(fc.pid)
        t.note(f"warning: {m.group(0)}; the master's limit: {real}")
        t.check(int(m.group(2)) == WANT, "it says what maxconn needs", m.group(2))
        t.check(int(m.group(1)) == real, "it prints the limit the master has",
                f"printed {m.group(1)}, /proc says {real}")
    st, h, body = t.http(port, "GET", "/")
    t.check(st == 200, "and serves", f"{st}")

t.finish()

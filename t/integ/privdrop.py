#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""privdrop: started as root with global.user/group, the workers run as
that user and group (real, effective, saved and fs ids, and no other
supplementary group) while the master stays root; without global.user a
warning is logged and the workers keep root; an unknown user or group
stops fulcrum at once with a message naming it.

Needs root: skipped otherwise.
"""
import grp
import os
import pwd
import time

import fctest as t

if os.geteuid() != 0:
    t.skip("privilege drop needs root (running as uid %d)" % os.geteuid())
try:
    NOBODY = pwd.getpwnam("nobody").pw_uid
    NOGROUP = grp.getgrnam("nogroup").gr_gid
except KeyError as e:
    t.skip(f"user nobody or group nogroup missing: {e}")
t.require_fulcrum()

a = t.Backend("a")


def conf(port, who=""):
    return f"""
global: {{ workers = 2; {who} }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  servers = ( {{ name = "a"; address = "{a.addr}"; weight = 1; }} );
}} );
"""


def ids(pid):
    """{'Uid': [real, eff, saved, fs], 'Gid': [...], 'Groups': [...]}"""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = [int(x) for x in v.split()]
    return out


def wait_ready(fc, n=2, timeout=5.0):
    """The master's n workers once each has made its epoll instance: a
    worker does that in worker_main(), after the privilege drop, so its ids
    are final by then (read earlier, they may still be the master's)."""
    deadline = time.monotonic() + timeout
    while True:
        kids = fc.wait_children(n, max(0.0, deadline - time.monotonic()))
        ready = [k for k in kids if has_epoll(k)]
        if len(ready) >= n or time.monotonic() >= deadline:
            return kids
        time.sleep(0.02)


def has_epoll(pid):
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[eventpoll]":
                return True
        except OSError:
            pass
    return False


def serve(port, n=6):
    statuses = [t.http(port, "GET", f"/?i={i}")[0] for i in range(n)]
    t.check(statuses == [200] * n, f"{n} requests answered 200",
            f"{statuses}")


# ---------------------------------------------------- user and group set
port = t.free_port()
with t.Fulcrum(conf(port, 'user = "nobody"; group = "nogroup";'),
               name="drop") as fc, \
        t.step('user = "nobody"; group = "nogroup";'):
    workers = wait_ready(fc)
    master = ids(fc.pid)
    t.note(f"nobody = {NOBODY}, nogroup = {NOGROUP}")
    t.note(f"master {fc.pid}: {master}")
    t.check(master["Uid"] == [0, 0, 0, 0], "the master is still uid 0",
            f"{master['Uid']}")
    t.check(len(workers) == 2 and all(has_epoll(w) for w in workers),
            "2 workers, both in their event loop", f"{workers}")
    for w in workers:
        wi = ids(w)
        t.note(f"worker {w}: {wi}")
        t.check(wi["Uid"] == [NOBODY] * 4,
                f"worker {w}: real/effective/saved/fs uid = nobody",
                f"{wi['Uid']}")
        t.check(wi["Gid"] == [NOGROUP] * 4,
                f"worker {w}: real/effective/saved/fs gid = nogroup",
                f"{wi['Gid']}")
        t.check(wi["Groups"] == [NOGROUP],
                f"worker {w}: supplementary groups = [nogroup] only",
                f"{wi['Groups']}")
    serve(port)
    t.check("running as root" not in fc.log_text(),
            "no running-as-root warning")

# ------------------------------------------- a killed master, no orphans
# The kernel forgets PR_SET_PDEATHSIG when a process changes uid: the
# children must ask again after dropping privileges.
port = t.free_port()
with t.Fulcrum(conf(port, 'user = "nobody"; group = "nogroup";'),
               name="orphans") as fc, \
        t.step("kill -9 of the master: its unprivileged children follow it"):
    kids = fc.remember_children()
    wait_ready(fc)
    kids = fc.remember_children()
    os.kill(fc.pid, 9)
    fc.wait_exit(5)
    deadline = time.monotonic() + 3
    while any(t.pid_alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = [k for k in kids if t.pid_alive(k)]
    t.check(not left, "no child outlives the master", f"still alive: {left}")

# ------------------------------------------------------------- no user
port = t.free_port()
with t.Fulcrum(conf(port), name="root") as fc, t.step("no global.user"):
    workers = wait_ready(fc)
    t.check(len(workers) == 2 and all(has_epoll(w) for w in workers),
            "2 workers, both in their event loop", f"{workers}")
    m = fc.wait_log(r"running as root without global\.user", 2.0)
    t.note(m.group(0) if m else "(no warning)")
    t.check(m is not None, "the log warns about running as root")
    for w in workers:
        wi = ids(w)
        t.note(f"worker {w}: {wi}")
        t.check(wi["Uid"] == [0, 0, 0, 0], f"worker {w} keeps uid 0",
                f"{wi['Uid']}")
    serve(port, 2)

# ------------------------------------------------- unknown user or group
for key, who, name in (
        ("user", 'user = "no-such-user-fc";', "no-such-user-fc"),
        ("group", 'user = "nobody"; group = "no-such-group-fc";',
         "no-such-group-fc")):
    with t.step(f"unknown {key} \"{name}\""):
        d = t.tmpdir(f"fctest-unknown-{key}-")
        port = t.free_port()
        path = os.path.join(d, "fulcrum.conf")
        with open(path, "w") as f:
            f.write(conf(port, who))
        t0 = time.monotonic()
        rc, out = t.run([t.FULCRUM, "-d", "-f", path], timeout=10)
        took = time.monotonic() - t0
        t.note(f"exit status {rc} after {took:.2f} s; output:\n{out.rstrip()}")
        t.check(rc == 1, "fulcrum exits 1", f"status {rc}")
        t.check(took < 2.0, "at once (< 2 s)", f"{took:.2f} s")
        t.check(name in out, f"the message names \"{name}\"")
        t.check(not t.port_accepts(port), f"nothing listens on {port}")

t.finish()

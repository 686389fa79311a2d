#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""fulcrumctl (issue 17, point 3): runtime server state through the checker.

  - drain web/a: new clients go to b only, a client whose cookie names a
    still reaches a; every stats output says DRAIN;
  - maint web/a: nothing reaches a, its checks pause; MAINT everywhere;
  - ready web/a: back in rotation;
  - weight web/b 3: b takes 3 of every 4 new clients;
  - the state stays over kill -USR2;
  - an unknown server, bad usage and a user without permission get clear
    messages and exit codes 1, 2, 1;
  - servers without checks: maint web/b, then 15 reloads 0.3 s apart while 4
    threads send requests: b answers none of them (before: a few, between
    a new generation's first requests and its checker's first publication);
  - rise = fall = 3: c goes DOWN (its backend stopped), its backend comes
    back and one check passes (1 of 3), maint web/c, the backend stopped
    again, kill -USR2, ready web/c: c is DOWN, as before the maint (before:
    UP at once, from the one check that had passed).
"""
import os
import re
import signal
import subprocess
import threading
import time

import fctest as t

FULCRUMCTL = os.path.join(os.path.dirname(t.FULCRUM), "fulcrumctl")
a = t.Backend("a")
b = t.Backend("b")
port = t.free_port()
CONF = f"""
global: {{ workers = 2; }};
defaults: {{ timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{ name = "web"; bind = [ "127.0.0.1:{port}" ];
  cookie = {{ name = "SERVERID"; mode = "insert"; }};
  check = {{ request = "GET /check.txt HTTP/1.0"; interval = 100; rise = 1; fall = 1; }};
  stats = {{ uri = "/stats"; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; check = true; }},
              {{ name = "b"; address = "{b.addr}"; check = true; }} ); }} );
"""


def ctl(fc, *args, user=None):
    argv = [FULCRUMCTL, "-f", fc.conf_path] + list(args)
    if user:
        argv = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups"] + argv
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=15)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def fresh(n):
    """n new clients (no cookie): who answered."""
    return [t.http(port, "GET", f"/?i={i}")[1].get("x-backend") for i in range(n)]


def with_cookie(server, n=4):
    return {t.http(port, "GET", "/", headers={"Cookie": f"SERVERID={server}"})[1]
            .get("x-backend") for _ in range(n)}


def state(fc, name):
    for sv in fc.stat_json()["servers"]:
        if sv["name"] == name:
            return sv
    raise AssertionError(name)


with t.Fulcrum(CONF) as fc:
    with t.step("drain web/a: no new clients, persistent ones still come"):
        rc, out = ctl(fc, "drain", "web/a")
        t.check(rc == 0 and "web/a: drain (was ready)" in out, "fulcrumctl says so", out)
        seen = fresh(10)
        t.check(set(seen) == {"b"}, "10 new clients all go to b", str(seen))
        t.check(with_cookie("a") == {"a"}, "a client holding a's cookie reaches a")
        t.check(state(fc, "a")["state"] == "DRAIN", "fulcrum-stat --json: DRAIN",
                str(state(fc, "a")["state"]))
        status, _, body = t.http(port, "GET", "/stats;csv")
        row = [r for r in body.decode().splitlines() if r.startswith("web,a,")]
        t.check(row and ",DRAIN," in row[0], "stats CSV status DRAIN", str(row))
        status, _, body = t.http(port, "GET", "/stats")
        t.check(b'class="drain"' in body, "stats page shows the drain row")
        rc, out = ctl(fc, "show")
        t.check(rc == 0 and re.search(r"web/a\s+\S+\s+DRAIN", out) is not None,
                "fulcrumctl show: DRAIN", out)
        log = fc.wait_log(r"server web/a: drain \(was ready\), by fulcrumctl", 2)
        t.check(log is not None, "the checker logs the change")

    with t.step("maint web/a: no traffic at all, checks paused"):
        rc, out = ctl(fc, "maint", "web/a")
        t.check(rc == 0 and "web/a: maint (was drain)" in out, "fulcrumctl says so", out)
        t.check(with_cookie("a") == {"b"}, "a's persistent client is sent to b")
        checks = state(fc, "a")["check"]["checks"]
        time.sleep(0.6)
        sv = state(fc, "a")
        t.check(sv["state"] == "MAINT" and sv["check"]["checks"] == checks,
                "MAINT, no check for 0.6 s (interval 0.1 s)", str(sv))

    with t.step("ready web/a: back in rotation"):
        rc, out = ctl(fc, "ready", "web/a")
        t.check(rc == 0 and "web/a: ready (was maint)" in out, "fulcrumctl says so", out)
        seen = fresh(10)
        t.check(seen.count("a") == 5, "new clients alternate again", str(seen))
        t.check(state(fc, "a")["state"] == "UP", "UP")

    with t.step("weight web/b 3: 3 of every 4 new clients"):
        rc, out = ctl(fc, "weight", "web/b", "3")
        t.check(rc == 0 and "weight 3 (was 1)" in out, "fulcrumctl says so", out)
        seen = fresh(20)
        t.check(seen.count("b") == 15, "b answers 15 of 20", str(seen))
        t.check(state(fc, "b")["weight"] == 3, "fulcrum-stat: weight 3")

    with t.step("the state stays over kill -USR2"):
        ctl(fc, "drain", "web/a")
        gen = fc.reload()
        t.check(gen == 2, "generation 2 started", str(gen))
        fc.wait_settled(2)
        t.check(state(fc, "a")["state"] == "DRAIN" and state(fc, "b")["weight"] == 3,
                "a still DRAIN, b still weight 3", str(fc.stat_json()["servers"]))
        t.check(set(fresh(6)) == {"b"}, "the new workers keep a out of rotation")
        rc, out = ctl(fc, "ready", "web/a")
        t.check(rc == 0, "the new checker answers", out)

    with t.step("errors: unknown server 1, usage 2, no permission 1"):
        rc, out = ctl(fc, "drain", "web/zz")
        t.check(rc == 1 and "no server web/zz" in out, "unknown server: exit 1", out)
        rc, out = ctl(fc, "drain", "webzz")
        t.check(rc == 2 and "not BACKEND/SERVER" in out, "bad target: exit 2", out)
        rc, out = ctl(fc, "weight", "web/a", "999")
        t.check(rc == 2 and "0 to 256" in out, "bad weight: exit 2", out)
        rc, out = ctl(fc, "frobnicate", "web/a")
        t.check(rc == 2 and "unknown command" in out, "unknown command: exit 2", out)
        if os.geteuid() == 0:
            rc, out = ctl(fc, "drain", "web/a", user="nobody")
            t.check(rc == 1 and ("ermission" in out or "EACCES" in out),
                    "nobody: exit 1, permission denied", out)
            t.check(state(fc, "a")["state"] == "UP", "and nothing changed")
        else:
            t.note("not root: the permission check is skipped")

UNCHECKED = f"""
global: {{ workers = 2; }};
defaults: {{ timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{ name = "web"; bind = [ "127.0.0.1:{port}" ];
  servers = ( {{ name = "a"; address = "{a.addr}"; }},
              {{ name = "b"; address = "{b.addr}"; }} ); }} );
"""


def hammer(seen, stop):
    while not stop.is_set():
        try:
            seen.append(t.http(port, "GET", "/", timeout=5)[1].get("x-backend"))
        except OSError as e:
            seen.append(repr(e))


with t.Fulcrum(UNCHECKED, name="fulcrumctl-unchecked") as fc:
    with t.step("maint web/b without checks, over 15 reloads under requests"):
        rc, out = ctl(fc, "maint", "web/b")
        t.check(rc == 0, "fulcrumctl maint web/b", out)
        seen, stop = [], threading.Event()
        threads = [threading.Thread(target=hammer, args=(seen, stop)) for _ in range(4)]
        for th in threads:
            th.start()
        for _ in range(15):
            fc.signal(signal.SIGUSR2)
            time.sleep(0.3)
        stop.set()
        for th in threads:
            th.join(timeout=10)
        counts = {x: seen.count(x) for x in set(seen)}
        t.note(f"answered by: {counts}")
        t.check(seen and set(seen) == {"a"}, "a answers every request, b none", str(counts))

c = t.Backend("c")
RISE3 = f"""
global: {{ workers = 1; }};
defaults: {{ timeout = {{ connect = 1000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{ name = "web"; bind = [ "127.0.0.1:{port}" ];
  check = {{ request = "GET /check.txt HTTP/1.0"; interval = 1500; rise = 3; fall = 3; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; check = true; }},
              {{ name = "c"; address = "{c.addr}"; check = true; }} ); }} );
"""


def wait_for(fc, cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sv = state(fc, "c")
        if cond(sv):
            return sv
        time.sleep(0.05)
    return state(fc, "c")


with t.Fulcrum(RISE3, name="fulcrumctl-rise3") as fc:
    with t.step("maint over a DOWN server halfway to UP, a reload, ready"):
        c.stop()
        sv = wait_for(fc, lambda x: x["state"] == "DOWN", 12)
        t.check(sv["state"] == "DOWN", "c DOWN after 3 failed checks", str(sv))
        c = t.Backend("c", port=c.port)
        sv = wait_for(fc, lambda x: x["check"]["result"] == "L7OK", 6)
        rc, out = ctl(fc, "maint", "web/c")
        t.note(f"at the maint: {sv['state']}, check {sv['check']}")
        t.check(rc == 0 and sv["state"] == "DOWN" and sv["check"]["result"] == "L7OK",
                "one check passed, still DOWN: maint", out + str(sv))
        c.stop()
        t.check(fc.reload() is not None, "the reload is applied")
        fc.wait_settled(1)
        rc, out = ctl(fc, "ready", "web/c")
        sv = state(fc, "c")
        t.note(f"after ready: {sv['state']}, check {sv['check']}")
        t.check(rc == 0 and sv["state"] == "DOWN", "c is DOWN, as before the maint",
                str(sv))

t.finish()

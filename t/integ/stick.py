#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""stick: learned sessions (stick = { cookie = "PHPSESSID"; }), 4 workers.
A server sets PHPSESSID through one connection (one worker); the checker
applies it to the shared table; then every worker sends that session to
that server: 200 fresh connections, served by at least 3 workers, all land
there.  The cookie itself is never touched.  Sessions survive a worker's
crash; when their server goes DOWN they are rebalanced, and once the new
server sets the cookie again they stick to it, even after the old one is
back.  An entry unused for `expire` seconds is forgotten.
"""
import json
import os
import signal
import subprocess
import time
from http import client as httpclient

import fctest as t

N = 200
NAMES = ("webA", "webB", "webC")
STAT = os.environ.get("FULCRUM_STAT") or os.path.join(
    os.path.dirname(t.FULCRUM), "fulcrum-stat")
if not os.access(STAT, os.X_OK):
    t.skip(f"fulcrum-stat not found at {STAT} (build it first)")


def conf(port, short_port):
    rows = ",\n              ".join(
        f'{{ name = "{n}"; address = "{b.addr}"; check = true; }}'
        for n, b in backends.items())
    check = 'check = { request = "HEAD /check.txt HTTP/1.0"; interval = 100; rise = 2; fall = 2; };'
    return f"""
global: {{ workers = 4; }};
defaults: {{ timeout = {{ connect = 1000; client = 10000; server = 10000;
                          http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ]; balance = "roundrobin";
  stick = {{ cookie = "PHPSESSID"; expire = 1800; size = 1000; }};
  {check}
  servers = ( {rows} );
}}, {{
  name = "short"; bind = [ "127.0.0.1:{short_port}" ]; balance = "roundrobin";
  stick = {{ cookie = "PHPSESSID"; expire = 1; size = 100; }};
  servers = ( {rows} );
}} );
"""


def request(port, path, cookie=None):
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = conn.getresponse()
        body = r.read()
        return r.status, r.getheaders(), body, r.getheader("X-Backend")
    finally:
        conn.close()


def stat(fc):
    out = subprocess.run([STAT, "-f", fc.conf_path, "--json"], timeout=10,
                         stdout=subprocess.PIPE).stdout
    return json.loads(out)


def per_worker(fc):
    return {w["pid"]: w["requests"] for w in stat(fc)["workers"]}


def wait_sessions(fc, n, timeout=3.0):
    """Waits until the table holds at least n entries; returns the count."""
    deadline = time.monotonic() + timeout
    while True:
        got = stat(fc)["sessions"]["size"]
        if got >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def set_cookie(port, sid):
    """The server that answers sets PHPSESSID=sid: (status, headers, server)."""
    st, hdrs, body, srv = request(port, f"/setcookie?name=PHPSESSID&value={sid}")
    return st, hdrs, srv


def check_untouched(st, hdrs, srv, sid):
    t.check(st == 200 and [v for k, v in hdrs if k == "Set-Cookie"] ==
            [f"PHPSESSID={sid}; Path=/"],
            f"{srv} set PHPSESSID={sid}; fulcrum passed it untouched")


def learn(port, sid):
    """The server that answers sets PHPSESSID=sid: returns that server."""
    st, hdrs, srv = set_cookie(port, sid)
    check_untouched(st, hdrs, srv, sid)
    return srv


def learn_on(fc, port, stem, want):
    """Has `want` set a session: a new id per try, so that the servers
    answering the tries before never share it.  Returns (id, the workers
    that served the last try)."""
    for i in range(40):
        sid = f"{stem}-{i}"
        before = per_worker(fc)
        st, hdrs, srv = set_cookie(port, sid)
        if srv == want:
            after = per_worker(fc)
            check_untouched(st, hdrs, srv, sid)
            return sid, [p for p in after if after[p] > before.get(p, 0)]
    t.fail(f"{want} answers within 40 requests")


def sticks(fc, port, sid, want, n=N, min_workers=3):
    before = per_worker(fc)
    got = {}
    for i in range(n):
        st, hdrs, body, srv = request(port, f"/?i={i}", f"x=1; PHPSESSID={sid}")
        got[(st, srv)] = got.get((st, srv), 0) + 1
    t.check(got == {(200, want): n}, f"{n} fresh connections with PHPSESSID={sid}:"
            f" all 200 from {want}", f"{got}")
    after = per_worker(fc)
    used = sorted(p for p in after if after[p] > before.get(p, 0))
    t.note(f"served by {len(used)} workers: "
           + ", ".join(f"{p}: {after[p] - before.get(p, 0)}" for p in used))
    t.check(len(used) >= min_workers, f"they landed on at least {min_workers} workers",
            f"{used}")
    return used


backends = {n: t.Backend(n) for n in NAMES}
port, short_port = t.free_port(), t.free_port()
with t.Fulcrum(conf(port, short_port), name="stick") as fc:
    fc.wait_children(4)
    # The processes exist before each has written its pid into its block.
    deadline = time.monotonic() + 5
    while len([p for p in per_worker(fc) if p > 0]) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)

    with t.step("a session learned through one worker is honoured by the others"):
        x = "webB"
        sess, learner = learn_on(fc, port, "sess", x)
        tries = int(sess.rsplit("-", 1)[1]) + 1
        t.note(f"learned through worker(s) {learner}; table: "
               f"{wait_sessions(fc, tries)} entries")
        t.check(wait_sessions(fc, tries) >= tries, "the checker applied it to the table")
        time.sleep(0.3)		# the rings are applied in one batch; let it settle
        used = sticks(fc, port, sess, x)
        t.check(set(used) - set(learner), "workers other than the learner honoured it")

    with t.step("30 sessions learned on the servers that created them"):
        where = {f"s{k}": learn(port, f"s{k}") for k in range(30)}
        t.note(f"servers: { {n: list(where.values()).count(n) for n in NAMES} }")
        wait_sessions(fc, tries + 30)
        bad = []
        for sid, srv in where.items():
            for i in range(5):
                st, hdrs, body, got = request(port, "/", f"PHPSESSID={sid}")
                if (st, got) != (200, srv):
                    bad.append((sid, srv, st, got))
        t.check(not bad, "each of them, 5 times on fresh connections, went to its server",
                f"{bad[:5]}")
        st, hdrs, body, srv = request(port, "/", "PHPSESSID=unknown")
        t.check(st == 200 and srv in NAMES, "an unknown session is balanced as usual")

    with t.step("the table survives a reload (USR2)"):
        gen = fc.reload()
        t.check(gen is not None, "the reload applied", f"{gen}")
        t.check(stat(fc)["sessions"]["size"] >= tries + 30,
                "the new generation's table holds the sessions",
                f"{stat(fc)['sessions']}")
        bad = []
        for sid, srv in where.items():
            st, hdrs, body, got = request(port, "/", f"PHPSESSID={sid}")
            if (st, got) != (200, srv):
                bad.append((sid, srv, st, got))
        t.check(not bad, "each session still goes to its server", f"{bad[:5]}")

    with t.step("the table survives a worker crash"):
        victim = fc.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
                victim in fc.worker_pids() or len(fc.worker_pids()) < 4):
            time.sleep(0.05)
        fc.remember_children()
        t.check(victim not in fc.worker_pids() and len(fc.worker_pids()) == 4,
                f"worker {victim} killed and replaced")
        sticks(fc, port, sess, x, n=50, min_workers=2)

    with t.step(f"{x} goes DOWN: its sessions are rebalanced, then stick to the new"
                " server"):
        backends[x].stop()
        t.check(fc.wait_log(rf"server web/{x} is DOWN", 5.0) is not None,
                f"{x} stopped and marked DOWN")
        got = {request(port, f"/?d={i}", f"PHPSESSID={sess}")[3] for i in range(12)}
        t.check(x not in got and got <= set(NAMES), f"{sess} goes elsewhere: {sorted(got)}")
        y = learn(port, sess)
        t.check(y != x, f"{y} set PHPSESSID={sess} again")
        wait_sessions(fc, 1)
        time.sleep(0.3)		# the checker applies rings every 100 ms
        sticks(fc, port, sess, y)
        backends[x] = t.Backend(x, port=backends[x].port)
        t.check(fc.wait_log(rf"server web/{x} is UP", 5.0) is not None,
                f"{x} restarted and marked UP")
        sticks(fc, port, sess, y, n=50, min_workers=2)

    with t.step("expire = 1: an unused session is forgotten"):
        z = "webC"
        brief, _ = learn_on(fc, short_port, "brief", z)
        time.sleep(0.3)
        st, hdrs, body, srv = request(short_port, "/", f"PHPSESSID={brief}")
        t.check(srv == z, f"used at once: {z}")
        time.sleep(1.6)
        got = {request(short_port, f"/?e={i}", f"PHPSESSID={brief}")[3] for i in range(12)}
        t.check(len(got) > 1, f"1.6 s later it is balanced again: {sorted(got)}")

t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""wedged_reload: steering new connections away from a stalled worker
survives kill -USR2 (issue 20).

The master names a socket to the kernel by its place in the listener's
reuseport group, which reloads change: a reload to more workers adds
sockets at the end, one to fewer workers takes the last ones away once the
old workers have drained.  After each reload, one worker is stopped for
3 s (global.watchdog_ms is off here) while a fresh
client connects every 20 ms: every client from 0.5 s into the stall on is
answered within 1 s, and the worker takes new connections again once it
runs.  First, short pauses of half of global.stall_ms never take a worker
out.
"""
import os
import signal
import threading
import time

import fctest as t

PROBE_S = 0.02
STALL_S = 3.0
LATE_S = 0.5
ANSWER_S = 1.0

signal.alarm(120)

backend = t.Backend("b")
port = t.free_port()


def conf(workers):
    return f"""
global: {{ workers = {workers}; stall_ms = 200; watchdog_ms = 0; drain_timeout = 2000; }};
defaults: {{ timeout = {{ connect = 2000; client = 20000; server = 20000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ]; httpclose = true;
  servers = ( {{ name = "b"; address = "{backend.addr}"; }} );
}} );
"""


def probe_during(action):
    """Runs action() while a fresh client starts every PROBE_S; returns the
    (start, end, ok) of each client, in seconds from action's start."""
    done, clients, halt = [], [], threading.Event()

    def one():
        t0 = time.monotonic()
        try:
            st, h, body = t.http(port, "GET", "/?probe", timeout=10)
            ok = st == 200
        except Exception:
            ok = False
        done.append((t0, time.monotonic(), ok))

    def spawner():
        while not halt.wait(PROBE_S):
            c = threading.Thread(target=one, daemon=True)
            c.start()
            clients.append(c)

    sp = threading.Thread(target=spawner, daemon=True)
    start = time.monotonic()
    sp.start()
    action()
    halt.set()
    sp.join()
    for c in clients:
        c.join(12)
    return [(a - start, b - start, ok) for a, b, ok in done]


def worker_of_slot(fc, slot):
    pids = [p for p in fc.worker_pids() if t.title(p).startswith(f"fulcrum-w{slot} ")]
    return pids[0] if pids else None


def stall(fc, slot):
    """Stops worker slot for STALL_S under fresh clients and checks them."""
    pid = worker_of_slot(fc, slot)
    seen = len(fc.log_text())

    def pause():
        os.kill(pid, signal.SIGSTOP)
        time.sleep(STALL_S)
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.3)

    done = probe_during(pause)
    late = [r for r in done if LATE_S <= r[0] < STALL_S]
    bad = [r for r in late if not r[2] or r[1] - r[0] > ANSWER_S]
    slowest = max((r[1] - r[0] for r in late), default=0.0)
    t.note(f"stall of worker {slot} (pid {pid}): {len(done)} clients, "
           f"{len(late)} from {LATE_S} s in, {len(bad)} of them not answered "
           f"within {ANSWER_S:.0f} s, slowest {slowest:.3f} s")
    t.check(len(late) >= 20, "fresh clients kept coming", f"{len(late)}")
    t.check(not bad, f"every client from {LATE_S} s in answered within "
            f"{ANSWER_S:.0f} s", f"{len(bad)} of {len(late)}, slowest {slowest:.3f} s")
    t.check(all(r[2] for r in done), "no client fails",
            f"{sum(1 for r in done if not r[2])} failed")
    log = fc.log_text()[seen:]
    t.check(f"worker {slot} (pid {pid}) sent no heartbeat" in log,
            "the master saw the stall")
    t.check(fc.wait_log(r"worker %d \(pid %d\) beats again" % (slot, pid), 2.0),
            "and the worker coming back")


def spread(fc, n):
    """Every worker accepts some of 40 fresh connections."""
    def conns():
        return {w["slot"]: w["total_conns"] for w in fc.stat_json()["workers"]}
    c0 = conns()
    for i in range(20 * n):
        t.http(port, "GET", f"/?spread={i}")
    c1 = conns()
    t.check(len(c1) == n and all(c1[k] > c0.get(k, 0) for k in c1),
            f"each of the {n} workers takes new connections", f"{c0} -> {c1}")


with t.Fulcrum(conf(2), name="wedged_reload") as fc:
    t.check(len(fc.wait_children(2, 5.0)) == 2, "two workers")

    with t.step("pauses of 100 ms (half of stall_ms) leave the worker in"):
        pid = worker_of_slot(fc, 1)
        for i in range(5):
            os.kill(pid, signal.SIGSTOP)
            time.sleep(0.1)
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.3)
        t.check("sent no heartbeat" not in fc.log_text(),
                "no worker taken out", fc.log_text()[-400:])

    with t.step("USR2 to 3 workers: a socket joins the group; stop the new worker 2"):
        t.check(fc.reload(conf(3)) == 2, "generation 2 started")
        t.check(fc.wait_settled(3) is not None, "three workers, the old ones gone")
        spread(fc, 3)
        stall(fc, 2)
        spread(fc, 3)

    with t.step("USR2 back to 2 workers: the last socket leaves; stop worker 1"):
        t.check(fc.reload(conf(2)) == 3, "generation 3 started")
        t.check(fc.wait_settled(2) is not None, "two workers, the old ones gone")
        spread(fc, 2)
        stall(fc, 1)
        stall(fc, 0)
        spread(fc, 2)

t.finish()

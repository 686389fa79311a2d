#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""wedged: a worker that stops running must not black-hole new clients
(issue 20).

Two workers, clients opening a new connection per request.  Worker 1 is
stopped (SIGSTOP) for 5 s.  With the defaults (global.stall_ms = 200,
global.watchdog_ms = 2000):
  - every client that starts 0.5 s or more after the stall is answered
    within 1 s: the master's reuseport program sends new connections to
    worker 0 only, once worker 1 misses its heartbeat for stall_ms;
  - the watchdog kills worker 1 (SIGABRT) after watchdog_ms and says what
    it was doing; a successor takes slot 1 and the connections queued on
    its socket, which are answered, not reset;
  - after the stall both workers take new connections again.
The totals go in the notes.

WEDGED_STEERING=off runs the same with stall_ms = 0 and watchdog_ms = 0,
today's behaviour before the issue: about half of the fresh clients hang
until the worker runs again, and the test fails.
"""
import os
import signal
import threading
import time

import fctest as t

STALL_S = 5.0
CLIENTS = 6             # clients in a loop: the load
PROBE_S = 0.02          # a fresh client this often: the measure
LATE_S = 0.5            # clients starting this long after the stall ...
ANSWER_S = 1.0          # ... are answered within this
WATCHDOG_MS = 2000
STEERING = os.environ.get("WEDGED_STEERING", "on") != "off"

signal.alarm(90)

backend = t.Backend("b")
port = t.free_port()
limits = "" if STEERING else "stall_ms = 0; watchdog_ms = 0;"
conf = f"""
global: {{ workers = 2; {limits} }};
defaults: {{ timeout = {{ connect = 2000; client = 20000; server = 20000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ]; httpclose = true;
  servers = ( {{ name = "b"; address = "{backend.addr}"; }} );
}} );
"""


class Load(threading.Thread):
    """GET / on a fresh connection, again and again, recording for each
    request (start, end, ok) in monotonic seconds."""

    def __init__(self, n):
        super().__init__(daemon=True)
        self.n = n
        self.done = []
        self.why = []
        self.halt = threading.Event()

    def run(self):
        i = 0
        while not self.halt.is_set():
            t0 = time.monotonic()
            try:
                st, h, body = t.http(port, "GET", f"/?c={self.n}&i={i}",
                                     timeout=STALL_S + 3)
                ok = st == 200
                if not ok:
                    self.why.append(f"status {st}")
            except Exception as e:
                ok = False
                self.why.append(repr(e))
            self.done.append((t0, time.monotonic(), ok))
            i += 1
            time.sleep(0.005)   # a 2-core box shared with others


class Prober(threading.Thread):
    """A fresh client every PROBE_S, whatever happened to the ones before
    (the load's clients may all be stuck): each one sends GET / on a new
    connection and records (start, end, ok)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.done = []
        self.clients = []
        self.halt = threading.Event()

    def one(self):
        t0 = time.monotonic()
        try:
            st, h, body = t.http(port, "GET", "/?probe", timeout=STALL_S + 3)
            ok = st == 200
        except Exception:
            ok = False
        self.done.append((t0, time.monotonic(), ok))

    def run(self):
        while not self.halt.wait(PROBE_S):
            c = threading.Thread(target=self.one, daemon=True)
            c.start()
            self.clients.append(c)

    def stop(self):
        self.halt.set()
        self.join()
        for c in self.clients:
            c.join(STALL_S + 5)


def worker_of_slot(fc, slot):
    pids = [p for p in fc.worker_pids() if t.title(p).startswith(f"fulcrum-w{slot} ")]
    return pids[0] if pids else None


def wait_new_worker(fc, slot, old, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fc.remember_children()
        pid = worker_of_slot(fc, slot)
        if pid is not None and pid != old:
            return pid, time.monotonic()
        time.sleep(0.01)
    return None, None


with t.Fulcrum(conf, name="wedged") as fc:
    workers = fc.wait_children(2, 5.0)
    t.check(len(workers) == 2, "two workers", f"{workers}")
    victim = worker_of_slot(fc, 1)
    t.note(f"steering {'on' if STEERING else 'off (WEDGED_STEERING=off)'}; "
           f"worker 1 is pid {victim}")

    loads = [Load(n) for n in range(CLIENTS)]
    prober = Prober()
    for ld in loads + [prober]:
        ld.start()
    time.sleep(1.0)

    with t.step(f"SIGSTOP worker 1 for {STALL_S:.0f} s under new-connection load"):
        t_stop = time.monotonic()
        os.kill(victim, signal.SIGSTOP)
        successor, t_new = wait_new_worker(fc, 1, victim, STALL_S)
        rest = STALL_S - (time.monotonic() - t_stop)
        if rest > 0:
            time.sleep(rest)
        try:
            os.kill(victim, signal.SIGCONT)
        except ProcessLookupError:
            pass
        t_cont = time.monotonic()
        time.sleep(1.0)
        for ld in loads:
            ld.halt.set()
        prober.stop()
        for ld in loads:
            ld.join(STALL_S + 5)

    def phases(done):
        done = sorted(done)
        return ([r for r in done if r[0] < t_stop],
                [r for r in done if t_stop <= r[0] < t_stop + LATE_S],
                [r for r in done if t_stop + LATE_S <= r[0] < t_cont],
                [r for r in done if r[0] >= t_cont])

    before, early, late, after = phases(r for ld in loads for r in ld.done)
    p_before, p_early, p_late, p_after = phases(prober.done)
    late_bad = [r for r in p_late if not r[2] or r[1] - r[0] > ANSWER_S]
    slowest = max((r[1] - r[0] for r in p_late), default=0.0)

    def line(name, rs, span):
        fails = sum(1 for r in rs if not r[2])
        slow = sum(1 for r in rs if r[2] and r[1] - r[0] > ANSWER_S)
        rate = len(rs) / span if span > 0 else 0
        return (f"{name}: {len(rs)} requests ({rate:.0f}/s), {fails} failed, "
                f"{slow} answered after more than {ANSWER_S:.0f} s")

    for who, (b, e, l, a) in (("load", (before, early, late, after)),
                              ("fresh clients", (p_before, p_early, p_late, p_after))):
        t.note(f"{who}: " + line("before the stall", b, 1.0))
        t.note(f"{who}: " + line(f"first {LATE_S} s of the stall", e, LATE_S))
        t.note(f"{who}: " + line("rest of the stall", l, t_cont - t_stop - LATE_S))
        t.note(f"{who}: " + line("after the stall", a, 1.0))

    why = sorted(set(w for ld in loads for w in ld.why))
    if why:
        t.note(f"load failures: {why[:5]}")
    for ln in fc.log_text().splitlines():
        if "heartbeat" in ln or "beats again" in ln or "worker" in ln and "[worker" in ln:
            t.note(ln)

    with t.step(f"fresh clients from {LATE_S} s into the stall on"):
        t.check(len(p_late) >= 50, "fresh clients kept coming during the stall",
                f"{len(p_late)} clients")
        t.check(not late_bad, f"every one answered within {ANSWER_S:.0f} s",
                f"{len(late_bad)} of {len(p_late)} not: slowest {slowest:.3f} s")
        t.check(len(late) >= 100, "the load went on during the stall",
                f"{len(late)} requests")

    with t.step("the watchdog replaces the stalled worker"):
        took = None if t_new is None else t_new - t_stop
        t.note("worker 1 replaced " + ("never" if took is None else
                                        f"{took:.2f} s after SIGSTOP"))
        t.check(successor is not None, "a new worker 1 within the stall")
        t.check(took is not None and took >= WATCHDOG_MS / 1000 - 0.05,
                f"not before watchdog_ms ({WATCHDOG_MS} ms)", f"{took}")
        t.check(took is not None and took <= WATCHDOG_MS / 1000 + 1.5,
                "soon after it", f"{took}")
        t.check(not t.pid_alive(victim), "the stopped worker is gone")
        m = fc.wait_log(r"watchdog: worker 1 \(pid %d\) sent no heartbeat for "
                        r"(\d+) ms \(state T" % victim, 1.0)
        t.check(m is not None, "the log says which worker, how long, doing what")
        t.check(fc.wait_log(r"worker 1 \(pid %d\) sent no heartbeat for \d+ ms: "
                            r"new connections go to the other workers" % victim, 0.1),
                "the log says new connections were steered away")
        early_fail = [r for r in early + p_early if not r[2]]
        t.check(not early_fail,
                "connections queued on its socket are answered by the successor",
                f"{len(early_fail)} of {len(early + p_early)} failed")

    with t.step("after the stall both workers take new connections"):
        t.check(after and all(r[2] for r in after + p_after), "no request fails",
                f"{sum(1 for r in after + p_after if not r[2])} failed")

        def conns():
            return {w["slot"]: w["total_conns"] for w in fc.stat_json()["workers"]}
        c0 = conns()
        for i in range(60):
            t.http(port, "GET", f"/?after={i}")
        c1 = conns()
        t.check(all(c1[k] > c0[k] for k in c0), "each worker accepted some of 60",
                f"{c0} -> {c1}")

t.finish()

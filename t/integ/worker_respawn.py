#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""worker_respawn: a worker killed with SIGKILL is replaced within a second
and no client request fails meanwhile (but the one, if any, that was inside
the killed worker); killing the same slot 5 times in a row leaves the master
alive and respawning (with back-off).
"""
import os
import signal
import threading
import time

import fctest as t


class Load(threading.Thread):
    """Sends GET / on fresh connections back to back until stopped.

    A request that is inside a worker at the instant that worker is killed
    dies with it (the kernel resets the connections the process held); no
    proxy can save it.  Such a request is counted in .lost, not in .errors:
    what must never fail are the requests that were not inside the victim,
    in particular those queued on its listening socket while it was dead."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.ok = 0
        self.failures = []          # (start, end, text, connection error)
        self.kills = []             # instants of the kills
        self.slowest = 0.0
        self.halt = threading.Event()

    def run(self):
        i = 0
        while not self.halt.is_set():
            t0 = time.monotonic()
            try:
                st, h, body = t.http(self.port, "GET", f"/?load={i}",
                                     timeout=5)
                if st == 200 and body == b"w\n":
                    self.ok += 1
                else:
                    self.failures.append(
                        (t0, time.monotonic(),
                         f"request {i}: status {st} {body!r}", False))
            except Exception as e:
                # A timeout is never excused: nothing should wait 5 s.
                self.failures.append((t0, time.monotonic(),
                                      f"request {i}: {e!r}",
                                      not isinstance(e, TimeoutError)))
            self.slowest = max(self.slowest, time.monotonic() - t0)
            i += 1

    def kill(self, pid):
        self.kills.append(time.monotonic())
        os.kill(pid, signal.SIGKILL)

    def stop(self):
        self.halt.set()
        self.join(10)

    def _in_flight_at_kill(self, f):
        """A connection error (not a timeout, not an HTTP status) on a request
        that was under way when a worker was killed."""
        start, end, text, connection_error = f
        return connection_error and any(start <= k <= end for k in self.kills)

    @property
    def lost(self):
        return [f[2] for f in self.failures if self._in_flight_at_kill(f)]

    @property
    def errors(self):
        return [f[2] for f in self.failures if not self._in_flight_at_kill(f)]

    def report(self):
        t.note(f"client: {self.ok} ok, {len(self.errors)} errors, "
               f"{len(self.lost)} lost inside a killed worker, slowest "
               f"{self.slowest:.3f} s")
        for text in self.lost:
            t.note(f"  lost with the victim: {text}")


def new_pid(fc, before, timeout):
    """Waits for a worker pid not in `before`; returns (pid, seconds) or
    (None, seconds)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        fresh = [p for p in fc.worker_pids() if p not in before]
        if fresh and len(fc.worker_pids()) >= 2:
            fc.remember_children()
            return fresh[0], time.monotonic() - t0
        time.sleep(0.01)
    return None, time.monotonic() - t0


w = t.Backend("w")
port = t.free_port()
conf = f"""
global: {{ workers = 2; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = false;
  servers = ( {{ name = "w"; address = "{w.addr}"; weight = 1; }} );
}} );
"""

with t.Fulcrum(conf, name="respawn") as fc:
    t.step("workers = 2: the master has 2 workers")
    workers = fc.wait_children(2, 5.0)
    t.note(f"master {fc.pid}, workers {workers}")
    t.check(len(workers) == 2, "2 workers", f"{workers}")
    if len(workers) < 2:
        t.finish()

    pid = None
    # ---------------------------------------------------------------- once
    with t.step("kill -9 one worker while a client sends requests for ~3 s"):
        load = Load(port)
        load.start()
        time.sleep(1.0)
        victim = workers[0]
        before = set(workers)
        load.kill(victim)
        t_kill = time.monotonic()
        t.note(f"killed worker {victim}")
        pid, waited = new_pid(fc, before, 3.0)
        t.note(f"replacement: {pid} after {waited:.3f} s; workers now "
               f"{fc.worker_pids()}")
        t.check(pid is not None and waited <= 1.0,
                "a new worker appears within 1 s",
                f"{pid} after {waited:.3f} s")
        time.sleep(max(0.0, 2.0 - (time.monotonic() - t_kill)))
        load.stop()
        load.report()
        t.check(load.ok > 20, "the client kept being served (> 20 requests)",
                f"{load.ok}")
        t.check(not load.errors, "0 client errors (besides a request inside "
                "the victim)", "\n".join(load.errors[:10]))
        t.check(len(load.lost) <= 1, "at most the 1 request inside the victim "
                "is lost", "\n".join(load.lost))
        m = fc.wait_log(rf"(?<!\d){victim}(?!\d)", 2.0)
        t.check(m is not None,
                f"the log mentions the dead worker's pid {victim}",
                fc.log_text()[-3000:])
        for line in fc.log_text().splitlines():
            if m and str(victim) in line:
                t.note(f"log: {line}")

    # ---------------------------------------------------------------- 5x
    with t.step("kill -9 the same slot 5 times in a row"):
        load = Load(port)
        load.start()
        t0 = time.monotonic()
        current = pid
        delays = []
        for k in range(5):
            if current is None:
                break
            before = set(fc.worker_pids())
            load.kill(current)
            current, waited = new_pid(fc, before, 10.0)
            delays.append(round(waited, 3))
            t.note(f"kill {k + 1}: replacement {current} after {waited:.3f} s")
        total = time.monotonic() - t0
        time.sleep(0.5)
        load.stop()
        t.note(f"respawn delays {delays}, {total:.2f} s in all")
        load.report()
        t.check(current is not None and len(delays) == 5,
                "every kill was followed by a respawn", f"{delays}")
        t.check(total <= 12.0, "5 respawns took at most ~10 s",
                f"{total:.2f} s")
        t.check(fc.alive(), "the master is alive")
        t.check(len(fc.worker_pids()) == 2, "2 workers again",
                f"{fc.worker_pids()}")
        t.check(not load.errors, "0 client errors during the kills (besides "
                "requests inside a victim)", "\n".join(load.errors[:10]))
        t.check(len(load.lost) <= len(load.kills),
                "at most 1 request lost per kill", "\n".join(load.lost))
        st, h, body = t.http(port, "GET", "/", timeout=5)
        t.check(st == 200, "a request afterwards answers 200", f"{st}")

t.finish()

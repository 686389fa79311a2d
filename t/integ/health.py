#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""health: the checker process and what workers do with its verdicts.

A killed backend is marked DOWN within interval x fall plus one interval and
gets no request from then on; restarted, it is UP again after `rise` checks.
The checker killed with SIGKILL is respawned within a second, traffic does
not notice, and the new checker carries on from the state in shared memory
(no server flaps).  A check fails on an unexpected status (expect_status, a
503) or a refused TCP connect, and says why in the log.  A server whose
check fails receives no request even though it would answer one, and with
every server DOWN the client gets a 503 at once.
"""
import os
import re
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fctest as t

INTERVAL = 0.3          # check.interval below, in seconds
RISE, FALL = 2, 3
MARGIN = 0.3            # scheduling, log polling, a loaded CI machine


def web_conf(port, a, b):
    return f"""
global: {{ workers = 2; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 1000; client = 10000; server = 10000;
              http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = false;
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = {int(INTERVAL * 1000)};
            rise = {RISE}; fall = {FALL}; }};
  servers = ( {{ name = "a"; address = "{a}"; check = true; }},
              {{ name = "b"; address = "{b}"; check = true; }} );
}} );
"""


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def checker_pid(fc):
    """The master's checker (fulcrum-c0), or None."""
    fc.remember_children()
    kids = fc.checker_pids()
    return kids[0] if kids else None


def respawned_checker(fc, victim, timeout=3.0):
    """Waits for a checker other than victim: (pid or None, seconds)."""
    t0 = time.monotonic()
    while True:
        fresh = checker_pid(fc)
        waited = time.monotonic() - t0
        if (fresh is not None and fresh != victim) or waited >= timeout:
            return (fresh if fresh != victim else None), waited
        time.sleep(0.01)


def wait_log_after(fc, offset, regex, timeout):
    """Polls the log written after `offset` for regex every 10 ms.
    Returns (match, seconds waited); match is None on timeout."""
    t0 = time.monotonic()
    while True:
        m = re.search(regex, fc.log_text()[offset:])
        waited = time.monotonic() - t0
        if m or waited >= timeout:
            return m, waited
        time.sleep(0.01)


def transitions(text):
    return re.findall(r"server \S+ is (?:UP|DOWN):.*", text)


def send(port, n, tag):
    """n requests on fresh connections: (statuses, backends, errors)."""
    statuses, backends, errors = [], [], []
    for i in range(n):
        try:
            st, h, body = t.http(port, "GET", f"/?{tag}={i}", timeout=5)
            statuses.append(st)
            backends.append(h.get("x-backend"))
        except Exception as e:
            errors.append(f"request {i}: {e!r}")
    return statuses, backends, errors


class Load(threading.Thread):
    """GET / on fresh connections, back to back, until stopped."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.ok = 0
        self.errors = []
        self.backends = set()
        self.halt = threading.Event()

    def run(self):
        i = 0
        while not self.halt.is_set():
            try:
                st, h, body = t.http(self.port, "GET", f"/?load={i}", timeout=5)
                if st == 200:
                    self.ok += 1
                    self.backends.add(h.get("x-backend"))
                else:
                    self.errors.append(f"request {i}: status {st} {body[:60]!r}")
            except Exception as e:
                self.errors.append(f"request {i}: {e!r}")
            i += 1

    def stop(self):
        self.halt.set()
        self.join(10)


# ================================================= kill, restart, respawn
a = t.Backend("a")
b = t.Backend("b")
port = t.free_port()
t.note(f"backends a on {a.addr}, b on {b.addr}; interval {INTERVAL} s, "
       f"rise {RISE}, fall {FALL}")

with t.Fulcrum(web_conf(port, a.addr, b.addr), name="health") as fc:
    with t.step("workers = 2: two workers and one checker"):
        fc.wait_children(2, 5.0)
        kids = fc.children()
        names = sorted(comm(k) for k in kids)
        t.note(f"children {kids}: {names}")
        t.check(names == ["fulcrum-c0", "fulcrum-w0", "fulcrum-w1"],
                "children are fulcrum-c0, fulcrum-w0, fulcrum-w1", f"{names}")

    with t.step("both backends fine: no transition, both get requests"):
        time.sleep(3 * INTERVAL)
        t.check(not transitions(fc.log_text()),
                "no UP/DOWN line while both answer their checks",
                "\n".join(transitions(fc.log_text())))
        statuses, backends, errors = send(port, 20, "warm")
        t.check(not errors and all(s == 200 for s in statuses),
                "20 requests answered 200", f"{statuses} {errors}")
        t.check(set(backends) == {"a", "b"}, "both a and b served some",
                f"{backends}")

    with t.step("kill -9 backend b: DOWN within interval x fall + interval"):
        bound = INTERVAL * FALL + INTERVAL
        offset = len(fc.log_text())
        os.kill(b.pid, signal.SIGKILL)
        b.proc.wait()
        m, took = wait_log_after(
            fc, offset, r"server web/b is DOWN: (.*), (\d+)/(\d+) failed",
            bound + MARGIN + 2.0)
        t.note(f"detected after {took:.3f} s (bound {bound:.1f} s + "
               f"{MARGIN} s margin)")
        t.check(m is not None, "the log says: server web/b is DOWN",
                fc.log_text()[offset:])
        if m:
            t.note(f"log: {m.group(0)}")
            t.check(took <= bound + MARGIN,
                    f"within {bound:.1f} s + {MARGIN} s", f"{took:.3f} s")
            t.check(m.group(1) == "connection refused",
                    "the reason is \"connection refused\"", m.group(1))
            t.check(m.group(2) == m.group(3) == str(FALL),
                    f"after {FALL}/{FALL} failed checks", m.group(0))
        statuses, backends, errors = send(port, 40, "down")
        t.check(not errors, "40 requests, 0 errors", "\n".join(errors))
        t.check(all(s == 200 for s in statuses), "all 40 answered 200",
                f"{statuses}")
        t.check(backends == ["a"] * 40, "all 40 served by a, none by b",
                f"{backends}")

    with t.step("restart b on the same port: UP after rise checks"):
        bound = INTERVAL * RISE + INTERVAL
        offset = len(fc.log_text())
        b = t.Backend("b", port=b.port)
        m, took = wait_log_after(
            fc, offset, r"server web/b is UP: (.*), (\d+)/(\d+) succeeded",
            bound + MARGIN + 2.0)
        t.note(f"UP after {took:.3f} s (bound {bound:.1f} s + {MARGIN} s "
               "margin)")
        t.check(m is not None, "the log says: server web/b is UP",
                fc.log_text()[offset:])
        if m:
            t.note(f"log: {m.group(0)}")
            t.check(took <= bound + MARGIN,
                    f"within {bound:.1f} s + {MARGIN} s", f"{took:.3f} s")
            t.check(re.fullmatch(r"HTTP 200 in \d+ ms", m.group(1)) is not None,
                    "the reason is \"HTTP 200 in N ms\"", m.group(1))
            t.check(m.group(2) == m.group(3) == str(RISE),
                    f"after {RISE}/{RISE} good checks", m.group(0))
        statuses, backends, errors = send(port, 20, "back")
        t.check(not errors and all(s == 200 for s in statuses),
                "20 requests answered 200", f"{statuses} {errors}")
        t.check("b" in backends, "b serves requests again", f"{backends}")

    with t.step("kill -9 the checker under load: respawned, nothing flaps"):
        load = Load(port)
        load.start()
        time.sleep(0.5)
        victim = checker_pid(fc)
        t.check(victim is not None, "the checker (fulcrum-c0) is found",
                f"{[(k, comm(k)) for k in fc.children()]}")
        offset = len(fc.log_text())
        os.kill(victim, signal.SIGKILL)
        fresh, respawn = respawned_checker(fc, victim)
        t.note(f"checker {victim} killed; new checker {fresh} after "
               f"{respawn:.3f} s")
        t.check(fresh is not None and respawn <= 1.0,
                "a new checker appears within 1 s", f"{fresh} {respawn:.3f} s")
        time.sleep(5 * INTERVAL)        # several rounds of checks
        load.stop()
        t.note(f"client: {load.ok} ok, {len(load.errors)} errors, backends "
               f"{sorted(load.backends)}")
        t.check(load.ok > 20, "the client kept being served (> 20 requests)",
                f"{load.ok}")
        t.check(not load.errors, "0 client errors", "\n".join(load.errors[:10]))
        t.check(load.backends == {"a", "b"}, "both a and b kept serving",
                f"{load.backends}")
        after = fc.log_text()[offset:]
        t.check(not transitions(after), "no UP/DOWN line after the respawn",
                "\n".join(transitions(after)))
        t.check(re.search(rf"(?<!\d){victim}(?!\d)", after) is not None,
                f"the master logs the checker's death (pid {victim})", after)

    with t.step("b DOWN, then kill -9 the checker: b stays DOWN, not re-learnt"):
        offset = len(fc.log_text())
        os.kill(b.pid, signal.SIGKILL)
        b.proc.wait()
        m, took = wait_log_after(fc, offset, r"server web/b is DOWN",
                                 INTERVAL * (FALL + 1) + MARGIN + 2.0)
        t.check(m is not None, "b goes DOWN again", fc.log_text()[offset:])
        victim = checker_pid(fc)
        offset = len(fc.log_text())
        os.kill(victim, signal.SIGKILL)
        fresh, respawn = respawned_checker(fc, victim)
        t.check(fresh is not None, "a new checker appears",
                f"after {respawn:.3f} s")
        time.sleep((FALL + 2) * INTERVAL)   # a reset checker would re-fall
        after = fc.log_text()[offset:]
        t.note(f"new checker {fresh}; log since the kill:\n" + after.rstrip())
        t.check(not transitions(after),
                "the new checker logs no transition for b (it kept DOWN)",
                "\n".join(transitions(after)))
        statuses, backends, errors = send(port, 20, "stillb")
        t.check(not errors and backends == ["a"] * 20,
                "20 requests, all served by a", f"{backends} {errors}")
    t.note("log:\n" + fc.log_text().rstrip())


# ========================================== checks that fail and say why

class Sick(BaseHTTPRequestHandler):
    """Answers every request 200 "sick" but its health check (503)."""

    def answer(self, body):
        if self.path.startswith("/check.txt"):
            self.server.checks += 1
            status = 503
        else:
            self.server.hits += 1
            status = 200
        self.send_response(status)
        self.send_header("X-Backend", "sick")
        self.send_header("Content-Length", "5")
        self.end_headers()
        if body:
            self.wfile.write(b"sick\n")

    def do_GET(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)

    def log_message(self, fmt, *args):
        pass


sick = ThreadingHTTPServer(("127.0.0.1", 0), Sick)
sick.daemon_threads = True
sick.hits = sick.checks = 0
threading.Thread(target=sick.serve_forever, daemon=True).start()
sick_addr = f"127.0.0.1:{sick.server_address[1]}"
c = t.Backend("c")
dead = f"127.0.0.1:{t.free_port()}"         # nothing listens there
ports = [t.free_port() for _ in range(3)]
t.note(f"sick (checks 503, requests 200) on {sick_addr}; a on {a.addr}, "
       f"c on {c.addr}; nothing on {dead}")

conf = f"""
global: {{ workers = 2; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 1000; client = 10000; server = 10000;
              http_request = 5000; }}; }};
listeners = ( {{
  name = "half"; bind = [ "127.0.0.1:{ports[0]}" ];
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = 200; fall = 2; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; check = true; }},
              {{ name = "sick"; address = "{sick_addr}"; check = true; }} );
}}, {{
  name = "expect"; bind = [ "127.0.0.1:{ports[1]}" ];
  check = {{ request = "GET /check.txt HTTP/1.1"; expect_status = 204;
            interval = 200; fall = 2; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; check = true; }},
              {{ name = "c"; address = "{c.addr}"; check = true; }} );
}}, {{
  name = "tcp"; bind = [ "127.0.0.1:{ports[2]}" ];
  check = {{ interval = 200; fall = 2; }};
  servers = ( {{ name = "live"; address = "{c.addr}"; check = true; }},
              {{ name = "gone"; address = "{dead}"; check = true; }} );
}} );
"""

with t.Fulcrum(conf, name="checks") as fc:
    with t.step("HTTP check answered 503 while requests are answered 200"):
        m = fc.wait_log(r"server half/sick is DOWN: (.*), 2/2 failed", 3.0)
        t.check(m is not None, "server half/sick is DOWN after 2/2 failed",
                fc.log_text())
        if m:
            t.note(f"log: {m.group(0)}")
            t.check(re.fullmatch(r"HTTP 503 in \d+ ms", m.group(1)) is not None,
                    "the reason is \"HTTP 503 in N ms\"", m.group(1))
        hits = sick.hits
        statuses, backends, errors = send(ports[0], 40, "half")
        t.check(not errors and statuses == [200] * 40,
                "40 requests answered 200", f"{statuses} {errors}")
        t.check(backends == ["a"] * 40, "all 40 served by a", f"{backends}")
        t.check(sick.hits == hits,
                "the DOWN server received none of them (it would have "
                "answered)", f"{sick.hits - hits} requests reached it")
        t.note(f"sick answered {sick.checks} checks, {sick.hits} requests")

    with t.step("expect_status = 204, servers answer 200: DOWN with the status"):
        for name in ("a", "c"):
            m = fc.wait_log(rf"server expect/{name} is DOWN: (.*), 2/2 failed",
                            3.0)
            t.check(m is not None, f"server expect/{name} is DOWN",
                    fc.log_text())
            if m:
                t.note(f"log: {m.group(0)}")
                t.check(re.fullmatch(r"HTTP 200 in \d+ ms, expected 204",
                                     m.group(1)) is not None,
                        "the reason is \"HTTP 200 in N ms, expected 204\"",
                        m.group(1))

    with t.step("every server DOWN (but alive): 503 at once"):
        for i in range(3):
            t0 = time.monotonic()
            st, h, body = t.http(ports[1], "GET", f"/?alldown={i}", timeout=5)
            took = time.monotonic() - t0
            t.note(f"status {st} after {took * 1000:.1f} ms: {body[:80]!r}")
            t.check(st == 503, "answered 503", f"{st} {h.get('x-backend')}")
            t.check(re.search(rb"no server", body, re.I) is not None,
                    "the body says no server is available", f"{body!r}")
            t.check(took < 0.2, "in under 200 ms", f"{took:.3f} s")

    with t.step("TCP check: refused port DOWN, listening port stays UP"):
        m = fc.wait_log(r"server tcp/gone is DOWN: (.*), 2/2 failed", 3.0)
        t.check(m is not None, "server tcp/gone is DOWN", fc.log_text())
        if m:
            t.note(f"log: {m.group(0)}")
            t.check(m.group(1) == "connection refused",
                    "the reason is \"connection refused\"", m.group(1))
        t.check(re.search(r"server tcp/live is", fc.log_text()) is None,
                "server tcp/live never changed state",
                "\n".join(transitions(fc.log_text())))
        statuses, backends, errors = send(ports[2], 10, "tcp")
        t.check(not errors and backends == ["c"] * 10,
                "10 requests served by live (c)", f"{backends} {errors}")
    t.note("log:\n" + fc.log_text().rstrip())

sick.shutdown()
t.finish()

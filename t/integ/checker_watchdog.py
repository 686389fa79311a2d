#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""checker_watchdog: a checker that stops beating (SIGSTOP here; a blocking
call in real life) would freeze every server's health.  The master kills it
after 5 s without a heartbeat and starts a new one, which goes on checking:
a server killed meanwhile is then marked DOWN.
"""
import os
import signal
import time

import fctest as t

a = t.Backend("a")
b = t.Backend("b")
port = t.free_port()
conf = f"""
global: {{ workers = 1; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = 200; rise = 2; fall = 2; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; check = true; }},
              {{ name = "b"; address = "{b.addr}"; check = true; }} );
}} );
"""

with t.Fulcrum(conf, name="watchdog") as fc:
    fc.wait_children(1, 5.0)
    old = fc.checker_pids()
    t.check(len(old) == 1, "one checker", f"{old}")

    with t.step("SIGSTOP the checker, then kill backend b"):
        t0 = time.monotonic()
        fc.remember_children()
        os.kill(old[0], signal.SIGSTOP)
        b.stop()
        new = []
        while time.monotonic() - t0 < 10 and not new:
            new = [p for p in fc.checker_pids() if p not in old]
            time.sleep(0.05)
        took = time.monotonic() - t0
        t.note(f"new checker {new} after {took:.2f} s")
        t.check(bool(new), "a new checker replaces the stopped one within 10 s")
        t.check(took >= 4.5, "not before 5 s without a heartbeat", f"{took:.2f} s")
        t.check("sent no heartbeat" in fc.log_text(),
                "the master says why it killed the checker")

    with t.step("the new checker goes on checking"):
        ok = fc.wait_log(r"server web/b is DOWN", timeout=3.0)
        t.check(ok, "b is marked DOWN by the new checker")
        st, h, body = t.http(port, "GET", "/")
        t.check(st == 200 and h.get("x-backend") == "a", "requests go to a",
                f"{st} {h.get('x-backend')}")

t.finish()

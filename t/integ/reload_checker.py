#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""reload_checker: while a reload's old generation drains, only the new
generation's checker probes the servers (issue 18.6).  The old checker
stays up for its draining workers but stops probing and follows the new
one's verdicts.  Measured at the server: the probes it receives in 2 s
during the drain are those of one checker (interval 100 ms), not two.
"""
import threading
import time

import fctest as t

a = t.Backend("a", record=True)
port = t.free_port()
INTERVAL = 100
WINDOW = 2.0


def conf(maxconn):
    return f"""
global: {{ workers = 1; drain_timeout = 10000; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ]; maxconn = {maxconn};
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = {INTERVAL}; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; check = true; }} );
}} );
"""


def probes_in(window):
    mark = a.rec.mark()
    time.sleep(window)
    return a.rec.received(mark, settle=0.05).count(b"/check.txt")


fc = t.Fulcrum(conf(100))
time.sleep(0.5)
with t.step("one generation: the probes of one checker"):
    before = probes_in(WINDOW)
    t.note(f"{before} probes in {WINDOW} s at interval {INTERVAL} ms")
    t.check(before >= WINDOW * 1000 / INTERVAL * 0.5, "the checker probes", before)

slow = {}


def slow_request():
    slow["r"] = t.http(port, "GET", "/delay?ms=6000", timeout=20)


th = threading.Thread(target=slow_request)
th.start()
time.sleep(0.3)                 # in flight on the old worker

with t.step("during the drain: still the probes of one checker"):
    gen = fc.reload(conf(101))
    t.check(gen is not None, "the reload is accepted")
    t.check(len(fc.checker_pids()) == 2, "the old checker is still up for the drain",
            fc.checker_pids())
    time.sleep(0.3)
    during = probes_in(WINDOW)
    t.note(f"{during} probes in {WINDOW} s during the drain (before: {before})")
    t.check(during <= before * 1.4 + 2, "no more than one checker's share", (before, during))
    t.check(during >= before * 0.5, "and the new checker probes", (before, during))
    t.check(fc.wait_log(r"generation \d+ checks the servers now: following its verdicts"),
            "the old checker says it follows the new one")
    t.check(len(fc.checker_pids()) == 2, "the old checker still runs", fc.checker_pids())

th.join(20)
with t.step("the draining request completes"):
    st = slow.get("r", (None,))[0]
    t.check(st == 200, "the slow request got its 200", st)

t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""busy_poll: global.busy_poll_us keeps a worker polling instead of sleeping
for that long after its last event.  Under a steady stream of requests the
worker with busy_poll_us = 5000 (5 ms) hardly ever sleeps (voluntary context
switches, from /proc, far fewer than requests), where the same worker without
it sleeps about once per request or more; both answer every request.  Once
the requests stop, the polling worker goes back to sleep: over 2 idle
seconds it uses next to no CPU.
"""
import os
import time

import fctest as t

N = 400
CLK = os.sysconf("SC_CLK_TCK")


def conf(port, backend, busy):
    return f"""
global: {{ workers = 1; busy_poll_us = {busy}; }};
defaults: {{ timeout = {{ connect = 2000; client = 10000; server = 10000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  servers = ( {{ name = "k"; address = "{backend.addr}"; }} );
}} );
"""


def switches(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def run(fc):
    """N requests over one keep-alive connection: (statuses, worker sleeps)."""
    worker = fc.wait_children(1)[0]
    c = t.Client(port)
    c.request("GET", "/warm")
    before = switches(worker)
    statuses = [c.request("GET", f"/?n={i}")[0] for i in range(N)]
    slept = switches(worker) - before
    c.close()
    return worker, statuses, slept


k = t.Backend("k")
port = t.free_port()

with t.step(f"busy_poll_us = 0 (the default): {N} requests"):
    with t.Fulcrum(conf(port, k, 0), name="sleepy") as fc:
        _, statuses, plain = run(fc)
    t.check(statuses == [200] * N, f"all {N} answered 200")
    t.note(f"the worker slept {plain} times ({plain / N:.2f} per request)")
    t.check(plain >= N // 2, "without polling it sleeps at least every other request",
            f"{plain}")

with t.step(f"busy_poll_us = 5000: {N} requests, then 2 idle seconds"):
    with t.Fulcrum(conf(port, k, 5000), name="busy") as fc:
        worker, statuses, busy = run(fc)
        t.check(statuses == [200] * N, f"all {N} answered 200")
        t.note(f"the worker slept {busy} times ({busy / N:.2f} per request)")
        t.check(busy < N // 10, "with polling it sleeps for fewer than 1 request in 10",
                f"{busy} (without: {plain})")
        time.sleep(0.3)
        cpu0, sw0 = cpu_seconds(worker), switches(worker)
        time.sleep(2.0)
        used, sw = cpu_seconds(worker) - cpu0, switches(worker) - sw0
        t.note(f"idle for 2 s: {used:.2f} s of CPU, {sw} sleeps")
        t.check(used < 0.3, "idle, it stops polling (under 0.3 s of CPU in 2 s)",
                f"{used:.2f} s")

t.finish()

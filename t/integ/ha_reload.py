#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_reload: a reload (USR2) on the master node does not move the VIP.

  - a reload that leaves the ha section alone keeps the same ha process: it
    is handed the new generation's segment, stays MASTER all along (sampled
    every 20 ms), the backup never takes over, the VIP never leaves, and
    once the old workers are gone it tracks the new ones (still MASTER);
  - a broken file changes nothing;
  - a reload that changes the ha section (priority) restarts the ha process
    with the new priority, and the node is MASTER again afterwards.
"""
import time

import fctest as t
import halab as h
from halab import VIP


def watch_master(lab, fc, seconds):
    """Samples fc's state and the VIP's place for `seconds`; returns the
    samples where fc was not MASTER or did not hold the VIP."""
    bad = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        st = h.state(fc)
        if st != "MASTER" or VIP not in lab.addrs("lb1"):
            bad.append(f"{time.monotonic() - end + seconds:.2f}s: {st}")
        time.sleep(0.02)
    return bad


lab = h.lab_up()
try:
    with t.step("lb1 (priority 200) MASTER, lb2 (150) BACKUP"):
        lb2 = h.start(lab, "lb2", h.conf(150))
        lb1 = h.start(lab, "lb1", h.conf(200))
        t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                "lb1 MASTER, lb2 BACKUP", lb1.log_text())
        ha_pid = lb1.ha_pids()

    with t.step("reload with the same ha section: no flap"):
        takeovers = lb2.log_text().count("-> MASTER")
        gen = lb1.reload(h.conf(200, workers=3))
        t.check(gen == 2, "generation 2 started", f"{gen}")
        bad = watch_master(lab, lb1, 2.0)
        t.check(not bad, "lb1 stayed MASTER with the VIP for 2 s after the reload",
                "\n".join(bad[:10]))
        t.check(lb2.log_text().count("-> MASTER") == takeovers,
                "lb2 never took over", lb2.log_text()[-800:])
        t.check(lb1.ha_pids() == ha_pid, "the same ha process carries on",
                f"{ha_pid} -> {lb1.ha_pids()}")
        t.check("following generation 2" in lb1.log_text(),
                "it follows the new generation's segment", lb1.log_text()[-1500:])
        t.check(h.ha(lb1).get("state") == "MASTER",
                "fulcrum-stat (new segment) shows MASTER", str(h.ha(lb1)))
        t.check(not h.all_answer(lab, 10), "the VIP answers")

    with t.step("a broken file: nothing moves"):
        gen = lb1.reload(h.conf(200, workers=3).replace("vrid = 51", "vrid = 512"))
        t.check(gen is None, "the reload is refused")
        t.check(not watch_master(lab, lb1, 0.5), "lb1 is still MASTER with the VIP")

    with t.step("reload with a new priority: the ha process restarts"):
        gen = lb1.reload(h.conf(220, workers=3))
        t.check(gen is not None, "the reload applied", f"{gen}")
        t.check(h.wait(lambda: lb1.ha_pids() and lb1.ha_pids() != ha_pid, 5),
                "a new ha process runs", f"{ha_pid} -> {lb1.ha_pids()}")
        t.check("the ha section changed" in lb1.log_text(), "the master says why")
        t.check(h.wait(lambda: h.ha(lb1).get("priority") == 220 and
                       h.state(lb1) == "MASTER", 5),
                "lb1 is MASTER again, with priority 220", str(h.ha(lb1)))
        t.check(h.wait(lambda: VIP in lab.addrs("lb1") and
                       VIP not in lab.addrs("lb2"), 3), "the VIP is on lb1 only")
        t.check(not h.all_answer(lab, 10), "the VIP answers")
    lb1.stop()
    lb2.stop()
finally:
    lab.teardown()
t.finish()

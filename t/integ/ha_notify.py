#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_notify: `notify` runs on every transition as "SCRIPT STATE VRID
PRIORITY", without blocking the ha loop (the script here sleeps 2 s after
writing its line, yet adverts go on: lb2 never takes over), and finished
scripts are reaped.
"""
import os
import signal
import time

import fctest as t
import halab as h

lab = h.lab_up()
d = t.tmpdir("fctest-notify-")
out = os.path.join(d, "transitions")
script = os.path.join(d, "notify.sh")
with open(script, "w") as f:
    f.write(f"#!/bin/sh\necho \"$@\" >> {out}\nsleep 2\n")
os.chmod(script, 0o755)


def lines():
    try:
        with open(out) as f:
            return f.read().splitlines()
    except OSError:
        return []


try:
    with t.step("lb1 alone: BACKUP then MASTER, each reported"):
        lb1 = h.start(lab, "lb1", h.conf(200, extra=f'notify = "{script}";'))
        t.check(h.wait_state(lb1, "MASTER", 5), "lb1 becomes MASTER")
        t.check(h.wait(lambda: lines() == ["BACKUP 51 200", "MASTER 51 200"], 2),
                "the script ran for BACKUP, then MASTER", str(lines()))

    with t.step("the sleeping scripts do not stop the adverts"):
        lb2 = h.start(lab, "lb2", h.conf(150))
        t.check(h.wait_state(lb2, "BACKUP", 3), "lb2 is BACKUP")
        time.sleep(1.0)
        t.check(h.state(lb1) == "MASTER" and h.state(lb2) == "BACKUP",
                "lb1 stays MASTER while its notify scripts sleep", lb2.log_text())

    with t.step("FAULT and back"):
        workers = lb1.worker_pids()
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        t.check(h.wait_state(lb1, "FAULT", 3), "lb1 goes FAULT")
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
        t.check(h.wait_state(lb1, "MASTER", 3), "and MASTER again")
        t.check(h.wait(lambda: lines()[2:] == ["FAULT 51 200", "BACKUP 51 200",
                                                "MASTER 51 200"], 2),
                "each transition ran the script", str(lines()))

    with t.step("finished scripts are reaped"):
        time.sleep(2.5)
        ha_pid = lb1.ha_pids()[0]
        zombies = [k for k in os.listdir("/proc") if k.isdigit() and
                   (t._proc_stat(int(k)) or ("", 0))[1] == ha_pid and
                   (t._proc_stat(int(k)) or ("", 0))[0] == "Z"]
        t.check(not zombies, "no zombie left under the ha process", str(zombies))
    lb1.stop()
    lb2.stop()
finally:
    lab.teardown()
t.finish()

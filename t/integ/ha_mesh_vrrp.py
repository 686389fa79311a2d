#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_mesh_vrrp: a VRRP router of three nodes with a full mesh of sync
channels (issue 21.2), in the netns lab (halab.py plus lb3 192.0.2.13),
unicast adverts every 100 ms, priorities 250 (lb1), 200 (lb2), 50 (lb3).

With two backups, the channel's death notice is no longer "take over at
once": both would.  It counts as the master's priority-0 advert instead
(RFC 5798 6.4.2): each backup waits its skew time, lb2's (22 ms) before
lb3's (80 ms), and lb2's first advert keeps lb3 BACKUP.

  - lb1 MASTER, lb2 and lb3 BACKUP; every node lists two peers up, and
    the backups hear from the channel that lb1 is MASTER;
  - kill -9 of lb1: lb2 becomes MASTER on the channel's notice (its log
    says so; without the channel it would take the master down interval,
    341 ms, and say "no advert"), lb3 ends BACKUP, the VIP answers;
  - lb1 back: it preempts, every channel is up again.

Needs root (network namespaces): skipped otherwise.
"""
import time

import fctest as t
import halab as h

KEY = "lab-mesh-key-0123456789"
NODES = {"lb1": "192.0.2.11", "lb2": "192.0.2.12", "lb3": "192.0.2.13"}
PRIO = {"lb1": 250, "lb2": 200, "lb3": 50}
HOSTS = dict(h.HOSTS, lb3="192.0.2.13/24")


def conf(node):
    peers = ", ".join(f'"{a}"' for n, a in NODES.items() if n != node)
    return h.conf(PRIO[node], extra=f"""peers = [ {peers} ]; auth_key = "{KEY}";
  sync = {{ port = 7781; interval_ms = 10; }};""")


def all_up(fc):
    got = h.ha(fc).get("peers", [])
    return len(got) == 2 and all(p.get("channel") == "up" for p in got)


def said(fc, node):
    """The state node last said over its channel to fc."""
    for p in h.ha(fc).get("peers", []):
        if p.get("address") == NODES[node]:
            return p.get("state")
    return None


lab = h.lab_of(HOSTS)
try:
    with t.step("lb1 MASTER, lb2 and lb3 BACKUP, three channels up"):
        fc = {n: h.start(lab, n, conf(n)) for n in NODES}
        t.check(h.wait_state(fc["lb1"], "MASTER", 5), "lb1 is MASTER", fc["lb1"].log_text())
        for n in ("lb2", "lb3"):
            t.check(h.wait_state(fc[n], "BACKUP", 3), f"{n} is BACKUP")
        for n, f in fc.items():
            t.check(h.wait(lambda: all_up(f), 10, 0.05), f"{n} lists two peers up",
                    str(h.ha(f).get("peers")) + f.log_text()[-1500:])
        for n in ("lb2", "lb3"):
            t.check(h.wait(lambda: said(fc[n], "lb1") == "MASTER", 3),
                    f"{n} heard from the channel that lb1 is MASTER", h.ha(fc[n]))

    with t.step("kill -9 of lb1: lb2 takes over on the channel's notice, lb3 stays"):
        t0 = time.monotonic()
        h.kill_node(fc["lb1"])
        t.check(h.wait_state(fc["lb2"], "MASTER", 3), "lb2 is MASTER")
        took = time.monotonic() - t0
        line = [ln for ln in fc["lb2"].log_text().splitlines() if "-> MASTER" in ln]
        t.check(line and "sync channel" in line[-1],
                "lb2's takeover came from the sync channel, not the missed adverts",
                "\n".join(line))
        t.check(h.wait_state(fc["lb3"], "BACKUP", 3) and h.state(fc["lb2"]) == "MASTER",
                "lb3 ends BACKUP under lb2", fc["lb3"].log_text()[-1500:])
        flips = fc["lb3"].log_text().count("-> MASTER")
        t.note(f"lb2 MASTER {took * 1000:.0f} ms after the kill (as seen by polling"
               f" fulcrum-stat); lb3 was MASTER {flips} time(s) meanwhile")
        t.check(not h.all_answer(lab, 10), "the VIP answers through lb2")

    with t.step("lb1 back: it preempts, every channel up again"):
        fc["lb1"] = h.start(lab, "lb1", conf("lb1"), name="lb1b")
        t.check(h.wait_state(fc["lb1"], "MASTER", 5) and
                h.wait_state(fc["lb2"], "BACKUP", 3), "lb1 preempts")
        for n, f in fc.items():
            t.check(h.wait(lambda: all_up(f), 10, 0.05), f"{n} lists two peers up",
                    str(h.ha(f).get("peers")))
    for f in fc.values():
        f.stop()
finally:
    lab.teardown()
t.finish()

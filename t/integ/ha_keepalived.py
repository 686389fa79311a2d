#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_keepalived: fulcrum's VRRPv3 interoperates with keepalived (Debian's
package, vrrp_version 3, advert_int 0.1, the same VRID 51).  keepalived runs
on lb2 beside a fulcrum without an ha section that serves the VIP there.

  - fulcrum on lb1 (priority 200) preempts keepalived's mastership, and
    keepalived gives the VIP up;
  - kill -9 of fulcrum on lb1: keepalived takes over, the VIP answers;
  - fulcrum back with priority 100 is BACKUP behind keepalived (150), and
    shows it as its peer;
  - kill -9 of keepalived: fulcrum takes over, the VIP answers from lb1.
"""
import os
import shutil
import time

import fctest as t
import halab as h
from halab import VIP

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
if not os.access(KEEPALIVED, os.X_OK):
    t.skip("keepalived not installed (apt-get install keepalived)")

lab = h.lab_up()
kd = h.Keepalived(lab, KEEPALIVED, f"""
global_defs {{
    vrrp_version 3
    router_id lb2
}}
vrrp_instance VI_51 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
""", "fctest-keepalived-")

ka = None
try:
    with t.step("keepalived on lb2 becomes master; fulcrum on lb1 (200) preempts it"):
        web2side = h.start(lab, "lb2", h.conf(None), name="lb2-proxy")
        ka = kd.start()
        t.check(h.wait(lambda: VIP in lab.addrs("lb2"), 5), "keepalived adds the VIP on lb2",
                kd.log())
        lb1 = h.start(lab, "lb1", h.conf(200))
        t.check(h.wait_state(lb1, "MASTER", 5), "fulcrum on lb1 becomes MASTER",
                lb1.log_text())
        t.check(h.wait(lambda: VIP not in lab.addrs("lb2"), 2),
                "keepalived accepts fulcrum's advert and removes its VIP",
                kd.log())
        info = h.ha(lb1)
        t.check(info.get("peer") == "192.0.2.12" and info.get("peer_priority") == 150,
                "fulcrum decoded keepalived's adverts (peer 192.0.2.12, priority 150)",
                str(info))
        t.check(not h.all_answer(lab, 5), "the VIP answers (through lb1)")

    with t.step("kill -9 of fulcrum on lb1: keepalived takes over"):
        t0 = time.monotonic()
        h.kill_node(lb1)
        took = h.first_answer(lab, t0)
        t.check(took is not None, "the VIP answers from lb2", kd.log())
        if took is not None:
            t.note(f"fulcrum -> keepalived failover: {took * 1000:.0f} ms")
        t.check(VIP in lab.addrs("lb2"), "keepalived holds the VIP")
        t.check(not h.all_answer(lab, 5), "requests after the takeover succeed")

    with t.step("fulcrum back on lb1 with priority 100 is BACKUP behind keepalived"):
        lb1 = h.start(lab, "lb1", h.conf(100))
        t.check(h.wait_state(lb1, "BACKUP", 3), "fulcrum is BACKUP")
        time.sleep(0.5)
        info = h.ha(lb1)
        t.check(info.get("state") == "BACKUP" and info.get("peer") == "192.0.2.12" and
                info.get("peer_priority") == 150 and info.get("peer_seen_ms_ago", 999) < 500,
                "and hears keepalived (192.0.2.12, priority 150)", str(info))

    with t.step("kill -9 of keepalived: fulcrum takes over"):
        before = h.requests(lb1)
        t0 = time.monotonic()
        kd.kill(ka)
        t.check(h.wait_state(lb1, "MASTER", 3), "fulcrum on lb1 becomes MASTER",
                lb1.log_text())
        took = time.monotonic() - t0
        t.note(f"keepalived -> fulcrum takeover: {took * 1000:.0f} ms (state seen MASTER)")
        time.sleep(0.1)
        t.check(not h.all_answer(lab, 10), "requests through the VIP succeed")
        # A worker counts a request once its response is out: the client
        # may have read it a moment before the counter moves.
        t.check(h.wait(lambda: h.requests(lb1) >= before + 10, 2, 0.1),
                "and are served by fulcrum on lb1",
                f"before {before}, after {h.requests(lb1)}")
    lb1.stop()
    web2side.stop()
finally:
    kd.kill(ka)
    lab.teardown()
t.finish()

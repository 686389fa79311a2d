#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_unicast: with `peers`, adverts go by unicast to the peer only (no
multicast on the LAN), the election and the failover work the same, and an
advert from an address that is not a peer is refused.
"""
import time

import fctest as t
import halab as h

lab = h.lab_up()
try:
    with t.step("lb1 and lb2 name each other as peers"):
        lb2 = h.start(lab, "lb2", h.conf(150, extra='peers = [ "192.0.2.11" ];'))
        lb1 = h.start(lab, "lb1", h.conf(200, extra='peers = [ "192.0.2.12" ];'))
        t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                "lb1 MASTER, lb2 BACKUP", lb1.log_text() + lb2.log_text())
        t.check(lb1.wait_log(r"multicast", 0.1) is None and lb1.wait_log(r"unicast", 1),
                "lb1 says it speaks unicast")
        t.check(not h.capture(lab, "client", "192.0.2.11", n=1, timeout=0.5),
                "the client sees no multicast advert")
        t.check(not h.all_answer(lab, 5), "the VIP answers")

    with t.step("an advert from a non-peer is refused"):
        moves = lb1.log_text().count(" -> ") + lb2.log_text().count(" -> ")
        h.send_raw(lab, "client", [h.advert("192.0.2.100", dst="192.0.2.12",
                                            priority=254)] * 5)
        h.send_raw(lab, "client", [h.advert("192.0.2.100", dst="192.0.2.11",
                                            priority=254)] * 5)
        time.sleep(0.3)
        t.check(h.state(lb1) == "MASTER" and h.state(lb2) == "BACKUP" and
                lb1.log_text().count(" -> ") + lb2.log_text().count(" -> ") == moves,
                "nothing changes", lb1.log_text())
        t.check(lb1.wait_log(r"advert from 192\.0\.2\.100 refused: not from a peer", 1),
                "lb1 logs the refusal")

    with t.step("kill -9 of lb1: lb2 takes over"):
        t0 = time.monotonic()
        h.kill_node(lb1)
        took = h.first_answer(lab, t0)
        t.check(took is not None and h.state(lb2) == "MASTER", "lb2 takes over")
        if took is not None:
            t.note(f"failover (unicast): {took * 1000:.0f} ms")
    lb2.stop()
finally:
    lab.teardown()
t.finish()

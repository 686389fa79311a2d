#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_auth: with auth_key (fulcrum's HMAC-SHA256 extension), no advert
without the key moves the VIP: not a plain VRRPv3 advert with priority 254,
not one signed with another key, not a forged resignation (priority 0) in
the master's name, and not a replay of the master's own genuine adverts.
"""
import time

import fctest as t
import halab as h
from halab import VIP

KEY = "correct horse battery staple"
AUTH = f'auth_key = "{KEY}";'
LB1 = "192.0.2.11"

lab = h.lab_up()
try:
    with t.step("lb1 and lb2 share an auth_key; lb1 is MASTER"):
        lb2 = h.start(lab, "lb2", h.conf(150, extra=AUTH))
        lb1 = h.start(lab, "lb1", h.conf(200, extra=AUTH))
        t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                "lb1 MASTER, lb2 BACKUP: authenticated adverts are accepted",
                lb1.log_text() + lb2.log_text())
        t.check(lb1.wait_log(r"multicast, authenticated", 1), "lb1 says it authenticates")
        genuine = h.capture(lab, "client", LB1, n=3)
        t.check(len(genuine) == 3 and len(genuine[0]) == 20 + 8 + 4 + 40,
                "lb1's adverts carry the 40-byte tag", str([len(p) for p in genuine]))

    with t.step("forged adverts from the client change nothing"):
        moves = lb1.log_text().count(" -> ") + lb2.log_text().count(" -> ")
        forged = []
        for i in range(10):
            forged.append(h.advert("192.0.2.100", priority=254))             # plain VRRPv3
            forged.append(h.advert("192.0.2.100", priority=254,
                                   key=b"not the key at all", seq=2**62 + i))
            forged.append(h.advert(LB1, priority=0))                         # fake resignation
            forged.append(h.advert(LB1, priority=0, key=b"guessed key, wrong",
                                   seq=2**62 + i))
        h.send_raw(lab, "client", forged, gap=0.01)
        time.sleep(0.5)   # beyond lb2's skew time and one master down interval
        t.check(h.state(lb1) == "MASTER" and h.state(lb2) == "BACKUP",
                "lb1 stays MASTER, lb2 BACKUP", lb1.log_text() + lb2.log_text())
        t.check(VIP in lab.addrs("lb1") and VIP not in lab.addrs("lb2"),
                "the VIP stays on lb1")
        t.check(lb1.log_text().count(" -> ") + lb2.log_text().count(" -> ") == moves,
                "no transition was logged")
        t.check(lb2.wait_log(r"advert from 192\.0\.2\.\d+ refused: "
                             r"(length does not match|authentication failed)", 1),
                "lb2 logs the refused adverts", lb2.log_text())

    with t.step("lb1's genuine adverts, replayed to lb2, change nothing"):
        lb1.stop()
        t.check(h.wait_state(lb2, "MASTER", 2), "lb1 stopped: lb2 is MASTER")
        moves = lb2.log_text().count(" -> ")
        h.send_raw(lab, "client", genuine * 3, gap=0.05)
        time.sleep(0.3)
        t.check(lb2.log_text().count(" -> ") == moves, "no transition was logged",
                lb2.log_text())
        t.check(h.state(lb2) == "MASTER", "lb2 stays MASTER (priority 200 replayed)",
                lb2.log_text())
        t.check(lb2.wait_log(r"refused: replayed", 1), "lb2 logs the replay")
        t.check(not h.all_answer(lab, 5), "the VIP answers")
    lb2.stop()
finally:
    lab.teardown()
t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_sync_sessions: learned sessions survive a failover through the sync
channel (ha.sync), in the netns lab (halab.py).

The classic farm with PHP-like sessions: web1 and web2 set PHPSESSID, the
listener learns them (`stick`), roundrobin otherwise, so a session the
backup does not know lands on the wrong server one time in two.

  - 200 sessions learned through lb1 (MASTER) reach lb2's table; the
    replication lag (last one learned -> lb2 holds all 200) is printed;
  - lb1 killed with kill -9: every one of the 200 continues on its own
    server through lb2: 0 lost;
  - lb1 restarted with an empty table gets the whole table when the channel
    comes up, and the sessions stick through it again.
"""
import random
import secrets
import time

import fctest as t
import halab as h
from halab import VIP

N = 200
KEY = "lab-sync-key-0123456789"


def conf(priority, peer):
    return f"""
global: {{ workers = 2; }};
listeners = ( {{
  name = "webfarm"; bind = [ "{VIP}:80" ]; balance = "roundrobin";
  stick = {{ cookie = "PHPSESSID"; expire = 1800; size = 1000; }};
  servers = ( {{ name = "web1"; address = "192.0.2.21:80"; }},
              {{ name = "web2"; address = "192.0.2.22:80"; }} );
}} );
ha: {{ interface = "eth0"; vrid = 51; priority = {priority}; advert_ms = 100;
  vips = [ "{VIP}/24" ]; peers = [ "{peer}" ]; auth_key = "{KEY}";
  sync = {{ port = 7781; interval_ms = 10; }}; }};
"""


LB1, LB2 = conf(200, "192.0.2.12"), conf(150, "192.0.2.11")


def sessions(fc):
    return h.stat(fc).get("sessions", {}).get("size", -1)


def ups(fc):
    return fc.log_text().count("sync: channel with")


def learn(lab, sid):
    """The server that set PHPSESSID=sid through the VIP."""
    st, hdrs, body = lab.http_full("client", VIP,
                                   path=f"/setcookie?name=PHPSESSID&value={sid}")
    return hdrs.get("x-backend") if st == 200 else None


def server_of(lab, sid):
    st, hdrs, body = lab.http_full("client", VIP, path="/echo",
                                   headers=f"Cookie: PHPSESSID={sid}\r\n")
    return hdrs.get("x-backend") if st == 200 else f"status {st}"


def lost(lab, owners):
    """The sessions not on their server.  Asked in a shuffled order: in the
    order they were learned, roundrobin alone would put each on its server."""
    bad = []
    for sid in random.sample(list(owners), len(owners)):
        got = server_of(lab, sid)
        if got != owners[sid]:
            bad.append(f"{sid} on {got}, not {owners[sid]}")
    return bad


lab = h.lab_up()
try:
    with t.step("lb1 MASTER, lb2 BACKUP, the channel up"):
        lb2 = h.start(lab, "lb2", LB2)
        t.check(h.wait_state(lb2, "MASTER", 5), "lb2 alone becomes MASTER")
        lb1 = h.start(lab, "lb1", LB1)
        t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 3),
                "lb1 preempts", lb1.log_text())
        t.check(h.wait(lambda: ups(lb2) > 0, 5), "the channel is up", lb2.log_text())

    with t.step(f"{N} sessions learned through lb1 reach lb2"):
        owners = {}
        for i in range(N):
            sid = secrets.token_hex(13)         # 26 characters, like PHP's
            owners[sid] = learn(lab, sid)
        t0 = time.monotonic()
        t.check(all(o in ("web1", "web2") for o in owners.values()),
                f"web1 and web2 set {N} sessions", str(set(owners.values())))
        t.check(set(owners.values()) == {"web1", "web2"}, "both servers own some")
        got = h.wait(lambda: sessions(lb2) >= N, 5, 0.005)
        lag = time.monotonic() - t0
        t.check(got, f"lb2's table holds the {N} sessions", str(h.stat(lb2).get("sessions")))
        t.note(f"replication lag: {lag * 1000:.0f} ms from the last session learned "
               f"to lb2 holding all {N} (the checkers drain their rings every 100 ms)")
        t.check(sessions(lb1) == N, f"lb1's table holds {N}", str(h.stat(lb1).get("sessions")))

    with t.step(f"kill -9 of lb1: the {N} sessions continue through lb2"):
        h.kill_node(lb1)
        t.check(h.wait_state(lb2, "MASTER", 3), "lb2 is MASTER")
        bad = lost(lab, owners)
        t.check(not bad, f"0 of {N} sessions lost ({len(bad)} lost)", "\n".join(bad[:20]))

    with t.step("lb1 back with an empty table gets the whole table"):
        n = ups(lb2)
        lb1 = h.start(lab, "lb1", LB1)
        t.check(h.wait(lambda: ups(lb2) > n, 5), "the channel is up again")
        t.check(h.wait(lambda: sessions(lb1) >= N, 5, 0.02),
                f"lb1's table holds the {N} sessions again",
                str(h.stat(lb1).get("sessions")) + lb1.log_text()[-1000:])
        t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 3),
                "lb1 preempts")
        bad = lost(lab, owners)
        t.check(not bad, f"0 of {N} sessions lost through lb1 ({len(bad)} lost)",
                "\n".join(bad[:20]))
        t.check(lb2.wait_log(r"sync: full session table sent \(\d+ sessions\)", 2),
                "lb2 logged the full copy", lb2.log_text()[-1500:])
    lb1.stop()
    lb2.stop()
finally:
    lab.teardown()
t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_mesh: learned `stick` sessions replicate over a full mesh of sync
channels (issue 21.2), three nodes in ha.mode = "anycast", in the netns lab:

    client 192.0.2.100 --+-- sw: br0 --+-- web1 192.0.2.21, web2 192.0.2.22
    lb1 192.0.2.11 ------+             |   (fc-testbackend, PHPSESSID)
    lb2 192.0.2.12 ------+-------------+
    lb3 192.0.2.13 ------+

Each node lists the two others in ha.peers: three channels, each opened
by the lower address of its pair.  Requests go straight to each node's own
address (no routing daemon here: ha_anycast_bird.py does the ECMP part).

  - every node's fulcrum-stat --json lists its two peers, channel "up";
  - sessions learned through lb1 are honoured through lb2 and lb3, and
    what lb2 received from lb1 is not sent on to lb3 (each node sends what
    its own workers learned: lb3 has them from lb1 itself);
  - sessions learned through lb2 reach lb1 and lb3 the same way;
  - lb3 killed (kill -9) and restarted with an empty table gets the full
    table from its peers when the channels come up, and honours every
    session;
  - the stats page shows the mode, the held address and each peer.

roundrobin alone puts a session on its server one time in two, and the
sessions are asked in a shuffled order: 30 sessions pass by luck 1 in 2^30.

Needs root (network namespaces): skipped otherwise.
"""
import random
import secrets
import time

import fctest as t
import halab as h

ANYCAST = "198.51.100.10"
KEY = "lab-mesh-key-0123456789"
NODES = {"lb1": "192.0.2.11", "lb2": "192.0.2.12", "lb3": "192.0.2.13"}
HOSTS = {"lb1": "192.0.2.11/24", "lb2": "192.0.2.12/24", "lb3": "192.0.2.13/24",
         "client": "192.0.2.100/24", "web1": "192.0.2.21/24",
         "web2": "192.0.2.22/24"}
N = 30


def conf(node):
    peers = ", ".join(f'"{a}"' for n, a in NODES.items() if n != node)
    return f"""
global: {{ workers = 2; }};
listeners = ( {{
  name = "webfarm"; bind = [ "{ANYCAST}:80", "{NODES[node]}:80" ];
  balance = "roundrobin"; stats = {{ uri = "/fulcrum?stats"; }};
  stick = {{ cookie = "PHPSESSID"; expire = 1800; size = 1000; }};
  servers = ( {{ name = "web1"; address = "192.0.2.21:80"; }},
              {{ name = "web2"; address = "192.0.2.22:80"; }} );
}} );
ha: {{ mode = "anycast"; interface = "fulcrum0"; vips = [ "{ANYCAST}/32" ];
  peers = [ {peers} ]; auth_key = "{KEY}";
  sync = {{ port = 7781; interval_ms = 10; }}; }};
"""


def sessions(fc):
    return h.stat(fc).get("sessions", {}).get("size", -1)


def peers(fc):
    """{address: peer object} from fc's fulcrum-stat --json."""
    return {p.get("address"): p for p in h.ha(fc).get("peers", [])}


def all_up(fc):
    got = peers(fc)
    return len(got) == 2 and all(p.get("channel") == "up" for p in got.values())


def learn(lab, node, sid):
    st, hdrs, body = lab.http_full("client", NODES[node],
                                   path=f"/setcookie?name=PHPSESSID&value={sid}")
    return hdrs.get("x-backend") if st == 200 else None


def lost(lab, node, owners):
    """The sessions node does not send to their server, asked shuffled."""
    bad = []
    for sid in random.sample(list(owners), len(owners)):
        st, hdrs, body = lab.http_full("client", NODES[node], path="/echo",
                                       headers=f"Cookie: PHPSESSID={sid}\r\n")
        got = hdrs.get("x-backend") if st == 200 else f"status {st}"
        if got != owners[sid]:
            bad.append(f"{sid} on {got} through {node}, not {owners[sid]}")
    return bad


def learn_many(lab, node, n):
    owners = {secrets.token_hex(13): None for _ in range(n)}
    for sid in owners:
        owners[sid] = learn(lab, node, sid)
    t.check(set(owners.values()) == {"web1", "web2"},
            f"{n} sessions set through {node}, both servers own some",
            str(set(owners.values())))
    return owners


def start_all(lab):
    return {n: h.start(lab, n, conf(n)) for n in NODES}


lab = h.lab_of(HOSTS)
try:
    with t.step("three anycast nodes, a full mesh of sync channels"):
        fc = start_all(lab)
        for n, f in fc.items():
            t.check(h.wait(lambda: all_up(f), 10, 0.05),
                    f"{n}: fulcrum-stat lists two peers, channel up",
                    str(h.ha(f).get("peers")) + f.log_text()[-1500:])
        got = peers(fc["lb1"])
        t.check(set(got) == {NODES["lb2"], NODES["lb3"]}, "lb1's peers are lb2 and lb3",
                got)
        ha1 = h.ha(fc["lb1"])
        t.check(ha1.get("mode") == "anycast" and any(
            v.get("address") == f"{ANYCAST}/32" and v.get("held")
            for v in ha1.get("vips", [])), "lb1 holds the anycast address", ha1)

    with t.step(f"{N} sessions learned through lb1 are honoured through lb2 and lb3"):
        owners = learn_many(lab, "lb1", N)
        t0 = time.monotonic()
        for n in ("lb2", "lb3"):
            t.check(h.wait(lambda: sessions(fc[n]) >= N, 5, 0.02),
                    f"{n}'s table holds the {N} sessions", str(h.stat(fc[n]).get("sessions")))
        t.note(f"replication lag: {(time.monotonic() - t0) * 1000:.0f} ms from the last"
               f" session learned on lb1 to lb2 and lb3 holding all {N}")
        p2, p3 = peers(fc["lb2"]), peers(fc["lb3"])
        t.check(p3[NODES["lb1"]].get("sessions_received", 0) >= N,
                "lb3 received them from lb1 itself", p3)
        t.check(p2[NODES["lb3"]].get("sessions_sent") == 0 and
                p3[NODES["lb2"]].get("sessions_received") == 0,
                "lb2 did not pass lb1's sessions on to lb3", (p2, p3))
        for n in ("lb2", "lb3"):
            bad = lost(lab, n, owners)
            t.check(not bad, f"0 of {N} lost through {n} ({len(bad)} lost)",
                    "\n".join(bad[:10]))

    with t.step(f"{N} sessions learned through lb2 are honoured through lb1 and lb3"):
        owners2 = learn_many(lab, "lb2", N)
        owners.update(owners2)
        for n in ("lb1", "lb3"):
            t.check(h.wait(lambda: sessions(fc[n]) >= 2 * N, 5, 0.02),
                    f"{n}'s table holds the {2 * N} sessions",
                    str(h.stat(fc[n]).get("sessions")))
            bad = lost(lab, n, owners2)
            t.check(not bad, f"0 of {N} lost through {n} ({len(bad)} lost)",
                    "\n".join(bad[:10]))

    with t.step("lb3 killed and restarted empty gets the full table"):
        h.kill_node(fc["lb3"])
        t0 = time.monotonic()
        fc["lb3"] = h.start(lab, "lb3", conf("lb3"), name="lb3b")
        t.check(h.wait(lambda: all_up(fc["lb3"]), 10, 0.05),
                "lb3's channels to lb1 and lb2 are up again",
                str(h.ha(fc["lb3"]).get("peers")) + fc["lb3"].log_text()[-1500:])
        t.check(h.wait(lambda: sessions(fc["lb3"]) >= 2 * N, 5, 0.02),
                f"lb3's table holds the {2 * N} sessions again",
                str(h.stat(fc["lb3"]).get("sessions")) + fc["lb3"].log_text()[-1500:])
        t.note(f"lb3 held the {2 * N} sessions {(time.monotonic() - t0) * 1000:.0f} ms"
               " after its start (channel back-off, handshake, paced copies)")
        bad = lost(lab, "lb3", owners)
        t.check(not bad, f"0 of {2 * N} lost through lb3 ({len(bad)} lost)",
                "\n".join(bad[:10]))
        t.check(fc["lb1"].wait_log(r"sync: full session table sent \(\d+ sessions\) to "
                                   + NODES["lb3"].replace(".", r"\."), 2),
                "lb1 logged its full copy to lb3", fc["lb1"].log_text()[-1500:])
        got = peers(fc["lb1"])
        t.check(len(got) == 2 and all(p.get("channel") == "up" for p in got.values()),
                "lb1's fulcrum-stat --json lists two peers up", got)
        t.check(got[NODES["lb3"]].get("since_ms_ago", 1e9) <
                got[NODES["lb2"]].get("since_ms_ago", 0),
                "lb3's channel is the younger one on lb1", got)

    with t.step("fulcrum-stat's table and the stats page show the mode, address, peers"):
        st, out = t.run([h.FULCRUM_STAT, "-f", fc["lb1"].conf_path], timeout=5)
        rows = [ln for ln in out.splitlines() if ln.startswith(("HA mode", "PEER", "192.0.2."))]
        t.note("fulcrum-stat on lb1:\n      " + "\n      ".join(rows))
        t.check(st == 0 and f"HA mode anycast  lease 2 s  vips {ANYCAST}/32 (held)" in out
                and sum(1 for ln in rows if ln.split()[1:2] == ["up"]) == 2,
                "the table: mode, held address, two peers up", out)
        st, body = lab.http("client", NODES["lb1"], path="/fulcrum?stats")
        page = body.decode(errors="replace")
        t.check(st == 200 and "mode anycast" in page and f"{ANYCAST}/32" in page and
                NODES["lb2"] in page and NODES["lb3"] in page and "Sessions sent" in page,
                "the HA section lists the address and both peers", page[-3000:])
    for f in fc.values():
        f.stop()
finally:
    lab.teardown()
t.finish()

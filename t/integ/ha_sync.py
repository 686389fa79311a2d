#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_sync: the sync channel between the two nodes' ha processes (ha.sync,
TCP 7781, HMAC handshake with auth_key), in the netns lab (halab.py),
adverts every 100 ms, probes every 10 ms.

  - lb1 (192.0.2.11, the lower address) connects, both authenticate;
    a peer with another auth_key is refused and never gets a channel, and
    one speaking another protocol version is refused with a log line;
  - process death: kill -9 of every fulcrum process on lb1: lb2 takes over
    as the kernel closes the connection (goal: median < 50 ms);
  - workers all dead: kill -9 of lb1's workers (master, checker and ha
    alive): the master tells lb1's ha process as it reaps the last one, lb1
    resigns (RESIGN frame, priority-0 advert) and lb2 takes over (goal:
    median < 50 ms); lb1 preempts again once its workers are back;
  - clean stop: lb1 says RESIGN (goal: median < 30 ms);
  - node death: lb1's link down: lb2 misses 3 probes, then takes over
    after one missed advert (goal: median < 100 ms);
  - a channel cut alone (lb1's link down while its adverts, forged from the
    client, keep arriving): lb2 notices the silence and stays BACKUP.
Each figure is measured over TRIALS trials (3 by default; `TRIALS=10
python3 t/integ/ha_sync.py` for the medians of 10 that README quotes) and
printed as median, min and max.  The median must beat the protocol's own
bound, what the takeover would take without the channel's news: 1 advert
(100 ms) for the first three (VRRP needs 3 adverts + skew, ~340 ms), 2
adverts for node death (the channel's 3 probes plus one missed advert is
~155 ms at worst).  Whether it meets the goal is a check too with
GOALS=1 (a loaded box may miss a goal by some ms without anything broken).
"""
import os
import socket
import struct
import random
import signal
import threading
import time

import fctest as t
import halab as h

TRIALS = h.trials(3)
ADVERT_MS = 100
STRICT = os.environ.get("GOALS") == "1"
KEY = "lab-sync-key-0123456789"


def sync_conf(priority, peer, key=KEY, workers=2):
    return h.conf(priority, extra=f'peers = [ "{peer}" ]; auth_key = "{key}";'
                  ' sync = { port = 7781; interval_ms = 10; };', workers=workers)


LB1, LB2 = sync_conf(200, "192.0.2.12"), sync_conf(150, "192.0.2.11")
UP = "sync: channel with"


def ups(fc):
    return fc.log_text().count(UP)


def pair_ready(lb1, lb2, lb2_ups):
    """lb1 MASTER, lb2 BACKUP, and a channel newer than lb2_ups up."""
    return (h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 3) and
            h.wait(lambda: ups(lb2) > lb2_ups, 5))


def takeovers(fc):
    return fc.log_text().count("BACKUP -> MASTER")


def takeover_ms(lb2, wall0, before):
    """ms from wall0 to lb2's next BACKUP -> MASTER line (before: their
    count until then), once it is there."""
    h.wait(lambda: takeovers(lb2) > before, 3)
    # The log's timestamps are cut to the ms: under 1 ms may read as -0.
    return max(0.0, h.since_log(lb2, "BACKUP -> MASTER", wall0))


def figures(name, ms, goal, bound):
    """Median, min, max; the median checked against bound (protocol), and
    against goal when GOALS=1."""
    med = h.figures(name, [x / 1000 for x in ms])
    t.check(med < bound, f"{name}: median {med:.0f} ms under the protocol bound"
            f" of {bound} ms")
    if STRICT:
        t.check(med < goal, f"{name}: median {med:.0f} ms meets the goal of {goal} ms")
    else:
        t.note(f"{name}: goal {goal} ms {'met' if med < goal else 'MISSED'}")


def adverts_as_lb1(lab, seconds):
    """lb1's adverts (priority 200, authenticated, every 100 ms) forged from
    the client: lb1 stays alive on the wire while its channel is gone."""
    # Sequence numbers a little ahead of lb1's clock (it counts wall-clock
    # us): accepted now, and overtaken by lb1's own soon after.
    seq = int(time.time() * 1e6) + 200000
    pkts = [h.advert("192.0.2.11", "192.0.2.12", priority=200, key=KEY.encode(),
                     seq=seq + i * 100000) for i in range(int(seconds * 10))]
    th = threading.Thread(target=h.send_raw, args=(lab, "client", pkts, 0.1))
    th.start()
    return th


def restart_trials(what, end, reason, how, goal):
    """TRIALS times: end(lb1), time lb2's takeover, whose log line must give
    the reason (a regex), then start lb1 again; the figures of the lot.
    lb1 is the script's own: each trial replaces it, as the steps after
    this one expect."""
    global lb1
    ms = []
    for trial in range(TRIALS):
        n = ups(lb2)
        before = takeovers(lb2)
        wall0 = time.time()
        end(lb1)
        took = takeover_ms(lb2, wall0, before)
        ok = t.check(lb2.wait_log(r"BACKUP -> MASTER \(" + reason, 1),
                     f"trial {trial + 1}: lb2 took over {how}", lb2.log_text()[-1500:])
        if ok:
            ms.append(took)
        lb1 = h.start(lab, "lb1", LB1)
        if not t.check(pair_ready(lb1, lb2, n), f"trial {trial + 1}: lb1 back",
                       lb1.log_text()) or not ok:
            break
    if ms:
        figures(f"takeover after {what}", ms, goal, ADVERT_MS)


ONLY = os.environ.get("HA_SYNC_ONLY", "")   # debugging: "death,workers,stop,node,cut"


def wanted(what):
    return not ONLY or what in ONLY.split(",")


lab = h.lab_up()
try:
    with t.step("the channel: lb1 connects, both authenticate"):
        lb2 = h.start(lab, "lb2", LB2)
        t.check(h.wait_state(lb2, "MASTER", 5), "lb2 alone becomes MASTER")
        lb1 = h.start(lab, "lb1", LB1)
        t.check(pair_ready(lb1, lb2, 0), "lb1 preempts, lb2 is BACKUP, channel up",
                lb1.log_text() + lb2.log_text())
        t.check(lb1.wait_log(r"sync: channel with 192\.0\.2\.12 up", 1),
                "lb1 logs the channel up", lb1.log_text())

    if wanted("auth"):
        with t.step("a peer with another auth_key gets no channel"):
            lb1.stop()
            h.wait_state(lb2, "MASTER", 3)
            before = ups(lb2)
            bad = h.start(lab, "lb1", sync_conf(200, "192.0.2.12", key=KEY[::-1]),
                          name="lb1-badkey")
            # The adverts are authenticated with the same wrong key: lb2 refuses
            # them too, so both are MASTER; only the channel matters here.
            t.check(lb2.wait_log(r"sync: 192\.0\.2\.11 failed authentication", 3),
                    "lb2 refuses lb1's answer", lb2.log_text())
            t.check(bad.wait_log(r"sync: 192\.0\.2\.12 failed authentication", 3),
                    "lb1 refuses lb2's answer", bad.log_text())
            t.check(ups(lb2) == before, "no channel comes up")
            bad.stop()

        with t.step("a peer of another protocol version is refused with a log line"):
            # lb1's address, lb1 stopped: a HELLO frame of version 2.
            s = lab.socket("lb1", socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("192.0.2.11", 0))
                s.settimeout(3)
                s.connect(("192.0.2.12", 7781))
                s.sendall(b"FS" + bytes([2, 1]) + struct.pack("!I", 32) + bytes(32))
                while s.recv(4096):     # lb2's own HELLO, then the end
                    pass
                closed = True
            except ConnectionResetError:
                closed = True
            except OSError:
                closed = False
            finally:
                s.close()
            t.check(lb2.wait_log(r"sync: 192\.0\.2\.11 speaks sync version 2, this is"
                                 r" version 1: refused", 2), "lb2 logs the refusal",
                    lb2.log_text()[-1000:])
            t.check(closed, "and closes the connection")
            lb1 = h.start(lab, "lb1", LB1)
            t.check(pair_ready(lb1, lb2, before), "the right key: channel up again",
                    lb1.log_text())

    if wanted("death"):
        with t.step(f"process death: kill -9 of lb1's fulcrum, {TRIALS} trials"):
            restart_trials("process death", h.kill_node, r"the master's fulcrum died",
                           "on the channel's close", 50)

    if wanted("workers"):
        with t.step(f"workers all dead: kill -9 of lb1's workers, {TRIALS} trials"):
            ms = []
            for trial in range(TRIALS):
                before = takeovers(lb2)
                faults = lb1.log_text().count("MASTER -> FAULT (every worker died")
                workers = lb1.worker_pids()
                wall0 = time.time()
                for pid in workers:
                    t.kill_ours(pid, signal.SIGKILL)
                took = takeover_ms(lb2, wall0, before)
                ok = t.check(lb1.wait_log(r"MASTER -> FAULT \(every worker died", 1) and
                             lb1.log_text().count("MASTER -> FAULT (every worker died") > faults
                             and lb2.wait_log(r"BACKUP -> MASTER \(the master resigned", 1),
                             f"trial {trial + 1}: lb1 resigned as its last worker was reaped,"
                             " lb2 took over on RESIGN",
                             lb1.log_text()[-1500:] + lb2.log_text()[-1500:])
                if ok:
                    ms.append(took)
                # Respawned (with the master's back-off), the workers beat:
                # lb1 competes again and preempts.
                if not t.check(h.wait(lambda: set(lb1.worker_pids()) - set(workers), 15) and
                               h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                               f"trial {trial + 1}: lb1's workers back, it preempts",
                               lb1.log_text()[-1500:]) or not ok:
                    break
            if ms:
                figures("takeover after every worker died", ms, 50, ADVERT_MS)

        with t.step("one dead worker among several costs nothing"):
            before = lb1.log_text().count("MASTER -> FAULT")
            told = lb1.log_text().count("every worker of generation")
            t.kill_ours(lb1.worker_pids()[0], signal.SIGKILL)
            states = set()
            deadline = time.monotonic() + 5 * ADVERT_MS / 1000
            while time.monotonic() < deadline:
                states.add(h.state(lb1))
            t.check(states == {"MASTER"} and lb1.log_text().count("MASTER -> FAULT") == before
                    and lb1.log_text().count("every worker of generation") == told,
                    "lb1 stays MASTER, the master tells its ha process nothing",
                    f"{states}\n{lb1.log_text()[-1500:]}")

        with t.step("workers = 1: the only worker's crash is every worker dead"):
            lb1.stop()
            h.wait_state(lb2, "MASTER", 3)
            one = h.start(lab, "lb1", sync_conf(200, "192.0.2.12", workers=1), name="lb1-one")
            t.check(h.wait_state(one, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                    "lb1 with one worker preempts", one.log_text()[-1500:])
            before = takeovers(lb2)
            t.kill_ours(one.worker_pids()[0], signal.SIGKILL)
            t.check(one.wait_log(r"MASTER -> FAULT \(every worker died", 2) and
                    h.wait(lambda: takeovers(lb2) > before, 2) and
                    lb2.wait_log(r"BACKUP -> MASTER \(the master resigned", 1),
                    "lb1 resigns, lb2 takes over on RESIGN", one.log_text()[-1500:])
            n = ups(lb2)
            one.stop()
            lb1 = h.start(lab, "lb1", LB1)
            t.check(pair_ready(lb1, lb2, n), "lb1 with two workers back", lb1.log_text())

    if wanted("stop"):
        with t.step(f"clean stop: lb1 resigns over the channel, {TRIALS} trials"):
            restart_trials("a clean stop", lambda fc: fc.stop(), r"the master resigned",
                           "on RESIGN", 30)

    if wanted("node"):
        with t.step(f"node death: lb1's link down, {TRIALS} trials"):
            ms = []
            for trial in range(TRIALS):
                n = ups(lb2)
                silent = lb2.log_text().count("the peer is silent")
                before = takeovers(lb2)
                # A node dies at any moment between two adverts, not just
                # after the one that made lb2 BACKUP again.
                time.sleep(random.uniform(0.1, 0.2))
                wall0 = time.time()
                h.link_set(lab, "lb1", False)
                took = takeover_ms(lb2, wall0, before)
                ok = t.check(lb2.log_text().count("the peer is silent") > silent and
                             h.state(lb2) == "MASTER",
                             f"trial {trial + 1}: lb2 noticed the silence and took over",
                             lb2.log_text()[-1500:])
                if ok:
                    ms.append(took)
                lab.ip("lb1", "link", "set", "eth0", "up")
                if not t.check(pair_ready(lb1, lb2, n), f"trial {trial + 1}: lb1 back",
                               lb1.log_text()[-1500:] + lb2.log_text()[-1500:]) or not ok:
                    break
            if ms:
                figures("takeover after node death", ms, 100, 2 * ADVERT_MS)

    if wanted("cut"):
        with t.step("a cut channel alone never makes a second master"):
            # lb1's link goes down (no channel, no adverts of its own) while
            # its adverts keep arriving, forged from the client.
            silent = lb2.log_text().count("the peer is silent")
            sender = adverts_as_lb1(lab, 2.0)
            time.sleep(0.15)
            lab.ip("lb1", "link", "set", "eth0", "down")
            before = takeovers(lb2)
            states = set()
            deadline = time.monotonic() + 1.5      # 15 adverts
            while time.monotonic() < deadline:
                states.add(h.state(lb2))
                time.sleep(0.02)
            states.add("MASTER" if takeovers(lb2) > before else "BACKUP")
            t.check(lb2.log_text().count("the peer is silent") > silent,
                    "lb2 notices the channel's silence", lb2.log_text()[-1500:])
            t.check(states == {"BACKUP"}, "lb2 stays BACKUP while lb1's adverts arrive",
                    f"{states}\n{lb2.log_text()[-1500:]}")
            sender.join()
            t.check(h.wait_state(lb2, "MASTER", 2), "lb2 takes over once the adverts stop")
            n = ups(lb2)
            lab.ip("lb1", "link", "set", "eth0", "up")
            t.check(pair_ready(lb1, lb2, n), "lb1 back: it preempts, the channel is up again",
                    lb1.log_text()[-1500:] + lb2.log_text()[-1500:])
    if os.environ.get("HA_SYNC_DUMP"):
        print(lb2.log_text())
    lb1.stop()
    lb2.stop()
finally:
    lab.teardown()
t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_failover: two fulcrum nodes share VIP 192.0.2.50 with VRRPv3 (advert
100 ms) in a lab of network namespaces (halab.py).

  - the classic scenario: client -> VIP -> fulcrum on lb1 -> web1/web2, with
    cookie persistence (JSESSIONID prefix): a session opened through lb1
    sticks to its server, and still does through lb2 after a failover;
  - node death, 5 trials: kill -9 of every fulcrum process on lb1; the VIP
    answers from lb2 (median under 400 ms), every request started after the
    takeover succeeds, and lb1 restarted takes the VIP back (preempt);
  - one worker crash (the other alive) is no failover: the master respawns
    it at once;
  - every worker killed (master and ha alive): the master tells the ha
    process as it reaps the last one, lb1 resigns (priority 0) at once and
    lb2 takes over after its skew time, not after stale heartbeats;
  - a killed ha process: the master removes the VIPs, the new one takes over;
  - proxy death, 5 trials: lb1's workers stopped (master and ha alive): lb1
    resigns (FAULT), lb2 takes over, and lb1 preempts again once they run;
  - a clean stop hands over at once (priority 0);
  - the VIP is a lease: a node whose every process died loses it by itself.
Failover times are printed (median, min, max).
"""
import os
import signal
import time

import fctest as t
import halab as h
from halab import VIP

TRIALS = 5
LB1, LB2 = h.conf(200, user="nobody"), h.conf(150, user="nobody")

lab = h.lab_up()
try:
    with t.step("the classic scenario: client -> VIP -> lb1 -> web1/web2"):
        # lb2 first, and MASTER before lb1 starts: lb1 then hears lb2's
        # adverts before it preempts, so it knows its peer. Started within a
        # skew time (~20 ms) of each other, lb1 would win without ever
        # hearing lb2, which stays silent as BACKUP.
        lb2 = h.start(lab, "lb2", LB2)
        t.check(h.wait_state(lb2, "MASTER", 5), "lb2 alone becomes MASTER",
                lb2.log_text())
        lb1 = h.start(lab, "lb1", LB1)
        t.check(h.wait_state(lb1, "MASTER", 5), "lb1 (priority 200) preempts",
                lb1.log_text())
        t.check(h.wait_state(lb2, "BACKUP", 2), "lb2 (priority 150) is BACKUP")
        t.check(VIP in lab.addrs("lb1") and VIP not in lab.addrs("lb2"),
                "the VIP is on lb1 only", f"lb1 {lab.addrs('lb1')} lb2 {lab.addrs('lb2')}")
        info = h.ha(lb2)
        t.check(info.get("peer") == "192.0.2.11" and info.get("peer_priority") == 200,
                "lb2 shows the peer it hears (192.0.2.11, priority 200)", str(info))
        t.check(h.wait(lambda: h.first_answer(lab, time.monotonic(), 3) is not None, 3),
                "the VIP answers")
        seen = set()
        for i in range(20):
            st, body = lab.http("client", VIP, path=f"/?i={i}")
            seen.add(body)
        t.check(seen == {b"web1\n", b"web2\n"}, "roundrobin reaches web1 and web2",
                str(seen))
        t.check(not h.all_answer(lab), "20 more requests all succeed")
        cookie, owner = h.session(lab)
        t.note(f"session opened: {cookie} by {owner}")
        t.check(cookie.startswith("JSESSIONID=A~") or cookie.startswith("JSESSIONID=B~"),
                "the session cookie carries the server's prefix", cookie)
        t.check(h.sticks(lab, cookie) == [owner] * 10,
                "10 requests with it all reach the server that set it")
        st, out = t.run([h.FULCRUM_STAT, "-f", lb2.conf_path])
        t.check(st == 0 and "HA BACKUP" in out, "fulcrum-stat shows lb2's state", out)
        st, page = lab.http("client", VIP, path="/fulcrum?stats")
        t.check(st == 200 and b"HA <b>MASTER</b>" in page and b"192.0.2.12" in page,
                "lb1's stats page shows MASTER and its peer", page[:300])
        with open(f"/proc/{lb1.ha_pids()[0]}/status") as f:
            status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        t.check(status["Uid"].split()[0] != "0" and
                int(status["CapEff"], 16) == (1 << 12 | 1 << 13),
                "fulcrum-h0 runs as global.user with CAP_NET_ADMIN and CAP_NET_RAW only",
                f"Uid {status['Uid']} CapEff {status['CapEff']}")

    with t.step(f"node death: kill -9 of every fulcrum process on lb1, {TRIALS} trials"):
        times = []
        for trial in range(TRIALS):
            silences = lb2.log_text().count("BACKUP -> MASTER (no advert")
            t0, wall0 = time.monotonic(), time.time()
            h.kill_node(lb1)
            took = h.first_answer(lab, t0)
            t.note(f"trial {trial + 1}: lb2 MASTER after "
                   f"{h.since_log(lb2, 'BACKUP -> MASTER', wall0):.0f} ms, "
                   f"first answer after {(took or 0) * 1000:.0f} ms")
            if not t.check(took is not None, f"trial {trial + 1}: the VIP answers from lb2"):
                break
            times.append(took)
            t.check(lb2.log_text().count("BACKUP -> MASTER (no advert") == silences + 1,
                    f"trial {trial + 1}: lb2 took over on silence, not on a resignation")
            t.check(h.state(lb2) == "MASTER", f"trial {trial + 1}: lb2 is MASTER")
            bad = h.all_answer(lab)
            t.check(not bad, f"trial {trial + 1}: requests after the takeover succeed",
                    "\n".join(bad))
            if trial == 0:
                t.check(h.sticks(lab, cookie) == [owner] * 10,
                        "the session opened through lb1 sticks to its server through lb2")
            lb1 = h.start(lab, "lb1", LB1)
            t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                    f"trial {trial + 1}: lb1 back preempts lb2 (preempt = true)",
                    lb1.log_text())
            t.check(h.wait(lambda: VIP not in lab.addrs("lb2"), 2),
                    f"trial {trial + 1}: lb2 gave the VIP back")
        if times:
            med = h.figures("failover after node death", times)
            t.check(med < 400, f"node death: median failover under 400 ms ({med:.0f} ms)")

    with t.step("one worker crash, the other alive, is not a failover"):
        faults = lb1.log_text().count("-> FAULT")
        os.kill(lb1.worker_pids()[0], signal.SIGKILL)
        states = set()
        deadline = time.monotonic() + 10 * 0.1      # 10 adverts
        while time.monotonic() < deadline:
            states.add((h.state(lb1), h.state(lb2)))
        t.check(states == {("MASTER", "BACKUP")} and lb1.log_text().count("-> FAULT") == faults,
                "lb1 stays MASTER while the master respawns the worker",
                f"{states}\n{lb1.log_text()[-1500:]}")

    with t.step("every worker killed: lb1 resigns as the last one is reaped"):
        resigned = lb2.log_text().count("BACKUP -> MASTER (the master resigned")
        t0, wall0 = time.monotonic(), time.time()
        for pid in lb1.worker_pids():
            os.kill(pid, signal.SIGKILL)
        t.check(lb1.wait_log(r"MASTER -> FAULT \(every worker died", 2),
                "lb1 resigns: every worker died", lb1.log_text()[-1500:])
        t.check(h.wait(lambda: lb2.log_text().count("BACKUP -> MASTER (the master resigned")
                       > resigned, 2), "lb2 takes over on lb1's priority-0 advert",
                lb2.log_text()[-1500:])
        took = h.since_log(lb2, "BACKUP -> MASTER", wall0)
        t.note(f"lb2 MASTER {took:.0f} ms after the kill")
        # Its skew time is 41 ms; stale heartbeats alone take 2 adverts.
        t.check(took < 2 * 100, f"within 2 adverts ({took:.0f} ms)")
        t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                "lb1's workers back, it preempts lb2", lb1.log_text()[-1500:])

    with t.step("kill -9 of lb1's ha process alone: the master drops the VIP"):
        os.kill(lb1.ha_pids()[0], signal.SIGKILL)
        t.check(lb1.wait_log(r"the ha process died: removing the VIPs", 2),
                "the master removes the VIPs", lb1.log_text())
        t.check(h.wait(lambda: lb1.remember_children() and lb1.ha_pids(), 2),
                "and respawns the ha process")
        t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                "which takes the VIP back", lb1.log_text())
        t.check(VIP in lab.addrs("lb1") and not h.all_answer(lab, 5), "the VIP answers")

    with t.step(f"proxy death: lb1's workers stopped, master and ha alive, {TRIALS} trials"):
        times = []
        for trial in range(TRIALS):
            workers = lb1.worker_pids()
            t0 = time.monotonic()
            for pid in workers:
                os.kill(pid, signal.SIGSTOP)
            took = h.first_answer(lab, t0)
            ok = t.check(took is not None, f"trial {trial + 1}: the VIP answers from lb2")
            if ok:
                times.append(took)
                t.check(h.state(lb1) == "FAULT" and h.state(lb2) == "MASTER",
                        f"trial {trial + 1}: lb1 is FAULT, lb2 MASTER",
                        f"lb1 {h.ha(lb1)} lb2 {h.ha(lb2)}")
                t.check(VIP not in lab.addrs("lb1"), f"trial {trial + 1}: lb1 removed the VIP")
                bad = h.all_answer(lab)
                t.check(not bad, f"trial {trial + 1}: requests after the takeover succeed",
                        "\n".join(bad))
            for pid in workers:
                os.kill(pid, signal.SIGCONT)
            t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                    f"trial {trial + 1}: lb1 healthy again preempts lb2", lb1.log_text())
            if not ok:
                break
        if times:
            h.figures("failover after proxy death", times)
        t.check(lb1.wait_log(r"MASTER -> FAULT \(no worker heartbeat", 1),
                "the transition to FAULT is logged")

    with t.step("a clean stop hands over at once (priority 0)"):
        t0 = time.monotonic()
        lb1.stop()
        took = h.first_answer(lab, t0)
        t.check(took is not None and took < 1.0, "the VIP answers from lb2 within 1 s",
                f"took {took}")
        if took is not None:
            t.note(f"failover after a clean stop: {took * 1000:.0f} ms")
        t.check(lb2.wait_log(r"BACKUP -> MASTER \(the master resigned", 1),
                "lb2 took over because lb1 resigned", lb2.log_text())

    with t.step("the VIP is a lease: a node killed with -9 loses it by itself"):
        t.check(VIP in lab.addrs("lb2"), "lb2 holds the VIP")
        t0 = time.monotonic()
        h.kill_node(lb2)
        gone = h.wait(lambda: VIP not in lab.addrs("lb2"), 5, 0.05)
        t.check(gone, "the VIP expires on lb2 within 5 s (lease 2 s)")
        if gone:
            t.note(f"VIP expired {time.monotonic() - t0:.1f} s after the kill")
finally:
    lab.teardown()
t.finish()

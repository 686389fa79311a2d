#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_anycast: ha.mode = "anycast" (issue 21.1).  Every healthy node holds
the service address on its own interface as a lease, for a routing daemon
to announce: fulcrum creates the interface when it is missing (a dummy, or
a port-less bridge where the kernel has no dummy driver), holds the
address while its workers beat (renewed, valid_lft of 2 s at most),
moves it at once to lo when the proxy is dead but the master alive, and on
a clean stop before any worker closes a connection (lo keeps it local for
the connections already there, and announces nothing); after a kill -9 of every
process the kernel removes it by itself when the lease runs out.  The
client reaches the address through a static route to lb1 (the router's
part, without a routing daemon).

Needs root (network namespaces): skipped otherwise.
"""
import json
import re
import signal
import time

import fctest as t
import halab as h

ANYCAST = "198.51.100.10"
IFACE = "fulcrum0"


def conf():
    return f"""
global: {{ workers = 2; watchdog_ms = 0; }};
listeners = ( {{
  name = "web"; bind = [ "{ANYCAST}:80" ];
  servers = ( {{ name = "web1"; address = "192.0.2.21:80"; }},
              {{ name = "web2"; address = "192.0.2.22:80"; }} );
}} );
ha: {{ mode = "anycast"; interface = "{IFACE}"; vips = [ "{ANYCAST}/32" ]; }};
"""


def leases(lab, dev=IFACE):
    """{address: valid_lft} on lb1's dev ({} when the interface is gone)."""
    try:
        out = lab.ip("lb1", "-j", "-4", "addr", "show", "dev", dev)
    except Exception:
        return {}
    got = {}
    for link in json.loads(out or "[]"):
        for a in link.get("addr_info", []):
            got[a["local"]] = a.get("valid_life_time")
    return got


def held(lab):
    return ANYCAST in leases(lab)


def answers(lab):
    try:
        return lab.http("client", ANYCAST, timeout=0.5)[0] == 200
    except OSError:
        return False


lab = h.lab_up()
try:
    lab.ip("client", "route", "add", f"{ANYCAST}/32", "via", "192.0.2.11")
    with t.step("start: the interface is made, the address held as a lease"):
        fc = h.start(lab, "lb1", conf())
        t.check(h.wait(lambda: held(lab), 3), f"{ANYCAST} on {IFACE}", fc.log_text())
        t.check(0 < (leases(lab).get(ANYCAST) or 0) <= 2,
                "valid_lft of 2 s at most (a lease)", leases(lab))
        made = re.search(rf"created interface {IFACE} \((dummy|bridge)\)", fc.log_text())
        t.check(made is not None, "the log says which kind of interface it made",
                fc.log_text())
        ha = h.ha(fc)
        t.check(ha.get("mode") == "anycast" and ha.get("state") == "MASTER",
                "fulcrum-stat: mode anycast, MASTER (holding)", ha)
        t.check(h.wait(lambda: answers(lab), 3), "the client gets an answer through it")
        time.sleep(2.5)
        t.check(held(lab), "still held after a whole lease: renewed", leases(lab))

    with t.step("proxy dead, master alive: the address goes at once, and comes back"):
        workers = fc.worker_pids()
        for w in workers:
            t.kill_ours(w, signal.SIGSTOP)
        t0 = time.monotonic()
        gone = h.wait(lambda: not held(lab), 2, 0.005)
        t.note(f"withdrawn {1000 * (time.monotonic() - t0):.0f} ms after the workers stopped")
        t.check(gone, "removed while the workers do not beat", leases(lab))
        t.check(h.ha(fc).get("state") == "FAULT", "FAULT", h.ha(fc))
        t.check(0 < (leases(lab, "lo").get(ANYCAST) or 0) <= 2,
                "moved to lo, as a lease (still local: connections on it stay)",
                leases(lab, "lo"))
        for w in workers:
            t.kill_ours(w, signal.SIGCONT)
        t.check(h.wait(lambda: held(lab), 2), "held again once they beat", leases(lab))
        t.check(h.wait(lambda: ANYCAST not in leases(lab, "lo"), 2), "and gone from lo",
                leases(lab, "lo"))

    with t.step("clean stop: the address goes before the workers stop"):
        fc.signal(signal.SIGTERM)
        t.check(fc.wait_exit(10) is not None, "fulcrum exits")
        t.check(not held(lab) and ANYCAST not in leases(lab, "lo"),
                "the address is gone (from lo too, where it stayed while the workers stopped)",
                (leases(lab), leases(lab, "lo")))
        log = fc.log_text()
        i = log.find("withdrawing the addresses")
        j = log.find("] stopping")
        t.check(i >= 0 and j >= 0 and i < j,
                "the ha process withdrew before the master stopped the workers", log[-1500:])

    with t.step("kill -9 of every process: the kernel lets the lease run out"):
        fc = h.start(lab, "lb1", conf(), name="lb1b")
        t.check(h.wait(lambda: held(lab), 3), "held again")
        h.kill_node(fc)
        t0 = time.monotonic()
        t.check(held(lab), "still there right after the kill (nobody removed it)")
        gone = h.wait(lambda: not held(lab), 4, 0.02)
        took = time.monotonic() - t0
        t.note(f"expired {took * 1000:.0f} ms after the kill")
        t.check(gone and took <= 3.0, "gone within the 2 s lease (and a tick)", took)
finally:
    lab.teardown()
t.finish()

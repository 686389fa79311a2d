#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_anycast_bird: active/active behind a router's ECMP with a real BIRD 2
(issue 21.4).  lb1 and lb2 run fulcrum with ha.mode = "anycast" and BIRD
exporting fulcrum0's addresses over eBGP (protocol direct); the client's
namespace is the router, running BIRD with "merge paths on" and an L4 hash
policy.  Checked: the route to the service address has both nodes as
nexthops and new connections spread over both; a clean stop of one node
is withdrawn (measured, at the router's kernel) with no failed request for
a client looping through the address; a kill -9 of every fulcrum process of
a node is withdrawn when its 2 s lease runs out.

Needs root (network namespaces) and bird2: skipped otherwise.
"""
import json
import os
import shutil
import signal
import threading
import time

import fctest as t
import halab as h

ANYCAST = "198.51.100.10"
BIRD = shutil.which("bird") or "/usr/sbin/bird"
if not os.access(BIRD, os.X_OK):
    t.skip("bird2 is not installed (apt-get install bird2; ./bootstrap.sh check does it as root)")

NODES = {"lb1": "192.0.2.11", "lb2": "192.0.2.12"}
ROUTER = "192.0.2.100"


def fulcrum_conf():
    return f"""
global: {{ workers = 2; watchdog_ms = 0; drain_timeout = 3000; }};
listeners = ( {{
  name = "web"; bind = [ "{ANYCAST}:80" ];
  servers = ( {{ name = "web1"; address = "192.0.2.21:80"; }},
              {{ name = "web2"; address = "192.0.2.22:80"; }} );
}} );
ha: {{ mode = "anycast"; interface = "fulcrum0"; vips = [ "{ANYCAST}/32" ]; }};
"""


def node_bird(me):
    return f"""
router id {me};
protocol device {{ scan time 1; }}
protocol direct {{ ipv4; interface "fulcrum0"; }}
protocol bgp upstream {{
  local {me} as 65001; neighbor {ROUTER} as 65000;
  hold time 3; connect delay time 1; connect retry time 1; error wait time 1, 2;
  ipv4 {{ import none; export where source = RTS_DEVICE; }};
}}
"""


def router_bird():
    peers = "".join(f"""
protocol bgp {n} {{
  local {ROUTER} as 65000; neighbor {a} as 65001;
  hold time 3; connect delay time 1; connect retry time 1; error wait time 1, 2;
  ipv4 {{ import all; export none; }};
}}
""" for n, a in NODES.items())
    return f"""
router id {ROUTER};
protocol device {{ scan time 1; }}
protocol kernel {{ ipv4 {{ import none; export all; }}; merge paths on; }}
{peers}"""


def start_bird(lab, host, text):
    d = t.tmpdir(f"fctest-bird-{host}-")
    conf = os.path.join(d, "bird.conf")
    with open(conf, "w") as f:
        f.write(text)
    log = open(os.path.join(d, "bird.log"), "wb")
    return lab.spawn(host, [BIRD, "-f", "-c", conf, "-s", os.path.join(d, "bird.ctl"),
                            "-P", os.path.join(d, "bird.pid")], stdout=log, stderr=log)


def nexthops(lab):
    """The gateways of the router's route to ANYCAST ([] without one)."""
    out = lab.ip("client", "-j", "-4", "route", "show", f"{ANYCAST}/32")
    routes = json.loads(out or "[]")
    if not routes:
        return []
    r = routes[0]
    if "nexthops" in r:
        return sorted(n.get("gateway") for n in r["nexthops"])
    return [r.get("gateway")]


def wait_nexthops(lab, want, timeout):
    t0 = time.monotonic()
    ok = h.wait(lambda: nexthops(lab) == sorted(want), timeout, 0.005)
    return ok, time.monotonic() - t0


def requests(fc):
    return h.stat(fc).get("totals", {}).get("requests", 0)


class Looper:
    """A client requesting through the address, a new connection each time."""

    def __init__(self, lab):
        self.lab, self.ok, self.failed, self.stop = lab, 0, [], False
        self.th = threading.Thread(target=self.run)
        self.th.start()

    def run(self):
        while not self.stop:
            try:
                st = self.lab.http("client", ANYCAST, timeout=5)[0]
                if st == 200:
                    self.ok += 1
                else:
                    self.failed.append(st)
            except OSError as e:
                self.failed.append(repr(e))

    def end(self):
        self.stop = True
        self.th.join(15)


lab = h.lab_up()
try:
    lab._ip("netns", "exec", lab.ns("client"), "sysctl", "-qw",
            "net.ipv4.fib_multipath_hash_policy=1")
    with t.step("two nodes announce: the router has both as nexthops"):
        fcs = {n: h.start(lab, n, fulcrum_conf()) for n in NODES}
        for n, a in NODES.items():
            start_bird(lab, n, node_bird(a))
        start_bird(lab, "client", router_bird())
        ok, took = wait_nexthops(lab, NODES.values(), 20)
        t.check(ok, "ECMP route via lb1 and lb2", nexthops(lab))

    with t.step("new connections spread over both nodes"):
        before = {n: requests(fc) for n, fc in fcs.items()}
        for i in range(40):
            st = lab.http("client", ANYCAST, timeout=5)[0]
            t.check(st == 200, f"request {i}: 200", st) if st != 200 else None
        time.sleep(0.3)
        got = {n: requests(fc) - before[n] for n, fc in fcs.items()}
        t.note(f"requests per node: {got}")
        t.check(all(v > 0 for v in got.values()) and sum(got.values()) >= 40,
                "both nodes served some", got)

    with t.step("clean stop of lb2: withdrawn, no failed request"):
        loop = Looper(lab)
        time.sleep(0.5)
        fcs["lb2"].signal(signal.SIGTERM)
        ok, took = wait_nexthops(lab, [NODES["lb1"]], 5)
        t.note(f"lb2 withdrawn from the router's kernel {took * 1000:.0f} ms after its TERM")
        t.check(ok, "only lb1 is left", nexthops(lab))
        time.sleep(1.5)
        loop.end()
        t.note(f"{loop.ok} requests answered while lb2 stopped")
        t.check(loop.failed == [] and loop.ok > 0, "no request failed", loop.failed[:5])
        fcs["lb2"].wait_exit(10)

    with t.step("kill -9 of lb1's fulcrum: withdrawn when its lease runs out"):
        fcs["lb2"] = h.start(lab, "lb2", fulcrum_conf(), name="lb2b")
        ok, _ = wait_nexthops(lab, NODES.values(), 10)
        t.check(ok, "lb2 is back: two nexthops", nexthops(lab))
        h.kill_node(fcs["lb1"])
        ok, took = wait_nexthops(lab, [NODES["lb2"]], 6)
        t.note(f"lb1 withdrawn {took * 1000:.0f} ms after the kill (lease 2 s, BIRD scan 1 s)")
        t.check(ok and took <= 4.0, "within the lease and a scan", (nexthops(lab), took))
        st = lab.http("client", ANYCAST, timeout=5)[0]
        t.check(st == 200, "the address still answers, through lb2", st)
finally:
    lab.teardown()
t.finish()

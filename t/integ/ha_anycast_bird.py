#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_anycast_bird: active/active behind a router's ECMP with a real BIRD 2
(issue 21.4).  lb1, lb2 and lb3 run fulcrum with ha.mode = "anycast" and
BIRD exporting fulcrum0's addresses over eBGP (protocol direct); the
lab's "client" namespace is the router, running BIRD with "merge paths on"
and an L4 hash policy, and the clients are in "user", behind it:

    user 203.0.113.2 --- 203.0.113.1 router (192.0.2.100) --- LAN: lb1 lb2 lb3

(The clients are not on the router itself: a connection the router opens
picks its nexthop with another hash than the one its later packets use
once the route changes, so any withdrawal moves some of its flows.)
Checked:

  - the route to the service address has the three nodes as nexthops, and
    new connections spread over all three;
  - a clean stop (TERM) and a drain (QUIT) of lb2 are withdrawn (measured
    at the router's kernel) before lb2's workers are told to stop, a
    request in flight on lb2 still gets its answer, and clients looping
    through the address -- one opening a connection per request, three
    keeping one alive, first on each node -- see no failed request, and
    those on lb1 and lb3 keep their connections;
  - a stick session (PHPSESSID) learned through whichever node the router
    picked is honoured through the others: the nodes replicate sessions
    over a full mesh of sync channels;
  - a kill -9 of every fulcrum process of lb3 is withdrawn when its lease
    runs out.

The router hashes flows over the nexthops in the order of their addresses
(hash-threshold, RFC 2992): lb2 is the middle one, whose leaving moves no
flow of lb1 or lb3.  Plain ECMP still resets what fulcrum cannot keep:
the keep-alive connection on lb2 itself, and a new connection whose
handshake reached lb2 just before the router's change and whose request
left just after it (its packets now go to another node).  The clients do
what HTTP clients may (RFC 9112 9.3.1): a GET that got no byte of answer
is sent again on a new connection.  Each such connection must have been
opened before the router's change and reset before lb2's workers were
told to stop; a request that still fails is a failure.

Needs root (network namespaces) and bird2: skipped otherwise.
"""
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import socket
import time

import fctest as t
import halab as h

ANYCAST = "198.51.100.10"
BIRD = shutil.which("bird") or "/usr/sbin/bird"
if not os.access(BIRD, os.X_OK):
    t.skip("bird2 is not installed (apt-get install bird2; ./bootstrap.sh check does it as root)")

ROUTER = "192.0.2.100"
USER, USER_GW, USER_NET = "203.0.113.2", "203.0.113.1", "203.0.113.0/24"
NODES = [{"name": "lb1", "addr": "192.0.2.11"},
         {"name": "lb2", "addr": "192.0.2.12"},
         {"name": "lb3", "addr": "192.0.2.13"}]
BY_NAME = {n["name"]: n for n in NODES}
HOLD_S = 3          # BGP hold time, both sides
LEASE_S = 2         # fulcrum's anycast lease (ha/ha.c ANYCAST_LEASE_S)
DRAIN_MS = 3000     # global.drain_timeout
LOOP_MAX_S = 30     # a client process stops by itself after this
KEY = "anycast lab sync key, 16+"
SESSIONS = 30       # stick sessions learned through the router


def fulcrum_conf(node):
    peers = ", ".join(f'"{n["addr"]}"' for n in NODES if n["name"] != node)
    return f"""
global: {{ workers = 2; watchdog_ms = 0; drain_timeout = {DRAIN_MS}; }};
listeners = ( {{
  name = "web"; bind = [ "{ANYCAST}:80" ];
  cookie = {{ name = "JSESSIONID"; mode = "prefix"; }};
  stick = {{ cookie = "PHPSESSID"; expire = 1800; size = 1000; }};
  response_headers = {{ set = ( {{ name = "X-Node"; value = "{node}"; }} ); }};
  servers = ( {{ name = "web1"; address = "192.0.2.21:80"; cookie = "A"; }},
              {{ name = "web2"; address = "192.0.2.22:80"; cookie = "B"; }} );
}} );
ha: {{ mode = "anycast"; interface = "fulcrum0"; vips = [ "{ANYCAST}/32" ];
      peers = [ {peers} ]; auth_key = "{KEY}"; sync = {{ port = 7781; }}; }};
"""


def node_bird(me):
    return f"""
router id {me};
protocol device {{ scan time 1; }}
protocol direct {{ ipv4; interface "fulcrum0"; }}
protocol bgp upstream {{
  local {me} as 65001; neighbor {ROUTER} as 65000;
  hold time {HOLD_S}; connect delay time 1; connect retry time 1; error wait time 1, 2;
  ipv4 {{ import none; export where source = RTS_DEVICE; }};
}}
"""


def router_bird():
    peers = "".join(f"""
protocol bgp {n["name"]} {{
  local {ROUTER} as 65000; neighbor {n["addr"]} as 65001;
  hold time {HOLD_S}; connect delay time 1; connect retry time 1; error wait time 1, 2;
  ipv4 {{ import all; export none; }};
}}
""" for n in NODES)
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


def start_node(lab, node, name=None):
    node["fc"] = h.start(lab, node["name"], fulcrum_conf(node["name"]),
                         name=name or node["name"])


def nexthops(lab):
    """The gateways of the router's route to ANYCAST, in the kernel's order
    ([] without one)."""
    out = lab.ip("client", "-j", "-4", "route", "show", f"{ANYCAST}/32")
    routes = json.loads(out or "[]")
    if not routes:
        return []
    r = routes[0]
    if "nexthops" in r:
        return [n.get("gateway") for n in r["nexthops"]]
    return [r.get("gateway")]


def monitor_routes(lab):
    """`ip -ts monitor route` on the router, into a file: when each change
    reached its kernel (polling would add the time a poll takes)."""
    path = os.path.join(t.tmpdir("fctest-routes-"), "routes.txt")
    lab.spawn("client", ["ip", "-ts", "monitor", "route"], stdout=open(path, "wb"))
    return path


def changed_at(path, names, since):
    """The wall time of the first change after since that left the route
    with exactly these nodes' nexthops (None: not seen)."""
    want = sorted(BY_NAME[n]["addr"] for n in names)
    with open(path) as f:
        blocks = re.split(r"^\[", f.read(), flags=re.M)
    for b in blocks:
        m = re.match(r"([0-9T:.-]+)\] (Deleted )?" + re.escape(ANYCAST) + r"\b", b)
        if not m or m.group(2):
            continue
        when = datetime.datetime.fromisoformat(m.group(1)).timestamp()
        if when >= since and sorted(re.findall(r"via ([0-9.]+)", b)) == want:
            return when
    return None


def local_addrs(lab, host):
    """Where host has ANYCAST: the interfaces, of fulcrum0 and lo."""
    out = lab.ip(host, "-j", "-4", "addr", "show", "to", f"{ANYCAST}/32")
    return sorted(link["ifname"] for link in json.loads(out or "[]")
                  if link.get("addr_info"))


def wait_nexthops(lab, names, timeout):
    """Waits until the route's nexthops are exactly these nodes; returns
    (done, seconds taken, wall time when seen)."""
    want = sorted(BY_NAME[n]["addr"] for n in names)
    t0 = time.monotonic()
    ok = h.wait(lambda: sorted(nexthops(lab)) == want, timeout, 0.005)
    return ok, time.monotonic() - t0, time.time()


def user_up(lab):
    """The user's namespace, linked to the router; routes both ways."""
    ns = lab.ns("user")
    lab._ip("netns", "add", ns)
    lab.made.append(ns)
    lab.ip("client", "link", "add", "eth1", "type", "veth", "peer", "name", "eth0",
           "netns", ns)
    lab.ip("client", "addr", "add", f"{USER_GW}/24", "dev", "eth1")
    lab.ip("client", "link", "set", "eth1", "up")
    lab.ip("user", "link", "set", "lo", "up")
    lab.ip("user", "addr", "add", f"{USER}/24", "dev", "eth0")
    lab.ip("user", "link", "set", "eth0", "up")
    lab.ip("user", "route", "add", "default", "via", USER_GW)
    for n in NODES:
        lab.ip(n["name"], "route", "add", USER_NET, "via", ROUTER)
    for key in ("net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1"):
        lab._ip("netns", "exec", lab.ns("client"), "sysctl", "-qw", key)


def get(lab, path="/", cookie=None, timeout=5.0):
    """One request from the user through the router on a new connection,
    with an optional Cookie; returns (status, headers, body) or raises
    OSError."""
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    return lab.http_full("user", ANYCAST, path=path, timeout=timeout, headers=extra)


class Looper:
    """A client requesting through the address in a loop: a new connection
    each time, or (on) one kept alive, first on node on.  Counts answers
    per node; a failure is kept with its time and error.

    A connection reset (or closed) before any byte of the answer is tried
    once more on a new connection, as HTTP clients may for a GET (RFC 9112
    9.3.1), and kept in retries as [opened, failed, error] (wall times):
    the caller checks that each one spans the router's change, the one
    thing that resets a connection there without fulcrum's doing -- the
    connection's packets now go to another node, which has no socket for
    it.  That is the keep-alive connection on the stopped node, and, with
    plain ECMP, a new connection whose handshake reached the node just
    before the change and whose request left just after it.

    Each runs in a process of its own, as separate clients would (threads
    of one process wait for each other between connect() and send(), which
    widens that last window)."""

    def __init__(self, lab, on=None):
        self.lab, self.keepalive, self.on = lab, on is not None, on
        self.per_node, self.failed, self.retries, self.opened = {}, [], [], 0.0
        self.slowest, self.stopping, self.sock, self.buf = 0.0, False, None, b""
        sock = pinned(lab, on) if on is not None else None
        rfd, wfd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            self.child(sock, wfd)
        os.close(wfd)
        if sock is not None:
            sock.close()
        self.rfd = rfd

    def child(self, sock, wfd):
        """Loops until TERM, writes its figures to wfd; never returns (no
        atexit handler of the parent's runs here)."""
        try:
            signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
            self.sock = sock
            self.run()
            os.write(wfd, json.dumps([self.per_node, self.failed[:20], self.retries[:20],
                                      self.slowest]).encode())
        finally:
            os._exit(0)

    @property
    def ok(self):
        return sum(self.per_node.values())

    def run(self):
        # Bounded even if the parent never says stop (it failed first).
        deadline = time.monotonic() + LOOP_MAX_S
        while not self.stopping and time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                st, hdrs = self.one()
            except (OSError, EOFError) as e:
                self.close()
                self.failed.append(f"{time.time():.3f} {e!r}")
                continue
            self.slowest = max(self.slowest, time.monotonic() - t0)
            if st != 200:
                self.failed.append(f"{time.time():.3f} status {st}")
                continue
            node = hdrs.get("x-node", "?")
            self.per_node[node] = self.per_node.get(node, 0) + 1

    def one(self):
        try:
            return self.exchange()
        except (ConnectionResetError, EOFError) as e:
            self.close()
            self.retries.append([self.opened, time.time(), repr(e)])
        return self.exchange()

    def exchange(self):
        """One GET; raises EOFError when the connection closes before the
        answer, OSError on any other failure."""
        if self.sock is None:
            self.opened = time.time()
            self.sock = self.lab.socket("user", socket.AF_INET, socket.SOCK_STREAM)
            self.sock.settimeout(5)
            self.sock.connect((ANYCAST, 80))
            self.buf = b""
        close = "" if self.keepalive else "Connection: close\r\n"
        self.sock.sendall(f"GET / HTTP/1.1\r\nHost: {ANYCAST}\r\n{close}\r\n".encode())
        while True:
            resp, rest = t.parse_responses(self.buf, eof=False)
            if resp:
                self.buf = rest
                st, hdrs, _ = resp[0]
                if close or "close" in hdrs.get("connection", "").lower():
                    self.close()
                return st, hdrs
            b = self.sock.recv(65536)
            if not b:
                raise EOFError("closed before an answer")
            self.buf += b

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def end(self):
        os.kill(self.pid, signal.SIGTERM)
        data = b""
        while True:
            b = os.read(self.rfd, 65536)
            if not b:
                break
            data += b
        os.close(self.rfd)
        os.waitpid(self.pid, 0)
        if not data:
            self.failed = ["the client process wrote nothing"]
            return
        self.per_node, self.failed, self.retries, self.slowest = json.loads(data)


def pinned(lab, node):
    """A keep-alive connection that landed on node (the router's hash picks
    it from the source port), its first answer read."""
    for _ in range(100):
        s = lab.socket("user", socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect((ANYCAST, 80))
        s.sendall(f"GET / HTTP/1.1\r\nHost: {ANYCAST}\r\n\r\n".encode())
        data = b""
        while not t.parse_responses(data, eof=False)[0]:
            data += s.recv(65536)
        if t.parse_responses(data, eof=False)[0][0][1].get("x-node") == node:
            return s
        s.close()
    raise OSError(f"no connection landed on {node}")


def answer(s):
    """The status of the answer on s (None: none came)."""
    data = b""
    try:
        while not t.parse_responses(data, eof=False)[0]:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except OSError:
        pass
    finally:
        s.close()
    resp = t.parse_responses(data, eof=False)[0]
    return resp[0][0] if resp else None


def stop_under_load(lab, node, sig, slow_ms, what):
    """Stops node with sig while clients loop and a request of slow_ms is
    in flight on it; checks the order of things."""
    # New connections, and a connection kept alive on each node.
    loops = [Looper(lab)] + [Looper(lab, on=n["name"]) for n in NODES]
    try:
        signalled, changed, told = stop_and_watch(lab, node, sig, slow_ms, what)
    finally:
        for lp in loops:
            lp.end()
    for lp in loops:
        kind = f"keep-alive from {lp.on}" if lp.keepalive else "new connections"
        t.note(f"{kind}: {lp.ok} answered {lp.per_node}, {len(lp.retries)} sent again on a "
               f"new connection, slowest {lp.slowest * 1000:.0f} ms")
        t.check(lp.failed == [] and lp.ok > 0, f"{kind}: no request failed", lp.failed[:5])
        # Opened before the router's change, reset after the signal but
        # before the workers were told to stop: fulcrum had closed nothing.
        odd = [r for r in lp.retries
               if not (changed and r[0] <= changed and signalled <= r[1] <= told)]
        t.check(odd == [], f"{kind}: every request sent again was on a connection that "
                "spanned the router's change, reset before fulcrum closed anything",
                (signalled, changed, told, odd[:5]))
        if lp.keepalive and lp.on != node["name"]:
            t.check(lp.retries == [], f"{kind}: its connection stayed on {lp.on}", lp.per_node)


def stop_and_watch(lab, node, sig, slow_ms, what):
    fc = node["fc"]
    others = [n["name"] for n in NODES if n is not node and n.get("fc")]
    time.sleep(0.5)
    slow = pinned(lab, node["name"])
    slow.sendall(f"GET /delay?ms={slow_ms} HTTP/1.1\r\nHost: {ANYCAST}\r\n\r\n".encode())
    wall0 = time.time()
    fc.signal(sig)
    ok, _, _ = wait_nexthops(lab, others, HOLD_S)
    t.check(ok, f"the route is left with {others} within the hold time", nexthops(lab))
    seen = changed_at(ROUTES, others, wall0) if ok else None
    took = (seen - wall0) if seen else float("nan")
    t.note(f"{node['name']} withdrawn from the router's kernel {took * 1000:.0f} ms "
           f"after its {what}")
    st = answer(slow)
    t.check(st == 200, f"the request in flight on {node['name']} ({slow_ms} ms) is answered "
            "after the withdrawal", st)
    t.check(fc.wait_exit(DRAIN_MS / 1000 + 5) is not None, "fulcrum exits")
    t.check(local_addrs(lab, node["name"]) == [], "the address is gone from fulcrum0 and lo",
            local_addrs(lab, node["name"]))
    workers_told = h.since_log(fc, "stopping" if sig == signal.SIGTERM else "QUIT: finishing",
                               wall0)
    t.note(f"workers told to stop {workers_told:.0f} ms after the {what}")
    t.check(took * 1000 < workers_told,
            "the router had withdrawn it before the workers were told to stop",
            (took * 1000, workers_told))
    return wall0, seen, wall0 + workers_told / 1000


lab = h.lab_up(extra={"lb3": "192.0.2.13/24"})
try:
    user_up(lab)
    with t.step("three nodes announce: the router has the three as nexthops"):
        for n in NODES:
            start_node(lab, n)
            start_bird(lab, n["name"], node_bird(n["addr"]))
        start_bird(lab, "client", router_bird())
        ROUTES = monitor_routes(lab)
        # BGP: connect delay and retry 1 s; a few rounds on a loaded box.
        ok, _, _ = wait_nexthops(lab, BY_NAME, 6 * HOLD_S)
        t.check(ok, "ECMP route via lb1, lb2 and lb3", nexthops(lab))
        t.check(nexthops(lab) == [n["addr"] for n in NODES],
                "in the order of their addresses (lb2 is the middle one)", nexthops(lab))

    with t.step("new connections spread over the three nodes"):
        got = {}
        for i in range(60):
            st, hdrs, _ = get(lab)
            got[hdrs.get("x-node")] = got.get(hdrs.get("x-node"), 0) + 1
        t.note(f"answers per node: {got}")
        t.check(sorted(got) == sorted(BY_NAME), "every node served some", got)

    with t.step(f"{SESSIONS} stick sessions learned through the router are honoured "
                "through every node"):
        owners, learner = {}, {}
        for _ in range(SESSIONS):
            sid = secrets.token_hex(13)
            st, hdrs, _ = get(lab, f"/setcookie?name=PHPSESSID&value={sid}")
            owners[sid], learner[sid] = hdrs.get("x-backend"), hdrs.get("x-node")
        t.note(f"learned through {sorted(set(learner.values()))}, owned by "
               f"{sorted(set(owners.values()), key=str)}")
        t.check(set(owners.values()) == {"web1", "web2"}, "both servers own some",
                set(owners.values()))

        def table(n):
            return h.stat(n["fc"]).get("sessions", {}).get("size", -1)
        t.check(h.wait(lambda: all(table(n) >= SESSIONS for n in NODES), 5, 0.05),
                "every node's table holds them (replicated over the sync mesh)",
                [table(n) for n in NODES])
        bad, elsewhere = [], 0
        for sid in list(owners) * 3:    # new connections: the router spreads them
            st, hdrs, _ = get(lab, "/echo", cookie=f"PHPSESSID={sid}")
            via = hdrs.get("x-node")
            elsewhere += via != learner[sid]
            if st != 200 or hdrs.get("x-backend") != owners[sid]:
                bad.append(f"{sid}: {st} {hdrs.get('x-backend')} via {via}, "
                           f"owner {owners[sid]} (learned via {learner[sid]})")
        t.note(f"{elsewhere} of {3 * SESSIONS} answers came through another node "
               "than the one that learned the session")
        t.check(elsewhere >= SESSIONS, "most went through another node", elsewhere)
        t.check(not bad, "every one went to its own server", bad[:5])

    with t.step("clean stop (TERM) of lb2: withdrawn first, no request fails"):
        stop_under_load(lab, BY_NAME["lb2"], signal.SIGTERM, 100, "TERM")

    with t.step("lb2 back, then drained (QUIT): withdrawn first, no request fails"):
        start_node(lab, BY_NAME["lb2"], name="lb2b")
        ok, took, _ = wait_nexthops(lab, BY_NAME, HOLD_S)
        t.note(f"lb2 announced again {took * 1000:.0f} ms after its ha process started")
        t.check(ok, "three nexthops again", nexthops(lab))
        stop_under_load(lab, BY_NAME["lb2"], signal.SIGQUIT, 1000, "QUIT")

    with t.step("kill -9 of lb3's fulcrum: withdrawn when its lease runs out"):
        h.kill_node(BY_NAME["lb3"]["fc"])
        wall0 = time.time()
        ok, took, _ = wait_nexthops(lab, ["lb1"], LEASE_S + 3)
        seen = changed_at(ROUTES, ["lb1"], wall0) if ok else None
        took = seen - wall0 if seen else took
        t.note(f"lb3 withdrawn {took * 1000:.0f} ms after the kill (lease {LEASE_S} s)")
        # The kernel checks lifetimes on a timer rounded up to a whole second.
        t.check(ok and took <= LEASE_S + 1.5, "within the lease (and the kernel's second)",
                (nexthops(lab), took))
        st, hdrs, _ = get(lab)
        t.check(st == 200 and hdrs.get("x-node") == "lb1", "the address still answers, "
                "through lb1", (st, hdrs.get("x-node")))
finally:
    lab.teardown()
t.finish()

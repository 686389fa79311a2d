#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""reload: kill -USR2 applies the rewritten config file to a running fulcrum.

  generation 1   2 workers; "web" roundrobin a, b; "old" a
  reload -> 2    4 workers; web gains c, b's weight is 0, timeout.server
                 300 ms; listener "new" (c) on a new port.  No socket is
                 closed: net.ipv4.tcp_migrate_req is left alone
  reload -> 3    1 worker; web loses a, b's weight is 1 again, the server
                 timeout is long again; as root tcp_migrate_req reads 1 (the
                 sockets of slots 1-3 were closed)
  broken thrice  a syntax error, an unknown balance: FILE:LINE errors; a
                 port held by another process: "cannot listen", and the new
                 port opened before it is closed again.  Each time "reload
                 failed", the same workers serve, generation 3 stays
  reload -> 4    fixed, and "old" removed: its port refuses connections
  reload -> 5, 6 the same file again
Traffic runs on "web" through it all, one fresh connection per request: not
one fails.  fulcrum-stat is read over and over: the generation and the
totals never go back, and end equal to what was sent.

As root the scenario runs in a network namespace of its own (only lo), so
the sysctl starts at 0 there and the host's is never changed.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

MIGRATE = "/proc/sys/net/ipv4/tcp_migrate_req"


def private_netns():
    """As root, runs this script again in a new network namespace."""
    if os.geteuid() != 0 or os.environ.get("FC_PRIVATE_NETNS"):
        return
    unshare = shutil.which("unshare")
    up = "ip link set lo up"
    if unshare is None or subprocess.run(
            [unshare, "--net", "sh", "-c", up], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode != 0:
        print("   no private network namespace: the sysctl is the host's",
              flush=True)
        return
    os.environ["FC_PRIVATE_NETNS"] = "1"
    os.execv(unshare, [unshare, "--net", "--", "sh", "-c",
                       up + ' && exec "$@"', "sh", sys.executable, *sys.argv])


private_netns()
import fctest as t  # noqa: E402  (after the re-exec)

a, b, c = t.Backend("a"), t.Backend("b"), t.Backend("c")
P_WEB, P_OLD, P_NEW = t.free_port(), t.free_port(), t.free_port()
LISTENER_OF_PORT = {P_WEB: "web", P_OLD: "old", P_NEW: "new"}


def conf(workers, listeners, balance="roundrobin"):
    """listeners: (name, port, server timeout ms, [(server, backend, weight)])."""
    blocks = []
    for name, port, tsrv, servers in listeners:
        rows = ",\n      ".join(
            f'{{ name = "{s}"; address = "{be.addr}"; weight = {w}; }}'
            for s, be, w in servers)
        blocks.append(f"""  {{
    name = "{name}"; bind = [ "127.0.0.1:{port}" ];
    balance = "{balance}";
    httpclose = true;
    timeout = {{ server = {tsrv}; }};
    servers = ( {rows} );
  }}""")
    joined = ",\n".join(blocks)
    return f"""global: {{ workers = {workers}; drain_timeout = 3000; }};
defaults: {{ retries = 1;
  timeout = {{ connect = 1000; client = 10000; server = 10000;
              http_request = 5000; }}; }};
listeners = (
{joined}
);
"""


OLD = ("old", P_OLD, 10000, [("a", a, 1)])
NEW = ("new", P_NEW, 10000, [("c", c, 1)])
GEN1 = conf(2, [("web", P_WEB, 10000, [("a", a, 1), ("b", b, 1)]), OLD])
GEN2 = conf(4, [("web", P_WEB, 300, [("a", a, 1), ("b", b, 0), ("c", c, 1)]),
                OLD, NEW])
GEN3 = conf(1, [("web", P_WEB, 10000, [("b", b, 1), ("c", c, 1)]), OLD, NEW])
GEN4 = conf(2, [("web", P_WEB, 10000, [("b", b, 1), ("c", c, 1)]), NEW])


# ------------------------------------------------------------ traffic
class Traffic:
    """Every request sent through fulcrum, tallied by (listener, X-Backend);
    a thread keeps requesting "/" on web, one connection per request."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0
        self.by = {}                  # (listener, backend) -> responses
        self.failures = []
        self.stop_evt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def get(self, port, path="/", timeout=10):
        """One request, counted; returns (status, backend or None)."""
        with self.lock:
            self.sent += 1
        try:
            st, h, body = t.http(port, "GET", path, timeout=timeout)
        except Exception as e:
            with self.lock:
                self.failures.append(f"{time.strftime('%T')} {port}{path}: {e!r}")
            return None, None
        name = h.get("x-backend")
        with self.lock:
            if name:
                key = (LISTENER_OF_PORT[port], name)
                self.by[key] = self.by.get(key, 0) + 1
        return st, name

    def _run(self):
        while not self.stop_evt.is_set():
            st, name = self.get(P_WEB)
            if st is not None and st != 200:
                with self.lock:
                    self.failures.append(f"{time.strftime('%T')} web/: {st}")
            time.sleep(0.01)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_evt.set()
        self.thread.join(10)


class Sampler:
    """fulcrum-stat --json every 50 ms: (generation, totals.requests,
    {listener/server: requests}) per sample."""

    def __init__(self, fc):
        self.fc = fc
        self.samples = []
        self.errors = []
        self.stop_evt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_evt.is_set():
            try:
                j = self.fc.stat_json()
                self.samples.append((
                    j["instance"]["generation"], j["totals"]["requests"],
                    {f"{s['listener']}/{s['name']}": s["counters"]["requests"]
                     for s in j["servers"]}))
            except Exception as e:
                self.errors.append(repr(e))
            time.sleep(0.05)

    def start(self):
        """Starts sampling, once a first sample is in."""
        self.thread.start()
        deadline = time.monotonic() + 5
        while not self.samples and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self):
        self.stop_evt.set()
        self.thread.join(10)

    def wait_generation(self, gen, timeout=3.0):
        """Waits until a sample of generation gen is in; returns it or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for smp in reversed(self.samples):
                if smp[0] == gen:
                    return smp
            time.sleep(0.02)
        return None


def spread(traffic, port, n):
    """n requests on port; returns {backend: count} and the statuses."""
    seen, statuses = {}, []
    for _ in range(n):
        st, name = traffic.get(port)
        statuses.append(st)
        seen[name] = seen.get(name, 0) + 1
    return seen, statuses


def servers_of(j):
    return {f"{s['listener']}/{s['name']}": s for s in j["servers"]}


def reloaded(fc, sampler, text, want):
    """Reloads with text; checks the master and fulcrum-stat both say
    generation want (one more than before)."""
    gen = fc.reload(text)
    t.check(gen == want, f"the master logs generation {want} started", f"{gen}")
    t.check(sampler.wait_generation(want) is not None,
            f"fulcrum-stat --json says generation {want}",
            f"samples saw {sorted({g for g, _, _ in sampler.samples})}")


def migrate_value():
    try:
        with open(MIGRATE) as f:
            return f.read().strip()
    except OSError:
        return None


def log_since(fc, mark):
    return fc.log_text()[mark:]


# ------------------------------------------------------------ scenario
root = os.geteuid() == 0
with t.Fulcrum(GEN1, name="reload") as fc:
    traffic = Traffic()
    sampler = Sampler(fc)
    real_conf = os.path.realpath(fc.conf_path)

    with t.step("generation 1: 2 workers, web (a, b), old (a)"):
        workers = fc.wait_settled(2)
        j = fc.stat_json()
        t.check(j["instance"]["generation"] == 1, "generation 1",
                f"{j['instance']['generation']}")
        t.check(workers is not None, "2 workers (fulcrum-wN) and a checker",
                f"{fc.children()}")
        seen, st = spread(traffic, P_WEB, 20)
        t.check(st.count(200) == 20 and set(seen) == {"a", "b"},
                "web: 20 x 200 from a and b", f"{seen} {st}")
        t.check(traffic.get(P_OLD)[0] == 200, "old answers")
        t.note(f"root: {root}, private netns: "
               f"{bool(os.environ.get('FC_PRIVATE_NETNS'))}, "
               f"{MIGRATE} = {migrate_value()}")
        traffic.start()
        sampler.start()

    with t.step("reload -> 2: 4 workers, c added, b weight 0, timeout.server "
                "300, listener new"):
        migrate_before = migrate_value()
        mark = len(fc.log_text())
        reloaded(fc, sampler, GEN2, 2)
        workers = fc.wait_settled(4)
        t.check(workers is not None and len(workers) == 4,
                "exactly 4 workers once the old generation is gone",
                f"workers {fc.worker_pids()}, children {fc.children()}")
        seen, st = spread(traffic, P_WEB, 40)
        t.note(f"web after the reload: {seen}")
        t.check(st.count(200) == 40, "40 x 200", f"{st}")
        t.check(seen.get("c", 0) > 0, "c (added) takes traffic", f"{seen}")
        t.check(seen.get("b", 0) == 0, "b (weight 0) takes none", f"{seen}")
        t.check(seen.get("a", 0) > 0, "a still takes traffic", f"{seen}")
        t0 = time.monotonic()
        st, name = traffic.get(P_WEB, "/delay?ms=1500")
        took = time.monotonic() - t0
        t.check(st == 504 and took < 1.2,
                "/delay?ms=1500: 504 after ~300 ms (the new timeout.server)",
                f"status {st} after {took:.2f} s")
        st, name = traffic.get(P_NEW)
        t.check(st == 200 and name == "c", "listener new (a new port) answers, "
                "from c", f"{st} {name}")
        t.check(traffic.get(P_OLD)[0] == 200, "old still answers")
        srv = servers_of(fc.stat_json())
        t.check(set(srv) == {"web/a", "web/b", "web/c", "old/a", "new/c"},
                "fulcrum-stat lists the new server table", f"{sorted(srv)}")
        t.check(srv["web/b"]["weight"] == 0 and srv["web/c"]["weight"] == 1,
                "with the new weights", f"b {srv['web/b']['weight']}")
        if root:
            t.check(migrate_value() == migrate_before,
                    "no socket closed: tcp_migrate_req left alone",
                    f"{migrate_before} -> {migrate_value()}")
            t.check("tcp_migrate_req" not in log_since(fc, mark),
                    "and nothing logged about it")

    with t.step("reload -> 3: 1 worker, a removed, b weight 1, long timeout"):
        mark = len(fc.log_text())
        reloaded(fc, sampler, GEN3, 3)
        workers = fc.wait_settled(1)
        t.check(workers is not None and len(workers) == 1,
                "exactly 1 worker once the old generation is gone",
                f"workers {fc.worker_pids()}, children {fc.children()}")
        seen, st = spread(traffic, P_WEB, 30)
        t.note(f"web after the reload: {seen}")
        t.check(st.count(200) == 30, "30 x 200", f"{st}")
        t.check(seen.get("a", 0) == 0, "a (removed) takes none", f"{seen}")
        t.check(seen.get("b", 0) > 0 and seen.get("c", 0) > 0,
                "b (weight 1 again) and c take traffic", f"{seen}")
        st, name = traffic.get(P_WEB, "/delay?ms=500")
        t.check(st == 200, "/delay?ms=500: 200 (timeout.server long again)",
                f"{st}")
        if root:
            t.check(migrate_value() == "1",
                    f"fewer workers as root: {MIGRATE} reads 1",
                    f"{migrate_value()!r}")
            t.check("set net.ipv4.tcp_migrate_req = 1" in log_since(fc, mark),
                    "the master logs that it set it (it was 0 before)",
                    log_since(fc, mark)[-2000:])
        else:
            t.note("not root: the tcp_migrate_req check is skipped")

    with t.step("a broken config (syntax error) changes nothing"):
        before = fc.worker_pids()
        kids = fc.children()
        broken = GEN3.replace("listeners = (", "listeners = ( ;", 1)
        line = broken[:broken.index("( ;")].count("\n") + 1
        mark = len(fc.log_text())
        gen = fc.reload(broken)
        log = log_since(fc, mark)
        t.check(gen is None, "the master logs reload failed", log)
        t.check(re.search(rf"(?:{re.escape(fc.conf_path)}|{re.escape(real_conf)})"
                          rf":{line}: ", log),
                f"the error is logged as FILE:{line}:", log)
        t.check("reload failed: generation 3 keeps running unchanged" in log,
                "generation 3 keeps running", log)
        time.sleep(0.5)
        seen, st = spread(traffic, P_WEB, 10)
        t.check(st.count(200) == 10, "requests still answered", f"{st}")
        t.check(fc.worker_pids() == before and fc.children() == kids,
                "the same processes serve, none started",
                f"{before} -> {fc.worker_pids()}; {kids} -> {fc.children()}")
        t.check(fc.stat_json()["instance"]["generation"] == 3,
                "fulcrum-stat: still generation 3")

    with t.step("a broken config (unknown balance) changes nothing"):
        broken = conf(1, [("web", P_WEB, 10000, [("b", b, 1), ("c", c, 1)]),
                          OLD, NEW], balance="bogus")
        line = broken[:broken.index('balance = "bogus"')].count("\n") + 1
        mark = len(fc.log_text())
        gen = fc.reload(broken)
        log = log_since(fc, mark)
        t.check(gen is None, "reload failed", log)
        t.check(re.search(rf"(?:{re.escape(fc.conf_path)}|{re.escape(real_conf)})"
                          rf":{line}: .*balance", log),
                f"FILE:{line}: names the balance", log)
        time.sleep(0.5)
        seen, st = spread(traffic, P_WEB, 10)
        t.check(st.count(200) == 10, "requests still answered", f"{st}")
        t.check(fc.worker_pids() == before and fc.children() == kids,
                "the same processes serve, none started",
                f"{before} -> {fc.worker_pids()}")
        t.check(fc.stat_json()["instance"]["generation"] == 3,
                "fulcrum-stat: still generation 3")

    with t.step("a port another process holds: the reload fails, and the "
                "new port it had opened meanwhile is closed again"):
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        p_busy, p_extra = holder.getsockname()[1], t.free_port()
        busy = conf(1, [("web", P_WEB, 10000, [("b", b, 1), ("c", c, 1)]),
                        OLD, NEW, ("extra", p_extra, 10000, [("c", c, 1)]),
                        ("busy", p_busy, 10000, [("c", c, 1)])])
        mark = len(fc.log_text())
        gen = fc.reload(busy)
        log = log_since(fc, mark)
        holder.close()
        t.check(gen is None, "reload failed", log)
        t.check(re.search(rf"listener busy: cannot listen on 127.0.0.1:{p_busy}",
                          log), "the log names the listener and the address",
                log)
        t.check(not t.port_accepts(p_extra),
                "the port of listener extra, opened first, is closed again")
        t.check(fc.worker_pids() == before and fc.children() == kids,
                "the same processes serve", f"{fc.children()}")
        t.check(fc.stat_json()["instance"]["generation"] == 3,
                "fulcrum-stat: still generation 3")

    with t.step("fixed -> 4: 2 workers, listener old removed"):
        reloaded(fc, sampler, GEN4, 4)
        workers = fc.wait_settled(2)
        t.check(workers is not None and not set(workers) & set(before),
                "2 new workers, the old one gone", f"{before} -> {workers}")
        deadline = time.monotonic() + 3
        while t.port_accepts(P_OLD) and time.monotonic() < deadline:
            time.sleep(0.05)
        t.check(not t.port_accepts(P_OLD), "old's port refuses connections")
        t.check(traffic.get(P_NEW)[0] == 200, "new still answers")
        t.check("old/a" not in servers_of(fc.stat_json()),
                "fulcrum-stat lists no server of old")

    with t.step("reload -> 5 and -> 6 with the same file"):
        for want in (5, 6):
            reloaded(fc, sampler, None, want)
        workers = fc.wait_settled(2)
        t.check(workers is not None, "2 workers, one checker, nothing else",
                f"{fc.children()}")

    with t.step("traffic through 5 reloads and 3 failed ones"):
        traffic.stop()
        sampler.stop()
        t.note(f"{traffic.sent} requests sent, {len(sampler.samples)} samples "
               f"of fulcrum-stat")
        t.check(not traffic.failures, "not one request failed",
                "\n".join(traffic.failures[:20]))
        t.check(not sampler.errors, "fulcrum-stat always answered",
                "\n".join(sampler.errors[:10]))
        back = []
        for (g0, r0, s0), (g1, r1, s1) in zip(sampler.samples,
                                               sampler.samples[1:]):
            if g1 < g0 or r1 < r0:
                back.append(f"generation {g0} -> {g1}, requests {r0} -> {r1}")
            for k in set(s0) & set(s1):
                if s1[k] < s0[k]:
                    back.append(f"generation {g0} -> {g1}: {k} {s0[k]} -> {s1[k]}")
        t.check(not back, "generation, totals and per-server requests never "
                "go back", "\n".join(back[:20]))
        gens = sorted({g for g, _, _ in sampler.samples})
        t.check(gens == [1, 2, 3, 4, 5, 6], "the samples saw generations 1 to 6",
                f"{gens}")

    with t.step("the final totals are what was sent"):
        deadline = time.monotonic() + 3
        while True:
            j = fc.stat_json()
            if j["totals"]["requests"] >= traffic.sent or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.1)
        t.check(j["totals"]["requests"] == traffic.sent,
                f"totals.requests == {traffic.sent} requests sent",
                f"{j['totals']['requests']}")
        srv = servers_of(j)
        for key in (("web", "b"), ("web", "c"), ("new", "c")):
            name = "/".join(key)
            t.check(srv[name]["counters"]["requests"] == traffic.by.get(key, 0),
                    f"{name}: requests == the {traffic.by.get(key, 0)} "
                    "responses it sent", f"{srv[name]['counters']['requests']}")
        t.check(re.search(r"generation 5: every process has exited",
                          fc.log_text()),
                "the master logs each old generation's end")

t.finish()

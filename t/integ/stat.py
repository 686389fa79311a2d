#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""stat: fulcrum-stat reads a running instance from its shared memory.

After exactly K requests on fresh connections, spread over three workers,
--json's totals and per-server sums say K, --csv parses with HAProxy's
column names, --prometheus and the table agree; -n finds the same segment
in its three spellings; stopped workers do not stop it; two instances make
the no-argument form list both; a dead or stopped instance and a segment
of another layout version are errors (exit 1) with a clear message.
"""
import csv
import hashlib
import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import time

import fctest as t

STAT = os.environ.get("FULCRUM_STAT") or os.path.join(
    os.path.dirname(t.FULCRUM), "fulcrum-stat")
K = 300
HAPROXY_COLUMNS = (
    "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,"
    "eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,"
    "qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,"
    "check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,"
    "hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,"
    "cli_abrt,srv_abrt").split(",")
SERVER_KEYS = {"listener", "name", "address", "state", "last_change_ms",
               "check", "weight", "counters"}

if not os.access(STAT, os.X_OK):
    t.skip(f"fulcrum-stat not found at {STAT} (build it first)")


def conf(port, servers, workers):
    rows = ",\n              ".join(
        f'{{ name = "{n}"; address = "{a}"; check = {c}; }}'
        for n, a, c in servers)
    return f"""
global: {{ workers = {workers}; watchdog_ms = 0; }};  # the workers stay stopped below
defaults: {{ timeout = {{ connect = 1000; client = 10000; server = 10000;
                          http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; httpclose = true;
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = 300; }};
  servers = ( {rows} );
}} );
"""


def segment_of(conf_path):
    """The segment name fulcrum derives from the config's real path."""
    real = os.path.realpath(conf_path).encode()
    return "/fulcrum-" + hashlib.sha256(real).hexdigest()[:16]


def stat(*args, timeout=10):
    """Runs fulcrum-stat; returns (status, stdout, stderr)."""
    p = subprocess.run([STAT, *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def stat_json(*args):
    rc, out, err = stat(*args, "--json")
    if rc != 0:
        raise AssertionError(f"fulcrum-stat --json exited {rc}: {err}")
    return json.loads(out)


def wait_requests(fc, want, timeout=3.0):
    """Polls --json until totals.requests reaches want (a worker counts a
    request when it has relayed the response: maybe just after the client
    read it).  Returns the last snapshot."""
    deadline = time.monotonic() + timeout
    while True:
        j = stat_json("-f", fc.conf_path)
        if j["totals"]["requests"] >= want or time.monotonic() > deadline:
            return j
        time.sleep(0.05)


def shm_version():
    with open(os.path.join(t.SRCDIR, "shm", "shm-t.h")) as f:
        return int(re.search(r"#define FC_SHM_VERSION\s+(\d+)", f.read())[1])


a = t.Backend("webA")
b = t.Backend("webB")
port = t.free_port()

with t.Fulcrum(conf(port, [("webA", a.addr, "true"), ("webB", b.addr, "false")],
                    workers=3), name="main") as fc:
    workers = fc.wait_children(3)
    seg = segment_of(fc.conf_path)
    t.note(f"master {fc.pid}, workers {workers}, segment {seg}")

    with t.step(f"{K} requests on fresh connections"):
        statuses = [t.http(port, "GET", f"/?i={i}")[0] for i in range(K)]
        t.check(statuses.count(200) == K, f"all {K} answered 200",
                f"{[s for s in statuses if s != 200][:10]}")

    with t.step("fulcrum-stat -f CONF --json"):
        j = wait_requests(fc, K)
        t.note(json.dumps(j["totals"]))
        t.check(set(j) >= {"instance", "servers", "workers", "totals",
                           "sessions", "ha"},
                "has instance, servers, workers, totals, sessions, ha",
                f"keys {sorted(j)}")
        t.check(j["totals"]["requests"] == K, f"totals.requests == {K}",
                f"got {j['totals']['requests']}")
        per_server = [s["counters"]["requests"] for s in j["servers"]]
        t.check(sum(per_server) == K, f"per-server requests sum to {K}",
                f"got {per_server}")
        t.check(all(n > 0 for n in per_server),
                "roundrobin: both servers served requests", f"{per_server}")
        t.check(sorted(s["name"] for s in j["servers"]) == ["webA", "webB"],
                "lists webA and webB", f"{[s['name'] for s in j['servers']]}")
        for s in j["servers"]:
            t.check(set(s) >= SERVER_KEYS and s["listener"] == "web" and
                    s["state"] in ("UP", "DOWN", "MAINT"),
                    f"server {s['name']} has the contract keys, listener web, "
                    "a valid state", json.dumps(s))
        by_name = {s["name"]: s for s in j["servers"]}
        t.check(by_name["webA"]["address"] == a.addr and
                by_name["webB"]["address"] == b.addr,
                "addresses as configured",
                f"{by_name['webA']['address']}, {by_name['webB']['address']}")
        t.check(by_name["webB"]["check"]["enabled"] is False and
                by_name["webB"]["check"]["result"] is None,
                "webB (check = false): check disabled, result null",
                json.dumps(by_name["webB"]["check"]))
        inst = j["instance"]
        t.check(inst["pid"] == fc.pid, "instance.pid is the master",
                f"{inst['pid']} vs {fc.pid}")
        t.check(inst["config"] == os.path.realpath(fc.conf_path) and
                inst["segment"] == seg,
                "instance.config and instance.segment",
                f"{inst['config']}, {inst['segment']}")

    with t.step("workers: 3 entries, all alive, the master's children"):
        ws = j["workers"]
        t.check(len(ws) == 3, "3 workers", f"{len(ws)}")
        t.check(all(w["alive"] for w in ws), "all alive",
                json.dumps([[w["slot"], w["pid"], w["alive"],
                             w["heartbeat_ms_ago"]] for w in ws]))
        t.check(sorted(w["pid"] for w in ws) == sorted(fc.worker_pids()),
                "their pids are the master's workers",
                f"{[w['pid'] for w in ws]} vs {fc.worker_pids()}")
        t.check(sum(w["requests"] for w in ws) == K,
                f"worker requests sum to {K}", f"{[w['requests'] for w in ws]}")
        served = [w["requests"] for w in ws if w["requests"] > 0]
        t.note(f"requests per worker: {[w['requests'] for w in ws]}")
        t.check(len(served) >= 2, "the requests spread over several workers",
                f"{[w['requests'] for w in ws]}")
        t.check(j["totals"]["workers_alive"] == 3 and
                j["totals"]["workers"] == 3,
                "totals: workers_alive 3 of 3", json.dumps(j["totals"]))

    with t.step("the health check shows in the report"):
        deadline = time.monotonic() + 3
        while True:
            chk = {s["name"]: s for s in stat_json("-f", fc.conf_path)
                   ["servers"]}["webA"]["check"]
            if chk["result"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        t.note(json.dumps(chk))
        t.check(chk["enabled"] and chk["result"] == "L7OK" and
                chk["code"] == 200, "webA: check enabled, L7OK, code 200",
                json.dumps(chk))

    with t.step("--csv"):
        rc, out, err = stat("-f", fc.conf_path, "--csv")
        t.check(rc == 0, "exit 0", err)
        rows = list(csv.reader(io.StringIO(out)))
        head = rows[0]
        t.check(head[0].startswith("# "), "header starts with '# '", head[0])
        names = [head[0][2:]] + head[1:]
        if names and names[-1] == "":
            names.pop()           # HAProxy ends every line with a comma
        t.check(names == HAPROXY_COLUMNS[:len(names)] and len(names) >= 36,
                "HAProxy's column names in HAProxy's order", ",".join(names))
        recs = [dict(zip(names, r)) for r in rows[1:]]
        servers = [r for r in recs if r["svname"] in ("webA", "webB")]
        backend = [r for r in recs if r["svname"] == "BACKEND"]
        t.check(len(servers) == 2 and len(backend) == 1,
                "one row per server and a BACKEND row", out)
        t.check(sum(int(r["req_tot"]) for r in servers) == K,
                f"server req_tot sums to {K}", out)
        t.check(backend and int(backend[0]["req_tot"]) == K and
                backend[0]["pxname"] == "web",
                f"BACKEND web req_tot == {K}", out)
        t.check(all(r["status"] in ("UP", "DOWN", "MAINT") for r in servers),
                "status UP/DOWN/MAINT", out)

    with t.step("--prometheus"):
        rc, out, err = stat("-f", fc.conf_path, "--prometheus")
        t.check(rc == 0, "exit 0", err)
        t.check(re.search(rf"^fulcrum_requests_total {K}$", out, re.M),
                f"fulcrum_requests_total {K}",
                "\n".join(l for l in out.splitlines() if "requests" in l))
        t.check("# TYPE fulcrum_requests_total counter" in out,
                "with its # TYPE line")
        t.check(re.search(r'^fulcrum_server_up\{listener="web",server="webA"\} 1$',
                          out, re.M) and
                re.search(r'^fulcrum_server_up\{listener="web",server="webB"\} 1$',
                          out, re.M), "fulcrum_server_up 1 for webA and webB")
        t.check(re.search(r"^fulcrum_workers_alive 3$", out, re.M),
                "fulcrum_workers_alive 3")

    with t.step("the table"):
        rc, out, err = stat("-f", fc.conf_path)
        t.note(out)
        t.check(rc == 0, "exit 0", err)
        t.check("webA" in out and "webB" in out, "names both servers")
        t.check("workers alive 3/3" in out, "says workers alive 3/3")

    with t.step("-n in its three spellings"):
        for n in (seg, seg[1:], seg[len("/fulcrum-"):]):
            rc, out, err = stat("-n", n, "--json")
            t.check(rc == 0 and json.loads(out)["instance"]["pid"] == fc.pid,
                    f"-n {n}", f"exit {rc}: {err}")

    with t.step("no argument"):
        rc, out, err = stat("--json")
        if rc != 0 and "instances are running" in err:
            t.note("other fulcrum instances run on this host: "
                   "the single-instance form is not testable here\n" + err)
        else:
            t.check(rc == 0 and json.loads(out)["instance"]["pid"] == fc.pid,
                    "the only live instance is picked", f"exit {rc}: {err}")

    with t.step("every worker stopped (SIGSTOP): fulcrum-stat still answers"):
        stopped = [w["pid"] for w in j["workers"]]
        try:
            for w in stopped:
                os.kill(w, signal.SIGSTOP)
            t0 = time.monotonic()
            rc, out, err = stat("-f", fc.conf_path, "--json", timeout=5)
            took = time.monotonic() - t0
            t.check(rc == 0 and json.loads(out)["totals"]["requests"] == K,
                    f"answers at once ({took:.2f} s) with the same totals",
                    f"exit {rc}: {err}")
            time.sleep(2.5)
            s = stat_json("-f", fc.conf_path)
            t.check(s["totals"]["workers_alive"] == 0 and
                    not any(w["alive"] for w in s["workers"]),
                    "2.5 s later: no worker alive (heartbeats stale)",
                    json.dumps([[w["pid"], w["alive"], w["heartbeat_ms_ago"]]
                                for w in s["workers"]]))
        finally:
            for w in stopped:
                os.kill(w, signal.SIGCONT)
        deadline = time.monotonic() + 3
        while stat_json("-f", fc.conf_path)["totals"]["workers_alive"] < 3 \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        t.check(stat_json("-f", fc.conf_path)["totals"]["workers_alive"] == 3,
                "SIGCONT: all 3 alive again")

    with t.step("-w 0.2 on a terminal redraws in place until SIGINT"):
        master_fd, slave_fd = pty.openpty()
        p = t.spawn([STAT, "-f", fc.conf_path, "-w", "0.2"], stdout=slave_fd,
                    stderr=slave_fd, stdin=subprocess.DEVNULL)
        os.close(slave_fd)
        screen = b""
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            r, _, _ = select.select([master_fd], [], [], 0.1)
            if r:
                try:
                    screen += os.read(master_fd, 65536)
                except OSError:
                    break
        os.kill(p.pid, signal.SIGINT)
        rc = p.wait(timeout=5)
        os.close(master_fd)
        frames = screen.count(b"\x1b[H\x1b[2J")
        t.note(f"{frames} frames in 1.5 s")
        t.check(frames >= 3, "clears and redraws every 0.2 s (>= 3 frames)",
                repr(screen[:200]))
        t.check(rc == 0, "exits 0 on SIGINT", f"exit {rc}")

    # ------------------------------------------------------- a second one
    other_port = t.free_port()
    with t.Fulcrum(conf(other_port, [("webA", a.addr, "false")], workers=1),
                   name="other") as fc2:
        seg2 = segment_of(fc2.conf_path)
        with t.step("two instances: no argument lists both and exits 1"):
            rc, out, err = stat()
            t.note(err)
            t.check(rc == 1, "exit 1", f"exit {rc}")
            for s, f in ((seg, fc), (seg2, fc2)):
                line = next((l for l in err.splitlines() if s in l), "")
                t.check(f"master pid {f.pid}" in line and
                        os.path.realpath(f.conf_path) in line,
                        f"lists {s} with its master pid and config", line)
            t.check("use -f FILE or -n NAME" in err, "says how to pick one")
            t.check(stat("-f", fc2.conf_path, "--json")[0] == 0,
                    "-f picks the second one")

        with t.step("master killed: -w stops, -f says it is gone"):
            w = t.spawn([STAT, "-f", fc2.conf_path, "-w", "0.2"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.5)
            fc2.signal(signal.SIGKILL)
            fc2.wait_exit(5)             # reaped: its pid is really gone
            try:
                w.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
            werr = w.stderr.read().decode() if w.returncode is not None else ""
            t.check(w.returncode == 1 and
                    f"master pid {fc2.pid} is gone" in werr,
                    "-w exits 1: the instance is gone",
                    f"exit {w.returncode}: {werr}")
            rc, out, err = stat("-f", fc2.conf_path)
            t.check(rc == 1 and
                    f"the instance of {seg2} is not running (master pid "
                    f"{fc2.pid} is gone)" in err,
                    "-f on the stale segment: exit 1, not running",
                    f"exit {rc}: {err}")
        try:
            os.unlink("/dev/shm" + seg2)     # the next start would remove it
        except FileNotFoundError:
            pass

    with t.step("a segment of another layout version is refused"):
        fake = "/fulcrum-" + os.urandom(8).hex()
        theirs = shm_version() + 100
        hdr = bytearray(4096)
        hdr[0:8] = b"FULCRUM1"
        hdr[8:12] = theirs.to_bytes(4, "little")
        hdr[12:16] = (4096).to_bytes(4, "little")
        hdr[16:24] = (4096).to_bytes(8, "little")
        hdr[24:28] = os.getpid().to_bytes(4, "little")
        hdr[40:43] = b"9.9"
        assert len(hdr) == 4096
        with open("/dev/shm" + fake, "wb") as f:
            f.write(hdr)
        try:
            rc, out, err = stat("-n", fake)
        finally:
            os.unlink("/dev/shm" + fake)
        t.note(err)
        t.check(rc == 1 and f"version {theirs}" in err and
                f"version {shm_version()}" in err,
                "exit 1, naming both versions", f"exit {rc}: {err}")

    with t.step("usage errors exit 2"):
        for args in (["-w", "0.05"], ["--json", "--csv"],
                     ["-f", fc.conf_path, "-n", seg], ["--bogus"],
                     ["-n", "not-a-segment"]):
            rc, out, err = stat(*args)
            t.check(rc == 2, f"{' '.join(args)}: exit 2", f"exit {rc}: {err}")
        rc, out, err = stat("-f", "/nonexistent/fulcrum.conf")
        t.check(rc == 1, "-f on a missing file: exit 1", f"exit {rc}: {err}")

with t.step("instance stopped: exit 1, no instance is running"):
    rc, out, err = stat("-f", fc.conf_path)
    t.note(err)
    t.check(rc == 1 and "no fulcrum instance is running" in err,
            "exit 1 and says no instance is running", f"exit {rc}: {err}")
    t.check(not os.path.exists("/dev/shm" + seg),
            "the segment was removed on the clean stop")

t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""reload_health: what the checker knows survives a reload, and reloads in
a burst leave one consistent instance.

  health   b's backend stops and b goes DOWN (interval 200 ms, fall 2).  A
           reload (a's weight changes) keeps it DOWN: no "is UP" line, its
           last_change_ms not reset, no traffic to it; a, UP, never logs
           DOWN.  When b's backend is back, the new checker brings it UP.
  burst    USR2 three times back to back, under traffic: not one request
           fails, the generation moves on by 1 to 3, then exactly 2 workers
           and one checker run, none of the older generations' processes.
  chain    three reloads while slow requests keep the older generations
           draining: all answered, all counted, then only the newest runs.
  watch    fulcrum-stat -w, started before the burst, follows the instance
           into its new generations instead of calling it gone.
"""
import json
import re
import signal
import subprocess
import threading
import time

import fctest as t

a, b = t.Backend("a"), t.Backend("b")
port = t.free_port()


def conf(weight_a):
    return f"""
global: {{ workers = 2; drain_timeout = 3000; }};
defaults: {{ retries = 1;
  timeout = {{ connect = 500; client = 10000; server = 10000;
              http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; httpclose = true;
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = 200;
            rise = 2; fall = 2; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; weight = {weight_a};
                check = true; }},
              {{ name = "b"; address = "{b.addr}"; check = true; }} );
}} );
"""


def server(fc, name):
    return next(s for s in fc.stat_json()["servers"] if s["name"] == name)


def wait_server(fc, name, cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        s = server(fc, name)
        if cond(s) or time.monotonic() > deadline:
            return s
        time.sleep(0.05)


def sample(fc):
    """fulcrum-stat --json, and for each server the wall-clock window its
    last state change lies in (last_change_ms counts from the snapshot,
    taken between our two clock readings)."""
    t0 = time.time()
    j = fc.stat_json()
    t1 = time.time()
    for s in j["servers"]:
        ago = s["last_change_ms"] / 1000
        s["changed"] = (t0 - ago - 0.001, t1 - ago)
    return j


def stable_total(fc):
    """totals.requests once it holds still (the last folds are in)."""
    last = None
    for _ in range(30):
        n = fc.stat_json()["totals"]["requests"]
        if n == last:
            return n
        last = n
        time.sleep(0.3)
    return last


def json_frames(text):
    """The objects of a stream of JSON texts (fulcrum-stat --json -w)."""
    dec, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        try:
            obj, i = dec.raw_decode(text, i)
        except ValueError:
            return out            # a frame being written
        out.append(obj)


with t.Fulcrum(conf(1), name="health") as fc:
    fc.wait_settled(2)

    with t.step("b's backend stops: b goes DOWN"):
        for name in ("a", "b"):
            s = wait_server(fc, name, lambda s: s["check"]["result"] == "L7OK")
            t.check(s["state"] == "UP" and s["check"]["result"] == "L7OK",
                    f"{name} UP, checked L7OK", json.dumps(s["check"]))
        b.stop()
        t.check(fc.wait_log(r"server web/b is DOWN", 3.0), "the log says b is DOWN")
        wait_server(fc, "b", lambda s: s["state"] == "DOWN")
        s = next(s for s in sample(fc)["servers"] if s["name"] == "b")
        t.check(s["state"] == "DOWN", "fulcrum-stat: b DOWN")
        down = s["changed"]
        time.sleep(0.6)

    with t.step("reload (a's weight 1 -> 2): b stays DOWN, a stays UP"):
        mark = len(fc.log_text())
        gen = fc.reload(conf(2))
        t.check(gen == 2, "generation 2 started", f"{gen}")
        states, moved = [], []
        end = time.monotonic() + 1.5          # 7 check intervals
        while time.monotonic() < end:
            for s in sample(fc)["servers"]:
                states.append((s["name"], s["state"]))
                lo, hi = s["changed"]
                if s["name"] == "b" and (hi < down[0] or lo > down[1]):
                    moved.append(f"{lo - down[0]:+.3f} s")
            time.sleep(0.05)
        t.check(all(st == "DOWN" for n, st in states if n == "b"),
                "b is DOWN in every sample after the reload",
                f"{[st for n, st in states if n == 'b']}")
        t.check(all(st == "UP" for n, st in states if n == "a"),
                "a is UP in every sample", f"{states}")
        t.check(not moved,
                "b's last_change_ms still dates from its fall, not the reload",
                f"the change moved by {moved[:5]}")
        t.check(server(fc, "a")["weight"] == 2, "a's new weight is in force")
        log = fc.log_text()[mark:]
        t.check(not re.search(r"server web/b is (UP|DOWN)", log),
                "no UP (nor a second DOWN) for b after the reload", log)
        statuses, names = [], set()
        for _ in range(10):
            st, h, body = t.http(port, "GET", "/")
            statuses.append(st)
            names.add(h.get("x-backend"))
        t.check(statuses.count(200) == 10 and names == {"a"},
                "10 requests, all answered by a", f"{statuses} {names}")

    with t.step("b's backend is back: the new checker brings b UP"):
        b = t.Backend("b", port=b.port)
        t.check(fc.wait_log(r"server web/b is UP", 3.0), "the log says b is UP")
        s = wait_server(fc, "b", lambda s: s["state"] == "UP")
        t.check(s["state"] == "UP", "fulcrum-stat: b UP")
        t.check(not re.search(r"server web/a is DOWN", fc.log_text()),
                "a never logged DOWN")

    with t.step("three USR2 back to back, under traffic"):
        watch_out = open(f"{fc.dir}/watch.json", "w+")
        watch = t.spawn([t.FULCRUM_STAT, "-f", fc.conf_path, "--json", "-w",
                         "0.2"], stdout=watch_out, stderr=subprocess.PIPE)
        fc.wait_settled(2)
        before = fc.children()
        gen0 = fc.stat_json()["instance"]["generation"]
        failures, sent = [], [0]
        stop = threading.Event()

        def traffic():
            while not stop.is_set():
                sent[0] += 1
                try:
                    st, h, body = t.http(port, "GET", "/")
                    if st != 200:
                        failures.append(st)
                except Exception as e:
                    failures.append(repr(e))
                time.sleep(0.005)

        th = threading.Thread(target=traffic, daemon=True)
        th.start()
        time.sleep(0.3)
        mark = len(fc.log_text())
        for _ in range(3):
            fc.signal(signal.SIGUSR2)
        t.check(fc.wait_log(r"generation \d+ started", 5.0),
                "at least one reload happens")
        time.sleep(1.0)
        workers = fc.wait_settled(2, timeout=10)
        stop.set()
        th.join(10)
        gen1 = fc.stat_json()["instance"]["generation"]
        log = fc.log_text()[mark:]
        started = [int(n) for n in re.findall(r"generation (\d+) started", log)]
        t.note(f"generation {gen0} -> {gen1}; {sent[0]} requests; "
               f"USR2 seen {log.count('USR2: reloading')} times")
        t.check(not failures, f"all {sent[0]} requests answered 200",
                f"{failures[:10]}")
        t.check(1 <= gen1 - gen0 <= 3, "the generation moved on by 1 to 3",
                f"{gen0} -> {gen1}")
        t.check(started == list(range(gen0 + 1, gen1 + 1)),
                "one 'started' line per new generation, in order", f"{started}")
        t.check(workers is not None and len(workers) == 2,
                "then exactly 2 workers and one checker",
                f"children {fc.children()}, workers {fc.worker_pids()}")
        t.check(not [p for p in before if t.pid_alive(p)],
                "none of the processes from before the burst is left",
                f"{[p for p in before if t.pid_alive(p)]}")
        for g in range(gen0, gen1):
            t.check(re.search(rf"generation {g}: every process has exited", log),
                    f"the master logs the end of generation {g}")
        t.check("killing them" not in log, "nothing had to be killed")
        states = {s["name"]: s["state"] for s in fc.stat_json()["servers"]}
        t.check(states == {"a": "UP", "b": "UP"} and
                not re.search(r"is (UP|DOWN)", log),
                "a and b UP throughout, no health change logged", f"{states}")

    with t.step("three reloads while the older generations still drain"):
        fc.wait_settled(2)
        before = fc.children()
        total0 = stable_total(fc)
        gen0 = fc.stat_json()["instance"]["generation"]
        slow, results = [], []
        for k in range(3):
            for _ in range(2):
                th = threading.Thread(target=lambda: results.append(
                    t.http(port, "GET", "/delay?ms=1500")[0]), daemon=True)
                th.start()
                slow.append(th)
            time.sleep(0.2)
            gen = fc.reload()
            t.check(gen == gen0 + k + 1, f"generation {gen0 + k + 1} started",
                    f"{gen}")
        workers = fc.worker_pids()
        t.note(f"{len(workers)} processes named fulcrum-wN at once")
        t.check(len(workers) > 2, "older generations' workers still drain "
                "beside the new one", f"{workers}")
        answered = [t.http(port, "GET", "/")[0] for _ in range(20)]
        for th in slow:
            th.join(10)
        t.check(results == [200] * 6, "the 6 slow requests, sent to 3 "
                "generations, all got 200", f"{results}")
        t.check(answered == [200] * 20, "20 requests meanwhile, all 200",
                f"{answered}")
        workers = fc.wait_settled(2)
        t.check(workers is not None, "then 2 workers and one checker, nothing "
                "older", f"{fc.children()}")
        t.check(not [p for p in before if t.pid_alive(p)],
                "none of the processes from before is left")
        total1 = stable_total(fc)
        t.check(total1 - total0 == 26, "fulcrum-stat counted all 26 requests, "
                "through the chain of 3 retiring generations",
                f"{total0} -> {total1}")

    with t.step("fulcrum-stat -w followed the reloads"):
        last = fc.stat_json()["instance"]["generation"]
        time.sleep(0.5)
        alive = watch.poll() is None
        if alive:
            watch.send_signal(signal.SIGTERM)
        rc = watch.wait(5)
        err = watch.stderr.read().decode()
        watch_out.seek(0)
        frames = json_frames(watch_out.read())
        gens = [f["instance"]["generation"] for f in frames]
        t.note(f"{len(frames)} frames, generations {sorted(set(gens))}")
        t.check(alive and rc == 0, "still running after the reloads "
                "(exits 0 on TERM)", f"alive {alive}, exit {rc}: {err}")
        t.check(gens and gens[-1] == last,
                f"its last frames show generation {last}", f"{gens[-5:]}")
        t.check(gens == sorted(gens), "its generation never goes back")

t.finish()

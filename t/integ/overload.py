#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""overload: server maxconn with a queue, and 10 000 slow clients (issue 7).

  queue     server a has maxconn = 2 (one worker): 6 concurrent requests
            of 400 ms are served 2 at a time, in 3 waves, all 200; with
            timeout.queue = 300, requests of 1 s beyond the first 2 get
            503 after ~0.3 s, logged with termination state sQ.
  slowloris 10 000 connections each send half a request head and stop.
            While they are held, the stats page and a normal request answer
            at once, and the workers' memory grows by a bounded amount per
            connection; after timeout.http_request each gets 408 and is
            closed, and the workers are back to their previous connection
            count.
"""
import re
import resource
import selectors
import socket
import threading
import time

import fctest as t

SLOW = 10000

a = t.Backend("a")


def conf_queue(port, queue_ms):
    return f"""
global: {{ workers = 1; log = {{ facility = "local0"; }}; }};
defaults: {{ timeout = {{ queue = {queue_ms}; server = 5000; }}; }};
listeners = ( {{
  name = "q"; bind = [ "127.0.0.1:{port}" ];
  servers = ( {{ name = "a"; address = "{a.addr}"; maxconn = 2; }} );
}} );
"""


def concurrent(port, path, n):
    """n requests at once; returns [(status, seconds)] in start order."""
    out = [None] * n

    def one(i):
        t0 = time.monotonic()
        try:
            st, _, _ = t.http(port, "GET", path, timeout=10)
        except OSError as e:
            st = repr(e)
        out[i] = (st, time.monotonic() - t0)

    th = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for x in th:
        x.start()
    for x in th:
        x.join(20)
    return out


with t.step("server maxconn: requests wait in the queue for a free slot"):
    port = t.free_port()
    with t.Fulcrum(conf_queue(port, 5000), name="queue") as fc:
        t0 = time.monotonic()
        res = concurrent(port, "/delay?ms=400", 6)
        took = time.monotonic() - t0
        t.note(f"6 x 400 ms through maxconn 2: {took:.2f} s, {res}")
        t.check(all(st == 200 for st, _ in res), "all 6 answered 200", f"{res}")
        t.check(took >= 1.1, "served 2 at a time (3 waves: at least 1.2 s)",
                f"{took:.2f} s")
        t.check(took < 3.0, "and no slower than 3 waves need", f"{took:.2f} s")

with t.step("timeout.queue: 503 when no slot frees in time"):
    port = t.free_port()
    with t.Fulcrum(conf_queue(port, 300), name="queue-timeout") as fc:
        res = concurrent(port, "/delay?ms=1000", 6)
        ok = [d for st, d in res if st == 200]
        busy = [d for st, d in res if st == 503]
        t.note(f"6 x 1 s, maxconn 2, timeout.queue 300 ms: {res}")
        t.check(len(ok) == 2 and len(busy) == 4, "2 served, 4 refused with 503",
                f"{res}")
        t.check(all(0.25 <= d < 0.9 for d in busy), "the 503s came after ~0.3 s",
                f"{busy}")
        t.check(len(re.findall(r" 503 .* sQ", fc.log_text())) == 4,
                "logged with termination state sQ", fc.log_text()[-1500:])


with t.step("a persistent request waits for its full server instead of moving"):
    b = t.Backend("b")
    port = t.free_port()
    conf = f"""
global: {{ workers = 1; }};
listeners = ( {{
  name = "p"; bind = [ "127.0.0.1:{port}" ];
  cookie = {{ name = "SERVERID"; mode = "insert"; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; maxconn = 1; }},
              {{ name = "b"; address = "{b.addr}"; }} );
}} );
"""
    with t.Fulcrum(conf, name="persist-queue"):
        out = [None] * 3

        def one(i):
            st, h, _ = t.http(port, "GET", "/delay?ms=400",
                              headers={"Cookie": "SERVERID=a"})
            out[i] = (st, h.get("x-backend"))

        t0 = time.monotonic()
        th = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        for x in th:
            x.start()
        for x in th:
            x.join(10)
        took = time.monotonic() - t0
        t.note(f"3 x 400 ms with SERVERID=a, a's maxconn 1: {took:.2f} s, {out}")
        t.check(out == [(200, "a")] * 3, "all three answered by a", f"{out}")
        t.check(took >= 1.1, "one at a time (at least 1.2 s)", f"{took:.2f} s")


def rss_kb(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                m = re.search(r"VmRSS:\s+(\d+)", f.read())
                total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total


def open_slow(port, n):
    """n connections, each with half a request head sent; returns them."""
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
        if i % 500 == 499:
            time.sleep(0.05)     # let the accept queue drain
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
    pending = set(socks)
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(1):
            s = key.fileobj
            sel.unregister(s)
            pending.discard(s)
            try:
                s.send(b"GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
            except OSError:
                pass
    sel.close()
    return socks


def count_408(socks, timeout):
    """How many of socks got a 408 and then EOF within timeout."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    done = 0
    deadline = time.monotonic() + timeout
    while bufs and time.monotonic() < deadline:
        for key, _ in sel.select(1):
            s = key.fileobj
            try:
                b = s.recv(4096)
            except OSError:
                b = b""
            if b:
                bufs[s] += b
                continue
            done += bufs[s].startswith(b"HTTP/1.1 408")
            sel.unregister(s)
            del bufs[s]
    sel.close()
    return done


with t.step(f"{SLOW} slow clients"):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = SLOW + 1000
    if hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
        except (ValueError, OSError):
            t.skip(f"open files limited to {hard}, {need} needed")
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    port = t.free_port()
    conf = f"""
global: {{ workers = 2; maxconn = 12000; }};
defaults: {{ maxconn = 12000; timeout = {{ http_request = 6000; client = 6000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  stats = {{ uri = "/stats"; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}} );
"""
    with t.Fulcrum(conf, name="slowloris") as fc:
        workers = fc.wait_children(2)
        t.http(port, "GET", "/")
        before = rss_kb(workers)
        t0 = time.monotonic()
        socks = open_slow(port, SLOW)
        opened = time.monotonic() - t0
        time.sleep(0.5)
        held = fc.stat_json()["totals"]["cur_conns"]
        after = rss_kb(workers)
        per_conn = (after - before) * 1024 / SLOW
        t.note(f"{SLOW} connections opened in {opened:.1f} s, {held} held; workers' "
               f"RSS {before} kB -> {after} kB ({per_conn:.0f} B per connection)")
        t.check(held >= SLOW * 0.99, f"fulcrum holds the {SLOW} connections",
                f"{held}")
        t1 = time.monotonic()
        st, _, body = t.http(port, "GET", "/stats;csv", timeout=5)
        t2 = time.monotonic()
        st2, _, _ = t.http(port, "GET", "/", timeout=5)
        t3 = time.monotonic()
        t.note(f"stats page in {1000 * (t2 - t1):.0f} ms, a request in "
               f"{1000 * (t3 - t2):.0f} ms")
        t.check(st == 200 and t2 - t1 < 1.0, "the stats page answers within 1 s",
                f"{st} in {t2 - t1:.2f} s")
        t.check(st2 == 200 and t3 - t2 < 1.0, "a normal request answers within 1 s",
                f"{st2} in {t3 - t2:.2f} s")
        t.check(per_conn < 24 * 1024, "memory per slow connection bounded "
                "(one 16 KiB head buffer, under 24 KiB)", f"{per_conn:.0f} B")
        got = count_408(socks, 20)
        for s in socks:
            s.close()
        t.note(f"{got} of {SLOW} got 408 and a close")
        t.check(got >= SLOW * 0.99, "each slow client gets 408, then the close",
                f"{got}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and \
                fc.stat_json()["totals"]["cur_conns"] > 0:
            time.sleep(0.1)
        left = fc.stat_json()["totals"]["cur_conns"]
        t.check(left == 0, "no connection left afterwards", f"{left}")

t.finish()

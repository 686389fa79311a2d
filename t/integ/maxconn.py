#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""maxconn: a full worker stops accepting; the connections beyond the limit
wait in the kernel backlog (they are not refused) and are served as soon as
a connection closes.

  baseline           no limit: 3 concurrent /delay?ms=1000 all end at ~1 s
                     (the backend and fulcrum do serve them in parallel)
  listener maxconn 2 3 concurrent /delay?ms=1000: two end at ~1 s, the
                     third at ~2 s; all answered 200
  global maxconn 1   2 concurrent /delay?ms=700: one at a time, >= 1.4 s in
                     all; both answered 200
"""
import threading
import time

import fctest as t

b = t.Backend("b")


def conf(port, global_maxconn=None, listener_maxconn=None):
    g = f"maxconn = {global_maxconn};" if global_maxconn else ""
    lm = f"maxconn = {listener_maxconn};" if listener_maxconn else ""
    return f"""
global: {{ workers = 1; {g} }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 10000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ]; {lm}
  servers = ( {{ name = "b"; address = "{b.addr}"; weight = 1; }} );
}} );
"""


def concurrent(port, n, path):
    """n requests on n connections at once (one thread each).  Returns a
    list of (seconds from the common start to the end, status or error),
    sorted by time."""
    results = [None] * n
    go = threading.Event()

    def one(i):
        go.wait()
        t0 = time.monotonic()
        try:
            st, h, body = t.http(port, "GET", path, timeout=10)
            results[i] = (time.monotonic() - t0, st)
        except Exception as e:          # a refused connection lands here
            results[i] = (time.monotonic() - t0, repr(e))

    threads = [threading.Thread(target=one, args=(i,), daemon=True)
               for i in range(n)]
    for th in threads:
        th.start()
    go.set()
    for th in threads:
        th.join(15)
    return sorted(r if r else (99.0, "no answer") for r in results)


def show(results):
    t.note("ends: " + ", ".join(f"{s:.2f} s ({st})" for s, st in results))


# ------------------------------------------------------------- baseline
port = t.free_port()
with t.Fulcrum(conf(port), name="nolimit"), \
        t.step("no limit: 3 concurrent /delay?ms=1000"):
    res = concurrent(port, 3, "/delay?ms=1000")
    show(res)
    t.check(all(st == 200 for _, st in res), "all 3 answered 200")
    t.check(all(0.9 <= s < 1.6 for s, _ in res), "all 3 end at ~1 s "
            "(in parallel)", f"{[round(s, 2) for s, _ in res]}")

# ----------------------------------------------------- listener maxconn
port = t.free_port()
with t.Fulcrum(conf(port, listener_maxconn=2), name="listener2") as fc, \
        t.step("workers = 1, listener maxconn = 2: 3 concurrent "
               "/delay?ms=1000"):
    res = concurrent(port, 3, "/delay?ms=1000")
    show(res)
    t.check(all(st == 200 for _, st in res),
            "all 3 answered 200 (none refused)", f"{res}")
    t.check(all(0.9 <= s < 1.6 for s, _ in res[:2]),
            "two end at ~1 s (0.9 .. 1.6 s)",
            f"{[round(s, 2) for s, _ in res[:2]]}")
    t.check(1.9 <= res[2][0] < 2.8,
            "the third ends at ~2 s (1.9 .. 2.8 s): it waited in the backlog",
            f"{res[2][0]:.2f} s")
    t.check(fc.alive(), "master alive")

# ------------------------------------------------------- global maxconn
port = t.free_port()
with t.Fulcrum(conf(port, global_maxconn=1), name="global1") as fc, \
        t.step("workers = 1, global maxconn = 1: 2 concurrent "
               "/delay?ms=700"):
    res = concurrent(port, 2, "/delay?ms=700")
    show(res)
    t.check(all(st == 200 for _, st in res),
            "both answered 200 (none refused)", f"{res}")
    t.check(0.6 <= res[0][0] < 1.2, "the first ends at ~0.7 s",
            f"{res[0][0]:.2f} s")
    t.check(res[1][0] >= 1.4, "the second ends after >= 1.4 s in all "
            "(one at a time)", f"{res[1][0]:.2f} s")
    t.check(res[1][0] < 2.5, "and not much later (< 2.5 s)",
            f"{res[1][0]:.2f} s")
    st, h, body = t.http(port, "GET", "/")
    t.check(st == 200, "a request afterwards is served", f"status {st}")
    t.check(fc.alive(), "master alive")

t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""roundrobin: one worker, two backends.  Equal weights alternate strictly
(a,b,a,b...); weights 2:1 share 30 requests 20/10.
"""
import fctest as t


def conf(port, a, b, wa, wb):
    return f"""
global: {{ workers = 1; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = false;
  servers = ( {{ name = "a"; address = "{a.addr}"; weight = {wa}; }},
              {{ name = "b"; address = "{b.addr}"; weight = {wb}; }} );
}} );
"""


def sequence(port, n):
    """n requests, each on a fresh connection; returns the backend names."""
    seen = []
    for i in range(n):
        status, hdrs, body = t.http(port, "GET", f"/?req={i}")
        name = hdrs.get("x-backend", "?")
        if status != 200 or body != (name + "\n").encode():
            t.check(False, f"request {i} answered 200 with the backend's "
                    f"name as body", f"status {status}, X-Backend {name}, "
                    f"body {body!r}")
        seen.append(name)
    return seen


a = t.Backend("a")
b = t.Backend("b")
t.note(f"backend a on {a.addr}, backend b on {b.addr}")

# -------------------------------------------------------------- 1:1
port = t.free_port()
with t.Fulcrum(conf(port, a, b, 1, 1), name="rr11") as fc, \
        t.step("weights 1:1, workers = 1: 20 fresh connections alternate"):
    seen = sequence(port, 20)
    t.note("seen: " + ",".join(seen))
    t.check(seen.count("a") == 10 and seen.count("b") == 10,
            "10 requests each on a and b",
            f"a={seen.count('a')} b={seen.count('b')}")
    repeats = [i for i in range(1, len(seen)) if seen[i] == seen[i - 1]]
    t.check(not repeats, "no backend answers twice in a row",
            f"repeats at requests {repeats}")
    t.check(set(seen) <= {"a", "b"}, "only a and b answer", str(set(seen)))

# -------------------------------------------------------------- 2:1
port = t.free_port()
with t.Fulcrum(conf(port, a, b, 2, 1), name="rr21") as fc, \
        t.step("weights 2:1, workers = 1: 30 fresh connections share 20/10"):
    seen = sequence(port, 30)
    t.note("seen: " + ",".join(seen))
    t.note(f"a={seen.count('a')} b={seen.count('b')}")
    t.check(seen.count("a") == 20, "a answers 20 of 30",
            f"a={seen.count('a')}")
    t.check(seen.count("b") == 10, "b answers 10 of 30",
            f"b={seen.count('b')}")
    windows = [seen[i:i + 3] for i in range(0, 30, 3)]
    bad = [w for w in windows if w.count("a") != 2]
    t.check(not bad, "every group of 3 holds 2 a and 1 b",
            f"uneven groups: {bad}")

t.finish()

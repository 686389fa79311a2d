#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""server_down: a refused connect is retried on the next server, invisibly;
no server at all gives 503; a server slower than timeout.server gives 504;
a malformed response gives 502.  fulcrum keeps serving after each.
"""
import time

import fctest as t


def conf(port, servers, server_timeout=10000, retries=3):
    rows = ",\n              ".join(
        f'{{ name = "{n}"; address = "{a}"; weight = 1; }}' for n, a in servers)
    return f"""
global: {{ workers = 1; log = {{ facility = "local0"; }}; }};
defaults: {{ retries = {retries};
  timeout = {{ connect = 1000; client = 10000; server = {server_timeout};
              http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = false;
  servers = ( {rows} );
}} );
"""


live = t.Backend("live")
dead1 = f"127.0.0.1:{t.free_port()}"       # nothing listens there
dead2 = f"127.0.0.1:{t.free_port()}"
t.note(f"live backend on {live.addr}; nothing listens on {dead1}, {dead2}")

# -------------------------------------------------------------- one dead
port = t.free_port()
with t.Fulcrum(conf(port, [("live", live.addr), ("dead", dead1)],
                    server_timeout=500), name="half") as fc:
    with t.step("servers live + dead (refused): 20 requests on fresh "
                "connections"):
        results = []
        t0 = time.monotonic()
        for i in range(20):
            try:
                st, h, body = t.http(port, "GET", f"/?i={i}", timeout=5)
                results.append((st, h.get("x-backend")))
            except Exception as e:      # the client must never see an error
                results.append((repr(e), None))
        took = time.monotonic() - t0
        t.note(f"20 requests in {took:.2f} s")
        t.note(f"statuses: {[r[0] for r in results]}")
        t.check(all(r[0] == 200 for r in results), "all 20 answered 200",
                f"{results}")
        t.check(all(r[1] == "live" for r in results),
                "all 20 served by live", f"{[r[1] for r in results]}")

    with t.step("/delay?ms=3000 with timeout.server = 500"):
        t0 = time.monotonic()
        st, h, body = t.http(port, "GET", "/delay?ms=3000", timeout=10)
        took = time.monotonic() - t0
        t.note(f"status {st} after {took:.2f} s, body {body[:80]!r}")
        t.check(st == 504, "answered 504", f"status {st}")
        t.check(took < 2.0, "in well under 3 s (< 2 s)", f"{took:.2f} s")

    with t.step("/bad (malformed status line from the server)"):
        st, h, body = t.http(port, "GET", "/bad", timeout=5)
        t.note(f"status {st}, body {body[:80]!r}")
        t.check(st == 502, "answered 502", f"status {st}")

    with t.step("fulcrum still serves after 504 and 502"):
        st, h, body = t.http(port, "GET", "/", timeout=5)
        t.check(st == 200 and body == b"live\n",
                "GET / answered 200 by live", f"status {st}, body {body!r}")
        t.check(fc.alive(), "master alive")
    t.note("log:\n" + fc.log_text().rstrip())

# -------------------------------------------------------------- all dead
port = t.free_port()
with t.Fulcrum(conf(port, [("d1", dead1), ("d2", dead2)]), name="dead") as fc, \
        t.step("every server dead"):
    for i in range(3):
        t0 = time.monotonic()
        st, h, body = t.http(port, "GET", f"/?dead={i}", timeout=10)
        took = time.monotonic() - t0
        t.note(f"status {st} after {took:.2f} s, {len(body)} bytes: "
               f"{body[:100]!r}")
        t.check(st == 503, "answered 503", f"status {st}")
        t.check(0 < len(body) <= 1024, "with a short body (1..1024 bytes)",
                f"{len(body)} bytes")
    t.check(fc.alive(), "master alive")

t.finish()

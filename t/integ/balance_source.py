#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""balance_source: balance = "source" hashes the client's address, not its
port: every new connection from one address lands on the same server,
whichever of the 2 workers accepts it; different addresses spread over
the servers; when a client's server goes DOWN its requests go to another
one, the same each time.
"""
from http import client as httpclient

import fctest as t

NAMES = ("webA", "webB", "webC")
SOURCES = [f"127.0.0.{k}" for k in range(1, 11)]


def conf(port):
    rows = ",\n              ".join(
        f'{{ name = "{n}"; address = "{b.addr}"; check = true; }}'
        for n, b in backends.items())
    return f"""
global: {{ workers = 2; }};
defaults: {{ timeout = {{ connect = 1000; client = 10000; server = 10000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ]; balance = "source";
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = 100; rise = 2; fall = 2; }};
  servers = ( {rows} );
}} );
"""


def served_by(source):
    """One request on a new connection from source: the server's name."""
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=10,
                                     source_address=(source, 0))
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("X-Backend")
    finally:
        conn.close()


def servers_of(source, n):
    return {served_by(source) for _ in range(n)}


backends = {n: t.Backend(n) for n in NAMES}
port = t.free_port()
with t.Fulcrum(conf(port), name="source") as fc:
    fc.wait_children(2)
    with t.step("40 new connections from 127.0.0.1 (40 client ports)"):
        got = servers_of("127.0.0.1", 40)
        t.check(len(got) == 1 and next(iter(got))[0] == 200,
                "all 200 from one server", f"{got}")
        home = next(iter(got))[1]
        t.note(f"127.0.0.1 -> {home}")

    with t.step(f"{len(SOURCES)} client addresses, 10 new connections each"):
        where = {}
        for src in SOURCES:
            got = servers_of(src, 10)
            t.check(len(got) == 1 and next(iter(got))[0] == 200,
                    f"{src}: all 10 from one server", f"{got}")
            where[src] = next(iter(got))[1]
        t.note(", ".join(f"{s} -> {w}" for s, w in where.items()))
        t.check(len(set(where.values())) >= 2, "the addresses spread over the servers",
                f"{where}")

    with t.step(f"{home} goes DOWN: 127.0.0.1 moves, to one server"):
        backends[home].stop()
        t.check(fc.wait_log(rf"server web/{home} is DOWN", 5.0) is not None,
                f"{home} stopped and marked DOWN")
        got = servers_of("127.0.0.1", 20)
        t.check(len(got) == 1 and next(iter(got))[0] == 200 and
                next(iter(got))[1] != home, "all 200 from one other server", f"{got}")

t.finish()

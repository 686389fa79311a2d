#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""idle_fds: the idle server-connection pool stays inside the descriptors the
master asks for (2 x global.maxconn + 1024).  One worker at its maxconn of
clients, each with a request in flight on a server connection, still has a
descriptor for each of them when the pool already holds a maxconn's worth of
idle connections to another server: the pool gives its coldest back instead
of the requests failing with 503 (or the worker no longer accepting).

The test runs under exactly the limit the master would set, so that the
master leaves it as it is.
"""
import os
import resource
import socket

import fctest as t

MAXCONN = 1100                  # above the 1024 of room the limit adds
LIMIT = 2 * MAXCONN + 1024      # master/master.c fd_limit_raise()
DELAY_MS = 3000                 # every request of a wave in flight at once

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < LIMIT and os.geteuid() != 0:
    t.skip(f"the open-files hard limit {hard} is below {LIMIT}")
resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))

a, b = t.Backend("a"), t.Backend("b")
port_a, port_b = t.free_port(), t.free_port()
conf = f"""
global: {{ workers = 1; maxconn = {MAXCONN}; }};
defaults: {{ retries = 3; maxconn = {MAXCONN};
  timeout = {{ connect = 5000; client = 30000; server = 30000; http_request = 30000; }}; }};
listeners = (
  {{ name = "a"; bind = [ "127.0.0.1:{port_a}" ]; balance = "roundrobin";
     servers = ( {{ name = "a"; address = "{a.addr}"; }} ); }},
  {{ name = "b"; bind = [ "127.0.0.1:{port_b}" ]; balance = "roundrobin";
     servers = ( {{ name = "b"; address = "{b.addr}"; }} ); }} );
"""


def read_answer(sock):
    """Status of one small answer (its head and Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(4096)
        if not got:
            raise ConnectionError("closed before an answer")
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        got = sock.recv(4096)
        if not got:
            raise ConnectionError("closed inside the body")
        body += got
    return int(head.split()[1])


def wave(port, n):
    """n clients connect, then each sends a slow request before any is
    answered; returns the statuses (or errors).  The clients stay open."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30)
             for _ in range(n)]
    for s in socks:
        s.sendall(f"GET /delay?ms={DELAY_MS} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    out = []
    for s in socks:
        try:
            out.append(read_answer(s))
        except OSError as e:
            out.append(repr(e))
    return socks, out


def sockets_of(pid):
    return t.fds_of(pid, "socket")


with t.Fulcrum(conf, name="idle-fds") as fc:
    wpid = fc.worker_pids()[0]

    with t.step(f"{MAXCONN} clients at once on listener a, then they leave"):
        socks, out = wave(port_a, MAXCONN)
        t.check(all(s == 200 for s in out), f"all {MAXCONN} answered 200",
                f"{[s for s in out if s != 200][:5]}")
        for s in socks:
            s.close()
        t.note(f"the worker holds {sockets_of(wpid)} sockets "
               "(idle server connections to a, its listeners)")

    with t.step(f"{MAXCONN} clients at once on listener b: each needs a new "
                "server connection"):
        socks, out = wave(port_b, MAXCONN)
        bad = [s for s in out if s != 200]
        t.note(f"{len(bad)} not answered 200, e.g. {bad[:3]}; the worker holds "
               f"{sockets_of(wpid)} sockets")
        t.check(not bad, f"all {MAXCONN} answered 200", f"{len(bad)} failed")
        for s in socks:
            s.close()

    with t.step("after all this: fulcrum still serves"):
        st, _, body = t.http(port_a, "GET", "/")
        t.check(st == 200 and fc.alive(), "GET / on listener a answers 200")

t.finish()

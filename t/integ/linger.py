#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""linger: after an error reply fulcrum shuts its side down and waits, for
about a second, for the client to close (so that unread input never turns
into a reset that eats the reply) -- and no longer: a client that keeps the
socket open must not hold a connection slot for timeout.client.

  workers = 1, listener maxconn = 1, timeout.client = 6000:
  client A sends a bad request, reads the 400 and the EOF, keeps its socket;
  client B's GET must be served within ~1 s, not after 6 s.
"""
import socket
import time

import fctest as t

a = t.Backend("a")
port = t.free_port()
conf = f"""
global: {{ workers = 1; }};
defaults: {{ timeout = {{ connect = 2000; client = 6000; server = 6000; http_request = 6000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ]; maxconn = 1;
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}} );
"""

with t.Fulcrum(conf, name="linger") as fc:
    with t.step("client A: a request without Host, then silence"):
        sa = socket.create_connection(("127.0.0.1", port), timeout=3)
        sa.sendall(b"GET / HTTP/1.1\r\n\r\nsome unread junk")
        data, eof = b"", False
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            b = sa.recv(65536)
            if not b:
                eof = True
                break
            data += b
        first = data.split(b"\r\n", 1)[0]
        t.note(f"A got {first!r}, EOF after {time.monotonic() - t0:.2f} s")
        t.check(data.startswith(b"HTTP/1.1 400"), "A gets 400", repr(data[:100]))
        t.check(eof, "A sees fulcrum's side shut down right after the reply")

    with t.step("client B, while A keeps its socket open"):
        t0 = time.monotonic()
        st, h, body = t.http(port, "GET", "/", timeout=10)
        took = time.monotonic() - t0
        t.note(f"B: status {st} after {took:.2f} s")
        t.check(st == 200, "B gets 200", f"status {st}")
        t.check(took < 2.5, "B waited for the linger (~1 s), not timeout.client (6 s)",
                f"{took:.2f} s")
        sa.close()

t.finish()

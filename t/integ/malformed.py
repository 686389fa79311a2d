#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""malformed: request heads RFC 9112 forbids (or that smuggling relies on)
get 400 and a closed connection; nothing reaches the server, no worker
crashes, and a valid request afterwards is served.
"""
import fctest as t

CASES = [
    ("no Host header",
     b"GET / HTTP/1.1\r\n\r\n"),
    ("two spaces after the method",
     b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("Content-Length and Transfer-Encoding together",
     b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("space before the colon (Host : x)",
     b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"),
    ("space before the colon in another field (a Host is there)",
     b"GET / HTTP/1.1\r\nHost: x\r\nX-Foo : y\r\n\r\n"),
    ("obs-fold (a header continued on the next line)",
     b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n"),
    ("bare LF line endings",
     b"GET / HTTP/1.1\nHost: x\n\n"),
]

m = t.Backend("m")
port = t.free_port()
conf = f"""
global: {{ workers = 1; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = false;
  servers = ( {{ name = "m"; address = "{m.addr}"; weight = 1; }} );
}} );
"""

id0, seq0 = None, None
with t.Fulcrum(conf, name="malformed") as fc:
    workers = fc.wait_children(1, 5.0)
    t.note(f"master {fc.pid}, workers {workers}")

    with t.step("a valid request first: where the server's counters stand"):
        st, h, body = t.http(port, "GET", "/")
        id0, seq0 = int(h.get("x-conn-id", 0)), int(h.get("x-conn-seq", 0))
        t.note(f"status {st}, X-Conn-Id {id0}, X-Conn-Seq {seq0}")
        t.check(st == 200, "GET / answered 200", f"status {st}")

    for title, req in CASES:
        with t.step(f"{title}: {req!r}"):
            data, closed = t.raw_exchange(port, req, timeout=3)
            first = data.split(b"\r\n", 1)[0]
            t.note(f"got {len(data)} bytes, first line {first!r}, "
                   f"closed by fulcrum: {closed}")
            t.check(first.startswith(b"HTTP/1.1 400") or
                    first.startswith(b"HTTP/1.0 400"),
                    "answered 400", repr(data[:300]))
            t.check(closed, "connection closed by fulcrum")
            t.check(b"X-Backend" not in data,
                    "the answer comes from fulcrum, not the server",
                    repr(data[:300]))

    with t.step("a request smuggled behind Content-Length + "
                "Transfer-Encoding"):
        req = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
               b"GET /echo?smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        data, closed = t.raw_exchange(port, req, timeout=3)
        resp, rest = t.parse_responses(data)
        t.note(f"{len(resp)} response(s): {[r[0] for r in resp]}, "
               f"closed: {closed}")
        t.check([r[0] for r in resp] == [400], "exactly one response, a 400",
                repr(data[:500]))
        t.check(b"smuggled" not in data,
                "the hidden request is never answered")

    with t.step("a valid request on a new connection still works"):
        st, h, body = t.http(port, "GET", "/")
        id1, seq1 = int(h.get("x-conn-id", 0)), int(h.get("x-conn-seq", 0))
        t.note(f"status {st}, X-Conn-Id {id1}, X-Conn-Seq {seq1}")
        t.check(st == 200 and h.get("x-backend") == "m",
                "GET / answered 200 by m", f"status {st}")
        t.check(id0 is not None and
                (id1, seq1) in ((id0, seq0 + 1), (id0 + 1, 1)),
                "the server got nothing in between (its next request on the "
                "same or the next connection)",
                f"before ({id0}, {seq0}), now ({id1}, {seq1})")

    with t.step("Connection: Content-Length must not strip the framing"):
        inner = b"GET /echo?smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        req = (b"POST /echo HTTP/1.1\r\nHost: x\r\n"
               b"Connection: Content-Length, Transfer-Encoding\r\n"
               b"Content-Length: %d\r\n\r\n" % len(inner) + inner)
        resp, rest, closed = t.exchange(port, req, count=2, timeout=2)
        t.note(f"{len(resp)} response(s): {[r[0] for r in resp]}")
        t.check([r[0] for r in resp] == [200],
                "exactly one response: the body is not answered as a request",
                repr(resp))
        t.check(resp and b"Content-Length: %d" % len(inner) in resp[0][2],
                "the server got the Content-Length", repr(resp[:1]))

    with t.step("fulcrum stayed up"):
        t.check(fc.alive(), "master alive")
        now = fc.worker_pids()
        t.check(now == workers, "same worker pids as at start (no crash)",
                f"before {workers}, now {now}")

t.finish()

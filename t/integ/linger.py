#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""linger: after an error reply fulcrum shuts its side down and waits, for
about a second, for the client to close (so that unread input never turns
into a reset that eats the reply) -- and no longer: a client that keeps the
socket open must not hold a connection slot for timeout.client.

  workers = 1, listener maxconn = 1, timeout.client = 6000:
  client A sends a bad request, reads the 400 and the EOF, keeps its socket;
  client B's GET must be served within ~1 s, not after 6 s.
  client C POSTs to a redirect_https listener: the head first, the 256 KiB
  body 200 ms later (fulcrum answered 301 in between, having read nothing
  of the body), then reads: the whole body is taken, the 301 arrives and
  the connection ends with a FIN, not a reset (a client sending its body
  before it reads, as most do, would lose the 301 to the reset).  The same
  for the stats page (a GET with a body: 200).
  client D, on an httpclose listener, reads slowly (64 KiB receive buffer):
  GET of 4 MB, 100 ms later a pipelined GET, 1.5 s later it reads: the
  4 MB whole and a FIN.  The second request waits unread in the kernel
  when the response is out: a close() then resets, and the reset throws
  away the part of the response still queued (before: 1.3 MB, then
  ConnectionResetError).
"""
import socket
import time

import fctest as t

a = t.Backend("a")
port, redir, closing = t.free_port(), t.free_port(), t.free_port()
conf = f"""
global: {{ workers = 1; }};
defaults: {{ timeout = {{ connect = 2000; client = 6000; server = 6000; http_request = 6000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ]; maxconn = 1;
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
  stats = {{ uri = "/fulcrum-stats"; }};
}}, {{
  name = "plain"; bind = [ "127.0.0.1:{redir}" ]; redirect_https = true;
}}, {{
  name = "close"; bind = [ "127.0.0.1:{closing}" ]; httpclose = true;
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}} );
"""
BIG = 4000000
BODY = 256 * 1024    # drained by the linger (1 s) in a blink, even under ASan


def head_then_body(port, method, path):
    """The head of a request with a 256 KiB body, 200 ms of nothing, the body:
    what came back, and how the connection ended (EOF, or the error)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: www.test\r\n"
              f"Content-Length: {BODY}\r\n\r\n".encode())
    time.sleep(0.2)
    try:
        for _ in range(0, BODY, 65536):
            s.sendall(b"x" * 65536)
    except OSError as e:
        s.close()
        return b"", e.__class__.__name__
    data, how = read_to_end(s)
    s.close()
    return data, how


def read_to_end(s):
    """Everything s brings until EOF: (bytes, how it ended: "EOF" or the
    error's class name)."""
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data, "EOF"
            data += b
    except OSError as e:
        return data, e.__class__.__name__

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

    for name, cport, method, path, want in (
            ("redirect_https", redir, "POST", "/upload", b"HTTP/1.1 301"),
            ("the stats page", port, "GET", "/fulcrum-stats", b"HTTP/1.1 200")):
        with t.step(f"client C: {method} with a 256 KiB body to {name}, the body after the answer"):
            data, how = head_then_body(cport, method, path)
            first = data.split(b"\r\n", 1)[0]
            t.note(f"C got {first!r}, ended by {how}")
            t.check(how == "EOF", "the body is taken and the connection ends with a FIN",
                    f"ended by {how}")
            t.check(data.startswith(want), f"C reads the answer ({want.decode()}...)",
                    repr(data[:80]))

    with t.step("client D: a pipelined request arrives while a 4 MB answer is going out"):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.connect(("127.0.0.1", closing))
        s.settimeout(10)
        s.sendall(f"GET /bytes?n={BIG} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(0.1)
        s.sendall(b"GET /bytes?n=10 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(1.5)
        data, how = read_to_end(s)
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        first = head.split(b"\r\n")[0]
        t.note(f"D got {first!r}, {len(body)} body bytes, ended by {how}")
        t.check(head.startswith(b"HTTP/1.1 200") and body == t.pattern(BIG),
                f"D reads the whole answer ({BIG} bytes)", f"{len(body)} bytes")
        t.check(how == "EOF", "and a FIN, not a reset", f"ended by {how}")

t.finish()

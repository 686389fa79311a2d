#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""limits: request line, header section and body limits (issue 7).

  listener "def"  the defaults: an 8192-byte request line passes, 8193 gets
                  414; a head over 15360 bytes, or 101 header fields, 431;
                  bodies are not limited.
  listener "low"  limits = { request_line = 100; header_size = 2048;
                  headers = 10; body = 1000; }: 101 bytes of request line
                  get 414, 11 fields or a 2049-byte head 431, a
                  Content-Length of 1001 gets 413 before anything reaches
                  the server, a chunked body growing past 1000 bytes 413;
                  each limit's exact value still passes.
Every refusal closes the connection, and the backend (which counts what it
received) never sees a refused request.
"""
import fctest as t

a = t.Backend("a")
pdef, plow = t.free_port(), t.free_port()
conf = f"""
global: {{ workers = 1; log = {{ facility = "local0"; }}; }};
listeners = (
 {{ name = "def"; bind = [ "127.0.0.1:{pdef}" ];
    servers = ( {{ name = "a"; address = "{a.addr}"; }} ); }},
 {{ name = "low"; bind = [ "127.0.0.1:{plow}" ];
    limits = {{ request_line = 100; header_size = 2048; headers = 10; body = 1000; }};
    servers = ( {{ name = "a"; address = "{a.addr}"; }} ); }}
);
"""


def request_line(n):
    """A GET whose request line ("GET /echo?xxx HTTP/1.1") is n bytes."""
    return b"GET /echo?" + b"x" * (n - 19) + b" HTTP/1.1\r\nHost: t\r\n\r\n"


def head_of(size, host=b"t"):
    """A GET head of exactly size bytes (CRLF CRLF included)."""
    base = b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nX-Pad: \r\n\r\n"
    return base.replace(b"X-Pad: ", b"X-Pad: " + b"p" * (size - len(base)))


def fields(n):
    """A GET with n header fields, Host included."""
    extra = b"".join(b"X-F%d: v\r\n" % i for i in range(n - 1))
    return b"GET / HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n"


def post_cl(n):
    return b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % n + \
        b"b" * n


def post_chunked(sizes):
    body = b"".join(b"%x\r\n" % k + b"c" * k + b"\r\n" for k in sizes) + b"0\r\n\r\n"
    return b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body


def status_of(port, data, linger=1.0):
    resps, _, closed = t.exchange(port, data, count=1, timeout=5, linger=linger)
    return (resps[0][0] if resps else None), closed


def expect(port, data, want, label):
    got, closed = status_of(port, data, 1.0 if want >= 400 else 0.05)
    t.check(got == want, f"{label}: {want}", f"got {got}")
    if want >= 400:
        t.check(closed, f"{label}: the connection is closed")


with t.Fulcrum(conf) as fc:
    with t.step("defaults"):
        expect(pdef, request_line(8192), 200, "8192-byte request line")
        expect(pdef, request_line(8193), 414, "8193-byte request line")
        expect(pdef, head_of(15360), 200, "15360-byte head")
        expect(pdef, head_of(15361), 431, "15361-byte head")
        expect(pdef, fields(100), 200, "100 header fields")
        expect(pdef, fields(101), 431, "101 header fields")
        expect(pdef, post_cl(200000), 200, "a 200 kB body (no body limit by default)")

    with t.step("configured limits"):
        expect(plow, request_line(100), 200, "100-byte request line")
        expect(plow, request_line(101), 414, "101-byte request line")
        expect(plow, head_of(2048), 200, "2048-byte head")
        expect(plow, head_of(2049), 431, "2049-byte head")
        expect(plow, fields(10), 200, "10 header fields")
        expect(plow, fields(11), 431, "11 header fields")
        expect(plow, post_cl(1000), 200, "Content-Length 1000")
        expect(plow, post_chunked([500, 500]), 200, "chunked, 1000 bytes")

    with t.step("over the body limit: refused before the server sees it"):
        before = fc.server_requests("low", "a")
        expect(plow, post_cl(1001), 413, "Content-Length 1001")
        t.check(fc.server_requests("low", "a") == before,
                "the server relayed nothing for it", f"{before} before")
        got, closed = status_of(plow, post_chunked([600, 401]))
        t.check(got == 413 or (got is None and closed),
                "chunked body past 1000 bytes: 413 (or the connection cut once the "
                "body was forwarded)", f"got {got}")
        t.check(got == 413, "chunked body past 1000 bytes, sent at once: 413",
                f"got {got}")

    with t.step("the log names the refusals"):
        log = fc.log_text()
        t.check(" 414 " in log and " 431 " in log and " 413 " in log,
                "access log lines with 414, 431, 413", log[-2000:])

t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""timeouts: each timeout cuts the step it bounds, and no other.

  listener "req"  timeout.http_request = 500: a half-sent request head gets
                  408 and a close after ~0.5 s; a connection that sends
                  nothing is closed after ~0.5 s without a byte.
  listener "conn" timeout.connect = 300, retries = 1, its only server a
                  blackhole (the SYN is never answered): 503 after 2 x 300
                  ms, logged sC--.
  listener "cli"  timeout.client = 500: a POST whose body stalls after 10 of
                  1000 bytes is cut after ~0.5 s, logged c?--.
  listener "srv"  timeout.server = 500: /hang gets 504 after ~0.5 s.

The defaults are all long (5 s and more), so a reply in well under 2 s can
only come from the one short timeout of that listener.
"""
import socket
import time

import fctest as t

a = t.Backend("a")


# ------------------------------------------------------------ blackhole
def blackhole():
    """A listening socket whose accept queue is full: Linux drops the SYNs
    of any further connection, which stays in SYN-SENT.  Returns the
    listening socket and the sockets filling its queue (keep them open)."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.1)
    return lsock, fillers


def connect_hangs(port, wait=0.5):
    """Does a plain connect to port neither succeed nor fail for `wait` s?"""
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(wait)
    try:
        c.connect(("127.0.0.1", port))
        return False, "connected"
    except socket.timeout:
        return True, f"still connecting after {wait} s"
    except OSError as e:
        return False, repr(e)
    finally:
        c.close()


def talk(port, data, timeout=5.0):
    """Connects, sends data (if any), reads until the server closes.
    Returns (bytes received, closed by the server, seconds from connect)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t0 = time.monotonic()
    buf = b""
    closed = False
    try:
        if data:
            s.sendall(data)
        while time.monotonic() - t0 < timeout:
            s.settimeout(max(0.01, timeout - (time.monotonic() - t0)))
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not b:
                closed = True
                break
            buf += b
    finally:
        took = time.monotonic() - t0
        s.close()
    return buf, closed, took


def log_lines(fc, listener):
    """Access-log lines of one listener."""
    return [l for l in fc.log_text().splitlines()
            if f"] {listener} {listener}/" in l]


hole, fillers = blackhole()
hole_port = hole.getsockname()[1]
hangs, why = connect_hangs(hole_port)
t.note(f"blackhole 127.0.0.1:{hole_port}: {why}")

ports = {n: t.free_port() for n in ("req", "conn", "cli", "srv")}
conf = f"""
global: {{ workers = 1; log = {{ facility = "local0"; }}; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 5000; client = 10000; server = 10000;
              http_request = 10000; }}; }};
listeners = (
  {{ name = "req"; bind = [ "127.0.0.1:{ports['req']}" ];
    timeout = {{ http_request = 500; }};
    servers = ( {{ name = "a"; address = "{a.addr}"; weight = 1; }} ); }},
  {{ name = "conn"; bind = [ "127.0.0.1:{ports['conn']}" ];
    retries = 1; timeout = {{ connect = 300; }};
    servers = ( {{ name = "hole"; address = "127.0.0.1:{hole_port}"; weight = 1; }} ); }},
  {{ name = "cli"; bind = [ "127.0.0.1:{ports['cli']}" ];
    timeout = {{ client = 500; }};
    servers = ( {{ name = "a"; address = "{a.addr}"; weight = 1; }} ); }},
  {{ name = "srv"; bind = [ "127.0.0.1:{ports['srv']}" ];
    timeout = {{ server = 500; }};
    servers = ( {{ name = "a"; address = "{a.addr}"; weight = 1; }} ); }}
);
"""

with t.Fulcrum(conf, name="timeouts") as fc:
    # ------------------------------------------------------ http_request
    with t.step("http_request = 500: a head that stops before its end"):
        data, closed, took = talk(ports["req"],
                                  b"GET / HTTP/1.1\r\nHost: x\r\n")
        first = data.split(b"\r\n", 1)[0]
        t.note(f"got {first!r} ({len(data)} bytes), closed {closed}, "
               f"after {took:.2f} s")
        t.check(first.startswith(b"HTTP/1.1 408"), "answered 408",
                repr(data[:200]))
        t.check(closed, "then the connection is closed")
        t.check(0.4 <= took < 2.0, "after the timeout: 0.4 s <= t < 2 s",
                f"{took:.2f} s")
        m = fc.wait_log(r"\] req req/\S+ [-\d/]+ 408 \d+ - - cR--", 2.0)
        t.check(m is not None, "logged: 408, termination cR--",
                "\n".join(log_lines(fc, "req")[-3:]))

    with t.step("http_request = 500: a connection that sends nothing"):
        data, closed, took = talk(ports["req"], b"")
        t.note(f"got {len(data)} bytes, closed {closed}, after {took:.2f} s")
        t.check(closed and data == b"", "closed without a byte",
                repr(data[:200]))
        t.check(0.4 <= took < 2.0, "after the timeout: 0.4 s <= t < 2 s",
                f"{took:.2f} s")

    with t.step("a complete request on the same listener is served"):
        st, h, body = t.http(ports["req"], "GET", "/")
        t.check(st == 200, "GET / answered 200", f"status {st}")

    # ------------------------------------------------------------ connect
    with t.step("connect = 300, retries = 1, the only server a blackhole"):
        if not hangs:
            t.note(f"SKIP this step: the blackhole does not hang a plain "
                   f"connect here ({why}); cannot test timeout.connect")
        else:
            t0 = time.monotonic()
            st, h, body = t.http(ports["conn"], "GET", "/?hole", timeout=10)
            took = time.monotonic() - t0
            t.note(f"status {st} after {took:.2f} s")
            t.check(st == 503, "answered 503", f"status {st}")
            t.check(0.5 <= took < 2.0,
                    "after 2 attempts of 300 ms: 0.5 s <= t < 2 s",
                    f"{took:.2f} s")
            m = fc.wait_log(r"\] conn conn/hole [-\d/]+ 503 \d+ - - sC-- "
                            r"\d+/\d+/\d+/\d+/1 0/0 \"GET /\?hole HTTP/1\.1\"",
                            2.0)
            t.check(m is not None, "logged: 503, termination sC--, retries 1",
                    "\n".join(log_lines(fc, "conn")[-3:]))
            again, why2 = connect_hangs(hole_port, 0.2)
            t.check(again, "the blackhole still hangs a connect afterwards",
                    why2)

    # ------------------------------------------------------------- client
    with t.step("client = 500: a POST body that stops after 10 of 1000 bytes"):
        data, closed, took = talk(
            ports["cli"], b"POST /upload?stall HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 1000\r\n\r\n" + b"0123456789")
        t.note(f"got {len(data)} bytes {data[:40]!r}, closed {closed}, "
               f"after {took:.2f} s")
        t.check(closed, "fulcrum closes the connection")
        t.check(0.4 <= took < 1.5, "after the timeout: 0.4 s <= t < 1.5 s",
                f"{took:.2f} s")
        m = fc.wait_log(r"\] cli cli/a [-\d/]+ -?\d+ \d+ - - (c.--) .*"
                        r"\"POST /upload\?stall HTTP/1\.1\"", 2.0)
        t.note("\n".join(log_lines(fc, "cli")[-3:]))
        t.check(m is not None, "logged with a client-side termination (c?--)")

    # ------------------------------------------------------------- server
    with t.step("server = 500: /hang (the server never answers)"):
        t0 = time.monotonic()
        st, h, body = t.http(ports["srv"], "GET", "/hang", timeout=10)
        took = time.monotonic() - t0
        t.note(f"status {st} after {took:.2f} s")
        t.check(st == 504, "answered 504", f"status {st}")
        t.check(0.4 <= took < 2.0, "after the timeout: 0.4 s <= t < 2 s",
                f"{took:.2f} s")
        m = fc.wait_log(r"\] srv srv/a [-\d/]+ 504 \d+ - - sH--", 2.0)
        t.check(m is not None, "logged: 504, termination sH--",
                "\n".join(log_lines(fc, "srv")[-3:]))
        st, h, body = t.http(ports["srv"], "GET", "/delay?ms=100")
        t.check(st == 200, "a 100 ms response still gets through (200)",
                f"status {st}")

    t.check(fc.alive(), "master alive")

for s in fillers:
    s.close()
hole.close()
t.finish()

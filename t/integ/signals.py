#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""signals: the pidfile holds the master pid while it runs and is removed at
exit; TERM (and INT) stop everything at once and free the port; QUIT lets an
in-flight request finish, then everything exits.
"""
import os
import signal
import threading
import time

import fctest as t

g = t.Backend("g")


def conf(port, pidfile=None):
    pid_line = f'pidfile = "{pidfile}";' if pidfile else ""
    return f"""
global: {{ workers = 2; {pid_line} }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = false;
  servers = ( {{ name = "g"; address = "{g.addr}"; weight = 1; }} );
}} );
"""


def stop_with(fc, sig, port, limit):
    """Sends sig to the master; checks master and children are gone within
    limit seconds and the port can be bound right after."""
    fc.wait_children(2, 5.0)
    kids = fc.children()
    t.note(f"master {fc.pid}, children (workers and checker) {kids}")
    t0 = time.monotonic()
    fc.signal(sig)
    status = fc.wait_exit(limit)
    took = time.monotonic() - t0
    bindable = t.port_bindable(port)
    t.note(f"master exit status {status} after {took:.3f} s")
    t.check(status is not None, f"master gone within {limit} s",
            f"{took:.2f} s")
    left = [k for k in kids if t.pid_alive(k)]
    deadline = t0 + limit
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = [k for k in left if t.pid_alive(k)]
    t.check(not left, f"all children gone within {limit} s",
            f"still alive: {left}")
    t.check(bindable, f"port {port} can be bound again at once")
    return status


# -------------------------------------------------------------- TERM
port = t.free_port()
d = t.tmpdir("fctest-pid-")
pidfile = os.path.join(d, "fulcrum.pid")
with t.Fulcrum(conf(port, pidfile), name="term") as fc, \
        t.step("pidfile and SIGTERM"):
    # Written right after the sockets are bound: it may trail the port by a moment.
    deadline = time.monotonic() + 5
    while not os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.01)
    content = open(pidfile).read().strip() if os.path.exists(pidfile) else None
    t.note(f"pidfile {pidfile}: {content!r}, master pid {fc.pid}")
    t.check(content == str(fc.pid), "the pidfile holds the master pid",
            f"{content!r} != {fc.pid}")
    st, h, body = t.http(port, "GET", "/")
    t.check(st == 200, "GET / answers 200")
    stop_with(fc, signal.SIGTERM, port, 2.0)
    t.check(not os.path.exists(pidfile), "the pidfile is removed at exit")
    log = fc.log_text()
    t.note("log tail:\n" + "\n".join(log.rstrip().splitlines()[-5:]))

# -------------------------------------------------------------- INT
port = t.free_port()
with t.Fulcrum(conf(port), name="int") as fc, \
        t.step("SIGINT stops at once too"):
    stop_with(fc, signal.SIGINT, port, 2.0)

# -------------------------------------------------------------- QUIT
port = t.free_port()
with t.Fulcrum(conf(port), name="quit") as fc, \
        t.step("SIGQUIT while a /delay?ms=1500 request is in flight"):
    fc.wait_children(2, 5.0)
    result = {}

    def slow():
        t0 = time.monotonic()
        try:
            st, h, body = t.http(port, "GET", "/delay?ms=1500", timeout=10)
            result.update(status=st, body=body)
        except Exception as e:
            result.update(error=repr(e))
        result["took"] = time.monotonic() - t0
        result["done_at"] = time.monotonic()

    th = threading.Thread(target=slow, daemon=True)
    th.start()
    time.sleep(0.4)          # the request has reached the backend
    t_quit = time.monotonic()
    fc.signal(signal.SIGQUIT)
    t.note(f"SIGQUIT sent to {fc.pid}")
    th.join(10)
    t.note(f"in-flight request: {result}")
    t.check(result.get("status") == 200 and result.get("body") == b"g\n",
            "the in-flight request completes with 200", f"{result}")
    status = fc.wait_exit(5.0)
    took = time.monotonic() - t_quit
    t.note(f"master exit status {status}, {took:.2f} s after SIGQUIT")
    t.check(status is not None, "the master exits within 5 s",
            f"{took:.2f} s")
    left = [k for k in fc.known_children if t.pid_alive(k)]
    t.check(not left, "no child left after the drain", f"{left}")
    t.check(t.port_bindable(port), f"port {port} free after the drain")

t.finish()

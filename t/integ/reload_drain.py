#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""reload_drain: what generation 1 has in flight when USR2 comes finishes
there, then generation 1 exits, within drain_timeout (3000 ms).

Before the reload (2 workers, keep-alive to the client):
  - a slow request, /delay?ms=1500, is on its way;
  - a 2 MiB upload is being sent, 64 KiB every 60 ms (about 2 s);
  - a keep-alive connection had one request answered and is idle.
After it: the slow request gets its 200 and the upload its checksum; the
idle connection, used again 200 ms after the reload, gets its answer with
"Connection: close" instead of a reset; every process of generation 1 is
gone within drain_timeout and the master says so.

Then a request that outlasts the drain (/delay?ms=8000) across the next
reload: generation 2 cuts it at drain_timeout and is gone about 3 s after
the reload, not 8 s, without the master having to kill anything.
"""
import os
import re
import socket
import threading
import time

import fctest as t

DRAIN_MS = 3000
g = t.Backend("g")
port = t.free_port()
CONF = f"""
global: {{ workers = 2; drain_timeout = {DRAIN_MS}; }};
defaults: {{ retries = 1;
  timeout = {{ connect = 1000; client = 10000; server = 20000;
              http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; httpclose = false;
  servers = ( {{ name = "g"; address = "{g.addr}"; }} );
}} );
"""


def in_thread(fn, *args):
    """Runs fn(*args) in a thread; returns (thread, result dict)."""
    result = {}

    def run():
        t0 = time.monotonic()
        try:
            result["value"] = fn(*args)
        except Exception as e:
            result["error"] = repr(e)
        result["took"] = time.monotonic() - t0

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, result


def get(path):
    st, h, body = t.http(port, "GET", path, timeout=15)
    return st, body


def slow_upload(data, chunk=65536, pause=0.06):
    """POST /upload, the body sent chunk by chunk; returns the response."""
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        s.sendall(f"POST /upload HTTP/1.1\r\nHost: fulcrum\r\n"
                  f"Content-Length: {len(data)}\r\n"
                  f"Connection: close\r\n\r\n".encode())
        for i in range(0, len(data), chunk):
            s.sendall(data[i:i + chunk])
            time.sleep(pause)
        buf = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    finally:
        s.close()
    resp, rest = t.parse_responses(buf)
    return resp


def wait_gone(pids, timeout):
    """Waits until none of pids is alive; returns the seconds it took, or
    None with some still alive after timeout."""
    t0 = time.monotonic()
    while any(t.pid_alive(p) for p in pids):
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(0.02)
    return time.monotonic() - t0


with t.Fulcrum(CONF, name="drain") as fc:
    fc.wait_settled(2)
    gen1 = fc.children()
    t.note(f"generation 1: master {fc.pid}, workers and checker {gen1}")

    with t.step("in flight on generation 1: a slow request, a slow upload, "
                "an idle keep-alive connection"):
        body = os.urandom(2 << 20)
        slow, slow_res = in_thread(get, "/delay?ms=1500")
        up, up_res = in_thread(slow_upload, body)
        ka = t.Client(port)
        st, h, b = ka.request("GET", "/")
        t.check(st == 200 and "close" not in h.get("connection", ""),
                "the keep-alive connection's first answer keeps it open",
                f"{st} {h}")
        time.sleep(0.5)

    with t.step("reload while they are in flight"):
        t_reload = time.monotonic()
        gen = fc.reload()
        t.check(gen == 2, "generation 2 started", f"{gen}")
        time.sleep(0.2)
        try:
            st, h, b = ka.request("GET", "/echo")
            t.check(st == 200 and b.startswith(b"GET /echo"),
                    "the idle connection's next request is answered",
                    f"{st} {b[:60]!r}")
            t.check(h.get("connection", "").lower() == "close",
                    "with Connection: close", f"{h}")
            t.check(ka.peer_closed(2.0), "then the connection is closed")
        except Exception as e:
            t.check(False, "the idle connection's next request is answered",
                    f"{e!r}")
        ka.close()

        slow.join(10)
        t.note(f"slow request: {slow_res}")
        t.check(slow_res.get("value") == (200, b"g\n"),
                "/delay?ms=1500 started before the reload completes with 200",
                f"{slow_res}")
        up.join(15)
        resp = up_res.get("value") or []
        want = f"len={len(body)} sha256={t.sha256(body)}\n".encode()
        t.note(f"upload: {up_res.get('took', 0):.2f} s, "
               f"{resp[0][2] if resp else up_res}")
        t.check(len(resp) == 1 and resp[0][0] == 200 and resp[0][2] == want,
                "the 2 MiB upload streamed across the reload arrives whole "
                "(length and SHA-256)", f"{up_res}")

        took = wait_gone(gen1, DRAIN_MS / 1000 + 1)
        gone_at = time.monotonic() - t_reload
        t.note(f"generation 1 gone {gone_at:.2f} s after the reload")
        t.check(took is not None and gone_at <= DRAIN_MS / 1000,
                f"every process of generation 1 is gone within drain_timeout "
                f"({DRAIN_MS} ms)",
                f"{gone_at:.2f} s, alive: {[p for p in gen1 if t.pid_alive(p)]}")
        t.check(fc.wait_log(r"generation 1: every process has exited", 2.0),
                "the master logs that generation 1 has exited")
        t.check(not set(fc.children()) & set(gen1),
                "no child of generation 1 is left", f"{fc.children()}")

    with t.step("a request that outlasts the drain is cut at drain_timeout"):
        fc.wait_settled(2)
        gen2 = fc.children()
        stuck, stuck_res = in_thread(get, "/delay?ms=8000")
        time.sleep(0.3)
        t_reload = time.monotonic()
        gen = fc.reload()
        t.check(gen == 3, "generation 3 started", f"{gen}")
        t.check(t.http(port, "GET", "/")[0] == 200,
                "generation 3 answers at once")
        took = wait_gone(gen2, DRAIN_MS / 1000 + 6)
        gone_at = time.monotonic() - t_reload
        t.note(f"generation 2 gone {gone_at:.2f} s after the reload")
        t.check(took is not None and DRAIN_MS / 1000 - 0.5 <= gone_at <=
                DRAIN_MS / 1000 + 1.0,
                "generation 2 stays while the request runs, and is gone "
                "about drain_timeout after the reload", f"{gone_at:.2f} s")
        t.check(fc.wait_log(r"drain timeout: 1 connections cut", 1.0),
                "its worker says it cut one connection")
        t.check(not re.search(r"still alive .* killing them", fc.log_text()),
                "the master did not have to kill anything")
        stuck.join(10)
        t.note(f"the cut request: {stuck_res}")
        t.check("value" not in stuck_res or stuck_res["value"][0] != 200,
                "the cut request got no 200", f"{stuck_res}")
        t.check(fc.wait_settled(2) is not None,
                "2 workers of generation 3 and one checker remain")

t.finish()

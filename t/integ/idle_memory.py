#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""idle_memory: a keep-alive connection idle between requests holds only its
stream, not the transaction state (buffers, channels, timings): the worker's
resident memory grows by less than 450 bytes per idle connection (a stream
is 256; with its transaction kept it was 674 and more), and every idle
connection still answers its next request.

The figure is the slope of the worker's VmRSS between N1 and N2 idle
connections, as bench/idle.py measures it: memory, not time, so a loaded
box does not change it.  Only under jemalloc (the build the figure is
about): a sanitizer build has its own allocator.
"""
import resource
import socket
import subprocess

import fctest as t

N1, N2 = 400, 2400
LIMIT = 450          # bytes per idle connection; nginx takes about 530 here
REQ = b"GET /echo HTTP/1.1\r\nHost: idle\r\n\r\n"


def conf(port, backend):
    return f"""
global: {{ workers = 1; maxconn = 4096; }};
defaults: {{ maxconn = 3000;
  timeout = {{ connect = 2000; client = 60000; server = 60000; http_request = 60000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  servers = ( {{ name = "m"; address = "{backend.addr}"; }} );
}} );
"""


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def exchange(s):
    """One GET on s, its whole answer read: True when it was a 200."""
    s.sendall(REQ)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return False
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return False
        body += chunk
    return head.startswith(b"HTTP/1.1 200")


def open_idle(port, k, socks):
    """k connections, each answered once, then left idle; False on a failure."""
    for _ in range(k):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        socks.append(s)
        if not exchange(s):
            return False
    return True


def main():
    t.require_fulcrum()
    build = subprocess.run([t.FULCRUM, "-v"], capture_output=True, text=True).stdout
    if "jemalloc=yes" not in build or "sanitizers=no" not in build:
        t.skip("the figure is jemalloc's: this build has another allocator")
    want = N2 + 500
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < want:
        t.skip(f"the open-files limit ({hard}) is below {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    backend = t.Backend("m")
    port = t.free_port()
    socks = []
    with t.Fulcrum(conf(port, backend), ports=[port]) as fc:
        worker = fc.worker_pids()[0]
        try:
            with t.step(f"{N1} connections, one request each, then idle"):
                t.check(open_idle(port, N1, socks), f"{N1} requests answered")
                r1 = rss_kb(worker)
            with t.step(f"{N2 - N1} more the same way"):
                t.check(open_idle(port, N2 - N1, socks), f"{N2 - N1} more answered")
                r2 = rss_kb(worker)
            per = (r2 - r1) * 1024 / (N2 - N1)
            t.note(f"worker RSS {r1} kB at {N1} idle, {r2} kB at {N2}: "
                   f"{per:.0f} B per idle connection")
            t.check(per < LIMIT,
                    f"an idle connection costs the worker less than {LIMIT} B ({per:.0f})")
            with t.step("every idle connection answers its next request"):
                ok = sum(1 for s in socks if exchange(s))
                t.check(ok == len(socks), f"{ok} of {len(socks)} answered again")
            with t.step("after that second request they are idle again: the same cost"):
                r3 = rss_kb(worker)
                t.note(f"worker RSS {r3} kB")
                t.check((r3 - r2) * 1024 < LIMIT * N1,
                        "the second round left no transaction behind")
        finally:
            for s in socks:
                s.close()
    backend.stop()
    t.finish()


if __name__ == "__main__":
    main()

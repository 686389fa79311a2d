#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Idle connections for bench.sh: the proxy's resident memory per idle client.

  idle.py slope PORT N1 N2 MODE PID...   prints: fresh_kB rss_at_N1_kB rss_at_N2_kB
                                         user_B_per_conn kernel_slab_B_per_conn
  idle.py hold  PORT N  0  MODE PID...   prints: fresh_kB rss_held_kB B_per_conn
                                         conns_still_answering new_requests_served

MODE request: each connection sends one GET and reads the answer, then stays
idle (keep-alive); MODE connect: TCP connect only.  RSS is VmRSS summed over
the PIDs (every process of the proxy).  Loopback only; every socket is closed
before exit.
"""
import resource
import socket
import sys
import time

REQ = b"GET /100b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def rss(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def slab():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return 0


def exchange(s):
    """Sends one GET on s and reads the whole answer; True if it was a 200."""
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


def open_conns(port, k, mode, socks):
    for _ in range(k):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if mode == "request" and not exchange(s):
            raise SystemExit("request on a new connection failed")
        socks.append(s)


def main():
    what, port, n1, n2, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    pids = [int(p) for p in sys.argv[6:]]
    want = max(n1, n2) + 1000
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, resource.getrlimit(resource.RLIMIT_NOFILE)[1])))
    socks = []
    base = rss(pids)
    try:
        if what == "slope":
            open_conns(port, n1, mode, socks)
            time.sleep(1.0)
            r1, k1 = rss(pids), slab()
            open_conns(port, n2 - n1, mode, socks)
            time.sleep(1.0)
            r2, k2 = rss(pids), slab()
            print(base, r1, r2, round((r2 - r1) * 1024 / (n2 - n1)), round((k2 - k1) * 1024 / (n2 - n1)))
        else:
            open_conns(port, n1, mode, socks)
            served = 0
            for _ in range(20):	# a new client is still served meanwhile
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    served += exchange(s)
                time.sleep(0.25)
            held = rss(pids)
            ok = 0
            for s in socks:	# every held connection still works
                try:
                    ok += exchange(s)
                except OSError:
                    pass
            print(base, held, round((held - base) * 1024 / n1), ok, served)
    finally:
        for s in socks:
            s.close()


if __name__ == "__main__":
    main()

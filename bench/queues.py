#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Where the bytes of a transfer wait: bench.sh's QUEUES=1 diagnostic.

    queues.py FRONT_PORT BACKEND_PORTS SECONDS [INTERVAL]

Every INTERVAL seconds (0.05) for SECONDS, `ss -tn` lists the established
loopback connections; their receive and send queues are summed per group:

    front_rx front_tx   the proxy's client-side sockets (local port FRONT_PORT)
    client_rx client_tx the client's sockets (peer port FRONT_PORT)
    server_rx server_tx the proxy's server-side sockets (peer port a backend's)
    backend_rx backend_tx the backends' sockets (local port a backend's)

and one line goes to stdout: the mean of each sum in KiB, tab-separated, in
that order.  A receive queue holds bytes delivered and not yet read, so a
full one marks the slow reader: on a download, bytes in client_rx wait for
the client, bytes in server_rx for the proxy.  A send queue holds bytes not
yet acknowledged; on loopback they are already in the peer's receive queue
or wait for its (delayed) ACK, so read the rx columns first.  For
the direct target FRONT_PORT is a backend's, and the server-side groups stay
empty.  ss costs CPU on the core it runs on, so bench.sh runs this only when
asked, never in the rounds whose figures go into RESULTS.md.
"""
import subprocess
import sys
import time

GROUPS = ("front", "client", "server", "backend")


def group(local, peer, front, backends):
    if local == front:
        return "front"
    if peer == front:
        return "client"
    if peer in backends:
        return "server"
    if local in backends:
        return "backend"
    return None


def sample(front, backends):
    out = subprocess.run(["ss", "-tnH", "state", "established"],
                         capture_output=True, text=True, check=False).stdout
    sums = {(g, q): 0 for g in GROUPS for q in ("rx", "tx")}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        g = group(f[2].rsplit(":", 1)[1], f[3].rsplit(":", 1)[1], front, backends)
        if g is not None:
            sums[(g, "rx")] += int(f[0])
            sums[(g, "tx")] += int(f[1])
    return sums


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: queues.py FRONT_PORT BACKEND_PORTS SECONDS [INTERVAL]")
    front, backends = sys.argv[1], set(sys.argv[2].split(","))
    seconds = float(sys.argv[3])
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05
    total, n = None, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s = sample(front, backends)
        total = s if total is None else {k: total[k] + v for k, v in s.items()}
        n += 1
        time.sleep(interval)
    if n == 0:
        sys.exit("queues.py: no sample taken")
    print("\t".join("%.0f" % (total[(g, q)] / n / 1024)
                    for g in GROUPS for q in ("rx", "tx")))


if __name__ == "__main__":
    main()

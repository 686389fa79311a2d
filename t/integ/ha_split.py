#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_split: split brain is seen, reported and resolved (issue 18.4), in the
netns lab (halab.py), with the sync channel on.

  - lb1 (priority 200) and lb2 (150) are cut off from each other (isolated
    bridge ports: each still reaches the client): both become MASTER;
  - healed, lb2 gets lb1's MASTER advert while MASTER: it logs the split
    once with both addresses, runs `notify` with SPLIT, and fulcrum-stat
    --json counts it and the time spent in it (ha.split_brain); RFC 5798
    resolves it: lb1 (the higher priority) stays MASTER, lb2 goes back to
    BACKUP.  lb1 reports it too if lb2's advert reached it first (either
    may come first: at most once);
  - the normal preemption at start (lb1 above lb2 takes over) is no split;
  - over IPv6 only (an IPv6 VIP alone: no IPv4 instance), lb1 MASTER hears
    another master's advert (forged from the client's link-local address,
    priority 150): the log line and ha.split_brain.peer carry the IPv6
    addresses.
"""
import os
import re
import socket
import struct
import time

import fctest as t
import halab as h

KEY = "lab-sync-key-0123456789"

lab = h.lab_up()
d = t.tmpdir("fctest-split-")
out = os.path.join(d, "notify")
script = os.path.join(d, "notify.sh")
with open(script, "w") as f:
    f.write(f"#!/bin/sh\necho \"$(hostname) $@\" >> {out}\n")
os.chmod(script, 0o755)


def conf(priority, peer):
    return h.conf(priority, extra=f'peers = [ "{peer}" ]; auth_key = "{KEY}";'
                  f' notify = "{script}"; sync = {{ port = 7781; interval_ms = 10; }};')


def notified():
    try:
        with open(out) as f:
            return [l.split(None, 1)[1] for l in f.read().splitlines()]
    except OSError:
        return []


def split(fc):
    return h.ha(fc).get("split_brain", {})


def linklocal(lab, host):
    """host's eth0 link-local address once out of DAD, or None."""
    out = lab.ip(host, "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link")
    m = re.search(r"inet6 (fe80::[0-9a-f:]+)/64 (.*)", out)
    return m.group(1) if m and "tentative" not in m.group(2) else None


def send_advert6(lab, host, priority, vrid=51, vips=("2001:db8::50",)):
    """A VRRPv3 advert over IPv6 from host's link-local address to ff02::12,
    hop limit 255 (RFC 5798 5.1.2), the checksum over the IPv6 pseudo-header."""
    src, dst = linklocal(lab, host), "ff02::12"
    ifindex = int(lab.ip(host, "-o", "link", "show", "eth0").split(":")[0])
    msg = struct.pack("!BBBBHH", 0x31, vrid, priority, len(vips), 10, 0)
    msg += b"".join(socket.inet_pton(socket.AF_INET6, a) for a in vips)
    pseudo = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
              + struct.pack("!I3xB", len(msg), 112))
    msg = msg[:6] + struct.pack("!H", h._csum(pseudo + msg)) + msg[8:]
    s = lab.socket(host, socket.AF_INET6, socket.SOCK_RAW, 112)
    try:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.bind((src, 0, 0, ifindex))
        s.sendto(msg, (dst, 0, 0, ifindex))
    finally:
        s.close()


def lines(fc):
    return re.findall(r".*split brain: .*", fc.log_text())


try:
    with t.step("two nodes, one master"):
        lb2 = h.start(lab, "lb2", conf(150, "192.0.2.11"))
        t.check(h.wait_state(lb2, "MASTER", 5), "lb2 alone becomes MASTER")
        lb1 = h.start(lab, "lb1", conf(200, "192.0.2.12"))
        t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 3),
                "lb1 preempts", lb1.log_text())
        t.check(split(lb1) == {"count": 0, "ms": 0, "active": False, "peer": None},
                "no split brain counted yet", str(h.ha(lb1)))

    with t.step("cut apart: both MASTER"):
        lab.isolate("lb1", True)
        lab.isolate("lb2", True)
        t.check(h.wait_state(lb2, "MASTER", 3), "lb2 becomes MASTER too")
        time.sleep(0.3)
        t.check(not lines(lb1) and not lines(lb2),
                "no split reported while neither can see the other")

    with t.step("healed: the split is seen, reported and resolved"):
        t0 = time.monotonic()
        lab.isolate("lb1", False)
        lab.isolate("lb2", False)
        t.check(h.wait_state(lb2, "BACKUP", 3), "lb2 (priority 150) goes back to BACKUP",
                lb2.log_text()[-1500:])
        t.note(f"resolved {(time.monotonic() - t0) * 1000:.0f} ms after the heal")
        t.check(h.state(lb1) == "MASTER", "lb1 (priority 200) stays MASTER")
        t.check(h.wait(lambda: len(lines(lb2)) == 1, 2), "lb2 logs it once",
                "\n".join(lines(lb2)) + lb2.log_text()[-1500:])
        t.check(lines(lb2) and "split brain: 192.0.2.12 (priority 150, this node) and "
                "192.0.2.11 (priority 200) are both MASTER" in lines(lb2)[0],
                "with both addresses", "\n".join(lines(lb2)))
        t.check(h.wait(lambda: "SPLIT 51 150" in notified(), 2),
                "lb2 ran notify with SPLIT", str(notified()))
        s2 = split(lb2)
        t.check(s2.get("peer") == "192.0.2.11", "ha.split_brain.peer: lb1's address", str(s2))
        t.check(s2.get("count") == 1 and s2.get("active") is False and s2.get("ms", 0) >= 200,
                "fulcrum-stat --json: lb2 ha.split_brain count 1, over, the time lb2 was"
                " MASTER beside lb1 (>= 200 ms)", str(s2))
        t.check(h.wait(lambda: split(lb1).get("active") is False, 2),
                "lb1: no split left open once lb2 is quiet (3 adverts)", str(h.ha(lb1)))
        s1 = split(lb1)
        t.check(s1.get("count") == len(lines(lb1)) <= 1 and
                ("SPLIT 51 200" in notified()) == (s1.get("count") == 1),
                "lb1 reports it at most once, notify as often", f"{s1} {notified()}")
        t.note(f"time in split brain: lb2 {s2.get('ms')} ms, lb1 {s1.get('ms')} ms "
               f"({s1.get('count')} seen by lb1)")
        time.sleep(0.5)
        t.check(len(lines(lb2)) == 1 and h.state(lb1) == "MASTER" and
                h.state(lb2) == "BACKUP", "one master, no new split")
    lb1.stop()
    lb2.stop()

    with t.step("a split over IPv6 only: the report carries the IPv6 addresses"):
        VIP6 = "2001:db8::50"
        text = h.conf(200, extra=f'notify = "{script}";').replace(
            f'vips = [ "{h.VIP}/24" ]', f'vips = [ "{VIP6}/64" ]')
        t.check(h.wait(lambda: linklocal(lab, "lb1") and linklocal(lab, "client"), 10, 0.1),
                "lb1 and the client have their link-local addresses")
        lb1 = h.start(lab, "lb1", text, name="lb1-v6")
        t.check(h.wait_state(lb1, "MASTER", 5), "lb1 alone becomes MASTER", lb1.log_text())
        before = len(lines(lb1))
        # Not within lb1's first advert interval as MASTER: an advert then
        # may have crossed its own first one (a preemption, no split).
        time.sleep(0.3)
        # One advert of another master, then quiet: 3 adverts later it is over.
        send_advert6(lab, "client", priority=150)
        me, other = linklocal(lab, "lb1"), linklocal(lab, "client")
        t.check(h.wait(lambda: len(lines(lb1)) == before + 1, 2), "lb1 logs the split",
                lb1.log_text()[-1500:])
        t.check(f"split brain: {me} (priority 200, this node) and {other} (priority 150)"
                " are both MASTER" in (lines(lb1) or [""])[-1], "with both IPv6 addresses",
                "\n".join(lines(lb1)))
        s1 = split(lb1)
        t.check(s1.get("count") == 1 and s1.get("peer") == other,
                f"fulcrum-stat --json: ha.split_brain count 1, peer {other}", str(s1))
        t.check(h.wait(lambda: split(lb1).get("active") is False, 2) and
                h.state(lb1) == "MASTER", "over once the other is quiet; lb1 stays MASTER",
                str(h.ha(lb1)))
        lb1.stop()
finally:
    lab.teardown()
t.finish()

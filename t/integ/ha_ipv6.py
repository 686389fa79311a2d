#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ha_ipv6: VRRP over IPv6 (RFC 5798; issue 18.5).  The halab lab plus IPv6
(2001:db8::/64 on the same LAN); the nodes share an IPv4 and an IPv6 VIP,
one VRRP instance per family with the same VRID 51, following one state.

  - lb1 (200) and lb2 (150): both VIPs on lb1 only, the IPv6 one not
    "tentative" (added without DAD), HTTP answers over IPv6 from the client;
  - node death, several trials: kill -9 of lb1; both VIPs move to lb2, the
    IPv6 one answers at once (no DAD), and the client's neighbour entry for
    it already points at lb2's MAC (the unsolicited NA: without it the
    client keeps lb1's MAC for many seconds);
  - the IPv6 VIP is a lease: a node killed with -9 loses it by itself;
  - keepalived interop over IPv6 both ways (keepalived with two instances,
    IPv4 and IPv6, VRID 51): fulcrum master -> keepalived takes over on
    kill -9; keepalived master -> fulcrum (IPv6 VIP only: no IPv4
    instance) stays BACKUP on its IPv6 adverts, takes over on kill -9.
Takeover times are printed (median, min, max).  Limits are in adverts
(100 ms), with margin.  TRIALS=10 for the medians of 10 README quotes
(node death and each interop direction); by default node death takes 3
trials and each interop direction 1.
"""
import os
import re
import shutil
import socket
import time

import fctest as t
import halab as h
from halab import VIP

VIP6 = "2001:db8::50"
HOSTS6 = {"lb1": "2001:db8::11", "lb2": "2001:db8::12", "client": "2001:db8::100",
          "web1": "2001:db8::21", "web2": "2001:db8::22"}
ADVERT = 0.1
TRIALS = h.trials(3)
KA_TRIALS = int(os.environ.get("TRIALS") or 1)
KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"


def conf6(priority, only6=False, **kw):
    """halab's config with the IPv6 VIP beside the IPv4 one (listener and
    ha); only6: the IPv6 VIP alone in the ha section (no IPv4 instance)."""
    text = h.conf(priority, **kw).replace(
        f'bind = [ "{VIP}:80" ]', f'bind = [ "{VIP}:80", "[{VIP6}]:80" ]')
    return text.replace(f'vips = [ "{VIP}/24" ]',
                        f'vips = [ "{VIP6}/64" ]' if only6 else f'vips = [ "{VIP}/24", "{VIP6}/64" ]')


def addrs6(lab, host):
    """{IPv6 address on host's eth0: its flags} ("tentative", "nodad", ...)."""
    out = lab.ip(host, "-6", "-o", "addr", "show", "dev", "eth0")
    return {m.group(1): m.group(2) for m in
            re.finditer(r"inet6 ([0-9a-f:]+)/\d+ (.*)", out)}


def mac(lab, host):
    return re.search(r"link/ether ([0-9a-f:]+)", lab.ip(host, "link", "show", "eth0")).group(1)


def neigh(lab, host, addr):
    """The MAC host's neighbour cache holds for addr, or None."""
    m = re.search(r"lladdr ([0-9a-f:]+)", lab.ip(host, "-6", "neigh", "show", addr, "dev", "eth0"))
    return m.group(1) if m else None


def http6(lab, host, addr, timeout=2.0):
    """GET / over IPv6 from inside host: (status, body) or raises OSError."""
    s = lab.socket(host, socket.AF_INET6, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect((addr, 80))
        s.sendall(f"GET / HTTP/1.1\r\nHost: [{addr}]\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        resp, _ = t.parse_responses(data)
        if not resp:
            raise OSError("no HTTP response")
        return resp[0][0], resp[0][2]
    finally:
        s.close()


def first_answer6(lab, t0, timeout=5.0):
    """Seconds from t0 to the first 200 through the IPv6 VIP, or None."""
    while time.monotonic() - t0 < timeout:
        try:
            if http6(lab, "client", VIP6, timeout=0.1)[0] == 200:
                return time.monotonic() - t0
        except OSError:
            time.sleep(0.002)
    return None


def answers6(lab, n=5):
    """n requests over IPv6: the failures."""
    bad = []
    for i in range(n):
        try:
            st, body = http6(lab, "client", VIP6)
            if st != 200 or body not in (b"web1\n", b"web2\n"):
                bad.append(f"request {i}: {st} {body!r}")
        except OSError as e:
            bad.append(f"request {i}: {e!r}")
    return bad


def lab6_up():
    lab = h.lab_up()
    for host, addr in HOSTS6.items():
        lab.ip(host, "-6", "addr", "add", f"{addr}/64", "dev", "eth0")
    # DAD stays on (the lab's own addresses go through it): the test is
    # that the VIP does not.  fulcrum sends from the link-local address.
    if not h.wait(lambda: all("tentative" not in " ".join(addrs6(lab, x).values())
                              for x in HOSTS6), 10, 0.1):
        t.fail("the lab's IPv6 addresses leave DAD", str({x: addrs6(lab, x) for x in HOSTS6}))
    return lab


def takeover(lab, new, old_mac, new_mac, label, t0, took=None, v4=True):
    """After a kill at t0: both VIPs on new, no DAD, the NA seen.  Returns
    the time to the first IPv6 answer (the dead node's proxy answers no
    more: until then, it resets), or took when the caller measured it."""
    if took is None:
        took = first_answer6(lab, t0)
    t.check(took is not None, f"{label}: the IPv6 VIP answers", str(addrs6(lab, new)))
    t.check(VIP6 in addrs6(lab, new) and "tentative" not in addrs6(lab, new)[VIP6],
            f"{label}: {VIP6} on {new}, not tentative (no DAD)", str(addrs6(lab, new)))
    t.check(h.wait(lambda: neigh(lab, "client", VIP6) == new_mac, 5 * ADVERT),
            f"{label}: the client's neighbour entry points at {new} (the NA)",
            f"{neigh(lab, 'client', VIP6)}, {new} is {new_mac}, the old one {old_mac}")
    if v4:
        t.check(h.wait(lambda: VIP in lab.addrs(new), 20 * ADVERT),
                f"{label}: the IPv4 VIP moved to {new} too")
    return took


lab = lab6_up()
mac1, mac2 = mac(lab, "lb1"), mac(lab, "lb2")
LB1, LB2 = conf6(200, user="nobody"), conf6(150, user="nobody")
try:
    with t.step("lb1 (200) and lb2 (150) share an IPv4 and an IPv6 VIP"):
        lb2 = h.start(lab, "lb2", LB2)
        t.check(h.wait_state(lb2, "MASTER", 5), "lb2 alone becomes MASTER", lb2.log_text())
        lb1 = h.start(lab, "lb1", LB1)
        t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                "lb1 preempts, lb2 is BACKUP", lb1.log_text() + lb2.log_text())
        t.check(h.wait(lambda: VIP6 not in addrs6(lab, "lb2"), 20 * ADVERT),
                "lb2 gave the IPv6 VIP back", str(addrs6(lab, "lb2")))
        a1 = addrs6(lab, "lb1")
        t.check(VIP6 in a1 and "tentative" not in a1[VIP6], f"{VIP6} on lb1, not tentative",
                str(a1))
        t.check(VIP in lab.addrs("lb1") and VIP not in lab.addrs("lb2"), "the IPv4 VIP on lb1")
        t.check(h.ha(lb2).get("peer_priority") == 200, "lb2 hears lb1 (priority 200)",
                str(h.ha(lb2)))
        t.check(first_answer6(lab, time.monotonic(), 2) is not None and not answers6(lab),
                "HTTP over IPv6 through the VIP answers")
        t.check(neigh(lab, "client", VIP6) == mac1, "the client reaches the IPv6 VIP at lb1")

    with t.step(f"node death: kill -9 of lb1, {TRIALS} trials"):
        times = []
        for trial in range(TRIALS):
            t0 = time.monotonic()
            h.kill_node(lb1)
            took = takeover(lab, "lb2", mac1, mac2, f"trial {trial + 1}", t0)
            if took is None:
                break
            times.append(took)
            t.check(not answers6(lab) and not h.all_answer(lab, 5),
                    f"trial {trial + 1}: IPv4 and IPv6 requests succeed through lb2")
            lb1 = h.start(lab, "lb1", LB1)
            t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                    f"trial {trial + 1}: lb1 back preempts", lb1.log_text())
            t.check(h.wait(lambda: VIP6 not in addrs6(lab, "lb2"), 20 * ADVERT),
                    f"trial {trial + 1}: lb2 gave the IPv6 VIP back")
            # The client talks to lb1 again, so its entry points there.
            t.check(first_answer6(lab, time.monotonic(), 2) is not None and
                    neigh(lab, "client", VIP6) == mac1, f"trial {trial + 1}: back through lb1")
        if times:
            med = h.figures("IPv6 VIP answers after node death", times)
            # 3 adverts + skew is ~340 ms; without the NA it is many seconds.
            t.check(med < 15 * ADVERT * 1000, f"median under 15 adverts ({med:.0f} ms)")

    with t.step("the IPv6 VIP is a lease too: a node killed with -9 loses it by itself"):
        h.kill_node(lb1)
        t.check(h.wait_state(lb2, "MASTER", 30 * ADVERT), "lb2 takes over")
        h.kill_node(lb2)
        t0 = time.monotonic()
        gone = h.wait(lambda: VIP6 not in addrs6(lab, "lb2"), 5, 0.05)
        t.check(gone, "the IPv6 VIP expires on lb2 within 5 s (lease 2 s)", str(addrs6(lab, "lb2")))
        if gone:
            t.note(f"IPv6 VIP expired {time.monotonic() - t0:.1f} s after the kill")

    with t.step("unicast: peers hold the other node's IPv4 and link-local IPv6 address"):
        def linklocal(host):
            return next(a for a in addrs6(lab, host) if a.startswith("fe80:"))

        def uni(prio, peer):
            return conf6(prio, user="nobody", extra=f'peers = [ "{V4[peer]}", "{linklocal(peer)}" ];')

        V4 = {h_: a.split("/")[0] for h_, a in h.HOSTS.items()}
        lb2 = h.start(lab, "lb2", uni(150, "lb1"))
        t.check(h.wait_state(lb2, "MASTER", 5), "lb2 alone becomes MASTER", lb2.log_text())
        lb1 = h.start(lab, "lb1", uni(200, "lb2"))
        t.check(h.wait_state(lb1, "MASTER", 5) and h.wait_state(lb2, "BACKUP", 2),
                "lb1 preempts over unicast", lb1.log_text() + lb2.log_text())
        t.check(h.wait(lambda: VIP6 not in addrs6(lab, "lb2"), 20 * ADVERT) and
                first_answer6(lab, time.monotonic(), 2) is not None, "the IPv6 VIP answers from lb1")
        t0 = time.monotonic()
        h.kill_node(lb1)
        took = takeover(lab, "lb2", mac1, mac2, "unicast", t0)
        if took is not None:
            t.note(f"unicast: IPv6 VIP answers after {took * 1000:.0f} ms")
        t.check("refused" not in lb2.log_text(), "no advert refused", lb2.log_text())
        lb2.stop()

    if not os.access(KEEPALIVED, os.X_OK):
        t.note("keepalived not installed: interop steps skipped")
    else:
        kconf = """
global_defs {
    vrrp_version 3
    router_id lb2
}
""" + "".join(f"""vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    virtual_ipaddress {{
        {vip}
    }}
}}
""" for name, vip in (("VI_4", f"{VIP}/24"), ("VI_6", f"{VIP6}/64")))
        kd = h.Keepalived(lab, KEEPALIVED, kconf, "fctest-keepalived6-")

        def to_keepalived(trial):
            """fulcrum on lb1 (200) preempts keepalived, then dies: seconds
            until the IPv6 VIP answers from lb2 (keepalived), or None."""
            global lb1
            label = f"fulcrum -> keepalived, trial {trial + 1}"
            t.check(h.wait(lambda: VIP6 in addrs6(lab, "lb2"), 5),
                    f"{label}: keepalived holds the IPv6 VIP on lb2", kd.log()[-1500:])
            lb1 = h.start(lab, "lb1", LB1)
            t.check(h.wait_state(lb1, "MASTER", 5), f"{label}: fulcrum on lb1 becomes MASTER",
                    lb1.log_text())
            t.check(h.wait(lambda: VIP6 not in addrs6(lab, "lb2"), 20 * ADVERT),
                    f"{label}: keepalived accepts fulcrum's IPv6 advert and removes its VIP",
                    kd.log()[-1500:])
            t.check(first_answer6(lab, time.monotonic(), 2) is not None and
                    neigh(lab, "client", VIP6) == mac1, f"{label}: the IPv6 VIP answers from lb1")
            t0 = time.monotonic()
            h.kill_node(lb1)
            took = takeover(lab, "lb2", mac1, mac2, label, t0)
            if took is not None:
                t.check(took < 15 * ADVERT, f"{label}: within 15 adverts ({took * 1000:.0f} ms)")
            return took

        def from_keepalived(trial, ka):
            """fulcrum (100, IPv6 VIP only) BACKUP behind keepalived, which is
            killed: seconds until fulcrum is MASTER (its log), or None."""
            label = f"keepalived -> fulcrum, trial {trial + 1}"
            lb1 = h.start(lab, "lb1", conf6(100, only6=True, user="nobody"))
            t.check(h.wait_state(lb1, "BACKUP", 3), f"{label}: fulcrum is BACKUP behind keepalived")
            time.sleep(5 * ADVERT)
            info = h.ha(lb1)
            t.check(info.get("state") == "BACKUP" and VIP6 not in addrs6(lab, "lb1") and
                    info.get("peer_priority") == 150 and "refused" not in lb1.log_text(),
                    f"{label}: and stays so, decoding keepalived's IPv6 adverts (priority 150)",
                    f"{info}\n{lb1.log_text()}")
            # A killed keepalived leaves its VIPs on lb2, whose proxy
            # still answers: the takeover is fulcrum's MASTER state.
            t0, wall0 = time.monotonic(), time.time()
            kd.kill(ka)
            took = None
            if t.check(h.wait_state(lb1, "MASTER", 30 * ADVERT),
                       f"{label}: fulcrum on lb1 becomes MASTER", lb1.log_text()):
                took = h.since_log(lb1, "BACKUP -> MASTER", wall0) / 1000
                takeover(lab, "lb1", mac2, mac1, label, t0, took, v4=False)
            lb1.stop()
            return took

        ka = None
        to_ka, from_ka = [], []
        try:
            with t.step(f"keepalived over IPv6 both ways, {KA_TRIALS} trial(s) each"):
                proxy2 = h.start(lab, "lb2", conf6(None), name="lb2-proxy")
                for trial in range(KA_TRIALS):
                    ka = kd.start()
                    took = to_keepalived(trial)
                    if took is None:
                        break
                    to_ka.append(took)
                    took = from_keepalived(trial, ka)
                    if took is None:
                        break
                    from_ka.append(took)
                if to_ka:
                    h.figures("fulcrum -> keepalived: IPv6 VIP answers after", to_ka)
                if from_ka:
                    h.figures("keepalived -> fulcrum: MASTER after", from_ka)
            proxy2.stop()
        finally:
            kd.kill(ka)
finally:
    lab.teardown()
t.finish()

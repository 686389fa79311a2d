# SPDX-License-Identifier: BSD-2-Clause
"""halab: the two-balancer lab shared by the t/integ/ha_*.py scenarios.

    client 192.0.2.100 --+                 +-- web1 192.0.2.21 (fc-testbackend)
                         +-- sw: br0 ------+-- web2 192.0.2.22 (fc-testbackend)
    lb1 192.0.2.11 ------+                 |
    lb2 192.0.2.12 ------------------------+      VIP 192.0.2.50: the master's

fulcrum runs on lb1 and lb2 (`ip netns exec`), VRRP VRID 51 on eth0.
"""
import hashlib
import hmac
import json
import os
import signal
import socket
import statistics
import struct
import time

import fctest as t

VIP = "192.0.2.50"
HOSTS = {"lb1": "192.0.2.11/24", "lb2": "192.0.2.12/24",
         "client": "192.0.2.100/24", "web1": "192.0.2.21/24",
         "web2": "192.0.2.22/24"}
FULCRUM_STAT = os.environ.get("FULCRUM_STAT") or os.path.join(
    t.SRCDIR, "fulcrum-stat")


def conf(priority, preempt=True, advert_ms=100, extra="", workers=2,
         user=None):
    """lb1 and lb2 differ only by priority (and what a scenario adds).
    priority None: no ha section (another program owns the VIP)."""
    return f"""
global: {{ workers = {workers}; {f'user = "{user}";' if user else ""} }};
listeners = ( {{
  name = "webfarm"; bind = [ "{VIP}:80" ]; balance = "roundrobin";
  forwardfor = true; stats = {{ uri = "/fulcrum?stats"; }};
  cookie = {{ name = "JSESSIONID"; mode = "prefix"; }};
  servers = ( {{ name = "web1"; address = "192.0.2.21:80"; cookie = "A"; }},
              {{ name = "web2"; address = "192.0.2.22:80"; cookie = "B"; }} );
}} );
""" + ("" if priority is None else f"""
ha: {{ interface = "eth0"; vrid = 51; priority = {priority};
  advert_ms = {advert_ms}; preempt = {"true" if preempt else "false"};
  vips = [ "{VIP}/24" ]; {extra} }};
""")


def lab_up(extra=None):
    """The namespaces and the two web servers; extra: more hosts on the LAN
    ({"lb3": "192.0.2.13/24"})."""
    t.require_netns()
    t.require_fulcrum()
    t.require_backend()
    lab = t.Lab({**HOSTS, **(extra or {})})
    for w in ("web1", "web2"):
        addr = HOSTS[w].split("/")[0]
        lab.spawn(w, [t.TESTBACKEND, "-l", f"{addr}:80", "-n", w],
                  stdout=open(os.devnull, "wb"))
    for w in ("web1", "web2"):
        addr = HOSTS[w].split("/")[0]
        if not wait(lambda: _answers(lab, addr), 5):
            t.fail(f"{w} answers on {addr}:80")
    return lab


def _answers(lab, addr):
    try:
        return lab.http("client", addr, timeout=0.5)[0] == 200
    except OSError:
        return False


def session(lab):
    """Opens an application session through the VIP (JSESSIONID, prefix
    mode); returns (the cookie as the client got it, the server that set it)."""
    st, hdrs, body = lab.http_full("client", VIP, path="/session?name=JSESSIONID")
    cookie = hdrs.get("set-cookie", "").split(";")[0]
    return cookie, hdrs.get("x-backend")


def sticks(lab, cookie, n=10):
    """The servers that answered n requests carrying cookie."""
    seen = []
    for _ in range(n):
        st, hdrs, body = lab.http_full("client", VIP, path="/echo",
                                       headers=f"Cookie: {cookie}\r\n")
        seen.append(hdrs.get("x-backend") if st == 200 else f"status {st}")
    return seen


def wait(cond, timeout, step=0.01):
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def start(lab, host, text, name=None):
    """fulcrum -d on host; returns once its ha process (or, without an ha
    section, its workers) runs."""
    fc = t.Fulcrum(text, name=name or host, ports=[],
                   prefix=lab.exec_prefix(host))
    want = fc.ha_pids if "ha:" in text else fc.worker_pids
    if not wait(lambda: fc.remember_children() and want(), 5):
        t.fail(f"fulcrum on {host} starts its ha process",
               fc.log_text())
    return fc


def stat(fc):
    """fulcrum-stat --json of fc ({} when unreadable)."""
    st, out = t.run([FULCRUM_STAT, "-f", fc.conf_path, "--json"], timeout=5)
    if st != 0:
        return {}
    try:
        return json.loads(out)
    except ValueError:
        return {}


def ha(fc):
    """The ha block as fulcrum-stat --json shows it."""
    return stat(fc).get("ha", {})


def requests(fc):
    """Requests fc has relayed (every worker)."""
    return stat(fc).get("totals", {}).get("requests", -1)


def state(fc):
    return ha(fc).get("state")


def wait_state(fc, want, timeout=5.0):
    return wait(lambda: state(fc) == want, timeout, 0.02)


def kill_node(fc):
    """kill -9 of every fulcrum process of a node, all at once.  The children
    go first: a master killed first would have the kernel send its ha
    process SIGTERM (PR_SET_PDEATHSIG), and a clean resignation is not the
    silent death this stands for."""
    # Stopped first, the master cannot respawn what dies under it.
    os.kill(fc.pid, signal.SIGSTOP)
    kids = fc.remember_children()
    for pid in kids:
        t.kill_ours(pid, signal.SIGKILL)
    os.kill(fc.pid, signal.SIGKILL)
    fc.wait_exit(5)
    fc.stop(quiet=True)


def since_log(fc, what, wall0):
    """ms from wall0 (time.time()) to the last log line of fc containing what."""
    import datetime
    for line in reversed(fc.log_text().splitlines()):
        if what in line:
            hms = line.split()[0]
            day = datetime.datetime.fromtimestamp(wall0)
            h_, m_, s_ = hms.split(":")
            when = day.replace(hour=int(h_), minute=int(m_), second=int(float(s_)),
                               microsecond=int(round(float(s_) % 1 * 1e6)) % 1000000)
            return (when.timestamp() - wall0) * 1000
    return float("nan")


def first_answer(lab, t0, timeout=5.0, attempt=0.1):
    """Seconds from t0 to the first 200 through the VIP, or None."""
    while time.monotonic() - t0 < timeout:
        try:
            if lab.http("client", VIP, timeout=attempt)[0] == 200:
                return time.monotonic() - t0
        except OSError:
            time.sleep(0.002)
    return None


def all_answer(lab, n=20):
    """n requests through the VIP, each on a new connection: the failures."""
    bad = []
    for i in range(n):
        try:
            st, body = lab.http("client", VIP, timeout=2)
            if st != 200 or body not in (b"web1\n", b"web2\n"):
                bad.append(f"request {i}: {st} {body!r}")
        except OSError as e:
            bad.append(f"request {i}: {e!r}")
    return bad


def link_set(lab, host, up, ifname="eth0"):
    """`ip -n HOST link set IFNAME up|down` through rtnetlink from this
    process: a figure timed from just before it does not include the time
    to start ip(8), which on a loaded box is often tens of ms."""
    name = ifname.encode() + b"\0"
    s = lab.socket(host, socket.AF_NETLINK, socket.SOCK_RAW, 0)   # NETLINK_ROUTE
    try:
        # struct ifinfomsg (family, pad, type, index 0: by name, flags,
        # change: IFF_UP), then the IFLA_IFNAME (3) attribute
        body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 1 if up else 0, 1)
        body += struct.pack("=HH", 4 + len(name), 3) + name
        body += b"\0" * (-len(body) % 4)
        # struct nlmsghdr: RTM_NEWLINK (16), NLM_F_REQUEST | NLM_F_ACK
        s.send(struct.pack("=IHHII", 16 + len(body), 16, 1 | 4, 1, 0) + body)
        ack = s.recv(4096)
        err = struct.unpack("=i", ack[16:20])[0] if len(ack) >= 20 else -1
        if err != 0:
            raise OSError(-err, f"link {ifname} on {host}")
    finally:
        s.close()


def trials(default):
    """How many trials a figure takes: TRIALS from the environment (TRIALS=10
    for the medians README quotes), else default (make check stays quick).
    A longer run gets a longer alarm, unless FC_TEST_TIMEOUT says."""
    n = int(os.environ.get("TRIALS") or default)
    if n > default and not os.environ.get("FC_TEST_TIMEOUT"):
        signal.alarm(90 * n // default)
    return n


def figures(name, times):
    """Prints median, min and max in ms; returns the median."""
    ms = [x * 1000 for x in times]
    med = statistics.median(ms)
    t.note(f"{name}: median {med:.0f} ms, min {min(ms):.0f} ms, "
           f"max {max(ms):.0f} ms over {len(ms)} trials "
           f"({', '.join(f'{x:.0f}' for x in ms)})")
    return med


# ------------------------------------------------------- hand-made adverts

def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def advert(src, dst="224.0.0.18", vrid=51, priority=254, interval_cs=10,
           vips=(VIP,), key=None, seq=1):
    """A whole IPv4 datagram carrying a VRRPv3 advert, TTL 255.  With key,
    fulcrum's authenticated form (sequence + HMAC-SHA256, see ha/vrrp.h)."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    msg = struct.pack("!BBBBHH", 0x31, vrid, priority, len(vips),
                      interval_cs & 0x0fff, 0)
    msg += b"".join(socket.inet_aton(a) for a in vips)
    if key is not None:
        msg += struct.pack("!Q", seq)
        msg += hmac.new(key, s + d + msg, hashlib.sha256).digest()
    pseudo = s + d + struct.pack("!BBH", 0, 112, len(msg))
    msg = msg[:6] + struct.pack("!H", _csum(pseudo + msg)) + msg[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xc0, 20 + len(msg), 0, 0, 255,
                     112, 0, s, d)
    return ip + msg


def send_raw(lab, host, datagrams, gap=0.02):
    """Sends whole IPv4 datagrams (our own IP header: any source) from host."""
    s = lab.socket(host, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        # No multicast route in the lab: 224.0.0.18 leaves by eth0.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        for pkt in datagrams:
            s.sendto(pkt, (socket.inet_ntoa(pkt[16:20]), 0))
            time.sleep(gap)
    finally:
        s.close()


def capture(lab, host, src, n=3, timeout=3.0):
    """The next n VRRP datagrams from src seen on host (joined to 224.0.0.18)."""
    s = lab.socket(host, socket.AF_INET, socket.SOCK_RAW, 112)
    got = []
    try:
        me = HOSTS[host].split("/")[0]
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     socket.inet_aton("224.0.0.18") + socket.inet_aton(me))
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                pkt = s.recv(2048)
            except socket.timeout:
                break
            if socket.inet_ntoa(pkt[12:16]) == src:
                got.append(pkt)
    finally:
        s.close()
    return got


def lab_of(hosts):
    """lab_up() for hosts of a scenario's own (a third balancer, say; web1
    and web2 among them): the namespaces and the two web servers."""
    t.require_netns()
    t.require_fulcrum()
    t.require_backend()
    lab = t.Lab(hosts)
    for w in ("web1", "web2"):
        addr = hosts[w].split("/")[0]
        lab.spawn(w, [t.TESTBACKEND, "-l", f"{addr}:80", "-n", w],
                  stdout=open(os.devnull, "wb"))
        if not wait(lambda: _answers(lab, addr), 5):
            t.fail(f"{w} answers on {addr}:80")
    return lab


class Keepalived:
    """keepalived, the VRRP peer of the interop scenarios, on one host of
    the lab, from a directory of its own: its config, log and pid files."""

    def __init__(self, lab, binary, conf, prefix, host="lb2"):
        self.lab, self.binary, self.host = lab, binary, host
        self.dir = t.tmpdir(prefix)
        self.conf = self._path("keepalived.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def _path(self, name):
        return os.path.join(self.dir, name)

    def start(self):
        """keepalived in the foreground, stdout and stderr to its log."""
        # A killed keepalived's pid files may name a zombie not yet
        # reaped: keepalived would take it for itself running.
        for name in ("keepalived.pid", "vrrp.pid"):
            if os.path.exists(self._path(name)):
                os.unlink(self._path(name))
        log = open(self._path("keepalived.log"), "ab")
        return self.lab.spawn(self.host, [self.binary, "-n", "-l", "-D", "-P", "-f", self.conf,
                                          "-p", self._path("keepalived.pid"),
                                          "-r", self._path("vrrp.pid")],
                              stdout=log, stderr=log)

    def log(self):
        with open(self._path("keepalived.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def kill(self, p):
        """kill -9 of keepalived's VRRP child, then of p, its parent."""
        if p is None or p.poll() is not None:
            return
        try:
            with open(self._path("vrrp.pid")) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        os.kill(p.pid, signal.SIGKILL)
        p.wait(5)

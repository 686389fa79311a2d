#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""chroot: with `global.chroot`, every worker runs inside that directory
(its /proc/PID/root) as global.user, the master stays at /, and all still
works: proxying, the stats page (its local time), a reload (the new
workers are chrooted too), and the access log over the local syslog
socket: connected before the chroot when the chroot has no socket at that
path, and sent to the chroot's own one when it has (as Debian's haproxy
package has rsyslog make one inside /var/lib/haproxy).

The daemon is started without -d: in the foreground the access log goes to
stderr.  Needs root: skipped otherwise.
"""
import grp
import os
import pwd
import re
import signal
import socket
import subprocess
import time

import fctest as t

if os.geteuid() != 0:
    t.skip("chroot needs root (running as uid %d)" % os.geteuid())
try:
    NOBODY = pwd.getpwnam("nobody").pw_uid
    grp.getgrnam("nogroup")
except KeyError as e:
    t.skip(f"user nobody or group nogroup missing: {e}")
t.require_fulcrum()

a = t.Backend("a")
d = t.tmpdir("fctest-chroot-")
jail = os.path.join(d, "jail")
os.mkdir(jail, 0o755)
sock_path = os.path.join(d, "log.sock")
pidfile = os.path.join(d, "fulcrum.pid")
conf_path = os.path.join(d, "fulcrum.conf")
port = t.free_port()


def write_conf():
    with open(conf_path, "w") as f:
        f.write(f"""
global: {{ workers = 2; user = "nobody"; group = "nogroup"; chroot = "{jail}";
          pidfile = "{pidfile}";
          log = {{ address = "{sock_path}"; facility = "local3"; }}; }};
defaults: {{ timeout = {{ connect = 2000; client = 10000; server = 10000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  stats = {{ uri = "/fulcrum?stats"; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}} );
""")


def sink_at(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    s.settimeout(0.2)
    return s


def grams(sink, want, timeout=3.0):
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(got) < want:
        try:
            got.append(sink.recv(4096).decode("utf-8", "replace"))
        except socket.timeout:
            pass
    return got


def workers(pid):
    return [k for k in t.children_of(pid) if re.match(r"fulcrum-w\d", t.title(k))]


def root_of(pid):
    return os.readlink(f"/proc/{pid}/root")


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[2])
    return None


def wait_workers(pid, n, avoid=(), timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ws = [w for w in workers(pid) if w not in avoid]
        if len(ws) == n:
            return ws
        time.sleep(0.05)
    return [w for w in workers(pid) if w not in avoid]


def check_jailed(pid, ws):
    t.check(len(ws) == 2, "2 workers", ws)
    for w in ws:
        t.check(root_of(w) == jail, f"worker {w}'s root is the chroot", root_of(w))
        t.check(uid_of(w) == NOBODY, f"worker {w} runs as nobody", uid_of(w))
    t.check(root_of(pid) == "/", "the master's root is /", root_of(pid))


def traffic(sink, tag):
    paths = [f"/?{tag}={i}" for i in range(3)]
    for p in paths:
        st, _, _ = t.http(port, "GET", p)
        t.check(st == 200, f"GET {p}: 200", st)
    got = grams(sink, len(paths))
    t.check(len(got) == len(paths) and
            all(any(f"GET {p} HTTP/1.1" in g for g in got) for p in paths),
            f"{len(paths)} access log lines on the socket", got)


sink = sink_at(sock_path)
write_conf()
with t.step("fulcrum -c accepts the chroot, start as a daemon"):
    p = subprocess.run([t.FULCRUM, "-c", "-f", conf_path], capture_output=True, timeout=10)
    t.check(p.returncode == 0, "fulcrum -c: 0", p.stderr)
    p = subprocess.run([t.FULCRUM, "-f", conf_path], capture_output=True, timeout=10)
    t.check(p.returncode == 0, "the launcher exits 0", p.stderr)
    pid = None
    deadline = time.monotonic() + 5
    while pid is None and time.monotonic() < deadline:
        try:
            text = open(pidfile).read()
            pid = int(text) if text.endswith("\n") else None
        except (OSError, ValueError):
            time.sleep(0.05)
    if pid is None:
        t.fail("the pidfile appears")
    t.remember_pid(pid)
    t.check(t.wait_port(port, 5.0), f"port {port} accepts")
    first = wait_workers(pid, 2)
    for k in t.children_of(pid):
        t.remember_pid(k)

with t.step("the workers are in the chroot, the master is not"):
    check_jailed(pid, first)

with t.step("requests, the stats page and the access log (connected socket)"):
    traffic(sink, "before")
    st, _, body = t.http(port, "GET", "/fulcrum?stats")
    t.check(st == 200 and b"<html" in body.lower(), "the stats page answers", st)

with t.step("reload: the new workers are chrooted too, the log's socket now inside"):
    inside_dir = jail + d
    os.makedirs(inside_dir)
    inner = sink_at(jail + sock_path)
    os.kill(pid, signal.SIGUSR2)
    second = wait_workers(pid, 2, avoid=first, timeout=10)
    for k in second:
        t.remember_pid(k)
    check_jailed(pid, second)
    deadline = time.monotonic() + 10
    while any(t.pid_alive(w) for w in first) and time.monotonic() < deadline:
        time.sleep(0.05)
    t.check(not any(t.pid_alive(w) for w in first), "the old workers are gone")
    while grams(sink, 1, 0.3):
        pass                            # what the old ones logged
    traffic(inner, "after")
    t.check(grams(sink, 1, 0.5) == [], "nothing reaches the socket outside")
    inner.close()

with t.step("TERM stops it"):
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while t.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    t.check(not t.pid_alive(pid), "the master exits")
sink.close()
t.finish()

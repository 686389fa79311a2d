#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""service: what contrib/fulcrum.service relies on.

- Type=notify: with $NOTIFY_SOCKET set, the master sends READY=1 once it
  serves, RELOADING=1 then READY=1 around a USR2 (also when the reload is
  refused), STOPPING=1 on TERM.
- ExecReload runs `fulcrum -c` first: a broken file exits 1 naming
  file:line, and the running instance is untouched by it.
- Daemon mode (no -d): the command returns only once the pidfile holds the
  master's pid, and the port answers at that moment.
- The generated unit carries this build's paths.
"""
import os
import re
import signal
import socket
import subprocess
import time

import fctest as t

g = t.Backend("g")


def conf(port, pidfile=None, broken=False):
    pid_line = f'pidfile = "{pidfile}";' if pidfile else ""
    balance = "roundrobbin" if broken else "roundrobin"
    return f"""
global: {{ workers = 2; {pid_line} }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ]; balance = "{balance}";
  servers = ( {{ name = "g"; address = "{g.addr}"; }} );
}} );
"""


def messages(sock, until, want):
    """Collects notify datagrams until one contains `want` or time is up."""
    got = []
    while time.monotonic() < until:
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if want in got[-1]:
            break
    return got


with t.step("Type=notify: READY, RELOADING, STOPPING"):
    d = t.tmpdir("fctest-notify-")
    path = os.path.join(d, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    port = t.free_port()
    os.environ["NOTIFY_SOCKET"] = path
    fc = t.Fulcrum(conf(port), name="notify", wait=False)
    del os.environ["NOTIFY_SOCKET"]
    got = messages(sock, time.monotonic() + 10, "READY=1")
    t.check(any("READY=1" in m for m in got), "READY=1 at start", f"{got}")
    t.check(t.port_accepts(port), "the port answers once READY=1 is sent")
    status, _, _ = t.http(port, "GET", "/")
    t.check(status == 200, "and serves", f"{status}")

    fc.signal(signal.SIGUSR2)
    got = messages(sock, time.monotonic() + 10, "READY=1")
    t.check(len(got) >= 2 and "RELOADING=1" in got[0] and "READY=1" in got[-1],
            "USR2: RELOADING=1, then READY=1 with the new generation", f"{got}")
    t.check(any("generation 2" in m for m in got), "STATUS names generation 2",
            f"{got}")

    with open(fc.conf_path, "w") as f:
        f.write(conf(port, broken=True))
    rc, out = t.run([t.FULCRUM, "-c", "-f", fc.conf_path])
    t.check(rc == 1, "fulcrum -c (ExecReload's first step) exits 1 on a "
            "broken file", f"{rc}")
    t.check(re.search(re.escape(os.path.realpath(fc.conf_path)) + r":\d+: ", out)
            is not None, "and names file:line", out)
    fc.signal(signal.SIGUSR2)
    got = messages(sock, time.monotonic() + 10, "READY=1")
    t.check(any("reload failed" in m for m in got) and "READY=1" in got[-1],
            "a refused reload still ends with READY=1 and says it failed", f"{got}")
    status, _, _ = t.http(port, "GET", "/")
    t.check(status == 200, "the instance still serves", f"{status}")

    fc.signal(signal.SIGTERM)
    got = messages(sock, time.monotonic() + 10, "STOPPING=1")
    t.check(any("STOPPING=1" in m for m in got), "STOPPING=1 on TERM", f"{got}")
    fc.wait_exit(10)
    sock.close()

with t.step("daemon mode: the command returns once the pidfile is written"):
    d = t.tmpdir("fctest-daemon-")
    port = t.free_port()
    pidfile = os.path.join(d, "fulcrum.pid")
    cpath = os.path.join(d, "daemon.conf")
    with open(cpath, "w") as f:
        f.write(conf(port, pidfile=pidfile))
    r = subprocess.run([t.FULCRUM, "-f", cpath], timeout=20,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       start_new_session=True)
    exists = os.path.exists(pidfile)
    pid = int(open(pidfile).read()) if exists else 0
    t.check(r.returncode == 0, "fulcrum -f FILE returns 0", f"{r.returncode}")
    t.check(exists and pid > 0 and t.pid_alive(pid),
            "the pidfile names a live master when the command returns", f"{pid}")
    t.check(t.port_accepts(port), "the port accepts when the command returns")
    if pid > 0:
        t.remember_pid(pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while t.pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        t.check(not t.pid_alive(pid), "the daemon stops on TERM")
        t.check(not os.path.exists(pidfile), "and removes its pidfile")

with t.step("the unit file carries this build's paths"):
    unit = os.path.join(os.path.dirname(t.FULCRUM), "contrib", "fulcrum.service")
    text = open(unit).read() if os.path.exists(unit) else ""
    t.check("Type=notify" in text, "Type=notify", unit)
    t.check(re.search(r"ExecStartPre=/\S+/fulcrum -c -f", text) is not None,
            "fulcrum -c before start")
    t.check(re.search(r"ExecReload=/\S+/fulcrum -c -f", text) is not None and
            "kill -USR2 $MAINPID" in text, "fulcrum -c, then USR2, on reload")
    t.check(re.search(r"@\w+@", re.sub(r"(?m)^#.*$", "", text)) is None,
            "every @placeholder@ replaced")
    t.check("EnvironmentFile=-/etc/default/fulcrum" in text,
            "EnvironmentFile=-/etc/default/fulcrum (optional)")
    docs = re.findall(r"(?m)^Documentation=(.*)$", text)
    pages = " ".join(docs).split()
    t.check(pages and all(re.fullmatch(r"man:[\w.-]+\(\d\)", p) for p in pages),
            "Documentation= names manual pages only", pages)
    builddir = os.path.dirname(t.FULCRUM)
    for p in pages:
        m = re.fullmatch(r"man:([\w.-]+)\((\d)\)", p)
        if m:
            page = os.path.join(builddir, "doc", f"{m.group(1)}.{m.group(2)}")
            t.check(os.path.exists(page), f"{p} is built (make install installs it)",
                    page)

with t.step("the unit is hardened: systemd-analyze security"):
    sa = subprocess.run(["sh", "-c", "command -v systemd-analyze"],
                        stdout=subprocess.PIPE).stdout.decode().strip()
    if not sa:
        t.note("systemd-analyze is not installed: skipped")
    else:
        # systemd-analyze wants the unit in a directory of its own, with
        # the binaries of this build where the unit runs them.
        d = t.tmpdir("fctest-unit-")
        sbindir = re.search(r"ExecStart=(/\S+)/fulcrum ", text).group(1)
        copy = text.replace(sbindir + "/fulcrum", t.FULCRUM)
        with open(os.path.join(d, "fulcrum.service"), "w") as f:
            f.write(copy)
        rc, out = t.run([sa, "verify", "--man=no", "fulcrum.service"], cwd=d,
                        timeout=60)
        t.note(out.rstrip() or "(verify: no output)")
        t.check(rc == 0 and "Unknown" not in out and "Invalid" not in out,
                "systemd-analyze verify accepts it", out)
        rc, out = t.run([sa, "security", "--offline=true", "fulcrum.service"],
                        cwd=d, timeout=60)
        m = re.search(r"Overall exposure level for fulcrum.service: ([\d.]+)", out)
        t.note(m.group(0) if m else out[-400:])
        t.check(m is not None and float(m.group(1)) <= 5.0,
                "exposure 5.0 or less (9.6 without the hardening)",
                m.group(0) if m else out[-400:])

t.finish()

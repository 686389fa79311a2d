#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""accesslog: one HAProxy-httplog line per request.

Foreground (-d): a 200, a 404 from the server, a 503 (dead server) and two
400s (a bad head, an unparseable request line) each leave exactly one line
on stderr, in the strict format below, with the listener and server names,
the status, the termination code, the bytes sent and the request line.

Daemon (no -d): fulcrum forks away (the pidfile holds the daemon's pid),
the access log goes as RFC 3164 datagrams to global.log.address with
PRI = local3 | info = 158, and TERM to the pidfile's pid removes the pidfile
and frees the port.
"""
import os
import re
import signal
import socket
import subprocess
import time

import fctest as t

MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"

# client:port [date] listener listener/server TR/Tw/Tc/Tr/Ta status bytes
# - - TERM act/fe/be/srv/retries 0/0 "request line"
ACCESS_RE = (
    r'127\.0\.0\.1:(?P<cport>\d{1,5}) '
    r'\[(?P<date>\d\d/(?:' + MONTHS + r')/\d{4}:\d\d:\d\d:\d\d)\.\d{3}\] '
    r'(?P<fe>[\w.-]+) (?P<be>[\w.-]+)/(?P<srv>[\w.-]+|<NOSRV>) '
    r'(?P<TR>-1|\d+)/(?P<Tw>-1|\d+)/(?P<Tc>-1|\d+)/(?P<Tr>-1|\d+)/(?P<Ta>\d+) '
    r'(?P<status>-1|\d{3}) (?P<bytes>\d+) - - (?P<term>[-A-Za-z]{2}--) '
    r'(?P<act>\d+)/(?P<fec>\d+)/(?P<bec>\d+)/(?P<srvc>\d+)/(?P<retries>\d+) '
    r'0/0 "(?P<req>[^"]*)"')
LINE_RE = re.compile("^" + ACCESS_RE + "$")
EVENT_RE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \[")     # fulcrum's own events

# <PRI>Mmm dd hh:mm:ss fulcrum[pid]: LINE
SYSLOG_RE = re.compile(r"^<(?P<pri>\d+)>(?:" + MONTHS + r") [ \d]\d "
                       r"\d\d:\d\d:\d\d fulcrum\[(?P<pid>\d+)\]: (?P<line>.*)$",
                       re.S)

a = t.Backend("a")
dead = f"127.0.0.1:{t.free_port()}"          # nothing listens there


def conf(web, gone, log_address=None, pidfile=None):
    addr = f'address = "{log_address}";' if log_address else ""
    pid = f'pidfile = "{pidfile}";' if pidfile else ""
    return f"""
global: {{ workers = 1; {pid}
  log = {{ facility = "local3"; {addr} }}; }};
defaults: {{ retries = 1;
  timeout = {{ connect = 1000; client = 5000; server = 5000; http_request = 2000; }}; }};
listeners = (
  {{ name = "web"; bind = [ "127.0.0.1:{web}" ];
    servers = ( {{ name = "a"; address = "{a.addr}"; weight = 1; }} ); }},
  {{ name = "gone"; bind = [ "127.0.0.1:{gone}" ];
    servers = ( {{ name = "down"; address = "{dead}"; weight = 1; }} ); }}
);
"""


def one_request(port, data, timeout=5.0):
    """Sends data on a new connection, reads one response (or until the
    server closes), then closes.  Returns (client port, bytes received)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    cport = s.getsockname()[1]
    buf = b""
    try:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while not t.parse_responses(buf, eof=False)[0]:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                b = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not b:
                break
            buf += b
    finally:
        s.close()
    return cport, buf


def access_lines(text):
    """The lines of a foreground log that are not fulcrum events."""
    return [l for l in text.splitlines() if l and not EVENT_RE.match(l)]


# ------------------------------------------------------------- foreground
web, gone = t.free_port(), t.free_port()
CASES = [
    # title, port, request, listener, server, status, termination, line
    ("GET / (200)", web,
     b"GET /?log=1 HTTP/1.1\r\nHost: x\r\n\r\n",
     "web", "a", 200, "----", "GET /?log=1 HTTP/1.1"),
    ("404 from the server", web,
     b"GET /status?code=404 HTTP/1.1\r\nHost: x\r\n\r\n",
     "web", "a", 404, "----", "GET /status?code=404 HTTP/1.1"),
    ("dead server: 503 after the retry", gone,
     b"GET /nobody-home HTTP/1.1\r\nHost: x\r\n\r\n",
     "gone", "down", 503, "SC--", "GET /nobody-home HTTP/1.1"),
    ("no Host header: 400", web,
     b"GET /no-host HTTP/1.1\r\n\r\n",
     "web", "<NOSRV>", 400, "PR--", "GET /no-host HTTP/1.1"),
    ("bare LF after the request line: 400 <BADREQ>", web,
     b"GET /lf HTTP/1.1\nHost: x\n\n",
     "web", "<NOSRV>", 400, "PR--", "<BADREQ>"),
]

with t.Fulcrum(conf(web, gone), name="fg") as fc:
    sent = {}
    for title, port, req, *_ in CASES:
        cport, data = one_request(port, req)
        sent[title] = (cport, data)
        first = data.split(b"\r\n", 1)[0]
        t.note(f"{title}: from port {cport}, got {len(data)} bytes, {first!r}")
    # every line is written once the response is out; give the last a moment
    fc.wait_log(r'"<BADREQ>"', 2.0)
    time.sleep(0.3)
    lines = access_lines(fc.log_text())

    with t.step("every access-log line has the httplog format"):
        t.note(f"{len(lines)} access-log lines")
        bad = [l for l in lines if not LINE_RE.match(l)]
        t.check(lines and not bad, "all of them match the strict regex",
                "\n".join(bad[:5]) or "no line at all")

    for title, port, req, fe, srv, status, term, reqline in CASES:
        cport, data = sent[title]
        with t.step(f"the line of: {title}"):
            mine = [l for l in lines if l.startswith(f"127.0.0.1:{cport} ")]
            t.note("\n".join(mine[:3]) + (f"\n... ({len(mine)} in all)"
                                          if len(mine) > 3 else ""))
            t.check(len(mine) == 1, "exactly one line for this request",
                    f"{len(mine)} lines")
            m = LINE_RE.match(mine[0]) if mine else None
            if not t.check(m is not None, "it matches the format"):
                continue
            got = data.split(b" ", 2)[1:2]
            t.check(got == [str(status).encode()],
                    f"the client got {status}", repr(data[:40]))
            t.check(m["fe"] == fe and m["be"] == fe,
                    f"listener {fe} (twice)", f"{m['fe']} {m['be']}")
            t.check(m["srv"] == srv, f"server {srv}", m["srv"])
            t.check(m["status"] == str(status), f"status {status}",
                    m["status"])
            t.check(m["term"] == term, f"termination {term}", m["term"])
            t.check(int(m["bytes"]) > 0 and int(m["bytes"]) == len(data),
                    f"bytes = what the client received ({len(data)})",
                    m["bytes"])
            t.check(m["req"] == reqline, f'request line "{reqline}"',
                    m["req"])
            stamp = time.mktime(time.strptime(m["date"], "%d/%b/%Y:%H:%M:%S"))
            t.check(abs(stamp - time.time()) < 60,
                    "the date is now (local time, within 60 s)", m["date"])
            if status == 200:
                tims = [int(m[k]) for k in ("TR", "Tw", "Tc", "Tr", "Ta")]
                t.check(min(tims) >= 0 and tims[4] >= tims[3],
                        "timers all set, Ta >= Tr", m.group(0))
            if term == "SC--":
                t.check(m["Tc"] == "-1" and m["retries"] == "1",
                        "Tc = -1 (never connected), retries = 1",
                        f"Tc {m['Tc']}, retries {m['retries']}")

# ---------------------------------------------------------------- daemon
d = t.tmpdir("fctest-daemon-")
sock_path = os.path.join(d, "log.sock")
pidfile = os.path.join(d, "fulcrum.pid")
sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sink.bind(sock_path)
os.chmod(sock_path, 0o666)
web, gone = t.free_port(), t.free_port()
conf_path = os.path.join(d, "daemon.conf")
with open(conf_path, "w") as f:
    f.write(conf(web, gone, log_address=sock_path, pidfile=pidfile))

daemon_pids = set()     # the daemon and its workers: killed in `finally`


def stat_of(pid):
    """(state, ppid, session id) from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[3])


def alive(pid):
    st = stat_of(pid)
    return st is not None and st[0] != "Z"


pid = None
try:
    with t.step("start without -d"):
        t0 = time.monotonic()
        launcher = t.spawn([t.FULCRUM, "-f", conf_path],
                           stdout=open(os.path.join(d, "launcher.out"), "wb"),
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            rc = launcher.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None           # it did not fork away: it is the master
        t.note(f"launcher pid {launcher.pid} exited with {rc} after "
               f"{time.monotonic() - t0:.2f} s")
        t.check(rc == 0, "the launching process exits 0 at once",
                "still running after 5 s" if rc is None else f"rc {rc}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with open(pidfile) as f:
                    text = f.read()
                if text.endswith("\n"):
                    pid = int(text)
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        if pid is None:
            t.fail("the pidfile appears within 5 s", open(
                os.path.join(d, "launcher.out")).read())
        daemon_pids.add(pid)
        t.check(t.wait_port(web, 5.0), f"port {web} accepts")
        daemon_pids.update(t.children_of(pid))
        st = stat_of(pid)
        t.note(f"pidfile: {pid}; state, ppid, session: {st}; "
               f"workers {t.children_of(pid)}")
        t.check(st is not None and pid != launcher.pid,
                "the pidfile holds a live pid other than the launcher's")
        t.check(st is not None and
                (st[1] == 1 or st[1] not in (launcher.pid, os.getpid())),
                "its parent is neither the launcher nor this test "
                "(it was orphaned)", f"ppid {st and st[1]}")
        t.check(st is not None and st[2] == pid,
                "it leads its own session (setsid)",
                f"session {st and st[2]}")

    if pid is None:
        t.fail("the daemon started: cannot go on")

    with t.step("3 requests: 3 datagrams on the log socket"):
        paths = [f"/?daemon={i}" for i in range(1, 4)]
        for p in paths:
            status, h, body = t.http(web, "GET", p)
            t.check(status == 200, f"GET {p} answered 200", f"{status}")
        grams = []
        sink.settimeout(0.2)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                grams.append(sink.recv(4096).decode("utf-8", "replace"))
            except socket.timeout:
                if len(grams) >= len(paths):
                    break
        t.note("\n".join(grams))
        t.check(len(grams) == 3, "exactly 3 datagrams", f"{len(grams)}")
        workers = set(t.children_of(pid))
        seen = []
        for g in grams:
            m = SYSLOG_RE.match(g)
            t.check(m is not None and g.startswith("<158>") and
                    "fulcrum[" in g, "starts with <158> (local3.info), "
                    "has the RFC 3164 header and fulcrum[PID]", g[:60])
            if m is None:
                continue
            t.check(int(m["pid"]) in workers,
                    "the [PID] is one of the daemon's workers",
                    f"{m['pid']} not in {sorted(workers)}")
            lm = LINE_RE.match(m["line"])
            t.check(lm is not None and lm["srv"] == "a" and
                    lm["status"] == "200",
                    "the message is an httplog line: web/a, 200", m["line"])
            seen.append(lm["req"] if lm else None)
        want = [f"GET {p} HTTP/1.1" for p in paths]
        t.check(sorted(seen) == want, "one for each request line: " +
                ", ".join(f'"{r}"' for r in want), f"{seen}")

    with t.step("TERM to the pidfile's pid"):
        kids = t.children_of(pid)
        daemon_pids.update(kids)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        while (alive(pid) or any(alive(k) for k in kids)) and \
                time.monotonic() - t0 < 5:
            time.sleep(0.02)
        took = time.monotonic() - t0
        t.note(f"daemon and workers gone after {took:.2f} s")
        t.check(not alive(pid), "the daemon exits within 5 s")
        t.check(not any(alive(k) for k in kids), "its workers too")
        t.check(not os.path.exists(pidfile), "the pidfile is removed")
        t.check(t.port_bindable(web), f"port {web} is free again")
finally:
    sink.close()
    for p in list(daemon_pids):
        daemon_pids.update(t.children_of(p))
    for p in sorted(daemon_pids, reverse=True):
        if alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass

t.finish()

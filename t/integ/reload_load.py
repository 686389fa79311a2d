#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""reload_load: the proof that USR2 drops nothing under load (issue 5).

For each run, wrk keeps requests flowing through fulcrum (4 workers, two
backends) for RELOAD_SECONDS while the master gets USR2 every 300 ms, and
two threads upload 5 MiB bodies, slowly, so that every upload spans several
reloads.  Runs:
  keep-alive   wrk's connections are kept alive across generations
  httpclose    the listener's httpclose: a new connection per request
  broken       keep-alive, and every other reload reads a broken config
Each must show 0 connection errors, 0 non-2xx responses, every upload's
checksum right, at least 2000 requests/s, the reloads all applied (or all
refused, for the broken ones), and no child dying other than by a clean
drain.  The figures are printed.

RELOAD_SECONDS (default 30) shortens the runs for a quick look.
"""
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import fctest as t

SECONDS = int(os.environ.get("RELOAD_SECONDS", "30"))
INTERVAL = 0.3
UPLOAD = 5 * 1024 * 1024
MIN_RPS = 2000

signal.alarm(3 * (SECONDS + 45) + 30)

# Under ASan+UBSan every process runs several times slower: the rate is
# printed but only the plain build is held to it (the sanitizer pass is
# about memory errors, not speed).
SANITIZED = "sanitizers=yes" in t.run([t.FULCRUM, "-v"])[1]
if SANITIZED:
    MIN_RPS = 100

if shutil.which("wrk") is None:
    t.skip("wrk is not installed (bootstrap.sh installs it: apt-get install wrk)")

a = t.Backend("a")
b = t.Backend("b")


def conf(port, httpclose, broken=False):
    # A reload that changes something real each time: b's weight moves.
    bad = 'balance = "roundrobbin";' if broken else 'balance = "roundrobin";'
    return f"""
global: {{ workers = 4; drain_timeout = 20000; maxconn = 4096; }};
defaults: {{ retries = 3; maxconn = 2000;
  timeout = {{ connect = 2000; client = 20000; server = 20000; http_request = 10000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  {bad} httpclose = {"true" if httpclose else "false"};
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = 200; rise = 2; fall = 3; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; check = true; }},
              {{ name = "b"; address = "{b.addr}"; check = true;
                 weight = {1 + int(time.monotonic() * 10) % 3}; }} );
}} );
"""


class Uploads(threading.Thread):
    """Uploads 5 MiB bodies in 64 KiB pieces, about 1.5 s each, until told
    to stop; records (status, checksum right) per upload."""

    def __init__(self, port, seed):
        super().__init__(daemon=True)
        self.port = port
        self.body = t.pattern(UPLOAD + 256 * seed)[256 * seed:]
        self.digest = t.sha256(self.body)
        self.results = []
        self.stop = threading.Event()

    def one(self):
        import socket
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        try:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n" % UPLOAD)
            for off in range(0, UPLOAD, 65536):
                s.sendall(self.body[off:off + 65536])
                time.sleep(0.018)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        # /upload answers "len=N sha256=HEX" about the body it received.
        head, _, body = data.partition(b"\r\n\r\n")
        m = re.match(r"HTTP/1\.1 (\d+)", head.decode("latin-1"))
        got = re.search(r"len=(\d+) sha256=([0-9a-f]+)", body.decode("latin-1"))
        return (int(m.group(1)) if m else 0, bool(got) and
                int(got.group(1)) == UPLOAD and got.group(2) == self.digest)

    def run(self):
        while not self.stop.is_set():
            try:
                self.results.append(self.one())
            except OSError as e:
                self.results.append((0, False))
                t.note(f"upload failed: {e}")


def wrk(port, seconds):
    return subprocess.Popen(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--timeout", "10s",
         f"http://127.0.0.1:{port}/echo"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_figures(out):
    req = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                     r"timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    secs = float(req.group(2)) / (1000 if req.group(3) == "ms" else 1) if req else 1
    return {
        "requests": int(req.group(1)) if req else 0,
        "seconds": secs,
        "errors": sum(int(x) for x in errs.groups()) if errs else 0,
        "error_line": errs.group(0) if errs else "none",
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def reload_loop(fc, port, httpclose, broken_every_other, until):
    sent = refused_expected = 0
    while time.monotonic() < until:
        broken = broken_every_other and sent % 2 == 1
        with open(fc.conf_path, "w") as f:
            f.write(conf(port, httpclose, broken))
        fc.signal(signal.SIGUSR2)
        sent += 1
        refused_expected += broken
        fc.remember_children()
        time.sleep(INTERVAL)
    with open(fc.conf_path, "w") as f:
        f.write(conf(port, httpclose))
    return sent, refused_expected


def settle(fc, before, timeout=30):
    """Waits until the master logged the outcome of every reload (merged
    USR2s count once) and no old generation is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = fc.log_text()[before:]
        done = len(re.findall(r"generation \d+ started", log)) + \
            len(re.findall(r"reload failed", log))
        asked = len(re.findall(r"USR2: reloading", log))
        if done == asked and len(fc.worker_pids()) == 4 and \
                len(fc.checker_pids()) == 1:
            return log
        time.sleep(0.1)
    return fc.log_text()[before:]


def run(label, httpclose, broken_every_other):
    port = t.free_port()
    with t.step(f"{label}: {SECONDS} s of load, USR2 every {INTERVAL * 1000:.0f} ms"):
        fc = t.Fulcrum(conf(port, httpclose), name=f"reload-{label}")
        fc.wait_children(4)
        start_log = len(fc.log_text())
        ups = [Uploads(port, k) for k in range(2)]
        w = wrk(port, SECONDS)
        for u in ups:
            u.start()
        sent, refused_expected = reload_loop(fc, port, httpclose, broken_every_other,
                                             time.monotonic() + SECONDS)
        out, _ = w.communicate(timeout=SECONDS + 30)
        for u in ups:
            u.stop.set()
        for u in ups:
            u.join(timeout=30)
        log = settle(fc, start_log)
        f = wrk_figures(out)
        uploads = [r for u in ups for r in u.results]
        started = len(re.findall(r"generation \d+ started", log))
        refused = len(re.findall(r"reload failed", log))
        asked = len(re.findall(r"USR2: reloading", log))
        crashed = re.findall(r".*(?:killed by signal|respawning|killing them).*", log)
        rps = f["requests"] / f["seconds"] if f["seconds"] else 0
        t.note(f"{label}: {f['requests']} requests in {f['seconds']:.1f} s "
               f"({rps:.0f}/s), socket errors: {f['error_line']}, non-2xx "
               f"{f['non2xx']}; USR2 sent {sent}, reloads logged {asked} "
               f"(applied {started}, refused {refused}); uploads "
               f"{len(uploads)}, bad {sum(1 for s, ok in uploads if s != 200 or not ok)}")
        if f["requests"] == 0:
            t.note(out)
        t.check(f["errors"] == 0, f"{label}: 0 connection errors", f["error_line"])
        t.check(f["non2xx"] == 0, f"{label}: 0 non-2xx responses", f"{f['non2xx']}")
        t.check(rps >= MIN_RPS, f"{label}: at least {MIN_RPS} requests/s",
                f"{rps:.0f}/s")
        t.check(asked >= sent * 0.9 and asked <= sent,
                f"{label}: the master took (nearly) every USR2",
                f"sent {sent}, logged {asked}")
        t.check(started + refused == asked,
                f"{label}: every reload applied or refused", f"{started}+{refused} "
                f"of {asked}")
        if broken_every_other:
            t.check(refused >= refused_expected * 0.8 and started >= 1,
                    f"{label}: broken configs refused, valid ones applied",
                    f"refused {refused} of ~{refused_expected}, applied {started}")
            t.check(re.search(r"\.conf:\d+: ", log) is not None,
                    f"{label}: refusals name file:line")
        else:
            t.check(refused == 0, f"{label}: no reload refused", f"{refused}")
        t.check(len(uploads) >= 4, f"{label}: several 5 MiB uploads ran",
                f"{len(uploads)}")
        t.check(all(s == 200 and ok for s, ok in uploads),
                f"{label}: every upload answered 200 with the right sha256",
                f"{uploads}")
        t.check(not crashed, f"{label}: no child crashed or was killed",
                "\n".join(crashed[:5]))
        fc.stop()


run("keep-alive", httpclose=False, broken_every_other=False)
run("httpclose", httpclose=True, broken_every_other=False)
run("broken", httpclose=False, broken_every_other=True)
t.finish()

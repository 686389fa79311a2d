#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tls_resume: TLS session resumption across workers and across a reload.

Two workers.  For TLS 1.2 and TLS 1.3, a session saved by openssl
s_client (-sess_out) is resumed (-sess_in, "Reused, TLSv1.x") on at least
10 fresh connections, which land on both workers (fulcrum-stat's
per-worker request counts tell which one served each).  Sessions saved
before a USR2 reload resume on the new generation's workers.

Each connection sends one request and reads its answer before closing:
with TLS 1.3 the session ticket only arrives after the handshake.  Every
resumption saves the session it got (-sess_out), as a real client would:
a TLS 1.3 server may accept each ticket only once, and clients use each
once: every TLS 1.3 resumption must bring a new ticket (checked with -msg).
"""
import os
import re
import time

import fctest as t
import tlslab as tl

tl.require_tools(curl=False)
t.require_fulcrum()

MIN_RESUMES = 10

d = t.tmpdir("fctest-tlsres-")
ca = tl.CA(d, "fulcrum test CA")
www = ca.issue("www", "www.test")
a = t.Backend("a")
port = t.free_port()

CONF = f"""
global: {{ workers = 2; drain_timeout = 2000; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 1000; client = 10000; server = 10000;
              http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; httpclose = false;
  tls = {{ certs = [ "{www.pem}" ]; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}} );
"""

VERSIONS = (("TLSv1.2", "-tls1_2"), ("TLSv1.3", "-tls1_3"))


def worker_requests(fc):
    return {w["pid"]: w["requests"] for w in fc.stat_json()["workers"]}


def served_by(fc, before, timeout=2.0):
    """The worker whose request count grew by one since before, or None."""
    deadline = time.monotonic() + timeout
    while True:
        now = worker_requests(fc)
        grew = [p for p in now if now[p] > before.get(p, 0)]
        if len(grew) == 1 or time.monotonic() >= deadline:
            return grew[0] if len(grew) == 1 else None
        time.sleep(0.02)


def connect(fc, opt, sess_in=None, sess_out=None, extra=()):
    """One s_client connection with one request; returns (Handshake, worker)."""
    args = [opt, *extra]
    if sess_in:
        args += ["-sess_in", sess_in]
    if sess_out:
        args += ["-sess_out", sess_out]
    before = worker_requests(fc)
    h = tl.s_client(port, args, "www.test", tl.get("/"))
    return h, served_by(fc, before)


def save(fc, opt, path, extra=()):
    if os.path.exists(path):
        os.unlink(path)
    h, w = connect(fc, opt, sess_out=path, extra=extra)
    ok = h.ok and not h.reused and h.status() == 200 and \
        os.path.exists(path) and os.path.getsize(path) > 0
    return ok, h


with t.Fulcrum(CONF, name="tlsres") as fc:
    workers = fc.wait_settled(2)
    t.note(f"workers {workers}")

    for ver, opt in VERSIONS:
        with t.step(f"{ver}: a saved session resumes, on both workers"):
            sess = os.path.join(d, f"sess-{opt}")
            ok, h = save(fc, opt, sess)
            t.check(ok, f"{ver}: first connection: a new session, 200, "
                    "session saved", f"{h.summary()}\n{h.tail()}")
            results = []                      # (reused, status, worker)
            bad = []
            while len(results) < 30:
                h, w = connect(fc, opt, sess_in=sess, sess_out=sess)
                results.append((h.reused, h.status(), w))
                if not (h.reused and h.protocol == ver and h.status() == 200):
                    bad.append(h.summary())
                used = {r[2] for r in results}
                if len(results) >= MIN_RESUMES and set(workers) <= used:
                    break
            per_worker = {p: sum(1 for r in results if r[2] == p) for p in workers}
            t.note(f"{len(results)} connections, by worker: {per_worker}, "
                   f"reused: {sum(1 for r in results if r[0])}")
            t.check(not bad, f"{ver}: every one of {len(results)} connections "
                    "says \"Reused\" and gets 200", "\n".join(bad[:5]))
            t.check(all(per_worker.values()), f"{ver}: both workers resumed "
                    "sessions", f"{per_worker}")

    with t.step("TLS 1.3: every resumption brings a new ticket"):
        # Clients use a TLS 1.3 ticket once (RFC 8446, C.4): without a new
        # one, every other connection of theirs would be a full handshake.
        sess = os.path.join(d, "sess-chain")
        ok, h = save(fc, "-tls1_3", sess)
        t.check(ok, "first connection: a new session, saved", h.summary())
        got = []                            # (reused, new tickets, file changed)
        for _ in range(4):
            with open(sess, "rb") as f:
                old = f.read()
            h, w = connect(fc, "-tls1_3", sess_in=sess, sess_out=sess, extra=["-msg"])
            with open(sess, "rb") as f:
                got.append((h.reused, h.out.count("NewSessionTicket"), f.read() != old))
        t.note(f"(reused, NewSessionTicket messages, saved session changed): {got}")
        t.check(all(r and n >= 1 and changed for r, n, changed in got),
                "4 resumptions in a row, each with the ticket of the one before, "
                "each brought a new ticket", f"{got}")

    with t.step("TLS 1.2 without tickets (session ids): a note only"):
        sess = os.path.join(d, "sess-noticket")
        ok, h = save(fc, "-tls1_2", sess, ["-no_ticket"])
        got = {}
        if ok:
            for _ in range(10):
                h, w = connect(fc, "-tls1_2", sess_in=sess, extra=["-no_ticket"])
                key = (w, h.reused)
                got[key] = got.get(key, 0) + 1
        if not ok and re.search(r"^\s+Session-ID: *$", h.out, re.M):
            got = "no session id given (no server-side session cache): nothing to resume"
        t.note("-no_ticket is not part of the contract; (worker, reused): "
               f"{got or 'first connection failed: ' + h.summary()}")

    with t.step("sessions saved before a USR2 reload resume after it"):
        saved = {}
        for ver, opt in VERSIONS:
            for k in range(4):
                path = os.path.join(d, f"pre-{opt}-{k}")
                ok, h = save(fc, opt, path)
                t.check(ok, f"{ver}: session {k} saved before the reload",
                        h.summary())
                saved[(ver, k)] = path
        gen = fc.reload()
        t.check(gen == 2, "generation 2 started", f"{gen}")
        new = fc.wait_settled(2)
        t.check(new is not None and not set(new) & set(workers),
                "2 new workers serve, the old ones are gone",
                f"{workers} -> {fc.worker_pids()}")
        for (ver, k), path in sorted(saved.items()):
            opt = dict(VERSIONS)[ver]
            h, w = connect(fc, opt, sess_in=path)
            t.check(h.reused and h.protocol == ver and h.status() == 200 and
                    w in (new or []),
                    f"{ver}: session {k} from generation 1 resumes on a new "
                    f"worker ({w})", f"{h.summary()}\n{h.tail()}")

t.finish()

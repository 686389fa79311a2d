# SPDX-License-Identifier: BSD-2-Clause
"""strictcase: the table runner shared by smuggling.py, request_heads.py
and response_strict.py (issue 7: doc/http-strictness.md cites each case by
script and name).

A request case sends raw bytes to fulcrum on a new connection and states:
  status   the statuses the client must get, in order ([400], [200, 200])
  closed   whether fulcrum must close the client connection
  backend  exactly the bytes the recording backend must receive for it:
           b"" (nothing reached it), the bytes themselves, or Prefix(x):
           a refused body whose head may have gone out already; what
           arrived must be a strict prefix of x (never a whole message)
           and the server connection must be closed.
Every refusal must come from fulcrum itself (no X-Backend in the answer).
"""
import collections
import os

import fctest as t


class Prefix(bytes):
    """Expected backend bytes: any strict prefix of these (possibly none)."""


Case = collections.namedtuple("Case", "name send status closed backend")


def conf(port, backend, forwardfor=False, extra="", more=""):
    return f"""
global: {{ workers = 1; log = {{ facility = "local0"; }}; }};
defaults: {{ retries = 1;
  timeout = {{ connect = 2000; client = 5000; server = 5000; http_request = 3000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = {str(forwardfor).lower()}; httpclose = false; {extra}
  servers = ( {{ name = "r"; address = "{backend.addr}"; }} );
}} {more});
"""


def show(data, limit=400):
    r = repr(bytes(data[:limit]))
    return r + (" ..." if len(data) > limit else "")


def run(port, rec, c, linger=0.3):
    """Runs one request case; returns (responses, raw reply, backend bytes)."""
    with t.step(f"{c.name}"):
        t.note(f"sent: {show(c.send)}")
        mark = rec.mark()
        want = None if isinstance(c.backend, Prefix) else bytes(c.backend)
        resps, raw, closed = t.exchange_bytes(port, c.send, count=len(c.status),
                                              timeout=3, linger=linger)
        got = rec.since(mark, want=want, timeout=2.0)
        data = b"".join(b for _, b in got)
        statuses = [r[0] for r in resps]
        t.check(statuses == c.status, f"client gets {c.status}",
                f"got {statuses}: {show(raw)}")
        t.check(closed == c.closed,
                "fulcrum closes the connection" if c.closed else
                "the connection stays open", f"closed: {closed}")
        if c.status and c.status[-1] >= 400:
            t.check(resps and "x-backend" not in resps[-1][1],
                    "the refusal comes from fulcrum", show(raw))
        if isinstance(c.backend, Prefix):
            ok = len(data) < len(c.backend) and c.backend.startswith(data)
            t.check(ok, "the backend gets no complete message (at most "
                    f"{len(c.backend)} - 1 bytes of {show(c.backend, 80)})",
                    f"got {show(data)}")
            for k, _ in got:
                t.check(rec.wait_closed(k), f"the server connection {k} "
                        "that got part of it is closed")
        elif c.backend == b"":
            t.check(data == b"", "nothing reaches the backend",
                    f"got {show(data)}")
        else:
            t.check(data == c.backend, "the backend gets exactly "
                    f"{show(c.backend, 160)}", f"got {show(data)}")
        return resps, raw, data


def check_alive(fc, workers):
    """After all the cases: the master and the same worker are still there."""
    with t.step("fulcrum stayed up"):
        t.check(fc.alive(), "master alive")
        t.check(fc.worker_pids() == workers, "same worker (no crash)",
                f"before {workers}, now {fc.worker_pids()}")


def check_doc(script, names):
    """Every case has its row in doc/http-strictness.md, cited as
    `script` `name`."""
    with t.step(f"doc/http-strictness.md has a row for each case of {script}"):
        with open(os.path.join(t.SRCDIR, "doc", "http-strictness.md")) as f:
            doc = f.read()
        missing = [n for n in names if f"| `{script}` `{n}` |" not in doc]
        t.check(not missing, f"all {len(names)} cases are in the table",
                f"missing: {missing}")

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""forwardfor: with forwardfor = true the server sees the client address in
X-Forwarded-For (appended to a client-supplied value); with forwardfor = false
the head is passed without one.
"""
import fctest as t


def conf(port, backend, forwardfor):
    return f"""
global: {{ workers = 1; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = {str(forwardfor).lower()}; httpclose = false;
  servers = ( {{ name = "e"; address = "{backend.addr}"; weight = 1; }} );
}} );
"""


def xff_seen(port, headers=None):
    """GET /echo through fulcrum; returns the X-Forwarded-For lines the backend
    received (in order) and the whole head."""
    status, hdrs, body = t.http(port, "GET", "/echo", headers=headers)
    t.check(status == 200 and hdrs.get("x-backend") == "e",
            "GET /echo answered 200 by backend e",
            f"status {status}, headers {hdrs}")
    head = body.decode("latin-1")
    lines = [ln.split(":", 1)[1].strip() for ln in head.split("\r\n")
             if ln.lower().startswith("x-forwarded-for:")]
    t.note("backend received:")
    t.note("  | " + "\n  | ".join(head.rstrip().split("\r\n")))
    return lines, head


e = t.Backend("e")

# -------------------------------------------------------------- forwardfor on
port = t.free_port()
with t.Fulcrum(conf(port, e, True), name="xff-on") as fc:
    with t.step("forwardfor = true, no client header: the client address "
                "is added"):
        lines, head = xff_seen(port)
        t.check(lines == ["127.0.0.1"],
                'backend sees exactly "X-Forwarded-For: 127.0.0.1"',
                f"{lines}")
        t.check(head.startswith("GET /echo HTTP/1.1\r\n"),
                "request line passed as GET /echo HTTP/1.1",
                head.split("\r\n")[0])

    with t.step('forwardfor = true, client sent "X-Forwarded-For: 1.2.3.4"'):
        lines, head = xff_seen(port, {"X-Forwarded-For": "1.2.3.4"})
        combined = ", ".join(lines)
        t.note(f"X-Forwarded-For line(s): {lines} -> {combined!r}")
        t.check(combined == "1.2.3.4, 127.0.0.1",
                'backend sees "1.2.3.4, 127.0.0.1"', f"got {combined!r}")

    with t.step("forwardfor = true, on a keep-alive connection every request "
                "gets it"):
        c = t.Client(port)
        values = []
        for i in range(3):
            status, hdrs, body = c.request("GET", "/echo")
            values.append([ln.split(":", 1)[1].strip()
                           for ln in body.decode("latin-1").split("\r\n")
                           if ln.lower().startswith("x-forwarded-for:")])
        c.close()
        t.note(f"X-Forwarded-For per request: {values}")
        t.check(values == [["127.0.0.1"]] * 3,
                "3 requests on one connection: one X-Forwarded-For each",
                f"{values}")

# -------------------------------------------------------------- forwardfor off
port = t.free_port()
with t.Fulcrum(conf(port, e, False), name="xff-off") as fc:
    with t.step("forwardfor = false, no client header: none is added"):
        lines, head = xff_seen(port)
        t.check(lines == [], "backend sees no X-Forwarded-For", f"{lines}")

    with t.step('forwardfor = false, client sent "X-Forwarded-For: 1.2.3.4"'):
        lines, head = xff_seen(port, {"X-Forwarded-For": "1.2.3.4"})
        t.check(lines == ["1.2.3.4"],
                "the client's header is passed unchanged", f"{lines}")

t.finish()

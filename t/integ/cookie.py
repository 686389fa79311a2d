#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""cookie: session persistence by cookie, 4 workers, servers webA (cookie
"A"), webB ("B") and webC (no cookie: its name).  In each mode -- prefix,
insert (indirect, nocache), rewrite -- a session created by a server sticks
to it for 200 requests on fresh connections (spread over the workers), the
server never sees fulcrum's part of the cookie, and when that server goes
DOWN the session moves to another one, the response carries the new
server's cookie, and the session sticks there.  The backend's /echo shows
the request head exactly as the server received it.
"""
import json
import os
import subprocess
from http import client as httpclient

import fctest as t

N = 200
NAMES = ("webA", "webB", "webC")
COOKIE = {"webA": "A", "webB": "B", "webC": "webC"}
STAT = os.environ.get("FULCRUM_STAT") or os.path.join(
    os.path.dirname(t.FULCRUM), "fulcrum-stat")


def conf(port, cookie, check=True):
    chk = "true" if check else "false"
    rows = ",\n              ".join(
        f'{{ name = "{n}"; address = "{b.addr}"; check = {chk};'
        + (f' cookie = "{COOKIE[n]}";' if n != "webC" else "") + " }"
        for n, b in backends.items())
    return f"""
global: {{ workers = 4; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 1000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; httpclose = false;
  cookie = {cookie};
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = 100; rise = 2; fall = 2; }};
  servers = ( {rows} );
}} );
"""


def request(port, path, cookie=None):
    """GET on a fresh connection: (status, [(name, value)...], body, server)."""
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = conn.getresponse()
        body = r.read()
        hdrs = r.getheaders()
        return r.status, hdrs, body, r.getheader("X-Backend")
    finally:
        conn.close()


def values(hdrs, name):
    return [v for k, v in hdrs if k.lower() == name.lower()]


def received_cookies(body):
    """The Cookie lines of the head the server received (/echo)."""
    return [line for line in body.decode("latin-1").split("\r\n")
            if line.lower().startswith("cookie:")]


def worker_requests(fc):
    """Requests counted per worker pid (fulcrum-stat), {} without it."""
    if not os.access(STAT, os.X_OK):
        return {}
    out = subprocess.run([STAT, "-f", fc.conf_path, "--json"], timeout=10,
                         stdout=subprocess.PIPE).stdout
    return {w["pid"]: w["requests"] for w in json.loads(out)["workers"]}


def stick(fc, port, path, cookie, want, n=N):
    """n requests on fresh connections: all answered 200 by want, with no
    Set-Cookie; returns the bodies.  Notes how many workers served them."""
    before = worker_requests(fc)
    got, sets, bodies = {}, [], []
    for i in range(n):
        st, hdrs, body, srv = request(port, f"{path}{'&' if '?' in path else '?'}i={i}",
                                      cookie)
        got[(st, srv)] = got.get((st, srv), 0) + 1
        sets += values(hdrs, "Set-Cookie")
        bodies.append(body)
    t.check(got == {(200, want): n}, f"{n} requests with {cookie!r}: all 200 from {want}",
            f"{got}")
    t.check(not sets, "no Set-Cookie in any of them", f"{sets[:3]}")
    after = worker_requests(fc)
    if after:
        used = [p for p in after if after[p] > before.get(p, 0)]
        t.note(f"served by {len(used)} workers: "
               + ", ".join(f"{p}: {after[p] - before.get(p, 0)}" for p in used))
        t.check(len(used) >= 3, "the fresh connections landed on at least 3 workers",
                f"{len(used)}")
    return bodies


def create(port, path, want):
    """Requests path until want answers (each worker balances on its own):
    the response that created the session there."""
    for i in range(40):
        st, hdrs, body, srv = request(port, path)
        if srv == want:
            return st, hdrs, body, srv
    t.fail(f"{want} answers {path} within 40 requests")


def go_down(fc, name):
    """Stops backend name and waits for the checker to mark it DOWN."""
    backends[name].stop()
    m = fc.wait_log(rf"server web/{name} is DOWN", 5.0)
    t.check(m is not None, f"{name} stopped and marked DOWN")


def come_back(fc, name):
    port = backends[name].port
    backends[name] = t.Backend(name, port=port)
    m = fc.wait_log(rf"server web/{name} is UP", 5.0)
    t.check(m is not None, f"{name} restarted and marked UP again")


backends = {n: t.Backend(n) for n in NAMES}

# ------------------------------------------------------------------ prefix
port = t.free_port()
with t.Fulcrum(conf(port, '{ name = "JSESSIONID"; mode = "prefix"; }'),
               name="prefix") as fc:
    with t.step("prefix: the server's session cookie reaches the client prefixed"):
        st, hdrs, body, x = request(port, "/session?name=JSESSIONID")
        sid = dict(hdrs).get("X-Session")
        t.note(f"created by {x}: Set-Cookie {values(hdrs, 'Set-Cookie')}")
        t.check(st == 200 and x in NAMES and sid, "a session was created", f"{st} {x}")
        t.check(values(hdrs, "Set-Cookie") == [f"JSESSIONID={COOKIE[x]}~{sid}; Path=/"],
                f"Set-Cookie: JSESSIONID={COOKIE[x]}~{sid}; Path=/")
        st, hdrs, body, srv = request(port, "/setcookie?name=other&value=v1")
        t.check(values(hdrs, "Set-Cookie") == ["other=v1; Path=/"],
                "a Set-Cookie of another name passes untouched",
                f"{values(hdrs, 'Set-Cookie')}")

    with t.step(f"prefix: {N} fresh connections stick to {x}, the prefix never "
                "reaches it"):
        cookie = f"a=1; JSESSIONID={COOKIE[x]}~{sid}; b=2"
        bodies = stick(fc, port, "/echo", cookie, x)
        seen = {tuple(received_cookies(b)) for b in bodies}
        t.check(seen == {(f"Cookie: a=1; JSESSIONID={sid}; b=2",)},
                f"{x} received 'Cookie: a=1; JSESSIONID={sid}; b=2' every time",
                f"{seen}")
        st, hdrs, body, srv = request(port, "/session?name=JSESSIONID", cookie)
        t.check(srv == x and dict(hdrs).get("X-Session") == sid
                and not values(hdrs, "Set-Cookie"),
                f"{x} recognises its session {sid}: no new cookie")

    with t.step(f"prefix: {x} goes DOWN; its session moves and sticks"):
        go_down(fc, x)
        st, hdrs, body, y = request(port, "/session?name=JSESSIONID", cookie)
        new_sid = dict(hdrs).get("X-Session")
        t.note(f"answered by {y}: Set-Cookie {values(hdrs, 'Set-Cookie')}")
        t.check(st == 200 and y in NAMES and y != x, f"redispatched to another server ({y})")
        t.check(values(hdrs, "Set-Cookie") == [f"JSESSIONID={COOKIE[y]}~{new_sid}; Path=/"],
                f"the response carries {y}'s cookie (the application's new session)")
        moved = f"JSESSIONID={COOKIE[y]}~{new_sid}"
        stick(fc, port, "/echo", moved, y)
        # A server that does not renew the session: fulcrum tells the client.
        st, hdrs, body, z = request(port, "/echo", cookie)
        t.check(z != x and values(hdrs, "Set-Cookie") ==
                [f"JSESSIONID={COOKIE[z]}~{sid}; Path=/"],
                f"without a new cookie from {z}, fulcrum re-sets JSESSIONID="
                f"{COOKIE[z]}~{sid}", f"{z} {values(hdrs, 'Set-Cookie')}")
        t.check(received_cookies(body) == [f"Cookie: a=1; JSESSIONID={sid}; b=2"],
                f"{z} received the session id without the prefix",
                f"{received_cookies(body)}")
        stick(fc, port, "/echo", f"JSESSIONID={COOKIE[z]}~{sid}", z, n=50)
        come_back(fc, x)
        stick(fc, port, "/echo", moved, y, n=50)

# ------------------------------------------------------------------ insert
port = t.free_port()
with t.Fulcrum(conf(port, '{ name = "SERVERID"; mode = "insert"; indirect = true;'
                    ' nocache = true; }', check=False), name="insert") as fc:
    with t.step("insert (indirect, nocache): fulcrum sets SERVERID"):
        st, hdrs, body, x = create(port, "/", "webB")
        t.note(f"answered by {x}: Set-Cookie {values(hdrs, 'Set-Cookie')}, "
               f"Cache-Control {values(hdrs, 'Cache-Control')}")
        t.check(values(hdrs, "Set-Cookie") == [f"SERVERID={COOKIE[x]}; Path=/"],
                f"Set-Cookie: SERVERID={COOKIE[x]}; Path=/")
        t.check(values(hdrs, "Cache-Control") == ["private"],
                "nocache: Cache-Control: private")
        st, hdrs, body, srv = request(port, "/setcookie?name=SERVERID&value=evil&cc=no-cache")
        t.check(values(hdrs, "Set-Cookie") == [f"SERVERID={COOKIE[srv]}; Path=/"],
                "the server's own SERVERID is replaced by fulcrum's",
                f"{values(hdrs, 'Set-Cookie')}")
        t.check(values(hdrs, "Cache-Control") == ["no-cache"],
                "an existing Cache-Control: no-cache is kept, nothing added",
                f"{values(hdrs, 'Cache-Control')}")

    with t.step(f"insert: {N} fresh connections stick to {x}; indirect hides "
                "SERVERID from it"):
        cookie = f"a=1; SERVERID={COOKIE[x]}; b=2"
        bodies = stick(fc, port, "/echo", cookie, x)
        seen = {tuple(received_cookies(b)) for b in bodies}
        t.check(seen == {("Cookie: a=1; b=2",)},
                f"{x} received 'Cookie: a=1; b=2' every time", f"{seen}")
        st, hdrs, body, srv = request(port, "/echo", f"SERVERID={COOKIE[x]}")
        t.check(srv == x and received_cookies(body) == [],
                "a Cookie header holding only SERVERID is removed")
        t.check(not values(hdrs, "Cache-Control"), "no Cache-Control added without an"
                " inserted cookie")

    with t.step(f"insert, no health check: {x} refuses connections"):
        backends[x].stop()
        st, hdrs, body, y = request(port, "/echo", cookie)
        t.note(f"answered by {y}: Set-Cookie {values(hdrs, 'Set-Cookie')}")
        t.check(st == 200 and y != x, f"redispatched to another server ({y})")
        t.check(values(hdrs, "Set-Cookie") == [f"SERVERID={COOKIE[y]}; Path=/"],
                f"the response carries SERVERID={COOKIE[y]}")
        t.check(values(hdrs, "Cache-Control") == ["private"], "with Cache-Control: private")
        stick(fc, port, "/echo", f"SERVERID={COOKIE[y]}", y)
        backends[x] = t.Backend(x, port=backends[x].port)

# ----------------------------------------------------------------- rewrite
port = t.free_port()
with t.Fulcrum(conf(port, '{ name = "JSESSIONID"; mode = "rewrite"; }'),
               name="rewrite") as fc:
    with t.step("rewrite: the server's cookie value becomes the server's"):
        st, hdrs, body, x = create(port, "/session?name=JSESSIONID", "webC")
        t.note(f"answered by {x}: Set-Cookie {values(hdrs, 'Set-Cookie')}")
        t.check(values(hdrs, "Set-Cookie") == [f"JSESSIONID={COOKIE[x]}; Path=/"],
                f"Set-Cookie: JSESSIONID={COOKIE[x]}; Path=/")

    with t.step(f"rewrite: {N} fresh connections stick to {x}"):
        cookie = f"JSESSIONID={COOKIE[x]}; z=9"
        bodies = stick(fc, port, "/echo", cookie, x)
        seen = {tuple(received_cookies(b)) for b in bodies}
        t.check(seen == {(f"Cookie: {cookie}",)}, "the Cookie header passes as it is",
                f"{seen}")

    with t.step(f"rewrite: {x} goes DOWN; its session moves and sticks"):
        go_down(fc, x)
        st, hdrs, body, y = request(port, "/echo", cookie)
        t.note(f"answered by {y}: Set-Cookie {values(hdrs, 'Set-Cookie')}")
        t.check(st == 200 and y != x, f"redispatched to another server ({y})")
        t.check(values(hdrs, "Set-Cookie") == [f"JSESSIONID={COOKIE[y]}; Path=/"],
                f"the response carries JSESSIONID={COOKIE[y]}")
        stick(fc, port, "/echo", f"JSESSIONID={COOKIE[y]}", y)
        come_back(fc, x)

t.finish()

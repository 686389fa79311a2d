#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""routing: backends and routes (issue 16, points 2 to 5 and 7) through the
real binaries and the project's test backend.

  - routes by Host (exact, "*." wildcard, case-insensitive, port ignored)
    and path prefix, first match wins, else the listener's backend; a
    listener without a default answers 503 when nothing matches;
  - redirect routes (code, the rest of the path and the query kept);
  - request_headers / response_headers set (every occurrence replaced)
    and del;
  - two workers share one roundrobin position: fresh connections alternate
    strictly a,b,a,b whichever worker accepts them;
  - backup servers take traffic only while every other server is DOWN;
  - slowstart: the effective weight ramps up after DOWN -> UP, in
    fulcrum-stat;
  - rate_limit: 429 with Retry-After past the limit (to a HEAD: the head
    alone), shared by the workers,
    counted in fulcrum-stat;
  - fulcrum-stat shows the backends; the stats CSV's pxname is the backend.
"""
import os
import subprocess
import time

import fctest as t

app1 = t.Backend("app1")
app2 = t.Backend("app2")
api1 = t.Backend("api1", record=True)
org1 = t.Backend("org1")
main1 = t.Backend("main1")
sorry = t.Backend("sorry")
port = t.free_port()
port2 = t.free_port()


def conf(rr_workers=2, main_addr=None):
    main_addr = main_addr or main1.addr
    return f"""
global: {{ workers = {rr_workers}; }};
defaults: {{ timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
backends = (
  {{ name = "app"; balance = "roundrobin";
     servers = ( {{ name = "app1"; address = "{app1.addr}"; }},
                 {{ name = "app2"; address = "{app2.addr}"; }} ); }},
  {{ name = "api"; servers = ( {{ name = "api1"; address = "{api1.addr}"; }} ); }},
  {{ name = "org"; servers = ( {{ name = "org1"; address = "{org1.addr}"; }} ); }},
  {{ name = "main"; check = {{ request = "GET /check.txt HTTP/1.0"; interval = 200;
                              timeout = 500; rise = 1; fall = 1; }};
     servers = ( {{ name = "main1"; address = "{main_addr}"; check = true;
                    slowstart = 3000; weight = 100; }},
                 {{ name = "sorry"; address = "{sorry.addr}"; backup = true; weight = 100; }} ); }} );
listeners = (
  {{ name = "web"; bind = [ "127.0.0.1:{port}" ];
     routes = ( {{ host = "API.example.com"; path_prefix = "/v1/"; backend = "api"; }},
                {{ path_prefix = "/old/"; redirect = "/new/"; code = 301; }},
                {{ path_prefix = "/gone"; redirect = "https://elsewhere.example"; code = 308; }},
                {{ host = "*.example.org"; backend = "org"; }},
                {{ host = "main.example"; backend = "main"; }} );
     backend = "app";
     request_headers = {{ set = ( {{ name = "X-Env"; value = "prod"; }} ); del = [ "X-Debug" ]; }};
     response_headers = {{ set = ( {{ name = "Strict-Transport-Security"; value = "max-age=31536000"; }} );
                          del = [ "X-Conn-Seq" ]; }};
     stats = {{ uri = "/stats"; }}; }},
  {{ name = "limited"; bind = [ "127.0.0.1:{port2}" ];
     routes = ( {{ path_prefix = "/api/"; backend = "api"; }} );
     rate_limit = {{ requests = 5; per_ms = 1000; burst = 2; }}; }} );
"""


def get(path, host=None, headers=None, p=None):
    h = dict(headers or {})
    if host is not None:
        h["Host"] = host
    return t.http(p or port, "GET", path, headers=h)


def stat_servers(fc):
    return {f'{s["backend"]}/{s["name"]}': s for s in fc.stat_json()["servers"]}


with t.Fulcrum(conf()) as fc:
    with t.step("routes by Host and path prefix, first match wins"):
        cases = [("/v1/users", "api.example.com", "api1"),
                 ("/v1/users", "API.EXAMPLE.COM:8080", "api1"),   # case, port
                 ("/v2/users", "api.example.com", None),          # prefix fails
                 ("/x", "www.example.org", "org1"),               # wildcard
                 ("/x", "a.b.example.org", "org1"),
                 ("/x", "example.org", None),                     # not *.
                 ("/x", "unknown.example", None)]
        for path, host, want in cases:
            status, hdrs, body = get(path, host)
            got = hdrs.get("x-backend")
            t.check(status == 200 and (got == want or (want is None and
                    got in ("app1", "app2"))),
                    f"{host}{path} goes to {want or 'the default backend app'}",
                    f"status {status}, X-Backend {got}")

    with t.step("redirect routes: code, the rest of the path and the query kept"):
        status, hdrs, _ = get("/old/page?a=1", "www.example.com")
        t.check(status == 301 and hdrs.get("location") == "/new/page?a=1",
                "/old/page?a=1 -> 301 /new/page?a=1",
                f"{status} {hdrs.get('location')}")
        status, hdrs, _ = get("/gone/x", "www.example.com")
        t.check(status == 308 and
                hdrs.get("location") == "https://elsewhere.example/x",
                "/gone/x -> 308 https://elsewhere.example/x",
                f"{status} {hdrs.get('location')}")

    with t.step("request_headers: set replaces every X-Env, del removes X-Debug"):
        m = api1.rec.mark()
        raw = (b"GET /v1/echo HTTP/1.1\r\nHost: api.example.com\r\n"
               b"X-Env: dev\r\nX-Debug: 1\r\nX-Env: test\r\nX-Keep: yes\r\n"
               b"Connection: close\r\n\r\n")
        t.raw(port, raw)
        got = api1.rec.received(m).decode("latin-1").lower()
        t.check(got.count("x-env:") == 1 and "x-env: prod" in got,
                "the server gets X-Env: prod, once", got)
        t.check("x-debug" not in got and "x-keep: yes" in got,
                "X-Debug removed, other headers kept", got)

    with t.step("response_headers: Strict-Transport-Security set, X-Conn-Seq removed"):
        status, hdrs, _ = get("/", "www.example.com")
        t.check(hdrs.get("strict-transport-security") == "max-age=31536000",
                "HSTS added", str(hdrs))
        t.check("x-conn-seq" not in hdrs and "x-conn-id" in hdrs,
                "X-Conn-Seq removed, X-Conn-Id kept", str(hdrs))

    with t.step("two workers share one roundrobin position: a,b,a,b"):
        seen = []
        for i in range(20):
            status, hdrs, _ = get(f"/?i={i}", "www.example.com")
            seen.append(hdrs.get("x-backend"))
        t.note("seen: " + ",".join(map(str, seen)))
        repeats = [i for i in range(1, 20) if seen[i] == seen[i - 1]]
        t.check(not repeats and seen.count("app1") == 10,
                "20 fresh connections alternate strictly", f"repeats at {repeats}")

    with t.step("fulcrum-stat shows the backends, the stats CSV names them"):
        st = fc.stat_json()
        names = [b["name"] for b in st["backends"]]
        t.check(names == ["app", "api", "org", "main"], "backends in file order",
                str(names))
        app = [b for b in st["backends"] if b["name"] == "app"][0]
        t.check(app["servers"] == 2 and app["counters"]["requests"] >= 20,
                "backend app: 2 servers, its requests summed", str(app))
        status, _, body = get("/stats;csv", "www.example.com")
        rows = [r.split(",") for r in body.decode().splitlines()[1:]]
        px = {(r[0], r[1]) for r in rows}
        t.check(status == 200 and ("app", "app1") in px and ("api", "BACKEND") in px,
                "CSV rows carry the backend as pxname", body.decode()[:400])

    with t.step("backup server: only while every other server is DOWN"):
        seen = {get("/", "main.example")[1].get("x-backend") for _ in range(10)}
        t.check(seen == {"main1"}, "main1 alone answers while UP", str(seen))
        main1.stop()
        deadline = time.monotonic() + 5
        while stat_servers(fc)["main/main1"]["state"] != "DOWN" and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        seen = {get("/", "main.example")[1].get("x-backend") for _ in range(10)}
        t.check(seen == {"sorry"}, "the backup answers once main1 is DOWN", str(seen))
        sv = stat_servers(fc)["main/sorry"]
        t.check(sv["backup"] is True, "fulcrum-stat says backup", str(sv))

    with t.step("slowstart: main1 back UP ramps its eweight over 3 s"):
        main1 = t.Backend("main1", port=int(main1.addr.split(":")[1]))
        deadline = time.monotonic() + 5
        while stat_servers(fc)["main/main1"]["state"] != "UP" and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        sv = stat_servers(fc)["main/main1"]
        t.note(f"just UP: weight {sv['weight']} eweight {sv['eweight']}")
        t.check(sv["state"] == "UP" and 1 <= sv["eweight"] < 100,
                "just UP: 1 <= eweight < weight", str(sv))
        seen = {get("/", "main.example")[1].get("x-backend") for _ in range(4)}
        t.check(seen == {"main1"}, "the backup stops as soon as main1 is UP",
                str(seen))
        time.sleep(1.0)
        mid = stat_servers(fc)["main/main1"]["eweight"]
        deadline = time.monotonic() + 6
        while stat_servers(fc)["main/main1"]["eweight"] != 100 and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        end = stat_servers(fc)["main/main1"]["eweight"]
        t.note(f"eweight after 1 s: {mid}, then {end}")
        t.check(sv["eweight"] < mid < 100 and end == 100,
                "eweight grows, then reaches the weight", f"{sv['eweight']} {mid} {end}")

    with t.step("rate_limit: 5/s, burst 2, per client, shared by both workers"):
        codes, retry = [], None
        for i in range(12):
            status, hdrs, _ = t.http(port2, "GET", "/api/x")
            codes.append(status)
            if status == 429:
                retry = hdrs.get("retry-after")
        t.note("codes: " + ",".join(map(str, codes)))
        ok = codes.count(200)
        t.check(3 <= ok <= 5 and codes.count(429) == 12 - ok,
                "3 (1 + burst) to 5 of 12 quick requests pass, the rest get 429",
                str(codes))
        t.check(retry is not None and retry.isdigit() and int(retry) >= 1,
                "429 says Retry-After in seconds", str(retry))
        tot = fc.stat_json()["totals"]
        t.check(tot["rate_limited"] == codes.count(429),
                "fulcrum-stat counts the 429s", str(tot["rate_limited"]))
        # Everything that comes within a second (the connection is kept alive).
        got, _ = t.raw_exchange(port2, b"HEAD /api/x HTTP/1.1\r\nHost: x\r\n\r\n",
                                timeout=1.0)
        t.check(got.startswith(b"HTTP/1.1 429") and got.endswith(b"\r\n\r\n"),
                "a HEAD gets the 429's head alone (a body would be read as the "
                "next response on the connection)", repr(got[-80:]))
        time.sleep(1.2)
        status, _, _ = t.http(port2, "GET", "/api/x")
        t.check(status == 200, "a second later the client passes again", str(status))

    with t.step("a listener without a default backend: 503 when no route matches"):
        time.sleep(1.2)
        status, _, _ = t.http(port2, "GET", "/nowhere")
        t.check(status == 503, "no route, no backend: 503", str(status))

# --------------------------------------------------------- config errors
BAD = [
    ('backends = ( { name = "a"; servers = ( { name = "s"; address = "127.0.0.1:1"; } ); } );\n'
     'listeners = ( { name = "w"; bind = [ "127.0.0.1:1" ]; backend = "b"; } );',
     2, 'unknown backend "b"'),
    ('backends = ( { name = "a"; servers = ( { name = "s"; address = "127.0.0.1:1"; } ); } );\n'
     'listeners = ( { name = "w"; bind = [ "127.0.0.1:1" ];\n'
     '  routes = ( { path_prefix = "/x"; backend = "nope"; } ); backend = "a"; } );',
     3, 'route #1 names an unknown backend "nope"'),
    ('backends = ( { name = "a"; } );\n'
     'listeners = ( { name = "w"; bind = [ "127.0.0.1:1" ]; backend = "a"; } );',
     1, 'missing "servers"'),
    ('backends = ( { name = "a"; servers = ( { name = "s"; address = "127.0.0.1:1"; } ); },\n'
     '  { name = "a"; servers = ( { name = "s"; address = "127.0.0.1:2"; } ); } );\n'
     'listeners = ( { name = "w"; bind = [ "127.0.0.1:1" ]; backend = "a"; } );',
     2, 'duplicate backend name "a"'),
    ('backends = ( { name = "a"; servers = ( { name = "s"; address = "127.0.0.1:1"; } ); } );\n'
     'listeners = ( { name = "w"; bind = [ "127.0.0.1:1" ]; backend = "a";\n'
     '  request_headers = { del = [ "Content-Length" ]; }; } );',
     3, 'header "Content-Length" cannot be set or removed'),
    ('backends = ( { name = "a"; servers = ( { name = "s"; address = "127.0.0.1:1"; } ); } );\n'
     'listeners = ( { name = "w"; bind = [ "127.0.0.1:1" ]; backend = "a";\n'
     '  response_headers = { set = ( { name = "Transfer-Encoding"; value = "x"; } ); }; } );',
     3, 'header "Transfer-Encoding" cannot be set or removed'),
    ('listeners = ( { name = "w"; bind = [ "127.0.0.1:1" ];\n'
     '  routes = ( { path_prefix = "/x"; redirect = "/y"; code = 404; } ); } );',
     2, '"code" must be 301, 302, 303, 307 or 308'),
]
with t.step("fulcrum -c: bad backends, routes and rules name FILE:LINE"):
    d = t.tmpdir("fctest-routing-")
    for i, (text, line, msg) in enumerate(BAD):
        path = os.path.join(d, f"bad{i}.conf")
        with open(path, "w") as f:
            f.write(text + "\n")
        p = subprocess.run([t.FULCRUM, "-c", "-f", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
        out = p.stdout.decode()
        t.check(p.returncode != 0 and f"{path}:{line}:" in out and msg in out,
                f"refused at line {line}: {msg}", out)

t.finish()

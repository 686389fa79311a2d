#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""prometheus: `stats = { prometheus_uri = "/metrics"; }` serves the
Prometheus text format on the listener, behind the stats page's basic auth,
and a real scraper's parser (python3-prometheus-client's) reads it: the
per-server request counters add up to the requests sent, the servers are
up, and the figures are fulcrum-stat --prometheus's.  A query string is
ignored; a path that only starts like it goes to the servers.
"""
import base64
import subprocess

import fctest as t

# Debian's python3-prometheus-client: the scenario may run again under /usr/bin/python3.
parser = t.system_import("prometheus_client.parser")
if parser is None:
    t.skip("python3-prometheus-client is not installed (apt-get install"
           " python3-prometheus-client; ./bootstrap.sh check does it as root)")

USER, PASSWORD = "prom", "sc4pe"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
N = 24

a = t.Backend("a")
b = t.Backend("b")
port = t.free_port()
fc = t.Fulcrum(f"""
global: {{ workers = 2; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  stats = {{ uri = "/fulcrum?stats"; prometheus_uri = "/metrics";
            auth = [ "{USER}:{PASSWORD}" ]; }};
  servers = ( {{ name = "webA"; address = "{a.addr}"; }},
              {{ name = "webB"; address = "{b.addr}"; }} );
}} );
""")


def samples(text):
    """{(name, frozenset(labels)): value} of every sample, through the parser."""
    out = {}
    for fam in parser.text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def server(name, metric):
    return (metric, frozenset({"listener": "web", "server": name}.items()))


with t.step("requests through the listener"):
    for i in range(N):
        st, _, _ = t.http(port, "GET", f"/r{i}")
        t.check(st == 200, f"request {i} answered 200", st)

with t.step("no credentials: 401, as on the stats page"):
    st, h, _ = t.http(port, "GET", "/metrics")
    t.check(st == 401, "401 without auth", st)
    t.check("basic" in h.get("www-authenticate", "").lower(), "asks for Basic auth", h)

with t.step("with credentials: the exposition format, parsed by prometheus_client"):
    st, h, body = t.http(port, "GET", "/metrics", headers=AUTH)
    t.check(st == 200, "200 with auth", st)
    t.check(h.get("content-type", "").startswith("text/plain; version=0.0.4"),
            "the exposition format's media type", h.get("content-type"))
    text = body.decode()
    try:
        got = samples(text)
    except Exception as e:      # the parser's verdict is the test
        t.fail("prometheus_client parses the page", f"{e!r}\n{text[:2000]}")
    reqs = [got.get(server(s, "fulcrum_server_requests_total")) for s in ("webA", "webB")]
    t.check(None not in reqs and sum(reqs) == N,
            f"fulcrum_server_requests_total of webA and webB add up to {N}", reqs)
    t.check(all(r >= N // 2 - 1 for r in reqs), "both servers had their share", reqs)
    t.check(got.get(server("webA", "fulcrum_server_up")) == 1 and
            got.get(server("webB", "fulcrum_server_up")) == 1, "both servers up")
    t.check(got.get(("fulcrum_workers", frozenset())) == 2, "fulcrum_workers 2")

with t.step("the same figures as fulcrum-stat --prometheus"):
    p = subprocess.run([t.FULCRUM_STAT, "-f", fc.conf_path, "--prometheus"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    t.check(p.returncode == 0, "fulcrum-stat --prometheus runs", p.stderr)
    theirs = samples(p.stdout.decode())
    for s in ("webA", "webB"):
        k = server(s, "fulcrum_server_requests_total")
        t.check(theirs.get(k) == got.get(k), f"{s}: the same request count", (theirs.get(k), got.get(k)))

with t.step("a query string is ignored, a longer path is proxied"):
    st, _, body = t.http(port, "GET", "/metrics?name[]=fulcrum_workers", headers=AUTH)
    t.check(st == 200 and b"fulcrum_server_requests_total" in body, "/metrics?... is the metrics page", st)
    st, _, body = t.http(port, "GET", "/metricsx", headers=AUTH)
    t.check(st == 200 and b"fulcrum_" not in body, "/metricsx goes to a server", body[:200])
    st, _, body = t.http(port, "GET", "/fulcrum?stats;csv", headers=AUTH)
    t.check(st == 200 and body.startswith(b"# pxname"), "the stats page is still there", body[:80])

t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tls_upstream: fulcrum reaches a server over TLS (a server's `tls` group).

The server is a small python https server (stdlib ssl + http.server) with
a certificate for a.internal issued by a test CA; it answers X-Backend
and X-SNI (the name the client sent).  Four listeners point at it, each
with health checks (HEAD /check.txt, every 200 ms):

  good       ca = CA, sni = "a.internal", verify = true     200, UP
  wrongca    ca = another CA, verify = true                 502/503, DOWN
  noverify   ca = another CA, verify = false                200, UP
  wrongname  ca = CA, sni = "b.internal", verify = true     502/503, DOWN
             (the certificate is a.internal's: verify checks the name)

and two at a second server, whose certificate (from CA) names only
"*.wild.internal" and "b*.part.internal":
  wild       sni = "x.wild.internal": the wildcard is the whole
             leftmost label                                   200, UP
  partial    sni = "bx.part.internal": a partial label wildcard,
             which browsers refuse (RFC 9525 6.3)            502/503, DOWN
             (before: UP, OpenSSL's default allows it)

fulcrum-stat --json shows each server's state.
"""
import os
import subprocess
import sys
import time

import fctest as t
import tlslab as tl

tl.require_tools(curl=False)
t.require_fulcrum()

d = t.tmpdir("fctest-tlsup-")
ca = tl.CA(d, "fulcrum test CA")
other_ca = tl.CA(d, "another CA")
a_cert = ca.issue("a-internal", "a.internal")
w_cert = ca.issue("wild", "wild server", sans=["*.wild.internal", "b*.part.internal"])

SERVER = r'''
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

cert, key, port, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)


def remember_sni(sslsock, server_name, c):
    sslsock.fc_sni = server_name


ctx.sni_callback = remember_sni


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def head(self, body):
        self.send_response(200)
        self.send_header("X-Backend", name)
        self.send_header("X-SNI", getattr(self.connection, "fc_sni", None) or "-")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def do_GET(self):
        body = (name + "\n").encode()
        self.head(body)
        self.wfile.write(body)

    def do_HEAD(self):
        self.head(b"OK\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        # The handshake in the connection's thread: one stuck client does
        # not stop the others.
        request.settimeout(10)
        try:
            tls = ctx.wrap_socket(request, server_side=True)
        except OSError:
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()


print("listening", flush=True)
Server(("127.0.0.1", port), Handler).serve_forever()
'''


def start_tls_backend(name, cert):
    script = os.path.join(d, "tls_backend.py")
    with open(script, "w") as f:
        f.write(SERVER)
    for _ in range(5):
        port = t.free_port()
        p = t.spawn([sys.executable, script, cert.cert, cert.key, str(port), name],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        if t.wait_port(port, 5.0, p):
            return p, port
        tl.stop(p)
    t.fail("the python TLS backend listens")


be, be_port = start_tls_backend("tlsA", a_cert)
BE = f"127.0.0.1:{be_port}"
be_w, be_w_port = start_tls_backend("tlsW", w_cert)
BE_W = f"127.0.0.1:{be_w_port}"

with t.step("the TLS backend itself, reached directly"):
    st, h, body = tl.https(be_port, "/", tl.context(ca.cert), "a.internal")
    t.check(st == 200 and h.get("x-backend") == "tlsA" and
            h.get("x-sni") == "a.internal",
            "https://a.internal/ verified with CA: 200, X-SNI: a.internal",
            f"{st} {h}")

LISTENERS = {
    # name: (ca, sni, verify, expected state, server)
    "good": (ca.cert, "a.internal", True, "UP", BE),
    "wrongca": (other_ca.cert, "a.internal", True, "DOWN", BE),
    "noverify": (other_ca.cert, "a.internal", False, "UP", BE),
    "wrongname": (ca.cert, "b.internal", True, "DOWN", BE),
    "wild": (ca.cert, "x.wild.internal", True, "UP", BE_W),
    "partial": (ca.cert, "bx.part.internal", True, "DOWN", BE_W),
}
PORTS = {name: t.free_port() for name in LISTENERS}


def listener(name):
    ca_path, sni, verify, _, addr = LISTENERS[name]
    return f"""{{
  name = "{name}"; bind = [ "127.0.0.1:{PORTS[name]}" ];
  balance = "roundrobin"; httpclose = false;
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = 200; rise = 2; fall = 2; }};
  servers = ( {{ name = "a"; address = "{addr}"; check = true;
                 tls = {{ ca = "{ca_path}"; sni = "{sni}"; verify = {str(verify).lower()}; }}; }} );
}}"""


CONF = f"""
global: {{ workers = 1; }};
defaults: {{ retries = 1;
  timeout = {{ connect = 1000; client = 10000; server = 5000;
              http_request = 5000; }}; }};
listeners = ( {", ".join(listener(n) for n in LISTENERS)} );
"""


def states(fc):
    return {s["listener"]: s["state"] for s in fc.stat_json()["servers"]}


with t.Fulcrum(CONF, name="tlsup") as fc:
    with t.step("health checks over TLS settle"):
        want = {n: v[3] for n, v in LISTENERS.items()}
        deadline = time.monotonic() + 4.0
        got = states(fc)
        while got != want and time.monotonic() < deadline:
            time.sleep(0.1)
            got = states(fc)
        for n in LISTENERS:
            t.check(got.get(n) == want[n],
                    f"{n}/a is {want[n]} in fulcrum-stat --json", f"{got}")
        t.note("log lines about the checks:")
        t.note("\n".join(ln for ln in fc.log_text().splitlines()
                         if "/a" in ln)[-1500:] or "(none)")

    with t.step("requests through each listener"):
        for n in LISTENERS:
            try:
                st, h, body = t.http(PORTS[n], "GET", "/")
            except OSError as e:
                st, h = repr(e), {}
            if LISTENERS[n][3] == "UP":
                want_be = "tlsW" if LISTENERS[n][4] == BE_W else "tlsA"
                t.check(st == 200 and h.get("x-backend") == want_be,
                        f"{n}: GET / answered 200 by the TLS backend {want_be}",
                        f"{st} {h}")
            else:
                t.check(st in (502, 503), f"{n}: GET / fails with 502 or 503",
                        f"{st} {h}")
        st, h, body = t.http(PORTS["good"], "GET", "/")
        t.check(h.get("x-sni") == "a.internal",
                'good: the backend saw SNI "a.internal"', f"{h.get('x-sni')}")
        c = t.Client(PORTS["good"])
        seen = [c.request("GET", f"/?{i}")[0] for i in range(5)]
        c.close()
        t.check(seen == [200] * 5, "good: 5 requests on one client connection",
                f"{seen}")

    with t.step("the backends are still alive"):
        t.check(be.poll() is None and be_w.poll() is None,
                "the python TLS backends did not exit")

t.finish()

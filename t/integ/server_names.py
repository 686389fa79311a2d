#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""server_names: a server given by host name ("localhost:PORT") is resolved
when the file is read and traffic reaches it, at start and after a reload;
a name that does not resolve stops neither the running instance nor its
traffic: the reload fails naming FILE:LINE, the old configuration serves.
"""
import os
import socket
import subprocess

import fctest as t

# A resolver that does not answer must not hold the test: one try, 1 s.
os.environ["RES_OPTIONS"] = "timeout:1 attempts:1"

t.require_fulcrum()
t.require_backend()

# The first address the C library gives for "localhost" is the one
# fulcrum takes: the backend listens there.
family, _, _, _, sa = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)[0]
host = sa[0] if family == socket.AF_INET else f"[{sa[0]}]"
bport = t.free_port()
backend = t.spawn([t.TESTBACKEND, "-l", f"{host}:{bport}", "-n", "named"],
                  stdout=subprocess.DEVNULL)
if not t.wait_port(bport, 5.0, backend, host=sa[0]):
    t.fail(f"the test backend listens on {host}:{bport}")
port = t.free_port()


def conf(address):
    return f"""
global: {{ workers = 1; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  servers = ( {{ name = "byname"; address = "{address}"; }} );
}} );
"""


fc = t.Fulcrum(conf(f"localhost:{bport}"))
with t.step(f"localhost resolves to {sa[0]}: the server answers"):
    st, h, body = t.http(port, "GET", "/")
    t.check(st == 200 and (b"named" in body or "named" in str(h)),
            "200 from the named server", (st, h, body[:80]))
    servers = fc.stat_json()["servers"]
    t.check(servers[0].get("address") == f"localhost:{bport}",
            "fulcrum-stat shows the address as written", servers[0])

with t.step("a reload to a name that does not resolve fails, the old one serves"):
    gen = fc.reload(conf(f"web1.invalid:{bport}"))
    t.check(gen is None, "the reload is refused")
    t.check(fc.wait_log(r"fulcrum\.conf:5: server \"byname\": invalid address "
                        r"\"web1\.invalid:\d+\": cannot resolve \"web1\.invalid\""),
            "the log names FILE:LINE and the name", fc.log_text()[-800:])
    st, h, body = t.http(port, "GET", "/")
    t.check(st == 200 and (b"named" in body or "named" in str(h)), "still served by the old configuration", st)

with t.step("a reload back to the name works"):
    gen = fc.reload(conf(f"localhost:{bport}"))
    t.check(gen is not None, "the reload is accepted")
    st, h, body = t.http(port, "GET", "/")
    t.check(st == 200 and (b"named" in body or "named" in str(h)), "200 from the named server", st)

t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tls_check_split: a health check over TLS reads a status line that comes
in two TLS records.

The server (python ssl) answers each check with "HTTP/1.1 2" and
"00 OK ..." in two writes, two records back to back, then holds the
connection for 3 s.  The checker's OpenSSL reads ahead: one read takes
both records off the socket and hands out the first, and no event comes
for the second.  Check: GET, interval 500 ms, timeout 1000 ms, rise 1,
fall 1.
  the server is UP in fulcrum-stat for 3 s of such answers, each check
  "HTTP 200" (before: DOWN, "timeout after 1000 ms, no status line")
"""
import os
import subprocess
import sys
import time

import fctest as t
import tlslab as tl

tl.require_tools(curl=False)
t.require_fulcrum()

d = t.tmpdir("fctest-tlssplit-")
cert = tl.self_signed(d, "srv", "srv.internal")

SERVER = r'''
import socket, ssl, sys, threading, time
cert, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)


def handle(c):
    try:
        c.settimeout(5)
        s = ctx.wrap_socket(c, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            b = s.recv(4096)
            if not b:
                return
            data += b
        s.sendall(b"HTTP/1.1 2")
        s.sendall(b"00 OK\r\nContent-Length: 0\r\n\r\n")
        time.sleep(3)
        s.close()
    except OSError:
        pass
    finally:
        c.close()


ls = socket.socket()
ls.bind(("127.0.0.1", port))
ls.listen(64)
print("listening", flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
'''

script = os.path.join(d, "split_server.py")
with open(script, "w") as f:
    f.write(SERVER)
for _ in range(5):
    sport = t.free_port()
    srv = t.spawn([sys.executable, script, cert.cert, cert.key, str(sport)],
                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    if t.wait_port(sport, 5.0, srv):
        break
    tl.stop(srv)
else:
    t.fail("the python TLS server listens")

port = t.free_port()
conf = f"""
global: {{ workers = 1; }};
defaults: {{ timeout = {{ connect = 1000; client = 10000; server = 10000;
              http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  check = {{ request = "GET /check.txt HTTP/1.1"; interval = 500; timeout = 1000;
            rise = 1; fall = 1; }};
  servers = ( {{ name = "a"; address = "127.0.0.1:{sport}"; check = true;
                 tls = {{ verify = false; }}; }} );
}} );
"""


def state(fc):
    sv = fc.stat_json()["servers"][0]
    return sv["state"], sv.get("check", {}).get("desc") \
        if isinstance(sv.get("check"), dict) else None


with t.Fulcrum(conf, name="tlssplit") as fc:
    with t.step("3 s of checks answered in two TLS records"):
        seen = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            time.sleep(0.5)
            seen.append(state(fc))
        t.note(f"states every 500 ms: {seen}")
        t.check(all(s == "UP" for s, _ in seen[1:]), "the server stays UP", str(seen))
        t.check(srv.poll() is None, "the python TLS server is still up")
tl.stop(srv)

t.finish()

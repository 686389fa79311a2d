#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""log_udp (issue 17, point 5): the access log to a remote syslog over UDP
(global.log.address = "udp://HOST:PORT", the classic `log 127.0.0.1
local0`), in HAProxy's httplog format and as JSON (global.log.format =
"json"), received by a real UDP socket; an address fulcrum cannot use is a
config error."""
import json
import os
import re
import socket
import subprocess
import time

import fctest as t

be = t.Backend("b1")


def conf(port, logport, fmt):
    return f"""
global: {{ workers = 2; log = {{ facility = "local3"; address = "udp://127.0.0.1:{logport}";
                                 format = "{fmt}"; }}; }};
listeners = ( {{ name = "web"; bind = [ "127.0.0.1:{port}" ];
  servers = ( {{ name = "s1"; address = "{be.addr}"; }} ); }} );
"""


def receive(sock, n, timeout=5.0):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            got.append(sock.recv(65536).decode("utf-8", "replace"))
        except socket.timeout:
            break
    return got


for fmt in ("httplog", "json"):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    logport = sock.getsockname()[1]
    port = t.free_port()
    with t.Fulcrum(conf(port, logport, fmt)) as fc, \
            t.step(f"format {fmt}: 5 requests, 5 datagrams to udp://127.0.0.1:{logport}"):
        for i in range(5):
            t.http(port, "GET", f"/x?i={i}&q=%22a%22")
        got = receive(sock, 5)
        t.check(len(got) == 5, "5 datagrams", str(got))
        # local3 (19) * 8 + info (6) = 158
        heads = [re.match(r"<158>\w{3} [ \d]\d \d\d:\d\d:\d\d fulcrum\[\d+\]: (.*)$", g)
                 for g in got]
        t.check(all(heads), "each an RFC 3164 line, facility local3, severity info",
                str(got[:2]))
        if fmt == "httplog":
            m = re.match(r'127\.0\.0\.1:\d+ \[\S+\] web web/s1 \d+/0/\d+/\d+/\d+ 200 \d+ - - '
                         r'---- \d+/\d+/\d+/\d+/0 0/0 "GET /x\?i=\d&q=%22a%22 HTTP/1.1"$',
                         heads[0].group(1) if heads[0] else "")
            t.check(m is not None, "HAProxy's httplog fields", got[0])
        else:
            try:
                objs = [json.loads(h.group(1)) for h in heads if h]
            except ValueError as e:
                objs = []
                t.check(False, "each line is one JSON object", f"{e}: {got}")
            keys = {"client_ip", "client_port", "accept_date", "frontend", "backend",
                    "server", "tr", "tw", "tc", "tresp", "ta", "status", "bytes_read",
                    "termination_state", "actconn", "feconn", "beconn", "srv_conn",
                    "retries", "srv_queue", "backend_queue", "request"}
            t.check(objs and set(objs[0]) == keys, "the httplog fields, by name",
                    str(objs[:1]))
            o = objs[0] if objs else {}
            t.check(o.get("client_ip") == "127.0.0.1" and o.get("status") == 200 and
                    o.get("frontend") == "web" and o.get("server") == "s1" and
                    o.get("request", "").startswith("GET /x?i=0") and
                    o.get("termination_state") == "----",
                    "the values are the request's", str(o))
    sock.close()

BAD = [('"127.0.0.1:514"', 'write "udp://" before a host'),
       ('"udp://nonsense"', 'not an IP address and port'),
       ('"log.sock"', 'must be a syslog socket path')]
with t.step("an address fulcrum cannot use is a config error, at its line"):
    d = t.tmpdir("fctest-logudp-")
    for i, (addr, msg) in enumerate(BAD):
        path = os.path.join(d, f"bad{i}.conf")
        with open(path, "w") as f:
            f.write(f'global: {{\n  log = {{ address = {addr}; }}; }};\n'
                    f'listeners = ( {{ name = "w"; bind = [ "127.0.0.1:1" ];\n'
                    f'  servers = ( {{ name = "s"; address = "127.0.0.1:2"; }} ); }} );\n')
        p = subprocess.run([t.FULCRUM, "-c", "-f", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
        out = p.stdout.decode()
        t.check(p.returncode != 0 and f"{path}:2:" in out and msg in out,
                f"{addr}: refused at line 2", out)

t.finish()

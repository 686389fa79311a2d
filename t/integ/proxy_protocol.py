#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""proxy_protocol: PROXY protocol v1 and v2 on both sides of fulcrum.

accept_proxy = true on a listener: every connection starts with a PROXY
header, whose client is the client -- in X-Forwarded-For, in the access
log, for balance = "source".  Senders: curl --haproxy-protocol (v1), a
real HAProxy with send-proxy-v2 (its client connects from 127.0.0.2, so
the header differs from the socket fulcrum sees), and hand-made headers
(v1, v2, IPv6, LOCAL, split over several writes, the request in the same
write).  A connection without a valid header, or whose header does not
come within timeout.http_request, is closed unanswered and reaches no
server; it counts as a bad request.  The same on a TLS listener (the
header comes before the ClientHello).

send_proxy = "v1" | "v2" on a server: fulcrum's connections to it start
with a header naming the client (the one a PROXY header named, if any)
and where it connected; its health checks send one too (v1 UNKNOWN, v2
LOCAL).  Checked byte for byte by a recording server here, and against a
real nginx (listen ... proxy_protocol, plain and TLS) that answers its
$proxy_protocol_addr, and whose checks pass there.
"""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from http import client as httpclient

import fctest as t
import tlslab as tl

SIG = b"\r\n\r\n\x00\r\nQUIT\n"

for tool in ("haproxy", "nginx", "curl"):
    if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
        t.skip(f"{tool} not installed (./bootstrap.sh installs it)")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
tl.require_tools(curl=True)
t.require_fulcrum()


def v1(src, sport, dst="198.51.100.1", dport=80, fam="TCP4"):
    return f"PROXY {fam} {src} {dst} {sport} {dport}\r\n".encode()


def v2_inet(src, sport, dst="198.51.100.1", dport=80):
    return (SIG + b"\x21\x11\x00\x0c" + socket.inet_aton(src) + socket.inet_aton(dst)
            + struct.pack(">HH", sport, dport))


def v2_local():
    return SIG + b"\x20\x00\x00\x00"


# ------------------------------------------------------------ a recording server

class Recorder:
    """A plain TCP server that keeps, per connection, every byte up to the end
    of the request head (after the PROXY header, if any), and answers 200."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    @staticmethod
    def _head_start(data):
        if data.startswith(b"PROXY"):
            i = data.find(b"\r\n")
            return i + 2 if i >= 0 else None
        if data.startswith(SIG):
            return 16 + struct.unpack(">H", data[14:16])[0] if len(data) >= 16 else None
        return 0

    def _one(self, c):
        data = b""
        c.settimeout(5)
        try:
            while True:
                start = self._head_start(data)
                if start is not None and b"\r\n\r\n" in data[start:]:
                    break
                b = c.recv(4096)
                if not b:
                    break
                data += b
            # Kept before answering: the test looks once its answer came.
            with self.lock:
                self.conns.append(data)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend: rec\r\n"
                      b"Connection: close\r\n\r\nok")
        except OSError:
            pass
        finally:
            c.close()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def requests(self, path):
        """The connections whose request targets path."""
        with self.lock:
            return [d for d in self.conns if f" {path} HTTP/1.".encode() in d]


# ------------------------------------------------------------ the setup

d = t.tmpdir("fctest-proxy-")
ca = tl.CA(d, "proxy test CA")
front_cert = ca.issue("front", "front.test")
ngx_cert = ca.issue("ngx", "a.internal")

b1 = t.Backend("b1", record=True)
b2 = t.Backend("b2", record=True)
rec1, rec2 = Recorder(), Recorder()
port = {k: t.free_port() for k in ("pp", "tls", "send1", "send2", "ngx1", "ngx2",
                                   "haproxy", "nginx", "nginx_tls")}

NGINX_CONF = f"""
daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/nginx.err info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/cb; proxy_temp_path {d}/pt; fastcgi_temp_path {d}/ft;
  uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;
  server {{ listen 127.0.0.1:{port['nginx']} proxy_protocol;
    location / {{ return 200 "pp=$proxy_protocol_addr:$proxy_protocol_port dst=$proxy_protocol_server_addr:$proxy_protocol_server_port\\n"; }} }}
  server {{ listen 127.0.0.1:{port['nginx_tls']} ssl proxy_protocol;
    ssl_certificate {ngx_cert.cert}; ssl_certificate_key {ngx_cert.key};
    location / {{ return 200 "pp=$proxy_protocol_addr:$proxy_protocol_port tls=$ssl_protocol\\n"; }} }}
}}
"""
with open(f"{d}/nginx.conf", "w") as f:
    f.write(NGINX_CONF)
nginx = t.spawn([NGINX, "-p", d, "-c", f"{d}/nginx.conf", "-e", f"{d}/nginx.err"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if not t.wait_port(port["nginx"], 5.0, nginx):
    t.fail("nginx listens", open(f"{d}/nginx.err").read())

CHECK = 'check = { request = "GET /check.txt HTTP/1.0"; interval = 200; rise = 1; fall = 1; };'
CONF = f"""
global: {{ workers = 2; log = {{ facility = "local0"; }}; }};
defaults: {{ retries = 1;
  timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 1500; }}; }};
listeners = (
  {{ name = "pp"; bind = [ "127.0.0.1:{port['pp']}" ]; accept_proxy = true;
     forwardfor = true; balance = "source";
     servers = ( {{ name = "b1"; address = "{b1.addr}"; }},
                 {{ name = "b2"; address = "{b2.addr}"; }} ); }},
  {{ name = "tls"; bind = [ "127.0.0.1:{port['tls']}" ]; accept_proxy = true;
     forwardfor = true; tls = {{ certs = [ "{front_cert.pem}" ]; }};
     servers = ( {{ name = "b1"; address = "{b1.addr}"; }} ); }},
  {{ name = "send1"; bind = [ "127.0.0.1:{port['send1']}" ]; accept_proxy = true;
     {CHECK}
     servers = ( {{ name = "r1"; address = "{rec1.addr}"; send_proxy = "v1"; check = true; }} ); }},
  {{ name = "send2"; bind = [ "127.0.0.1:{port['send2']}" ];
     {CHECK}
     servers = ( {{ name = "r2"; address = "{rec2.addr}"; send_proxy = "v2"; check = true; }} ); }},
  {{ name = "ngx1"; bind = [ "127.0.0.1:{port['ngx1']}" ]; accept_proxy = true; {CHECK}
     servers = ( {{ name = "n1"; address = "127.0.0.1:{port['nginx']}"; send_proxy = "v1";
                    check = true; }} ); }},
  {{ name = "ngx2"; bind = [ "127.0.0.1:{port['ngx2']}" ]; {CHECK}
     servers = ( {{ name = "n2"; address = "127.0.0.1:{port['nginx_tls']}"; send_proxy = "v2";
                    check = true;
                    tls = {{ ca = "{ca.cert}"; sni = "a.internal"; verify = true; }}; }} ); }}
);
"""

HAPROXY_CONF = f"""
global
  maxconn 100
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe
  bind 127.0.0.1:{port['haproxy']}
  default_backend be
backend be
  server f 127.0.0.1:{port['pp']} send-proxy-v2
"""


def exchange(p, data, timeout=5.0):
    """data sent in one write; every byte back until the server closes."""
    return t.raw_exchange(p, data, timeout=timeout)


def xff_and_backend(answer):
    """(X-Forwarded-For values, X-Backend) of a /echo answer."""
    resps, _ = t.parse_responses(answer)
    if not resps:
        return None, None
    status, hdrs, body = resps[0]
    head = body.decode("latin-1")
    xff = [ln.split(":", 1)[1].strip() for ln in head.split("\r\n")
           if ln.lower().startswith("x-forwarded-for:")]
    return xff, hdrs.get("x-backend")


GET = b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def bad_requests(fc):
    return fc.stat_json()["totals"]["errors"]["bad_request"]


with t.Fulcrum(CONF, name="proxy") as fc:
    with t.step("v1 and v2 headers: the header's client is in X-Forwarded-For "
                "and the access log; the request in the same write is not lost"):
        for name, hdr, want in (
                ("v1 TCP4", v1("192.0.2.7", 5555), "192.0.2.7"),
                ("v1 TCP6", v1("2001:db8::7", 5556, "2001:db8::1", 80, "TCP6"), "2001:db8::7"),
                ("v2 INET", v2_inet("192.0.2.8", 5557), "192.0.2.8"),
                ("v1 UNKNOWN", b"PROXY UNKNOWN\r\n", "127.0.0.1"),
                ("v2 LOCAL", v2_local(), "127.0.0.1")):
            xff, _ = xff_and_backend(exchange(port["pp"], hdr + GET)[0])
            t.check(xff == [want], f"{name}: X-Forwarded-For {want}", f"{xff}")
        t.check(fc.wait_log(r"192\.0\.2\.7:5555 \[[^]]*\] pp pp/b\d") is not None,
                "access log line starts with 192.0.2.7:5555")

    with t.step("a header split over three writes, then the request"):
        s = socket.create_connection(("127.0.0.1", port["pp"]), timeout=5)
        hdr = v2_inet("192.0.2.9", 6000)
        for piece in (hdr[:5], hdr[5:17], hdr[17:] + GET[:10], GET[10:]):
            s.sendall(piece)
            time.sleep(0.1)
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        s.close()
        xff, _ = xff_and_backend(got)
        t.check(xff == ["192.0.2.9"], "X-Forwarded-For 192.0.2.9", f"{xff} {got[:200]!r}")

    with t.step("curl --haproxy-protocol (v1)"):
        out = subprocess.run(["curl", "-s", "--haproxy-protocol", "--interface", "127.0.0.3",
                              f"http://127.0.0.1:{port['pp']}/echo"],
                             stdout=subprocess.PIPE, timeout=10).stdout.decode("latin-1")
        t.check("X-Forwarded-For: 127.0.0.3\r\n" in out,
                "curl's request reaches the server with X-Forwarded-For: 127.0.0.3",
                out[:300])

    with t.step("HAProxy send-proxy-v2 in front: the client it saw (127.0.0.2), "
                "not HAProxy's own address"):
        with open(f"{d}/haproxy.cfg", "w") as f:
            f.write(HAPROXY_CONF)
        hap = t.spawn([HAPROXY, "-db", "-f", f"{d}/haproxy.cfg"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t.check(t.wait_port(port["haproxy"], 5.0, hap), "haproxy listens")
        conn = httpclient.HTTPConnection("127.0.0.1", port["haproxy"], timeout=10,
                                         source_address=("127.0.0.2", 0))
        conn.request("GET", "/echo")
        r = conn.getresponse()
        body = r.read().decode("latin-1")
        conn.close()
        t.check(r.status == 200 and "X-Forwarded-For: 127.0.0.2\r\n" in body,
                "200, X-Forwarded-For: 127.0.0.2", f"{r.status} {body[:300]}")
        hap.terminate()
        hap.wait(timeout=5)

    with t.step('balance = "source" hashes the header\'s client: one socket '
                "address, twenty header addresses, both servers"):
        picks = {}
        for k in range(1, 21):
            seen = set()
            for _ in range(2):
                _, be = xff_and_backend(exchange(port["pp"], v1(f"10.0.0.{k}", 1000 + k) + GET)[0])
                seen.add(be)
            picks[k] = seen
        t.note(f"servers by header address: {picks}")
        t.check(all(len(s) == 1 for s in picks.values()),
                "each header address goes to one server every time")
        t.check(set().union(*picks.values()) == {"b1", "b2"},
                "the twenty addresses spread over b1 and b2")

    with t.step("no header, garbage, a bad header: closed unanswered, nothing "
                "reaches a server, counted as bad requests"):
        before = bad_requests(fc)
        m1, m2 = b1.rec.mark(), b2.rec.mark()
        for name, data in (("plain HTTP", GET),
                           ("garbage", b"\x00\x01garbage\r\n\r\n"),
                           ("bad v1 port", b"PROXY TCP4 1.2.3.4 5.6.7.8 70000 80\r\n" + GET),
                           ("v2 version 3", SIG + b"\x31\x11\x00\x0c" + b"x" * 12 + GET)):
            got, closed = exchange(port["pp"], data)
            t.check(got == b"" and closed, f"{name}: closed, no byte answered", f"{got[:100]!r}")
        t.check(b1.rec.received(m1) == b"" and b2.rec.received(m2) == b"",
                "no byte reached b1 or b2")
        after = bad_requests(fc)
        t.check(after - before == 4, "errors.bad_request grew by 4", f"{before} -> {after}")
        t.check(fc.wait_log(r"PR-- .*\"<BADPROXY>\"") is not None,
                "the access log has a <BADPROXY> line")
        t.check(fc.wait_log(r"connection from 127\.0\.0\.1:\d+ closed: ") is not None,
                "the events log says why")

    with t.step("a header that does not come within timeout.http_request "
                "(1500 ms): closed"):
        before = bad_requests(fc)
        s = socket.create_connection(("127.0.0.1", port["pp"]), timeout=10)
        s.sendall(b"PROXY TCP4 1.2")
        start = time.monotonic()
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b""  # closed with the partial header unread: a reset
        took = time.monotonic() - start
        s.close()
        t.check(got == b"" and 1.2 <= took < 6.0,
                "closed without an answer after about 1.5 s", f"{got!r} after {took:.2f} s")
        t.check(bad_requests(fc) == before + 1, "counted as a bad request",
                f"{before} -> {bad_requests(fc)}")

    with t.step("TLS listener: the header before the ClientHello, plain"):
        raw = socket.create_connection(("127.0.0.1", port["tls"]), timeout=5)
        raw.sendall(v1("192.0.2.44", 4444))
        tls = tl.context().wrap_socket(raw, server_hostname="front.test")
        tls.sendall(GET)
        got = b""
        while True:
            try:
                b = tls.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not b:
                break
            got += b
        tls.close()
        xff, _ = xff_and_backend(got)
        t.check(xff == ["192.0.2.44"], "over TLS: X-Forwarded-For 192.0.2.44", f"{xff}")
        try:
            c = tl.TLSClient(port["tls"], server_name="front.test")
            c.sock.close()
            ok = False
        except (ssl.SSLError, OSError):
            ok = True
        t.check(ok, "a TLS client without a header is closed before its handshake ends")

    with t.step('send_proxy = "v1": the server gets the header\'s client and '
                "destination first, then the request; checks send UNKNOWN"):
        got, _ = exchange(port["send1"], v1("192.0.2.50", 5050, "198.51.100.5", 8080)
                          + b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        seen = rec1.requests("/one")
        t.check(got.startswith(b"HTTP/1.1 200") and len(seen) == 1
                and seen[0].startswith(b"PROXY TCP4 192.0.2.50 198.51.100.5 5050 8080\r\n"
                                       b"GET /one HTTP/1.1\r\n"),
                "r1 received \"PROXY TCP4 192.0.2.50 198.51.100.5 5050 8080\" then GET /one",
                f"{seen!r}")
        checks = rec1.requests("/check.txt")
        t.check(len(checks) > 0 and all(c.startswith(b"PROXY UNKNOWN\r\nGET /check.txt")
                                        for c in checks),
                f"{len(checks)} checks, each starting with \"PROXY UNKNOWN\\r\\n\"",
                f"{checks[:2]!r}")

    with t.step('send_proxy = "v2" from a listener without accept_proxy: the '
                "socket's client and local address; checks send LOCAL"):
        s = socket.create_connection(("127.0.0.1", port["send2"]), timeout=5)
        cport = s.getsockname()[1]
        s.sendall(b"GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
        s.close()
        want = v2_inet("127.0.0.1", cport, "127.0.0.1", port["send2"])
        seen = rec2.requests("/two")
        t.check(len(seen) == 1 and seen[0].startswith(want + b"GET /two HTTP/1.1\r\n"),
                "r2 received the v2 header (127.0.0.1 client port, listener port) then GET /two",
                f"{seen!r}")
        checks = rec2.requests("/check.txt")
        t.check(len(checks) > 0 and all(c.startswith(v2_local() + b"GET /check.txt")
                                        for c in checks),
                f"{len(checks)} checks, each starting with a v2 LOCAL header", f"{checks[:2]!r}")
        st = {s["name"]: s["state"] for s in fc.stat_json()["servers"]}
        t.check(st.get("r1") == "UP" and st.get("r2") == "UP", "r1 and r2 are UP", f"{st}")

    with t.step("nginx behind send_proxy: v1 plain, v2 over TLS; nginx's "
                "$proxy_protocol_addr is the client"):
        got, _ = exchange(port["ngx1"], v1("192.0.2.60", 6060, "198.51.100.6", 80)
                          + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        t.check(b"pp=192.0.2.60:6060 dst=198.51.100.6:80" in got,
                "nginx (v1): pp=192.0.2.60:6060 dst=198.51.100.6:80", f"{got[-200:]!r}")
        s = socket.create_connection(("127.0.0.1", port["ngx2"]), timeout=5)
        cport = s.getsockname()[1]
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        s.close()
        t.check(f"pp=127.0.0.1:{cport} tls=TLS".encode() in got,
                f"nginx (v2 then TLS): pp=127.0.0.1:{cport} over TLS", f"{got[-200:]!r}")
        st = {s["name"]: (s["state"], s.get("check")) for s in fc.stat_json()["servers"]}
        t.check(st.get("n1", ("",))[0] == "UP" and st.get("n2", ("",))[0] == "UP",
                "nginx takes the checks' headers (v1 UNKNOWN; v2 LOCAL before TLS): "
                "n1 and n2 are UP", f"{st}")

t.finish()

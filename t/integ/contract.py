#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""contract: every configuration key that the design card (DESIGN.md: the
classic sketch and the keys the issues of 5 December added) promises users
is accepted by `fulcrum -c`, in the shapes written there -- users' files and
outside test suites rely on those names.  Addresses are moved to loopback,
files to a temporary directory; nothing else is changed.
"""
import os

import fctest as t

t.require_fulcrum()
d = t.tmpdir("fctest-contract-")
tls = os.path.join(d, "tls")
os.makedirs(tls)
# a user and group that exist on any Debian box stand in for "fulcrum"
user = "nobody"
group = "nogroup" if os.path.exists("/etc/group") and \
    "nogroup:" in open("/etc/group").read() else "nobody"
chroot = os.path.join(d, "chroot")
os.makedirs(chroot)


def cert(name, cn):
    """A self-signed certificate chain then its key, one PEM, as the design
    asks for `certs`."""
    crt, key = os.path.join(tls, name + ".crt"), os.path.join(tls, name + ".key")
    st, out = t.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                     f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
                     "-keyout", key, "-out", crt], timeout=30)
    if st != 0:
        t.fail("openssl makes a test certificate", out)
    pem = os.path.join(tls, name + ".pem")
    with open(pem, "w") as f:
        f.write(open(crt).read() + open(key).read())
    return pem, crt


www, www_crt = cert("www", "www.example.com")
api, _ = cert("api", "api.example.com")
p = [t.free_port() for _ in range(4)]

CLASSIC = f"""
global: {{ user = "{user}"; group = "{group}"; workers = 0;  # 0: one per CPU
          maxconn = 4096; pidfile = "{d}/fulcrum.pid"; log = {{ facility = "local0"; }}; }};
defaults: {{ retries = 3; maxconn = 2000;
            timeout = {{ connect = 5000; client = 50000; server = 50000; http_request = 10000; }}; }};
listeners = ( {{
  name = "webfarm"; bind = [ "127.0.0.1:{p[0]}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = true;
  cookie = {{ name = "JSESSIONID"; mode = "prefix"; }};
  stats = {{ uri = "/fulcrum?stats"; auth = [ "someuser:somepassword" ]; }};
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = 2000; rise = 2; fall = 3; }};
  servers = ( {{ name = "webA"; address = "127.0.0.1:8001"; cookie = "A"; check = true; }},
              {{ name = "webB"; address = "127.0.0.1:8002"; cookie = "B"; check = true; }} );
}} );
ha: {{ interface = "lo"; vrid = 51; priority = 101; advert_ms = 100; preempt = true;
      vips = [ "192.0.2.99/24" ]; peers = [ ];   # empty: multicast 224.0.0.18
      track_proxy = true; }};
"""

# The keys of 5 December, in one file (DESIGN.md, "Keys added by the issues").
# global.chroot is refused without root (workers could not enter it)
CHROOT = f'chroot = "{chroot}";' if os.geteuid() == 0 else ""
ADDED = f"""
global: {{ {CHROOT}
          log = {{ address = "udp://127.0.0.1:514"; facility = "local0"; format = "json"; }}; }};
backends = ( {{ name = "app"; balance = "roundrobin";
               cookie = {{ name = "SRV"; mode = "insert"; }};
               check = {{ request = "GET /check.txt HTTP/1.0"; interval = "2s"; }};
               servers = ( {{ name = "a"; address = "localhost:8001"; weight = 10; backup = false;
                             slowstart = 30000; send_proxy = "v2";
                             tls = {{ ca = "{www_crt}"; sni = "a.internal"; verify = true; }}; }},
                           {{ name = "sorry"; address = "127.0.0.1:8003"; backup = true; }} ); }},
             {{ name = "api"; servers = ( {{ name = "api1"; address = "127.0.0.1:8004"; }} ); }} );
listeners = ( {{ name = "web"; bind = [ "127.0.0.1:{p[1]}" ];
  tls = {{ certs = [ "{www}", "{api}" ]; min_version = "TLSv1.2";
          ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"; ciphersuites = "TLS_AES_128_GCM_SHA256";
          alpn = [ "http/1.1" ]; client_ca = "{www_crt}"; verify_client = "none"; ktls = false; }};
  redirect_https = false; accept_proxy = false;
  routes = ( {{ host = "api.example.com"; path_prefix = "/v1/"; backend = "api"; }},
             {{ path_prefix = "/old/"; redirect = "/new/"; code = 301; }},
             {{ host = "*.example.org"; backend = "app"; }} );
  backend = "app";
  request_headers = {{ set = ( {{ name = "X-Env"; value = "prod"; }} ); del = [ "X-Debug" ]; }};
  response_headers = {{ set = ( {{ name = "Strict-Transport-Security"; value = "max-age=31536000"; }} );
                       del = [ "Server" ]; }};
  rate_limit = {{ requests = 100; per_ms = 1000; burst = 50; }};
  timeout = {{ tunnel = 3600000; }};
  stats = {{ uri = "/fulcrum?stats"; prometheus_uri = "/metrics"; auth = [ "user:pass" ]; }}; }},
  {{ name = "plain"; bind = [ "127.0.0.1:{p[2]}" ]; redirect_https = true; backend = "app"; }} );
"""

HA_SYNC = """
ha: { interface = "lo"; vrid = 52; priority = 100; peers = [ "127.0.0.2" ]; unicast_src = "127.0.0.1";
      auth_key = "a shared secret, 16 to 64 characters"; sync = { port = 7781; interval_ms = 10; };
      vips = [ "192.0.2.50/24" ]; };
"""

HA_IPV6 = """
ha: { interface = "lo"; vrid = 53; priority = 100;
      vips = [ "192.0.2.50/24", "2001:db8::50/64" ]; };   # one VRRP instance per family, same vrid
"""

HA_ANYCAST = """
ha: { mode = "anycast"; interface = "fulcrum0"; vips = [ "198.51.100.10/32" ];
      peers = [ "127.0.0.2", "127.0.0.3" ]; unicast_src = "127.0.0.1";
      auth_key = "a shared secret, 16 to 64 characters";
      sync = { port = 7781; }; };
"""

SERVERS = f"""
listeners = ( {{ name = "web"; bind = [ "127.0.0.1:{p[3]}" ];
  servers = ( {{ name = "a"; address = "127.0.0.1:8001"; }} ); }} );
"""

cases = [
    ("the classic sketch (two Apache servers, cookie, stats, checks, ha)", CLASSIC),
    ("backends, routes, TLS, header rules, rate limits, PROXY, chroot, JSON log",
     ADDED),
    ("ha with the sync channel", SERVERS + HA_SYNC),
    ("ha with IPv4 and IPv6 vips", SERVERS + HA_IPV6),
    ("ha in anycast mode with a sync mesh", SERVERS + HA_ANYCAST),
]
if not CHROOT:
    t.note("not root: global.chroot left out (fulcrum -c refuses it without root)")
for title, text in cases:
    with t.step(title):
        path = os.path.join(d, "c.conf")
        with open(path, "w") as f:
            f.write(text)
        st, out = t.run([t.FULCRUM, "-c", "-f", path], timeout=20)
        t.check(st == 0, "fulcrum -c accepts it", out)

t.finish()

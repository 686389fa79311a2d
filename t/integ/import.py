#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""import: fulcrum-import turns the classic two-node files into a fulcrum.conf
that `fulcrum -c` accepts and that runs.

- haproxy.cfg (global, defaults, listen webfarm with cookie insert, httpchk,
  stats; a frontend with routes to three backends; directives fulcrum has
  not): the output passes `fulcrum -c`, every directive it cannot carry is
  on stderr and in the output as FILE:LINE with why, and fulcrum started on
  it balances, routes by Host and path, keeps a session on its server by
  the SERVERID cookie and serves the stats page;
- ha.cf + haresources, and keepalived.conf: an "ha" section that passes
  `fulcrum -c`, with what heartbeat and keepalived say that VRRP has not
  listed by line (fulcrum is not started on those: it would move addresses);
- HAProxy's own examples (/usr/share/doc/haproxy/examples, Debian's haproxy
  package): each converts to a file `fulcrum -c` accepts, or fails (exit 1)
  with per-line reasons; never a crash;
- usage: exit 2, --version.
"""
import glob
import os
import re
import subprocess

import fctest as t

IMPORT = os.environ.get("FULCRUM_IMPORT") or os.path.join(
    os.path.dirname(t.FULCRUM), "fulcrum-import")
EXAMPLES = "/usr/share/doc/haproxy/examples"

t.require_fulcrum()
if not os.access(IMPORT, os.X_OK):
    t.skip(f"fulcrum-import not found at {IMPORT} (build it first)")
d = t.tmpdir("fctest-import-")


def write(name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def line_of(text, marker):
    for i, line in enumerate(text.splitlines(), 1):
        if marker in line:
            return i
    raise ValueError(marker)


def run_import(*args):
    p = subprocess.run([IMPORT] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def import_to(name, *args):
    """fulcrum-import -o NAME (in d) ARGS... haproxy.cfg, checked to exit 0:
    the path of what it wrote, its text ("" if none) and stderr."""
    path = os.path.join(d, name)
    status, _, err = run_import("-o", path, *args, hcfg)
    t.check(status == 0, "exit 0", f"{status}\n{err}")
    out = open(path).read() if os.path.exists(path) else ""
    return path, out, err


def check_passes(path, what):
    status, out = t.run([t.FULCRUM, "-c", "-f", path])
    t.check(status == 0 and "configuration valid" in out,
            f"fulcrum -c accepts {what}", out)


def check_listed(err, out, name, text, marker, why):
    """The directive on the line holding marker is on stderr and in the output."""
    n = line_of(text, marker)
    pat = rf"{re.escape(name)}:{n}: [^\n]*not carried over: [^\n]*{why}"
    t.check(re.search(pat, err) is not None,
            f"stderr lists {name}:{n} ({marker.strip()}): {why}", err)
    t.check(re.search(r"^#   \S*" + pat, out, re.M) is not None,
            f"the output's comment block lists {name}:{n}", out[-3000:])


webA, webB, sorry = t.Backend("webA"), t.Backend("webB"), t.Backend("sorry")
pl, pf = t.free_port(), t.free_port()
root = os.geteuid() == 0

# ------------------------------------------------------------ haproxy.cfg
HAPROXY = f"""\
# The classic two-node web farm, HAProxy 1.x style.
global
	log 127.0.0.1 local0
	maxconn 4096
	chroot /var/lib/haproxy
{"	user nobody" if root else ""}
{"	group nogroup" if root else ""}
	daemon
	pidfile {d}/fulcrum.pid
	stats socket {d}/haproxy.sock mode 600 level admin

defaults
	log global
	mode http
	option httplog
	option dontlognull
	retries 3
	option redispatch
	maxconn 2000
	contimeout 5000
	clitimeout 50000
	srvtimeout 50000

listen webfarm 127.0.0.1:{pl}
	stats enable
	stats uri /haproxy?stats
	stats auth someuser:somepassword
	stats realm Haproxy\\ Statistics
	balance roundrobin
	cookie SERVERID insert indirect nocache
	option httpclose
	option forwardfor
	option httpchk HEAD /check.txt HTTP/1.0
	server webA {webA.addr} cookie A check inter 2000 rise 2 fall 3 weight 10 maxconn 100
	server webB {webB.addr} cookie B check inter 2000 rise 2 fall 3 minconn 5
	server sorry {sorry.addr} backup

frontend www
	bind 127.0.0.1:{pf} name clear
	timeout client 30s
	acl is_api hdr(host) -i api.example.com
	use_backend api if is_api
	use_backend static if {{ path_beg /static/ }}
	use_backend static if !is_api
	default_backend app

backend app
	balance leastconn
	timeout connect 2s
	timeout server 30s
	server app1 {webA.addr} check

backend api
	server api1 {webB.addr}

backend static
	fullconn 100
	server st1 {sorry.addr}

listen smtp 127.0.0.1:{t.free_port()}
	mode tcp
	server mx 127.0.0.1:25
"""
hcfg = write("haproxy.cfg", HAPROXY)

t.step("fulcrum-import -o fulcrum.conf haproxy.cfg")
conf, out, err = import_to("fulcrum.conf")
t.note("  | " + "\n  | ".join(out.splitlines()[:60]))
check_passes(conf, "the imported haproxy.cfg")
t.check("haproxy.cfg" in out.splitlines()[1], "the top comment names haproxy.cfg",
        out[:300])
t.check(re.search(rf"# from haproxy.cfg:{line_of(HAPROXY, 'listen webfarm')}\b", out),
        "the webfarm block says where it comes from", out)
t.check(re.search(r'mode = "insert";', out) and re.search(r"indirect = true;", out)
        and re.search(r'request = "HEAD /check.txt HTTP/1.0";', out),
        "cookie insert indirect and the httpchk request are carried over", out)
for marker, why in (("chroot", "chroot"), ("stats socket", "command socket"),
                    ("option dontlognull", "filter"), ("stats realm", "stats page"),
                    ("minconn 5", "server option"), ("use_backend static if !is_api", "routes"),
                    ("fullconn", "maxconn"), ("mode tcp", "HTTP only"),
                    ("server mx", "mode tcp")):
    check_listed(err, out, "haproxy.cfg", HAPROXY, marker, why)
t.check(not re.search(r"haproxy.cfg:%d:" % line_of(HAPROXY, "cookie SERVERID"), err),
        "the cookie line is not listed (it is carried over)", err)

t.step("fulcrum runs on the imported file")
with t.Fulcrum(out, name="imported") as fc:
    status, hdrs, body = t.http(pl, "GET", "/")
    t.check(status == 200, "GET / through webfarm answers 200", f"{status} {hdrs}")
    served = hdrs.get("x-backend")
    cookie = hdrs.get("set-cookie", "")
    m = re.match(r"SERVERID=([AB])\b", cookie)
    t.check(served in ("webA", "webB") and m is not None,
            "a server answered and fulcrum inserted SERVERID", f"{served} {cookie!r}")
    if m:
        got = set()
        for _ in range(20):
            s, h, _ = t.http(pl, "GET", "/", headers={"Cookie": f"SERVERID={m.group(1)}"})
            got.add(h.get("x-backend"))
        t.check(got == {served}, f"20 requests with SERVERID={m.group(1)} all go to "
                f"{served}", f"{got}")
    s, _, _ = t.http(pl, "GET", "/haproxy?stats",
                     headers={"Authorization": "Basic c29tZXVzZXI6c29tZXBhc3N3b3Jk"})
    t.check(s == 200, "the stats page answers 200 with the imported auth", f"{s}")
    for host, path, want in (("www.example.com", "/", "webA"),
                             ("api.example.com", "/", "webB"),
                             ("www.example.com", "/static/a.css", "sorry")):
        s, h, _ = t.http(pf, "GET", path, headers={"Host": host})
        t.check(s == 200 and h.get("x-backend") == want,
                f"frontend www: Host {host} {path} goes to {want}",
                f"{s} {h.get('x-backend')}")

# ------------------------------------------------------ ha.cf, haresources
HACF = """\
# /etc/ha.d/ha.cf of node1
logfacility local0
keepalive 2
deadtime 10
warntime 5
initdead 60
udpport 694
ucast eth0 10.0.0.2
auto_failback on
node node1
node node2
"""
HARES = "node1 IPaddr::10.0.0.100/24/eth0 haproxy\n"
KEEPALIVED = """\
! keepalived.conf of lb1
global_defs {
	router_id LB1
}
vrrp_script chk_haproxy {
	script "killall -0 haproxy"
	interval 2
}
vrrp_instance VI_1 {
	state MASTER
	interface eth0
	virtual_router_id 51
	priority 150
	advert_int 1
	authentication {
		auth_type PASS
		auth_pass s3cret
	}
	unicast_src_ip 10.0.0.1
	unicast_peer {
		10.0.0.2
	}
	virtual_ipaddress {
		10.0.0.100/24 dev eth0 label eth0:1
	}
	track_script {
		chk_haproxy
	}
	smtp_alert
}
"""
hacf, hares = write("ha.cf", HACF), write("haresources", HARES)
kconf = write("keepalived.conf", KEEPALIVED)

t.step("fulcrum-import --ha-cf ha.cf --haresources haresources haproxy.cfg")
conf_hb, out, err = import_to("fulcrum-hb.conf", "--ha-cf", hacf, "--haresources", hares)
check_passes(conf_hb, "the heartbeat import")
ha = out[out.find("\nha:"):]
t.check(re.search(r'interface = "eth0";', ha) and re.search(r'vips = \[ "10.0.0.100/24" \]', ha)
        and re.search(r"advert_ms = 2000;", ha) and re.search(r"preempt = true;", ha)
        and re.search(r'peers = \[ "10.0.0.2" \]', ha) and re.search(r"track_proxy = true;", ha),
        "ha: interface, vip, advert_ms (keepalive), preempt (auto_failback), peer", ha)
t.check(re.search(r"priority = 101;.*node1.*node2", ha) is not None,
        "priority: node1's, with what to write on node2", ha)
for marker, why in (("deadtime", "3 adverts"), ("udpport", "no port"),
                    ("logfacility", "no such setting")):
    check_listed(err, out, "ha.cf", HACF, marker, why)

t.step("fulcrum-import --keepalived keepalived.conf haproxy.cfg")
conf_ka, out, err = import_to("fulcrum-ka.conf", "--keepalived", kconf)
check_passes(conf_ka, "the keepalived import")
ha = out[out.find("\nha:"):]
t.check(re.search(r"vrid = 51;", ha) and re.search(r"priority = 150;", ha)
        and re.search(r"advert_ms = 1000;", ha) and re.search(r'unicast_src = "10.0.0.1";', ha)
        and re.search(r'vips = \[ "10.0.0.100/24" \]', ha),
        "ha: vrid, priority, advert_ms, unicast_src, vips from vrrp_instance", ha)
for marker, why in (("authentication {", "authentication"), ("auth_pass", "auth_key"),
                    ("vrrp_script", "script"), ("router_id", "no such setting"),
                    ("smtp_alert", "no such setting")):
    check_listed(err, out, "keepalived.conf", KEEPALIVED, marker, why)

# ----------------------------------------------------- HAProxy's examples
t.step(f"HAProxy's own examples ({EXAMPLES})")
examples = sorted(glob.glob(os.path.join(EXAMPLES, "*.cfg")))
if not examples:
    t.note(f"SKIP this part: no {EXAMPLES}/*.cfg (apt-get install haproxy)")
for ex in examples:
    name = os.path.basename(ex)
    dst = os.path.join(d, name + ".conf")
    status, _, err = run_import("-o", dst, ex)
    if status == 0:
        check_passes(dst, f"{name} imported")
    else:
        t.check(status == 1 and re.search(rf"{re.escape(name)}:\d+: .*not carried over: ", err)
                and "nothing written" in err and not os.path.exists(dst),
                f"{name}: exit 1 with per-line reasons, nothing written", f"{status}\n{err}")

# ------------------------------------------------------------- usage
t.step("usage")
status, _, err = run_import()
t.check(status == 2 and "usage:" in err, "no argument: exit 2 and the usage", err)
status, _, err = run_import("--keepalived", kconf, "--ha-cf", hacf, hcfg)
t.check(status == 2, "heartbeat and keepalived together: exit 2", err)
status, out, _ = run_import("--version")
t.check(status == 0 and out.startswith("fulcrum-import "), "--version", out)
status, _, err = run_import(os.path.join(d, "missing.cfg"))
t.check(status == 1 and "missing.cfg" in err, "a missing file: exit 1, named", err)

t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""apache_classic: the classic two-web-server setup with real Apache 2
servers webA and webB behind fulcrum (forwardfor, httpclose, roundrobin).
Requests alternate A/B, /check.txt answers through fulcrum, Apache logs the
client address from X-Forwarded-For, and once A is stopped B serves every
request without a client error.
"""
import grp
import os
import pwd
import signal
import subprocess
import time

import fctest as t

APACHE = os.environ.get("APACHE2", "/usr/sbin/apache2")
MODDIR = os.environ.get("APACHE2_MODULES", "/usr/lib/apache2/modules")

if not os.access(APACHE, os.X_OK):
    t.skip(f"apache2 not installed ({APACHE} missing; "
           "Debian: apt install apache2)")
for mod in ("mod_mpm_event.so", "mod_authz_core.so", "mod_dir.so",
            "mod_mime.so"):
    if not os.path.exists(os.path.join(MODDIR, mod)):
        t.skip(f"apache2 module {MODDIR}/{mod} missing")
t.require_fulcrum()


def run_user():
    """User/Group lines when root (Apache refuses to serve as root)."""
    if os.geteuid() != 0:
        return ""
    for user, group in (("www-data", "www-data"), ("nobody", "nogroup")):
        try:
            pwd.getpwnam(user)
            grp.getgrnam(group)
            return f"User {user}\nGroup {group}\n"
        except KeyError:
            continue
    t.skip("running as root but neither www-data nor nobody exists")


class Apache:
    def __init__(self, name):
        self.name = name
        self.port = t.free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.root = t.tmpdir(f"fctest-apache-{name}-")
        docroot = os.path.join(self.root, "htdocs")
        os.makedirs(os.path.join(self.root, "run"))
        os.makedirs(docroot)
        with open(os.path.join(docroot, "index.html"), "w") as f:
            f.write(f"{name}\n")
        with open(os.path.join(docroot, "check.txt"), "w") as f:
            f.write("OK\n")
        for p in (docroot, os.path.join(self.root, "run")):
            os.chmod(p, 0o755)
        for fn in ("index.html", "check.txt"):
            os.chmod(os.path.join(docroot, fn), 0o644)
        self.access_log = os.path.join(self.root, "access.log")
        self.error_log = os.path.join(self.root, "error.log")
        self.conf = os.path.join(self.root, "httpd.conf")
        with open(self.conf, "w") as f:
            f.write(f"""
ServerRoot "{self.root}"
ServerName {name}.test
Listen {self.addr}
PidFile "{self.root}/run/httpd.pid"
DefaultRuntimeDir "{self.root}/run"
Mutex file:{self.root}/run default
ErrorLog "{self.error_log}"
LogLevel warn
LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so
LoadModule authz_core_module {MODDIR}/mod_authz_core.so
LoadModule dir_module {MODDIR}/mod_dir.so
LoadModule mime_module {MODDIR}/mod_mime.so
{run_user()}
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
KeepAlive On
TypesConfig /dev/null
AddType text/plain .txt
AddType text/html .html
LogFormat "%h \\"%r\\" %>s xff=\\"%{{X-Forwarded-For}}i\\" conn=%{{Connection}}i" xff
CustomLog "{self.access_log}" xff
DocumentRoot "{docroot}"
DirectoryIndex index.html
<Directory />
    Require all denied
</Directory>
<Directory "{docroot}">
    Require all granted
</Directory>
""")
        env = dict(os.environ, APACHE_RUN_DIR=os.path.join(self.root, "run"),
                   APACHE_LOG_DIR=self.root,
                   APACHE_PID_FILE=os.path.join(self.root, "run/httpd.pid"),
                   APACHE_LOCK_DIR=os.path.join(self.root, "run"))
        self.out = open(os.path.join(self.root, "stderr.log"), "wb")
        self.proc = t.spawn([APACHE, "-f", self.conf, "-DFOREGROUND"],
                            env=env, stdout=self.out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
        if not t.wait_port(self.port, 10.0, self.proc):
            t.fail(f"apache {name} starts on {self.addr}",
                   self.read("stderr.log") + self.read("error.log"))

    def read(self, fn):
        try:
            with open(os.path.join(self.root, fn)) as f:
                return f.read()
        except OSError:
            return ""

    def log_lines(self):
        return self.read("access.log").splitlines()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


t.step("two Apache servers, webA and webB")
web_a = Apache("webA")
web_b = Apache("webB")
for w in (web_a, web_b):
    st, h, body = t.http(w.port, "GET", "/")
    t.note(f"{w.name} on {w.addr} (pid {w.proc.pid}): GET / -> {st} {body!r}")
    t.check(st == 200 and body == f"{w.name}\n".encode(),
            f"{w.name} answers directly", f"{st} {body!r}")

port = t.free_port()
conf = f"""
global: {{ workers = 1; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{
  name = "webfarm"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = true;
  servers = ( {{ name = "webA"; address = "{web_a.addr}"; weight = 1; }},
              {{ name = "webB"; address = "{web_b.addr}"; weight = 1; }} );
}} );
"""

with t.Fulcrum(conf, name="classic") as fc:
    with t.step("roundrobin: 10 requests for / alternate webA/webB"):
        seen = []
        for i in range(10):
            st, h, body = t.http(port, "GET", "/")
            seen.append(body.decode().strip() if st == 200 else f"<{st}>")
            if i == 0:
                t.note(f"Connection header to the client: "
                       f"{h.get('connection')!r}")
                t.check(h.get("connection", "").lower() == "close",
                        "httpclose: the response carries Connection: close",
                        f"{h}")
        t.note("seen: " + ",".join(seen))
        t.check(seen.count("webA") == 5 and seen.count("webB") == 5,
                "5 each", f"{seen}")
        t.check(all(seen[i] != seen[i - 1] for i in range(1, len(seen))),
                "strict alternation", f"{seen}")

    with t.step("/check.txt through fulcrum"):
        st, h, body = t.http(port, "GET", "/check.txt")
        t.note(f"{st} {body!r}")
        t.check(st == 200 and body == b"OK\n",
                "GET /check.txt answers 200 OK")

    with t.step("Apache logs the client address from X-Forwarded-For"):
        time.sleep(0.3)
        for w in (web_a, web_b):
            lines = w.log_lines()
            t.note(f"{w.name} access log ({len(lines)} lines), last:")
            t.note("  | " + "\n  | ".join(lines[-3:]))
            t.check(any('xff="127.0.0.1"' in ln for ln in lines),
                    f"{w.name} saw X-Forwarded-For: 127.0.0.1",
                    "\n".join(lines))
            t.check(any("conn=close" in ln for ln in lines),
                    f"{w.name} got Connection: close (httpclose)",
                    "\n".join(lines))

    with t.step("stop webA: the next 20 requests are all served by webB"):
        web_a.stop()
        t.note(f"webA stopped (exit {web_a.proc.returncode}); "
               f"port accepts: {t.port_accepts(web_a.port)}")
        seen = []
        errors = []
        for i in range(20):
            try:
                st, h, body = t.http(port, "GET", "/", timeout=5)
                seen.append(body.decode().strip() if st == 200
                            else f"<{st}>")
            except Exception as e:
                errors.append(repr(e))
        t.note("seen: " + ",".join(seen))
        t.check(not errors, "no client error", "\n".join(errors))
        t.check(seen == ["webB"] * 20, "all 20 answered 200 by webB",
                f"{seen}")
        t.check(fc.alive(), "fulcrum alive")

web_b.stop()
t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tls_reload: the certificate files are read again on USR2.

One listener, `certs = [ "live.pem" ]`.  Replacing live.pem with a new
certificate (another serial, O=genN) and sending USR2: new connections
get the new certificate.  A live.pem that is missing, whose key does not
match its certificate, or that is garbage: `fulcrum -c -f CONF` exits 1
naming CONF:LINE (the certs line) and the file; the USR2 reload fails,
the same workers keep serving the same certificate.  All along, a client
loops requests on keep-alive TLS connections (reconnecting when told
"Connection: close"): not one request fails.
"""
import os
import re
import shutil
import threading
import time

import fctest as t
import tlslab as tl

tl.require_tools(curl=False)
t.require_fulcrum()

d = t.tmpdir("fctest-tlsrel-")
ca = tl.CA(d, "fulcrum test CA")
gens = {}
LIVE = os.path.join(d, "live.pem")


def gen_cert(n):
    """Certificate n for www.test (O=genN), made once."""
    if n not in gens:
        gens[n] = ca.issue(f"gen{n}", "www.test", org=f"gen{n}")
    return gens[n]


def install(n):
    """live.pem := certificate n (written aside, then renamed)."""
    tmp = LIVE + ".new"
    shutil.copyfile(gen_cert(n).pem, tmp)
    os.rename(tmp, LIVE)


a = t.Backend("a")
port = t.free_port()
CONF = f"""global: {{ workers = 1; drain_timeout = 2000; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 1000; client = 10000; server = 10000;
              http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; httpclose = false;
  tls = {{
    certs = [ "{LIVE}" ];
  }};
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}} );
"""
CERTS_LINE = CONF[:CONF.index("certs =")].count("\n") + 1
CTX = tl.context(ca.cert)


def served_cert():
    """Which genN certificate a new connection gets (s_client), and whether
    its request was answered 200: (n or None, status, Handshake)."""
    h = tl.s_client(port, ["-tls1_3"], "www.test", tl.get("/"))
    c = tl.which_cert(h.cert_pem, gens.values())
    return (int(c.base[3:]) if c else None), h.status(), h


class Loop(threading.Thread):
    """GET / over and over on a keep-alive TLS connection; a new connection
    when the server says Connection: close.  Any request without a 200
    answer is a failure."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.sent = self.connects = self.told_close = 0
        self.failures = []
        self.serials = []             # certificate of each connection (gen n)

    def run(self):
        c = None
        while not self.stop.is_set():
            try:
                if c is None:
                    c = tl.TLSClient(port, CTX, "www.test")
                    self.connects += 1
                    got = tl.which_cert(c.peer_pem(), gens.values())
                    self.serials.append(got.base if got else "?")
                self.sent += 1
                st, h, body = c.request("GET", "/")
            except Exception as e:
                self.failures.append(f"{time.strftime('%T')} {e!r}")
                if c:
                    c.close()
                c = None
                continue
            if st != 200:
                self.failures.append(f"{time.strftime('%T')} status {st}")
            if h.get("connection", "").lower() == "close":
                self.told_close += 1
                c.close()
                c = None
            time.sleep(0.01)
        if c:
            c.close()


def check_conf(fc):
    """fulcrum -c -f CONF: (status, output)."""
    st, out = t.run([t.FULCRUM, "-c", "-f", fc.conf_path])
    t.note(f"$ fulcrum -c -f {os.path.basename(fc.conf_path)} -> exit {st}")
    t.note("  | " + "\n  | ".join(out.rstrip().splitlines() or ["(no output)"]))
    return st, out


def names_line(text, fc):
    real = os.path.realpath(fc.conf_path)
    return re.search(rf"(?:{re.escape(fc.conf_path)}|{re.escape(real)}|"
                     rf"{re.escape(os.path.basename(fc.conf_path))}):{CERTS_LINE}(?!\d)",
                     text) is not None


for n in (1, 2, 3, 4, 9):        # made before the loop thread reads gens
    gen_cert(n)
install(1)
with t.Fulcrum(CONF, name="tlsrel") as fc:
    with t.step("generation 1 serves certificate gen1"):
        workers = fc.wait_settled(1)
        n, st, h = served_cert()
        t.check(n == 1 and st == 200, "a new connection gets gen1, GET / 200",
                h.summary())
        st, out = check_conf(fc)
        t.check(st == 0, "fulcrum -c -f CONF: valid", out)
        loop = Loop()
        loop.start()
        time.sleep(0.3)

    for want_gen, cert_n in ((2, 2), (3, 3)):
        with t.step(f"live.pem replaced by gen{cert_n}, USR2"):
            install(cert_n)
            gen = fc.reload()
            t.check(gen == want_gen, f"generation {want_gen} started", f"{gen}")
            workers = fc.wait_settled(1)
            t.check(workers is not None, "the old worker has drained and exited",
                    f"{fc.children()}")
            n, st, h = served_cert()
            t.check(n == cert_n and st == 200,
                    f"a new connection gets gen{cert_n} (serial "
                    f"{gen_cert(cert_n).serial}), GET / 200",
                    f"got gen{n}: {h.summary()}")
            time.sleep(0.3)

    other = gen_cert(9)          # its key is not gen3's
    with open(gen_cert(3).cert) as f:
        gen3_cert = f.read()
    with open(other.key) as f:
        other_key = f.read()
    broken = (
        ("missing", None),
        ("a key that does not match its certificate", gen3_cert + other_key),
        ("garbage", "this is not PEM\n" + os.urandom(64).hex() + "\n"),
    )
    for label, content in broken:
        with t.step(f"live.pem {label}: refused, generation 3 keeps serving"):
            os.unlink(LIVE)
            if content is not None:
                with open(LIVE, "w") as f:
                    f.write(content)
            st, out = check_conf(fc)
            t.check(st == 1, "fulcrum -c -f CONF exits 1", f"{st}")
            t.check(names_line(out, fc), f"the message names CONF:{CERTS_LINE} "
                    "(the certs line)", out)
            t.check("live.pem" in out, "and the file live.pem", out)
            before = fc.worker_pids()
            mark = len(fc.log_text())
            gen = fc.reload()
            log = fc.log_text()[mark:]
            t.check(gen is None, "the USR2 reload fails", log)
            t.check(names_line(log, fc) and "live.pem" in log,
                    f"the log names CONF:{CERTS_LINE} and live.pem", log)
            time.sleep(0.3)
            n, st, h = served_cert()
            t.check(n == 3 and st == 200, "new connections still get gen3, "
                    "GET / 200", f"got gen{n}: {h.summary()}")
            t.check(fc.worker_pids() == before, "the same worker serves",
                    f"{before} -> {fc.worker_pids()}")
            t.check(fc.stat_json()["instance"]["generation"] == 3,
                    "fulcrum-stat: still generation 3")
            install(3)

    with t.step("fixed: gen4, USR2"):
        install(4)
        gen = fc.reload()
        t.check(gen == 4, "generation 4 started", f"{gen}")
        fc.wait_settled(1)
        n, st, h = served_cert()
        t.check(n == 4 and st == 200, "a new connection gets gen4", h.summary())

    with t.step("the keep-alive client through 3 good reloads and 3 failed ones"):
        time.sleep(0.3)
        loop.stop.set()
        loop.join(10)
        t.note(f"{loop.sent} requests on {loop.connects} connections "
               f"({loop.told_close} ended by Connection: close); certificate "
               f"of each connection: {loop.serials}")
        t.check(loop.sent > 100, "more than 100 requests were sent", f"{loop.sent}")
        t.check(not loop.failures, "not one request failed",
                "\n".join(loop.failures[:20]))
        t.check(loop.told_close >= 3 and loop.serials[-1] == "gen4",
                "each good reload moved the client to a new connection, "
                "the last one with gen4", f"{loop.told_close} {loop.serials}")

t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tls: TLS termination on a listener (issue 15), one worker.

  web     certs www.test (the default, first) and *.api.test, both EC,
          issued by a test CA; alpn http/1.1; forwardfor; cookie prefix;
          stats page; servers a, b
  dual    an RSA and an EC certificate for both.test (self-signed)
  v13     min_version TLSv1.3, ciphersuites TLS_CHACHA20_POLY1305_SHA256
  picky   ciphers ECDHE-ECDSA-CHACHA20-POLY1305
  plain   no tls, forwardfor: X-Forwarded-Proto: http
  redir   redirect_https = true, no servers

HTTP/1.1 is answered over TLS 1.2 and 1.3 (curl, openssl s_client), TLS
1.1 and 1.0 are refused by fulcrum (the same client gets them from a
permissive openssl s_server); keep-alive and pipelining work on one TLS
connection; a cookie session sticks; the server sees X-Forwarded-For and
X-Forwarded-Proto: https; the stats page answers over TLS.  SNI picks the
certificate (an unknown name or none: the first), the client's signature
algorithms pick RSA or ECDSA, ALPN says http/1.1.  Plain HTTP, garbage
and a half ClientHello on the TLS port are closed (the half one after
timeout.http_request, 1500 ms), 20 of them open at once do not delay a
good client, and the worker never dies.  The redir listener answers 301
to https://HOST/PATH?QUERY.
"""
import json
import os
import socket
import time

import fctest as t
import tlslab as tl

tl.require_tools()
t.require_fulcrum()

HTTP_REQUEST_MS = 1500
STATS = "/fulcrum?stats"
AUTH = {"Authorization": "Basic YWRtaW46czNjcmV0"}      # admin:s3cret
COOKIE = {"a": "A", "b": "B"}

d = t.tmpdir("fctest-tls-certs-")
ca = tl.CA(d, "fulcrum test CA")
www = ca.issue("www", "www.test")
api = ca.issue("api", "*.api.test")
d_rsa = tl.self_signed(d, "both-rsa", "both.test", kind="rsa", org="rsa")
d_ec = tl.self_signed(d, "both-ec", "both.test", kind="ec", org="ec")
ALL = [www, api, d_rsa, d_ec]
t.note(f"certificates: {ALL}")

a, b = t.Backend("a"), t.Backend("b")
P_WEB, P_DUAL, P_V13, P_PICKY, P_PLAIN, P_REDIR = (t.free_port() for _ in range(6))

CONF = f"""
global: {{ workers = 1; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 1000; client = 10000; server = 10000;
              http_request = {HTTP_REQUEST_MS}; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{P_WEB}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = false;
  tls = {{ certs = [ "{www.pem}", "{api.pem}" ]; alpn = [ "http/1.1" ]; }};
  cookie = {{ name = "JSESSIONID"; mode = "prefix"; }};
  stats = {{ uri = "{STATS}"; auth = [ "admin:s3cret" ]; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; cookie = "A"; }},
              {{ name = "b"; address = "{b.addr}"; cookie = "B"; }} );
}}, {{
  name = "dual"; bind = [ "127.0.0.1:{P_DUAL}" ];
  tls = {{ certs = [ "{d_rsa.pem}", "{d_ec.pem}" ]; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}}, {{
  name = "v13"; bind = [ "127.0.0.1:{P_V13}" ];
  tls = {{ certs = [ "{www.pem}" ]; min_version = "TLSv1.3";
          ciphersuites = "TLS_CHACHA20_POLY1305_SHA256"; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}}, {{
  name = "picky"; bind = [ "127.0.0.1:{P_PICKY}" ];
  tls = {{ certs = [ "{www.pem}" ]; ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305"; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}}, {{
  name = "plain"; bind = [ "127.0.0.1:{P_PLAIN}" ];
  forwardfor = true;
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}}, {{
  name = "redir"; bind = [ "127.0.0.1:{P_REDIR}" ];
  redirect_https = true;
}} );
"""

CTX = tl.context(ca.cert)          # verifies the certificate and its name


def get(path="/", name="www.test", headers=None, ctx=CTX, port=P_WEB):
    return tl.https(port, path, ctx, name, headers)


def cert_name(h):
    c = tl.which_cert(h.cert_pem, ALL)
    return c.base if c else None


def refused(h):
    """s_client got no session (it printed no protocol, or exited non-zero)."""
    return not h.ok and not h.responses


def closed_after(port, data, wait):
    """Sends data on a fresh TCP connection, then reads until the server
    closes (EOF or reset) or `wait` seconds pass.  Returns (seconds until
    closed or None, bytes received)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    got = b""
    t0 = time.monotonic()
    try:
        s.sendall(data)
        while time.monotonic() - t0 < wait:
            s.settimeout(max(0.01, wait - (time.monotonic() - t0)))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return None, got
            except ConnectionResetError:
                return time.monotonic() - t0, got
            if not chunk:
                return time.monotonic() - t0, got
            got += chunk
        return None, got
    finally:
        s.close()


def still_open(s):
    """No EOF or reset on s yet (a non-blocking peek)."""
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


with t.Fulcrum(CONF, name="tls") as fc:
    workers = fc.wait_children(1)
    t.note(f"worker {workers}")

    with t.step("HTTP/1.1 over TLS 1.2 and TLS 1.3 (curl, s_client)"):
        for ver, args in (("TLSv1.2", ["--tlsv1.2", "--tls-max", "1.2"]),
                          ("TLSv1.3", ["--tlsv1.3"])):
            rc, resp, got, err = tl.curl(P_WEB, "www.test", "/", ca.cert, args)
            t.check(rc == 0 and got == ver and resp and resp[0][0] == 200,
                    f"curl {' '.join(args)} --cacert CA https://www.test/: "
                    f"200 over {ver}, certificate verified",
                    f"exit {rc}, {got}, {[r[0] for r in resp]}\n{err[-1500:]}")
        for ver, opt in (("TLSv1.2", "-tls1_2"), ("TLSv1.3", "-tls1_3")):
            h = tl.s_client(P_WEB, [opt], "www.test", tl.get("/"))
            t.note(f"s_client {opt}: {h.summary()}")
            t.check(h.ok and h.protocol == ver and h.status() == 200,
                    f"s_client {opt}: {ver}, GET / answered 200", h.tail())

    with t.step("TLS 1.1 and 1.0 are refused by fulcrum"):
        # The control: an s_server that allows everything, with the same
        # client options, shows the client really offers the old version.
        ctl, p_ctl = tl.s_server(d_rsa, ["-cipher", "ALL:@SECLEVEL=0"])
        for opt in ("-tls1_1", "-tls1"):
            args = [opt, "-cipher", "ALL:@SECLEVEL=0"]
            hc = tl.s_client(p_ctl, args)
            t.note(f"control, s_client {opt} to a permissive s_server: {hc.summary()}")
            h = tl.s_client(P_WEB, args, "www.test")
            t.note(f"s_client {opt} to fulcrum: {h.summary()}")
            if hc.ok:
                t.check(refused(h), f"{opt} (offered: the control got a session): "
                        "fulcrum refuses it", h.tail())
            else:
                t.note(f"this openssl cannot negotiate {opt} even with a "
                       "permissive server: the check below proves little")
                t.check(refused(h), f"{opt}: no session with fulcrum", h.tail())
        hc = tl.s_client(p_ctl, ["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"])
        h = tl.s_client(P_DUAL, ["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"],
                        "both.test")
        t.note(f"AES128-SHA (RSA key exchange, CBC, SHA-1): control "
               f"{'accepted' if hc.ok else 'refused'}, fulcrum: {h.summary()}")
        t.check(hc.ok and refused(h), "the default ciphers refuse AES128-SHA "
                "(no forward secrecy), which the control accepts", h.tail())
        tl.stop(ctl)

    with t.step("min_version TLSv1.3 and ciphersuites (listener v13)"):
        h = tl.s_client(P_V13, ["-tls1_2"], "www.test")
        t.check(refused(h), "v13: TLS 1.2 refused", h.summary())
        h = tl.s_client(P_V13, ["-tls1_3"], "www.test", tl.get("/"))
        t.check(h.ok and h.protocol == "TLSv1.3" and
                h.cipher == "TLS_CHACHA20_POLY1305_SHA256" and h.status() == 200,
                "v13: TLS 1.3 with TLS_CHACHA20_POLY1305_SHA256, 200", h.summary())

    with t.step("ciphers (listener picky: ECDHE-ECDSA-CHACHA20-POLY1305)"):
        h = tl.s_client(P_PICKY, ["-tls1_2"], "www.test", tl.get("/"))
        t.check(h.ok and h.cipher == "ECDHE-ECDSA-CHACHA20-POLY1305" and
                h.status() == 200, "picky: TLS 1.2 gets ECDHE-ECDSA-CHACHA20-POLY1305",
                h.summary())
        h = tl.s_client(P_PICKY, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
                        "www.test")
        t.check(refused(h), "picky: a client offering only "
                "ECDHE-ECDSA-AES128-GCM-SHA256 is refused", h.summary())

    with t.step("keep-alive and pipelining on one TLS connection"):
        for ver in ("1.2", "1.3"):
            c = tl.TLSClient(P_WEB, tl.context(ca.cert, ver), "www.test")
            got = []
            for i in range(3):
                st, h, body = c.request("GET", f"/echo?i={i}")
                got.append((st, h.get("connection", "").lower() == "close",
                            body.split(b"\r\n")[0].decode("latin-1")))
            t.check(got == [(200, False, f"GET /echo?i={i} HTTP/1.1") for i in range(3)],
                    f"TLS {ver}: 3 requests one after the other on one "
                    "connection, each answered, none closing", f"{got}")
            c.send(b"".join(tl.get(f"/echo?p={i}", close=False) for i in range(5)))
            resp = c.read_responses(5)
            lines = [(st, body.split(b"\r\n")[0].decode("latin-1"))
                     for st, h, body in resp]
            t.check(lines == [(200, f"GET /echo?p={i} HTTP/1.1") for i in range(5)],
                    f"TLS {ver}: 5 pipelined requests in one write: 5 answers "
                    "in order", f"{lines}")
            st, h, body = c.request("GET", "/")
            t.check(st == 200 and not c.peer_closed(0.2),
                    f"TLS {ver}: the connection still serves, and stays open",
                    f"{st}")
            c.close()
        h = tl.s_client(P_WEB, ["-tls1_3"], "www.test",
                        tl.get("/?1", close=False) + tl.get("/?2", close=False) +
                        tl.get("/?3"))
        t.check([r[0] for r in h.responses] == [200, 200, 200],
                "s_client: 3 requests in a row, 3 answers", h.summary())

    with t.step("cookie persistence over TLS (prefix mode)"):
        seen = {get("/")[1].get("x-backend") for _ in range(6)}
        t.check(seen == {"a", "b"}, "without a cookie, fresh TLS connections "
                "go to a and b (roundrobin)", f"{seen}")
        st, h, body = get("/session?name=JSESSIONID")
        x, sid = h.get("x-backend"), h.get("x-session")
        t.check(st == 200 and h.get("set-cookie") ==
                f"JSESSIONID={COOKIE.get(x)}~{sid}; Path=/",
                f"the session's Set-Cookie carries the prefix {COOKIE.get(x)}~",
                f"{st} {h}")
        got = {}
        received = set()
        for i in range(10):
            st, h, body = get(f"/echo?i={i}",
                              headers={"Cookie": f"JSESSIONID={COOKIE.get(x)}~{sid}"})
            got[(st, h.get("x-backend"))] = got.get((st, h.get("x-backend")), 0) + 1
            received.add(tuple(tl.header_lines(body, "Cookie")))
        t.check(got == {(200, x): 10}, f"10 fresh TLS connections with the "
                f"cookie: all answered by {x}", f"{got}")
        t.check(received == {(f"JSESSIONID={sid}",)},
                f"{x} receives the cookie without the prefix", f"{received}")

    with t.step("forwardfor: X-Forwarded-For and X-Forwarded-Proto"):
        st, h, body = get("/echo")
        t.note("  | " + "\n  | ".join(body.decode("latin-1").rstrip().split("\r\n")))
        t.check(tl.header_lines(body, "X-Forwarded-For") == ["127.0.0.1"],
                "over TLS: X-Forwarded-For: 127.0.0.1",
                f"{tl.header_lines(body, 'X-Forwarded-For')}")
        t.check(tl.header_lines(body, "X-Forwarded-Proto") == ["https"],
                "over TLS: X-Forwarded-Proto: https",
                f"{tl.header_lines(body, 'X-Forwarded-Proto')}")
        st, h, body = t.http(P_PLAIN, "GET", "/echo")
        t.check(st == 200 and tl.header_lines(body, "X-Forwarded-Proto") == ["http"],
                "on the plain listener: X-Forwarded-Proto: http",
                f"{st} {tl.header_lines(body, 'X-Forwarded-Proto')}")
        st, h, body = get("/echo", headers={"X-Forwarded-Proto": "gopher"})
        t.note("a client's own 'X-Forwarded-Proto: gopher' over TLS reaches the "
               f"server as {tl.header_lines(body, 'X-Forwarded-Proto')} "
               "(not specified: not checked)")

    with t.step("the stats page over TLS"):
        st, h, body = get(STATS)
        t.check(st == 401, "without credentials: 401", f"{st}")
        st, h, body = get(STATS, headers=AUTH)
        text = body.decode("utf-8", "replace")
        t.check(st == 200 and "text/html" in h.get("content-type", "") and
                a.addr in text and b.addr in text,
                "with them: 200, an HTML page naming a's and b's addresses",
                f"{st} {h.get('content-type')} {text[:300]!r}")
        st, h, body = get(STATS + ";csv", headers=AUTH)
        t.check(st == 200 and b"\nweb,a," in body and b"\nweb,b," in body,
                ";csv lists web,a and web,b", f"{st} {body[:300]!r}")

    with t.step("SNI chooses the certificate; no name or an unknown one: the first"):
        for name, want in (("www.test", "www"), ("x.api.test", "api"),
                           ("deep.x.api.test", "www"), ("unknown.test", "www"),
                           (None, "www")):
            h = tl.s_client(P_WEB, ["-tls1_3"], name)
            t.check(h.ok and cert_name(h) == want,
                    f"-servername {name or '(none)'}: the {want} certificate",
                    f"{h.summary()}\n{h.tail()}")
        rc, resp, ver, err = tl.curl(P_WEB, "x.api.test", "/", ca.cert)
        t.check(rc == 0 and resp and resp[0][0] == 200,
                "curl --cacert CA https://x.api.test/ verifies the wildcard "
                "certificate: 200", f"exit {rc}\n{err[-1500:]}")
        rc, resp, ver, err = tl.curl(P_WEB, "unknown.test", "/", ca.cert)
        t.check(rc != 0, "curl https://unknown.test/ gets the default www.test "
                "certificate: name mismatch, curl refuses", f"exit {rc}")

    with t.step("RSA and ECDSA certificates for the same name (listener dual)"):
        cases = (
            ("TLS 1.2, ECDSA-only client", ["-tls1_2", "-sigalgs", "ECDSA+SHA256",
             "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], "both-ec"),
            ("TLS 1.2, RSA-only client", ["-tls1_2", "-sigalgs", "RSA+SHA256",
             "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], "both-rsa"),
            ("TLS 1.3, ECDSA-only client", ["-tls1_3", "-sigalgs", "ECDSA+SHA256"],
             "both-ec"),
            ("TLS 1.3, RSA-PSS-only client", ["-tls1_3", "-sigalgs", "RSA-PSS+SHA256"],
             "both-rsa"),
        )
        for title, args, want in cases:
            h = tl.s_client(P_DUAL, args, "both.test", tl.get("/"))
            t.check(h.ok and cert_name(h) == want and h.status() == 200,
                    f"{title}: the {want} certificate, 200",
                    f"{h.summary()}, peer signature {h.sigtype}\n{h.tail()}")

    with t.step("ALPN"):
        for offer in ("http/1.1", "h2,http/1.1"):
            h = tl.s_client(P_WEB, ["-alpn", offer], "www.test", tl.get("/"))
            t.check(h.ok and h.alpn == "http/1.1" and h.status() == 200,
                    f"-alpn {offer}: ALPN protocol: http/1.1, 200", h.summary())
        h = tl.s_client(P_WEB, [], "www.test")
        t.check(h.ok and h.alpn is None, "no ALPN offered: none negotiated",
                h.summary())

    with t.step("bad input on the TLS port is closed, the worker lives"):
        took, got = closed_after(P_WEB, tl.get("/"), 5.0)
        t.note(f"plain HTTP: closed after {took} s, answered {got[:80]!r}")
        t.check(took is not None and took < 1.0,
                "plain HTTP text: closed at once (< 1 s)", f"{took}")
        garbage = b"\x99" + os.urandom(2047)
        took, got = closed_after(P_WEB, garbage, 5.0)
        t.note(f"garbage: closed after {took} s, answered {got[:40]!r}")
        t.check(took is not None and took < 1.0,
                "2 KiB of garbage: closed at once (< 1 s)", f"{took}")
        hello = tl.client_hello("www.test")
        took, got = closed_after(P_WEB, hello[:len(hello) // 2], 5.0)
        t.note(f"half a ClientHello ({len(hello) // 2} of {len(hello)} bytes), "
               f"then silence: closed after {took} s")
        t.check(took is not None and 0.5 <= took <= HTTP_REQUEST_MS / 1000 + 1.0,
                f"half a ClientHello: closed after timeout.http_request "
                f"({HTTP_REQUEST_MS} ms), not before 0.5 s", f"{took}")

    with t.step("20 silent half handshakes do not delay a good client"):
        silent = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", P_WEB), timeout=5)
            s.sendall(hello[:len(hello) // 2])
            silent.append(s)
        t0 = time.monotonic()
        try:
            st, h, body = get("/")
        except OSError as e:
            st = repr(e)
        took = time.monotonic() - t0
        open_now = sum(still_open(s) for s in silent)
        t.check(st == 200 and took < 1.0, "a good TLS request meanwhile: 200 "
                "within 1 s", f"{st} after {took:.2f} s")
        t.check(open_now == 20, "answered while all 20 were still open",
                f"{open_now} open")
        deadline = time.monotonic() + HTTP_REQUEST_MS / 1000 + 2.0
        while any(still_open(s) for s in silent) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = sum(still_open(s) for s in silent)
        t.check(left == 0, "all 20 closed by fulcrum within timeout.http_request "
                "(+ margin)", f"{left} still open")
        for s in silent:
            s.close()

    with t.step("redirect_https = true"):
        st, h, body = t.http(P_REDIR, "GET", "/a?b=1", headers={"Host": "example.test"})
        t.check(st == 301 and h.get("location") == "https://example.test/a?b=1",
                "GET /a?b=1, Host: example.test -> 301 Location: "
                "https://example.test/a?b=1", f"{st} {h}")
        st, h, body = t.http(P_REDIR, "GET", "/", headers={"Host": "example.test:8080"})
        t.check(st == 301 and h.get("location") == "https://example.test/",
                "Host: example.test:8080 -> Location: https://example.test/ (the port "
                "is the plain one's)", f"{st} {h}")
        st, h, body = t.http(P_REDIR, "GET", "/x", headers={"Host": "[::1]:8080"})
        t.check(st == 301 and h.get("location") == "https://[::1]/x",
                "Host: [::1]:8080 -> Location: https://[::1]/x", f"{st} {h}")

    with t.step("the worker never died"):
        t.check(fc.worker_pids() == workers, "the same worker pid as at start",
                f"{workers} -> {fc.worker_pids()}")
        crash = [ln for ln in fc.log_text().splitlines()
                 if "killed by signal" in ln or "respawning" in ln]
        t.check(not crash, "no worker killed or respawned in the log",
                "\n".join(crash[:10]))

    with t.step("the TLS counters in the segment (fulcrum-stat)"):
        st, out = t.run([t.FULCRUM_STAT, "-f", fc.conf_path, "--json"], timeout=5)
        lst = {x["name"]: x for x in json.loads(out)["listeners"]} if st == 0 else {}
        web = lst.get("web", {}).get("tls_counters", {})
        fails = web.get("failures", {})
        t.note(f"web: {web}")
        t.check(web.get("handshakes", 0) >= 10, "web counts its handshakes", str(web))
        t.check(fails.get("protocol", 0) >= 2,
                "plain HTTP and garbage counted as protocol failures", str(fails))
        t.check(fails.get("timeout", 0) >= 21,
                "the 21 silent half handshakes counted as timeouts", str(fails))
        t.check(lst.get("plain", {}).get("tls") is False and
                "tls_counters" not in lst.get("plain", {}),
                "the plain listener: tls false, no counters", str(lst.get("plain")))
        st, prom = t.run([t.FULCRUM_STAT, "-f", fc.conf_path, "--prometheus"], timeout=5)
        t.check('fulcrum_tls_failures_total{listener="web",reason="timeout"}' in prom,
                "--prometheus has fulcrum_tls_failures_total by reason",
                prom[-600:])

t.finish()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""request_heads: request heads (RFC 9112 sections 2, 3 and 5; RFC 9110
sections 5.5, 7.2, 7.6.1 and 9.1), one raw-socket case per shape, each
asserting what the client got and exactly what the recording backend
received (see strictcase.py for the table's columns).

Refused with 400: bare CR or LF, NUL, other controls and DEL, whitespace
before a colon, obs-fold, bad methods, versions other than HTTP/1.0 and 1.1,
request-targets in the wrong form for their method, a missing, repeated or
invalid Host, an absolute-form target naming another host than Host, and
case variants of HEAD and CONNECT.  CONNECT itself gets 501.  Forwarded
with a normalised head: whitespace around values trimmed, hop-by-hop fields
(the fixed ones and those Connection lists) removed.  X-Forwarded-For is
passed untouched (forwardfor off), appended to (on) or replaced
(forwardfor_replace), and the access log shows the TCP peer, never it.
doc/http-strictness.md is the table in prose.
"""
import re

import fctest as t
from strictcase import check_alive, check_doc, Case, conf, run

G = b"GET / HTTP/1.1\r\nHost: x\r\n"
FWD = G + b"\r\n"                     # a plain GET, as fulcrum forwards it


def get(fields):
    return G + fields + b"\r\n"


LONG = b"X-" + b"l" * 78               # an 80-byte field name

CASES = [
    # ------------------------------------------------ line endings, controls (2.2)
    Case("bare-lf-everywhere", b"GET / HTTP/1.1\nHost: x\n\n", [400], True, b""),
    Case("bare-lf-after-request-line", b"GET / HTTP/1.1\nHost: x\r\n\r\n", [400], True, b""),
    Case("bare-lf-ends-head", G + b"\n", [400], True, b""),
    Case("bare-cr-in-value", get(b"X-A: a\rb\r\n"), [400], True, b""),
    Case("bare-cr-in-request-line", b"GET /\r HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("cr-cr-lf", b"GET / HTTP/1.1\r\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("nul-in-value", get(b"X-A: a\x00b\r\n"), [400], True, b""),
    Case("nul-in-name", get(b"X\x00A: b\r\n"), [400], True, b""),
    Case("nul-in-target", b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("soh-in-value", get(b"X-A: a\x01b\r\n"), [400], True, b""),
    Case("vt-in-value", get(b"X-A: a\x0bb\r\n"), [400], True, b""),
    Case("ff-in-value", get(b"X-A: a\x0cb\r\n"), [400], True, b""),
    Case("esc-in-value", get(b"X-A: \x1b[0m\r\n"), [400], True, b""),
    Case("us-in-value", get(b"X-A: a\x1fb\r\n"), [400], True, b""),
    Case("del-in-value", get(b"X-A: a\x7fb\r\n"), [400], True, b""),
    Case("del-in-name", get(b"X\x7fA: b\r\n"), [400], True, b""),
    Case("htab-in-value", get(b"X-A: a\tb\r\n"), [200], False, get(b"X-A: a\tb\r\n")),
    Case("obs-text-in-value", get(b"X-A: caf\xc3\xa9\r\n"), [200], False,
         get(b"X-A: caf\xc3\xa9\r\n")),
    Case("leading-empty-line", b"\r\n" + G + b"\r\n", [200], False, FWD),
    # ------------------------------------------------ field lines (5.1, 5.2)
    Case("space-before-colon-host", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", [400], True, b""),
    Case("space-before-colon", get(b"X-A : b\r\n"), [400], True, b""),
    Case("tab-before-colon", get(b"X-A\t: b\r\n"), [400], True, b""),
    Case("obs-fold-space", get(b"X-A: a\r\n b\r\n"), [400], True, b""),
    Case("obs-fold-tab", get(b"X-A: a\r\n\tb\r\n"), [400], True, b""),
    Case("space-before-first-field", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", [400], True, b""),
    Case("no-colon", get(b"X-No-Colon\r\n"), [400], True, b""),
    Case("empty-name", get(b": v\r\n"), [400], True, b""),
    Case("bad-name-char", get(b"X(A): v\r\n"), [400], True, b""),
    Case("slash-in-name", get(b"X/A: v\r\n"), [400], True, b""),
    Case("ows-trimmed", get(b"X-A: \t v \t\r\n"), [200], False, get(b"X-A: v\r\n")),
    Case("empty-value", get(b"X-A:\r\n"), [200], False, get(b"X-A: \r\n")),
    # ------------------------------------------------ methods (3.1; RFC 9110 9.1)
    Case("method-with-space", b"G ET / HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("method-tab", b"GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("method-bad-char", b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("method-empty", b" / HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("double-space", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("method-lowercase-get", b"get / HTTP/1.1\r\nHost: x\r\n\r\n", [200], False,
         b"get / HTTP/1.1\r\nHost: x\r\n\r\n"),
    Case("method-extension", b"PURGE / HTTP/1.1\r\nHost: x\r\n\r\n", [200], False,
         b"PURGE / HTTP/1.1\r\nHost: x\r\n\r\n"),
    Case("method-lowercase-head", b"head / HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("method-mixed-case-head", b"Head / HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("method-lowercase-connect", b"connect x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
         [400], True, b""),
    Case("connect", b"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", [501], True, b""),
    Case("connect-without-port", b"CONNECT x HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("connect-origin-form", b"CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    # ------------------------------------------------ versions (2.3)
    Case("http-1.2", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("http-2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("http-1.1x", b"GET / HTTP/1.1x\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("http-1.10", b"GET / HTTP/1.10\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("http-lowercase", b"GET / http/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("http-0.9-no-version", b"GET /\r\n\r\n", [400], True, b""),
    Case("space-after-version", b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", [400], True, b""),
    Case("http-1.0-no-host", b"GET / HTTP/1.0\r\n\r\n", [200], True,
         b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    # ------------------------------------------------ request-target (3.2)
    Case("asterisk-with-get", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("options-asterisk", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", [200], False,
         b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
    Case("authority-form-with-get", b"GET x:80 HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("absolute-form-same-host", b"GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n",
         [200], False, b"GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n"),
    Case("absolute-form-default-port", b"GET http://X:80/a HTTP/1.1\r\nHost: x\r\n\r\n",
         [200], False, b"GET http://X:80/a HTTP/1.1\r\nHost: x\r\n\r\n"),
    Case("absolute-form-other-host",
         b"GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", [400], True, b""),
    Case("absolute-form-other-port",
         b"GET http://x:8080/ HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("absolute-form-no-host-1.1", b"GET http://x/ HTTP/1.1\r\n\r\n", [400], True, b""),
    Case("absolute-form-no-host-1.0", b"GET http://x/ HTTP/1.0\r\n\r\n", [200], True,
         b"GET http://x/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    Case("absolute-form-userinfo", b"GET http://u@x/ HTTP/1.1\r\nHost: x\r\n\r\n",
         [400], True, b""),
    Case("absolute-form-ftp", b"GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("absolute-form-no-authority", b"GET http:///a HTTP/1.1\r\nHost: x\r\n\r\n",
         [400], True, b""),
    Case("fragment", b"GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("relative-target", b"GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("space-in-target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("obs-text-in-target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
         [400], True, b""),
    # ------------------------------------------------ Host (3.2; RFC 9110 7.2)
    Case("no-host", b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n", [400], True, b""),
    Case("two-hosts-same", b"GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", [400], True, b""),
    Case("two-hosts-differ", b"GET / HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n", [400], True, b""),
    Case("two-hosts-1.0", b"GET / HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n", [400], True, b""),
    Case("host-list", b"GET / HTTP/1.1\r\nHost: x, y\r\n\r\n", [400], True, b""),
    Case("host-empty", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", [200], False,
         b"GET / HTTP/1.1\r\nHost: \r\n\r\n"),
    Case("host-space", b"GET / HTTP/1.1\r\nHost: x y\r\n\r\n", [400], True, b""),
    Case("host-tab", b"GET / HTTP/1.1\r\nHost: x\ty\r\n\r\n", [400], True, b""),
    Case("host-slash", b"GET / HTTP/1.1\r\nHost: x/y\r\n\r\n", [400], True, b""),
    Case("host-userinfo", b"GET / HTTP/1.1\r\nHost: u@x\r\n\r\n", [400], True, b""),
    Case("host-bad-port", b"GET / HTTP/1.1\r\nHost: x:8x\r\n\r\n", [400], True, b""),
    Case("host-port-too-big", b"GET / HTTP/1.1\r\nHost: x:65536\r\n\r\n", [400], True, b""),
    Case("host-with-port", b"GET / HTTP/1.1\r\nHost: x:8080\r\n\r\n", [200], False,
         b"GET / HTTP/1.1\r\nHost: x:8080\r\n\r\n"),
    Case("host-ipv6", b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", [200], False,
         b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
    # ------------------------------------------------ hop-by-hop (RFC 9110 7.6.1)
    Case("connection-close-x-secret", get(b"Connection: close, X-Secret\r\nX-Secret: s\r\n"),
         [200], True, FWD),
    Case("connection-case-insensitive", get(b"Connection: x-secret\r\nX-SECRET: s\r\n"),
         [200], False, FWD),
    Case("connection-two-fields",
         get(b"Connection: X-A\r\nX-A: 1\r\nX-B: 2\r\nConnection: x-b\r\nX-C: 3\r\n"),
         [200], False, get(b"X-C: 3\r\n")),
    Case("connection-long-name", get(b"Connection: " + LONG + b"\r\n" + LONG + b": s\r\n"),
         [200], False, FWD),
    Case("upgrade-h2c",
         get(b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
             b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n"), [200], False, FWD),
    # A WebSocket upgrade is asked for again, alone (t/integ/websocket.py).
    Case("keep-alive-upgrade-websocket",
         get(b"Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"), [200], False,
         get(b"Upgrade: websocket\r\nConnection: upgrade\r\n")),
    Case("fixed-hop-by-hop",
         get(b"TE: trailers\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
             b"Proxy-Authorization: Basic eDp5\r\n"), [200], False, FWD),
    Case("connection-lists-framing-and-host",
         b"POST /up HTTP/1.1\r\nHost: x\r\nConnection: Content-Length, Host\r\n"
         b"Content-Length: 5\r\n\r\nhello", [200], False,
         b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
]

XFF_IN = b"X-Forwarded-For: 6.6.6.6\r\n"
XFF_OFF = [
    Case("xff-off-kept", get(XFF_IN), [200], False, get(XFF_IN)),
    Case("xff-off-none", FWD, [200], False, FWD),
]
# forwardfor also states the scheme: plain listeners here.
XFP = b"X-Forwarded-Proto: http\r\n"
XFF_ON = [
    Case("xff-on-appended", get(XFF_IN), [200], False,
         get(b"X-Forwarded-For: 6.6.6.6, 127.0.0.1\r\n" + XFP)),
    Case("xff-on-two-fields", get(XFF_IN + b"X-A: b\r\nX-Forwarded-For: 7.7.7.7\r\n"),
         [200], False,
         get(b"X-A: b\r\nX-Forwarded-For: 6.6.6.6, 7.7.7.7, 127.0.0.1\r\n" + XFP)),
    Case("xff-on-none", FWD, [200], False, get(b"X-Forwarded-For: 127.0.0.1\r\n" + XFP)),
    Case("xff-on-proto-forged", get(b"X-Forwarded-Proto: https\r\n"), [200], False,
         get(b"X-Forwarded-For: 127.0.0.1\r\n" + XFP)),
]
XFF_REPLACE = [
    Case("xff-replace", get(XFF_IN + b"X-Forwarded-For: 7.7.7.7\r\n"), [200], False,
         get(b"X-Forwarded-For: 127.0.0.1\r\n" + XFP)),
    Case("xff-replace-none", FWD, [200], False,
         get(b"X-Forwarded-For: 127.0.0.1\r\n" + XFP)),
]

check_doc("request_heads.py", [c.name for c in CASES + XFF_OFF + XFF_ON + XFF_REPLACE])

r = t.Backend("r", record=True)
web, on, rep = t.free_port(), t.free_port(), t.free_port()
more = f""",
 {{ name = "xff"; bind = [ "127.0.0.1:{on}" ]; forwardfor = true;
    servers = ( {{ name = "r"; address = "{r.addr}"; }} ); }},
 {{ name = "xffrep"; bind = [ "127.0.0.1:{rep}" ]; forwardfor = true;
    forwardfor_replace = true;
    servers = ( {{ name = "r"; address = "{r.addr}"; }} ); }}"""
with t.Fulcrum(conf(web, r, more=more), name="heads") as fc:
    workers = fc.wait_children(1, 5.0)
    for c in CASES + XFF_OFF:
        run(web, r.rec, c)
    for c in XFF_ON:
        run(on, r.rec, c)
    for c in XFF_REPLACE:
        run(rep, r.rec, c)

    with t.step("the access log names the TCP peer, never X-Forwarded-For"):
        log = fc.log_text()
        lines = [ln for ln in log.splitlines() if re.search(r" (xff|xffrep)/r ", ln)]
        t.note("\n".join(lines))
        t.check(len(lines) == len(XFF_ON) + len(XFF_REPLACE),
                "one access-log line per X-Forwarded-For request", f"{len(lines)}")
        t.check(all(re.match(r"127\.0\.0\.1:\d+ \[", ln) for ln in lines),
                "each starts with the peer address 127.0.0.1:PORT")
        t.check("6.6.6.6" not in log and "7.7.7.7" not in log,
                "the client-supplied addresses appear nowhere in the log")

    check_alive(fc, workers)

t.finish()
